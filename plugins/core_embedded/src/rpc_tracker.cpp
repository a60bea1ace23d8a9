#include "rpc_tracker.hpp"

#include <algorithm>

#include "store.hpp"
#include "tern/sdk/views.hpp"

namespace tern::core_embedded {

using sdk::to_str;
using sdk::to_sv;

namespace {
bool final_status(tern_rpc_status s) {
    return s == TERN_RPC_SUCCESSFUL || s == TERN_RPC_TIMEOUT || s == TERN_RPC_FAILED ||
           s == TERN_RPC_EXPIRED;
}

// What the expiry timer makes of an RPC that is not final at its expiration.
tern_rpc_status expired_status(tern_rpc_status s, uint32_t flags) {
    return s == TERN_RPC_DELIVERED && !(flags & TERN_RPC_ONEWAY) ? TERN_RPC_TIMEOUT : TERN_RPC_EXPIRED;
}

// A read between the expiration and the timer's stored update (the timer thread is late, or
// the write is queued) shows what the timer is about to store: an RPC past its expiration is
// never shown as still waiting to go out.
void settle_on_read(rpc_record& r, int64_t now) {
    if (final_status(r.status) || r.expiration_ts > now) return;
    r.status = expired_status(r.status, r.flags);
    if (r.error.empty())
        r.error = r.status == TERN_RPC_TIMEOUT ? "no reply before the expiration time"
                                               : "not delivered before the expiration time";
}
}  // namespace

void rpc_tracker::restore(db::connection& c) {
    const int64_t now = now_ms();
    struct row {
        uint64_t device;
        tracked live;
    };
    std::vector<row> rows;
    {
        auto q = c.query(
            "SELECT device_id, id, method, params, flags, status, created_ts, expiration_ts, retries "
            "FROM rpcs WHERE status < 3");
        while (q->step()) {
            row r;
            r.device = q->get_id(0);
            r.live.id = q->get_int(1);
            r.live.method = q->get_string(2);
            r.live.params = q->get_string(3);
            r.live.flags = static_cast<uint32_t>(q->get_int(4));
            r.live.status = static_cast<tern_rpc_status>(q->get_int(5));
            r.live.created_ts = q->get_int(6);
            r.live.expiration_ts = q->get_int(7);
            r.live.retries = static_cast<int32_t>(q->get_int(8));
            rows.push_back(std::move(r));
        }
    }
    size_t closed = 0;
    std::vector<std::pair<uint64_t, tracked>> keep;
    db::transaction t(c);
    for (row& r : rows) {
        const bool persistent = (r.live.flags & TERN_RPC_PERSISTENT) != 0;
        if (!persistent || r.live.expiration_ts <= now) {
            // Non-persistent RPCs lived only in the previous process's memory.
            const tern_rpc_status s =
                r.live.status == TERN_RPC_DELIVERED && !(r.live.flags & TERN_RPC_ONEWAY)
                    ? TERN_RPC_TIMEOUT
                    : TERN_RPC_EXPIRED;
            auto q = c.query("UPDATE rpcs SET status = ?, updated_ts = ?, error = ? WHERE device_id = ? AND id = ?");
            q->bind(1, static_cast<int64_t>(s)).bind(2, now);
            q->bind(3, std::string_view(persistent ? "expired while the core was down"
                                                   : "the core restarted"));
            q->bind_id(4, r.device).bind(5, r.live.id);
            q->run();
            ++closed;
            continue;
        }
        // Sent but never acknowledged: send again.
        if (r.live.status == TERN_RPC_SENT) r.live.status = TERN_RPC_QUEUED;
        keep.emplace_back(r.device, std::move(r.live));
    }
    t.commit();
    if (!keep.empty() || closed > 0)
        p_.log.info("RPCs from the previous run: ", keep.size(), " persistent pending, ", closed, " closed");
    restored_ = std::move(keep);
}

void rpc_tracker::resume() {
    for (auto& [device_id, l] : restored_) track(device_id, std::move(l));
    restored_.clear();
}

void rpc_tracker::track(uint64_t device_id, tracked l) {
    const int64_t id = l.id;
    const int64_t delay = l.expiration_ts - now_ms();
    {
        std::lock_guard lk(mutex_);
        rpcs_[device_id].emplace(id, std::move(l));
    }
    const uint64_t timer = p_.timers.schedule(delay, [this, device_id, id] { expire(device_id, id); });
    std::lock_guard lk(mutex_);
    auto d = rpcs_.find(device_id);
    if (d == rpcs_.end()) return;
    auto it = d->second.find(id);
    if (it != d->second.end()) it->second.expiry_timer = timer;
}

void rpc_tracker::dispatch(uint64_t device_id, bool resend) {
    if (!p_.listener.subscribed(device_id, TERN_SUBSCRIBE_RPC)) return;
    struct out {
        int64_t id;
        std::string method, params;
        uint32_t flags;
        int64_t expiration_ts;
    };
    std::vector<out> send;
    const int64_t now = now_ms();
    {
        std::lock_guard lk(mutex_);
        auto d = rpcs_.find(device_id);
        if (d == rpcs_.end()) return;
        for (auto& [id, r] : d->second) {
            if (r.expiration_ts <= now) continue;
            const bool fresh = r.status == TERN_RPC_QUEUED && !r.dispatched;
            const bool again = resend && (r.flags & TERN_RPC_PERSISTENT) &&
                               (r.status == TERN_RPC_QUEUED || r.status == TERN_RPC_SENT);
            if (!fresh && !again) continue;
            r.dispatched = true;
            send.push_back(out{id, r.method, r.params, r.flags, r.expiration_ts});
        }
    }
    for (const out& o : send) {
        tern_rpc_request req{};
        req.struct_size = sizeof req;
        req.flags = o.flags;
        req.id = o.id;
        req.method = to_str(o.method);
        req.params = to_str(o.params);
        req.expiration_ms = o.expiration_ts;
        p_.listener.with_listener([&](core_listener_v1& l) { l.on_rpc_request(device_id, &req); });
    }
}

void rpc_tracker::resend(uint64_t device_id) noexcept {
    try {
        p_.timers.post([this, device_id] { dispatch(device_id, true); });
    } catch (...) {
        p_.log.error("resend_pending_rpcs failed: out of memory");
    }
}

void rpc_tracker::persist(const rpc_record& rec, std::function<void(tern_status, const std::string&)> then) {
    const uint64_t device = rec.device_id;
    const int64_t id = rec.id;
    const tern_rpc_status status = rec.status;
    auto result = std::make_shared<std::string>(rec.result);
    auto error = std::make_shared<std::string>(rec.error);
    const int32_t retries = rec.retries;
    auto op = std::make_unique<fn_op>(
        [device, id, status, result, error, retries](write_txn& t, std::string&) -> tern_status {
            auto q = t.query(
                "UPDATE rpcs SET status = ?, updated_ts = ?, result = ?, error = ?, retries = ? "
                "WHERE device_id = ? AND id = ?");
            q->bind(1, static_cast<int64_t>(status)).bind(2, t.now());
            q->bind_opt(3, *result).bind_opt(4, *error).bind(5, static_cast<int64_t>(retries));
            q->bind_id(6, device).bind(7, id);
            q->run();
            return TERN_OK;
        },
        std::move(then), /*isolated=*/false);
    p_.submit(std::move(op));
}

void rpc_tracker::transition(uint64_t device_id, int64_t rpc_id, tern_rpc_status status, std::string result,
                             std::string error, tern_core_done_fn done, void* ctx) {
    rpc_record rec;
    bool settled = false, changed = false, known = false;
    uint64_t cancel_timer = 0;
    const int64_t now = now_ms();
    {
        std::lock_guard lk(mutex_);
        auto d = rpcs_.find(device_id);
        if (d != rpcs_.end()) {
            auto it = d->second.find(rpc_id);
            if (it != d->second.end()) {
                known = true;
                tracked& r = it->second;
                // Final and being stored: nothing changes it any more (a late reply is
                // accepted without change, as for one already stored).
                const tern_rpc_status next = final_status(r.status) ? r.status : step(r, status, now, changed);
                if (next != r.status) changed = true;
                r.status = next;
                rec.device_id = device_id;
                rec.id = rpc_id;
                rec.method = r.method;
                rec.params = r.params;
                rec.flags = r.flags;
                rec.status = next;
                rec.created_ts = r.created_ts;
                rec.updated_ts = now;
                rec.expiration_ts = r.expiration_ts;
                rec.retries = r.retries;
                rec.result = std::move(result);
                rec.error = std::move(error);
                if (final_status(next) && changed) {
                    // Kept, final, until stored, so a read meanwhile shows it (settled()).
                    settled = true;
                    cancel_timer = r.expiry_timer;
                    r.result = rec.result;
                    r.error = rec.error;
                }
            }
        }
    }
    if (!known) {
        if (done == nullptr) return;  // a status report for an RPC we no longer track
        // A reply to an RPC that is already final (late, or repeated) is accepted without
        // changing anything; one to an unknown id is not.
        p_.submit(
            [device_id, rpc_id](write_txn& t, std::string& msg) -> tern_status {
                auto q = t.query("SELECT 1 FROM rpcs WHERE device_id = ? AND id = ?");
                q->bind_id(1, device_id).bind(2, rpc_id);
                if (q->step()) return TERN_OK;
                msg = "no such RPC";
                return TERN_NOT_FOUND;
            },
            [done, ctx](tern_status s, const std::string& msg) { done(ctx, s, to_str(msg)); });
        return;
    }
    if (cancel_timer != 0) p_.timers.cancel(cancel_timer);
    if (!changed) {
        if (done != nullptr) done(ctx, TERN_OK, tern_str{});
        return;
    }
    count(rec.status);
    if (rec.status == TERN_RPC_QUEUED) {
        // a persistent RPC waiting for its next try: goes out when the device is back
        persist(rec, [done, ctx](tern_status s, const std::string& msg) {
            if (done != nullptr) done(ctx, s, to_str(msg));
        });
        return;
    }
    auto shared = std::make_shared<rpc_record>(std::move(rec));
    persist(*shared, [this, shared, settled, done, ctx](tern_status s, const std::string& msg) {
        if (settled) {
            forget_settled(shared->device_id, shared->id);
            answer_waiters(*shared);
        }
        if (done != nullptr) done(ctx, s, to_str(msg));
    });
}

tern_rpc_status rpc_tracker::step(tracked& r, tern_rpc_status reported, int64_t now, bool& changed) {
    switch (reported) {
        case TERN_RPC_SENT: return r.status == TERN_RPC_QUEUED ? TERN_RPC_SENT : r.status;
        case TERN_RPC_DELIVERED:
            if (r.status != TERN_RPC_QUEUED && r.status != TERN_RPC_SENT) return r.status;
            return (r.flags & TERN_RPC_ONEWAY) ? TERN_RPC_SUCCESSFUL : TERN_RPC_DELIVERED;
        case TERN_RPC_SUCCESSFUL: return TERN_RPC_SUCCESSFUL;
        case TERN_RPC_TIMEOUT:
            // A persistent RPC gets more tries while it has not expired: the device may just
            // be asleep.
            if ((r.flags & TERN_RPC_PERSISTENT) && r.retries < p_.settings.rpc_max_retries && now < r.expiration_ts) {
                ++r.retries;
                r.dispatched = false;
                changed = true;
                return TERN_RPC_QUEUED;
            }
            return TERN_RPC_TIMEOUT;
        case TERN_RPC_FAILED: return TERN_RPC_FAILED;
        default: return r.status;  // QUEUED and EXPIRED are the core's to set
    }
}

void rpc_tracker::settled(const tracked& r, rpc_record& rec) {
    if (!final_status(r.status)) return;
    rec.result = r.result;
    rec.error = r.error;
}

void rpc_tracker::forget_settled(uint64_t device_id, int64_t rpc_id) {
    std::lock_guard lk(mutex_);
    auto d = rpcs_.find(device_id);
    if (d == rpcs_.end()) return;
    auto it = d->second.find(rpc_id);
    if (it == d->second.end() || !final_status(it->second.status)) return;
    d->second.erase(it);
    if (d->second.empty()) rpcs_.erase(d);
}

void rpc_tracker::status(uint64_t device_id, int64_t rpc_id, tern_rpc_status status, tern_str error) noexcept {
    try {
        transition(device_id, rpc_id, status, {}, std::string(to_sv(error)), nullptr, nullptr);
    } catch (const std::exception& e) {
        p_.log.error("rpc_status failed: ", e.what());
    }
}

void rpc_tracker::reply(uint64_t device_id, int64_t rpc_id, tern_str result, tern_core_done_fn done,
                        void* ctx) noexcept {
    try {
        transition(device_id, rpc_id, TERN_RPC_SUCCESSFUL, std::string(to_sv(result)), {}, done, ctx);
    } catch (const std::exception& e) {
        done(ctx, TERN_INTERNAL, to_str(e.what()));
    }
}

void rpc_tracker::expire(uint64_t device_id, int64_t rpc_id) {
    rpc_record rec;
    {
        std::lock_guard lk(mutex_);
        auto d = rpcs_.find(device_id);
        if (d == rpcs_.end()) return;
        auto it = d->second.find(rpc_id);
        if (it == d->second.end() || final_status(it->second.status)) return;  // ended meanwhile
        const tracked& r = it->second;
        // Delivered but unanswered: the device had it and did not reply in time.
        rec.status = expired_status(r.status, r.flags);
        rec.device_id = device_id;
        rec.id = rpc_id;
        rec.method = r.method;
        rec.params = r.params;
        rec.flags = r.flags;
        rec.created_ts = r.created_ts;
        rec.updated_ts = now_ms();
        rec.expiration_ts = r.expiration_ts;
        rec.retries = r.retries;
        rec.error = rec.status == TERN_RPC_TIMEOUT ? "no reply before the expiration time"
                                                   : "not delivered before the expiration time";
        d->second.erase(it);
        if (d->second.empty()) rpcs_.erase(d);
    }
    count(rec.status);
    auto shared = std::make_shared<rpc_record>(std::move(rec));
    persist(*shared, [this, shared](tern_status, const std::string&) { answer_waiters(*shared); });
}

void rpc_tracker::answer_waiters(rpc_record rec) {
    std::vector<std::shared_ptr<waiter>> ws;
    {
        std::lock_guard lk(mutex_);
        auto range = waiters_.equal_range({rec.device_id, rec.id});
        for (auto it = range.first; it != range.second; ++it) ws.push_back(it->second);
        waiters_.erase(range.first, range.second);
    }
    for (auto& w : ws) {
        result<rpc_record> r;
        r.value = rec;
        w->cb(std::move(r));
    }
}

void rpc_tracker::send(rpc_request_spec spec, callback<rpc_record> cb) {
    if (spec.method.empty()) {
        cb({TERN_INVALID_ARGUMENT, "method must not be empty", {}});
        return;
    }
    const int64_t timeout = spec.timeout_ms > 0 ? spec.timeout_ms : p_.settings.rpc_default_timeout_ms;
    auto rec = std::make_shared<rpc_record>();
    rec->device_name = spec.device;
    rec->method = spec.method;
    rec->params = spec.params;
    rec->flags = (spec.oneway ? uint32_t(TERN_RPC_ONEWAY) : 0u) | (spec.persistent ? uint32_t(TERN_RPC_PERSISTENT) : 0u);
    rec->status = TERN_RPC_QUEUED;
    const bool wait = spec.wait && !spec.persistent;
    p_.submit(
        [rec, timeout](write_txn& t, std::string& msg) -> tern_status {
            auto dev = store::device_id(t.conn(), rec->device_name);
            if (!dev) {
                msg = "no device named '" + rec->device_name + "'";
                return TERN_NOT_FOUND;
            }
            rec->device_id = *dev;
            {
                auto q = t.query("UPDATE devices SET rpc_seq = rpc_seq + 1 WHERE id = ? RETURNING rpc_seq");
                q->bind_id(1, *dev);
                if (!q->step()) throw db::error(0, "device vanished");
                rec->id = q->get_int(0);
            }
            rec->created_ts = rec->updated_ts = t.now();
            rec->expiration_ts = t.now() + timeout;
            auto q = t.query(
                "INSERT INTO rpcs(device_id, id, method, params, flags, status, created_ts, "
                "updated_ts, expiration_ts) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)");
            q->bind_id(1, rec->device_id).bind(2, rec->id).bind(3, std::string_view(rec->method));
            q->bind_opt(4, rec->params).bind(5, static_cast<int64_t>(rec->flags));
            q->bind(6, rec->created_ts).bind(7, rec->updated_ts).bind(8, rec->expiration_ts);
            q->run();
            return TERN_OK;
        },
        [this, rec, wait, cb](tern_status s, const std::string& msg) {
            if (s != TERN_OK) {
                cb({s, msg, {}});
                return;
            }
            count(TERN_RPC_QUEUED);
            if (wait) {
                auto w = std::make_shared<waiter>();
                w->cb = cb;
                std::lock_guard lk(mutex_);
                waiters_.emplace(std::make_pair(rec->device_id, rec->id), std::move(w));
            }
            tracked live;
            live.id = rec->id;
            live.method = rec->method;
            live.params = rec->params;
            live.flags = rec->flags;
            live.status = TERN_RPC_QUEUED;
            live.created_ts = rec->created_ts;
            live.expiration_ts = rec->expiration_ts;
            track(rec->device_id, std::move(live));
            dispatch(rec->device_id, false);
            if (!wait) cb({TERN_OK, {}, *rec});
        });
}

void rpc_tracker::get(std::string device, int64_t id, callback<rpc_record> cb) {
    p_.read<rpc_record>(
        [this, device = std::move(device), id, cb](db::connection& c) {
            result<rpc_record> r;
            try {
                auto dev = store::device_id(c, device);
                auto rec = dev ? store::load_rpc(c, *dev, id) : std::nullopt;
                if (!dev) {
                    r.status = TERN_NOT_FOUND;
                    r.message = "no device named '" + device + "'";
                } else if (!rec) {
                    r.status = TERN_NOT_FOUND;
                    r.message = "no RPC " + std::to_string(id) + " for device '" + device + "'";
                } else {
                    // The in-memory state is ahead of the database while a status write
                    // is queued.
                    std::lock_guard lk(mutex_);
                    auto d = rpcs_.find(*dev);
                    if (d != rpcs_.end()) {
                        auto it = d->second.find(id);
                        if (it != d->second.end()) {
                            rec->status = it->second.status;
                            rec->retries = it->second.retries;
                            settled(it->second, *rec);
                        }
                    }
                    settle_on_read(*rec, now_ms());
                    r.value = std::move(*rec);
                }
            } catch (const std::exception& e) {
                r.status = TERN_IO;
                r.message = e.what();
            }
            cb(std::move(r));
        },
        cb);
}

void rpc_tracker::list(std::string device, int64_t limit, callback<std::vector<rpc_record>> cb) {
    p_.read<std::vector<rpc_record>>(
        [this, device = std::move(device), limit, cb](db::connection& c) {
            result<std::vector<rpc_record>> r;
            try {
                auto dev = store::device_id(c, device);
                if (!dev) {
                    r.status = TERN_NOT_FOUND;
                    r.message = "no device named '" + device + "'";
                } else {
                    std::vector<int64_t> ids;
                    {
                        auto q = c.query("SELECT id FROM rpcs WHERE device_id = ? ORDER BY id DESC LIMIT ?");
                        q->bind_id(1, *dev).bind(2, limit <= 0 ? int64_t(100) : limit);
                        while (q->step()) ids.push_back(q->get_int(0));
                    }
                    for (int64_t id : ids)
                        if (auto rec = store::load_rpc(c, *dev, id)) r.value.push_back(std::move(*rec));
                    std::lock_guard lk(mutex_);
                    auto d = rpcs_.find(*dev);
                    const int64_t now = now_ms();
                    for (rpc_record& rec : r.value) {
                        if (d != rpcs_.end())
                            if (auto it = d->second.find(rec.id); it != d->second.end()) {
                                rec.status = it->second.status;
                                settled(it->second, rec);
                            }
                        settle_on_read(rec, now);
                    }
                }
            } catch (const std::exception& e) {
                r.status = TERN_IO;
                r.message = e.what();
            }
            cb(std::move(r));
        },
        cb);
}

void rpc_tracker::device_deleted(uint64_t d) {
    std::vector<rpc_record> gone;
    std::vector<uint64_t> timers;
    {
        std::lock_guard lk(mutex_);
        auto it = rpcs_.find(d);
        if (it != rpcs_.end()) {
            for (auto& [rid, r] : it->second) {
                if (final_status(r.status)) continue;  // its stored end answers its waiters
                rpc_record rec;
                rec.device_id = d;
                rec.id = rid;
                rec.method = r.method;
                rec.flags = r.flags;
                rec.status = TERN_RPC_FAILED;
                rec.error = "the device was deleted";
                rec.expiration_ts = r.expiration_ts;
                gone.push_back(std::move(rec));
                timers.push_back(r.expiry_timer);
            }
            rpcs_.erase(it);
        }
    }
    for (uint64_t tm : timers) p_.timers.cancel(tm);
    for (rpc_record& r : gone) answer_waiters(std::move(r));
}

rpc_pending_summary rpc_tracker::pending_of(uint64_t device_id) {
    rpc_pending_summary s;
    std::lock_guard lk(mutex_);
    auto d = rpcs_.find(device_id);
    if (d == rpcs_.end()) return s;
    for (const auto& [id, r] : d->second) {
        switch (r.status) {
            case TERN_RPC_QUEUED: ++s.queued; break;
            case TERN_RPC_SENT: ++s.sent; break;
            case TERN_RPC_DELIVERED: ++s.delivered; break;
            default: continue;
        }
        if (r.flags & TERN_RPC_PERSISTENT) ++s.persistent;
        if (s.oldest_expiration_ts == 0 || r.expiration_ts < s.oldest_expiration_ts) s.oldest_expiration_ts = r.expiration_ts;
    }
    return s;
}

size_t rpc_tracker::pending() {
    std::lock_guard lk(mutex_);
    size_t n = 0;
    for (const auto& [d, m] : rpcs_)
        for (const auto& [id, r] : m) n += final_status(r.status) ? 0 : 1;
    return n;
}

std::pair<size_t, size_t> rpc_tracker::memory() {
    auto heap = [](const std::string& s) -> size_t { return s.capacity() > 15 ? s.capacity() + 1 : 0; };
    std::lock_guard lk(mutex_);
    // A device's node (key, map, next) and bucket; an RPC's tree node (links, key, record).
    size_t bytes = rpcs_.size() * 80 + rpcs_.bucket_count() * sizeof(void*);
    for (const auto& [d, m] : rpcs_)
        for (const auto& [id, r] : m)
            bytes += 48 + sizeof r + heap(r.method) + heap(r.params) + heap(r.result) + heap(r.error);
    return {rpcs_.size(), bytes};
}

void rpc_tracker::stop() {
    std::vector<std::pair<rpc_record, std::shared_ptr<waiter>>> waiting;
    {
        std::lock_guard lk(mutex_);
        for (auto& [key, w] : waiters_) {
            rpc_record r;
            r.device_id = key.first;
            r.id = key.second;
            auto d = rpcs_.find(key.first);
            if (d != rpcs_.end()) {
                auto it = d->second.find(key.second);
                if (it != d->second.end()) {
                    r.method = it->second.method;
                    r.status = it->second.status;
                    r.expiration_ts = it->second.expiration_ts;
                }
            }
            waiting.emplace_back(std::move(r), w);
        }
        waiters_.clear();
        rpcs_.clear();
    }
    for (auto& [r, w] : waiting) {
        result<rpc_record> res;
        res.value = std::move(r);
        w->cb(std::move(res));
    }
}

}  // namespace tern::core_embedded
