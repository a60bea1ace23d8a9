// Server-side RPC (to devices) with its states, and client-side RPC (from devices):
// built-in answers and the operator's queue.
#include <algorithm>

#include "rapidjson_config.hpp"
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core.hpp"
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
}  // namespace

// ---- server-side RPC ---------------------------------------------------------------------

std::vector<std::pair<uint64_t, embedded_core::rpc_live>> embedded_core::load_open_rpcs(db::connection& c) {
    const int64_t now = now_ms();
    struct row {
        uint64_t device;
        rpc_live live;
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
    std::vector<std::pair<uint64_t, rpc_live>> keep;
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
        log_.info("RPCs from the previous run: ", keep.size(), " persistent pending, ", closed, " closed");
    return keep;
}

void embedded_core::rpc_track(uint64_t device_id, rpc_live live) {
    const int64_t id = live.id;
    const int64_t delay = live.expiration_ts - now_ms();
    {
        std::lock_guard lk(rpc_mutex_);
        rpcs_[device_id].emplace(id, std::move(live));
    }
    const uint64_t timer = timers_.schedule(delay, [this, device_id, id] { rpc_expire(device_id, id); });
    std::lock_guard lk(rpc_mutex_);
    auto d = rpcs_.find(device_id);
    if (d == rpcs_.end()) return;
    auto it = d->second.find(id);
    if (it != d->second.end()) it->second.expiry_timer = timer;
}

void embedded_core::dispatch_rpcs(uint64_t device_id, bool resend) {
    if (!subscribed(device_id, TERN_SUBSCRIBE_RPC)) return;
    struct out {
        int64_t id;
        std::string method, params;
        uint32_t flags;
        int64_t expiration_ts;
    };
    std::vector<out> send;
    const int64_t now = now_ms();
    {
        std::lock_guard lk(rpc_mutex_);
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
        with_listener([&](core_listener_v1& l) { l.on_rpc_request(device_id, &req); });
    }
}

void embedded_core::resend_pending_rpcs(uint64_t device_id) noexcept {
    if (!running_) return;
    try {
        timers_.post([this, device_id] { dispatch_rpcs(device_id, true); });
    } catch (...) {
        log_.error("resend_pending_rpcs failed: out of memory");
    }
}

void embedded_core::rpc_persist(const rpc_record& rec,
                                std::function<void(tern_status, const std::string&)> then) {
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
    submit(std::move(op));
}

void embedded_core::rpc_transition(uint64_t device_id, int64_t rpc_id, tern_rpc_status status,
                                   std::string result, std::string error, tern_core_done_fn done,
                                   void* ctx) {
    rpc_record rec;
    bool settled = false, changed = false, known = false;
    uint64_t cancel_timer = 0;
    const int64_t now = now_ms();
    {
        std::lock_guard lk(rpc_mutex_);
        auto d = rpcs_.find(device_id);
        if (d != rpcs_.end()) {
            auto it = d->second.find(rpc_id);
            if (it != d->second.end()) {
                known = true;
                rpc_live& r = it->second;
                const bool oneway = (r.flags & TERN_RPC_ONEWAY) != 0;
                tern_rpc_status next = r.status;
                switch (status) {
                    case TERN_RPC_SENT:
                        if (r.status == TERN_RPC_QUEUED) next = TERN_RPC_SENT;
                        break;
                    case TERN_RPC_DELIVERED:
                        if (r.status == TERN_RPC_QUEUED || r.status == TERN_RPC_SENT)
                            next = oneway ? TERN_RPC_SUCCESSFUL : TERN_RPC_DELIVERED;
                        break;
                    case TERN_RPC_SUCCESSFUL: next = TERN_RPC_SUCCESSFUL; break;
                    case TERN_RPC_TIMEOUT:
                        // A persistent RPC gets more tries while it has not expired: the
                        // device may just be asleep.
                        if ((r.flags & TERN_RPC_PERSISTENT) && r.retries < settings_.rpc_max_retries &&
                            now < r.expiration_ts) {
                            ++r.retries;
                            r.dispatched = false;
                            next = TERN_RPC_QUEUED;
                            changed = true;
                        } else {
                            next = TERN_RPC_TIMEOUT;
                        }
                        break;
                    case TERN_RPC_FAILED: next = TERN_RPC_FAILED; break;
                    default: break;  // QUEUED and EXPIRED are the core's to set
                }
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
                if (final_status(next)) {
                    settled = true;
                    cancel_timer = r.expiry_timer;
                    d->second.erase(it);
                    if (d->second.empty()) rpcs_.erase(d);
                }
            }
        }
    }
    if (!known) {
        if (done == nullptr) return;  // a status report for an RPC we no longer track
        // A reply to an RPC that is already final (late, or repeated) is accepted without
        // changing anything; one to an unknown id is not.
        submit(
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
    if (cancel_timer != 0) timers_.cancel(cancel_timer);
    if (!changed) {
        if (done != nullptr) done(ctx, TERN_OK, tern_str{});
        return;
    }
    rpc_count(rec.status);
    if (rec.status == TERN_RPC_QUEUED) {
        // a persistent RPC waiting for its next try: goes out when the device is back
        rpc_persist(rec, [done, ctx](tern_status s, const std::string& msg) {
            if (done != nullptr) done(ctx, s, to_str(msg));
        });
        return;
    }
    auto shared = std::make_shared<rpc_record>(std::move(rec));
    rpc_persist(*shared, [this, shared, settled, done, ctx](tern_status s, const std::string& msg) {
        if (settled) rpc_settled(*shared);
        if (done != nullptr) done(ctx, s, to_str(msg));
    });
}

void embedded_core::rpc_status(uint64_t device_id, int64_t rpc_id, tern_rpc_status status,
                               tern_str error) noexcept {
    if (!running_) return;
    try {
        rpc_transition(device_id, rpc_id, status, {}, std::string(to_sv(error)), nullptr, nullptr);
    } catch (const std::exception& e) {
        log_.error("rpc_status failed: ", e.what());
    }
}

void embedded_core::rpc_reply(uint64_t device_id, int64_t rpc_id, tern_str result,
                              tern_core_done_fn done, void* ctx) noexcept {
    if (!running_) {
        done(ctx, TERN_UNAVAILABLE, to_str("the store is not running"));
        return;
    }
    try {
        rpc_transition(device_id, rpc_id, TERN_RPC_SUCCESSFUL, std::string(to_sv(result)), {}, done, ctx);
    } catch (const std::exception& e) {
        done(ctx, TERN_INTERNAL, to_str(e.what()));
    }
}

void embedded_core::rpc_expire(uint64_t device_id, int64_t rpc_id) {
    rpc_record rec;
    {
        std::lock_guard lk(rpc_mutex_);
        auto d = rpcs_.find(device_id);
        if (d == rpcs_.end()) return;
        auto it = d->second.find(rpc_id);
        if (it == d->second.end()) return;
        const rpc_live& r = it->second;
        // Delivered but unanswered: the device had it and did not reply in time.
        rec.status = r.status == TERN_RPC_DELIVERED && !(r.flags & TERN_RPC_ONEWAY)
                         ? TERN_RPC_TIMEOUT
                         : TERN_RPC_EXPIRED;
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
    rpc_count(rec.status);
    auto shared = std::make_shared<rpc_record>(std::move(rec));
    rpc_persist(*shared, [this, shared](tern_status, const std::string&) { rpc_settled(*shared); });
}

void embedded_core::rpc_settled(rpc_record rec) {
    std::vector<std::shared_ptr<rpc_waiter>> ws;
    {
        std::lock_guard lk(rpc_mutex_);
        auto range = rpc_waiters_.equal_range({rec.device_id, rec.id});
        for (auto it = range.first; it != range.second; ++it) ws.push_back(it->second);
        rpc_waiters_.erase(range.first, range.second);
    }
    for (auto& w : ws) {
        result<rpc_record> r;
        r.value = rec;
        w->cb(std::move(r));
    }
}

void embedded_core::send_rpc(rpc_request_spec spec, callback<rpc_record> cb) {
    if (spec.method.empty()) {
        cb({TERN_INVALID_ARGUMENT, "method must not be empty", {}});
        return;
    }
    const int64_t timeout = spec.timeout_ms > 0 ? spec.timeout_ms : settings_.rpc_default_timeout_ms;
    auto rec = std::make_shared<rpc_record>();
    rec->device_name = spec.device;
    rec->method = spec.method;
    rec->params = spec.params;
    rec->flags = (spec.oneway ? uint32_t(TERN_RPC_ONEWAY) : 0u) | (spec.persistent ? uint32_t(TERN_RPC_PERSISTENT) : 0u);
    rec->status = TERN_RPC_QUEUED;
    const bool wait = spec.wait && !spec.persistent;
    submit(
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
            rpc_count(TERN_RPC_QUEUED);
            if (wait) {
                auto w = std::make_shared<rpc_waiter>();
                w->cb = cb;
                std::lock_guard lk(rpc_mutex_);
                rpc_waiters_.emplace(std::make_pair(rec->device_id, rec->id), std::move(w));
            }
            rpc_live live;
            live.id = rec->id;
            live.method = rec->method;
            live.params = rec->params;
            live.flags = rec->flags;
            live.status = TERN_RPC_QUEUED;
            live.created_ts = rec->created_ts;
            live.expiration_ts = rec->expiration_ts;
            rpc_track(rec->device_id, std::move(live));
            dispatch_rpcs(rec->device_id, false);
            if (!wait) cb({TERN_OK, {}, *rec});
        });
}

void embedded_core::get_rpc(std::string device, int64_t id, callback<rpc_record> cb) {
    read<rpc_record>(
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
                    std::lock_guard lk(rpc_mutex_);
                    auto d = rpcs_.find(*dev);
                    if (d != rpcs_.end()) {
                        auto it = d->second.find(id);
                        if (it != d->second.end()) {
                            rec->status = it->second.status;
                            rec->retries = it->second.retries;
                        }
                    }
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

void embedded_core::list_rpcs(std::string device, int64_t limit, callback<std::vector<rpc_record>> cb) {
    read<std::vector<rpc_record>>(
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
                    std::lock_guard lk(rpc_mutex_);
                    auto d = rpcs_.find(*dev);
                    if (d != rpcs_.end())
                        for (rpc_record& rec : r.value) {
                            auto it = d->second.find(rec.id);
                            if (it != d->second.end()) rec.status = it->second.status;
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

// ---- client-side RPC -----------------------------------------------------------------------

bool embedded_core::builtin_client_rpc(uint64_t device_id, std::string_view method,
                                       std::string_view params, tern_core_text_fn done, void* ctx) {
    if (method == "getCurrentTime") {
        const std::string reply = "{\"time\":" + std::to_string(now_ms()) + "}";
        done(ctx, TERN_OK, to_str(reply));
        return true;
    }
    if (method == "ping") {
        const std::string reply =
            "{\"pong\":" + std::string(params.empty() ? std::string_view("null") : params) + "}";
        done(ctx, TERN_OK, to_str(reply));
        return true;
    }
    if (method == "getDeviceInfo") {
        readers_.submit(
            [device_id, done, ctx](db::connection& c) {
                std::optional<device> d;
                try {
                    d = store::load_device(c, device_id);
                } catch (const std::exception&) {
                    done(ctx, TERN_UNAVAILABLE, tern_str{});
                    return;
                }
                if (!d) {
                    done(ctx, TERN_NOT_FOUND, tern_str{});
                    return;
                }
                rapidjson::StringBuffer sb;
                rapidjson::Writer<rapidjson::StringBuffer> w(sb);
                w.StartObject();
                w.Key("id");
                w.Uint64(d->id);
                w.Key("name");
                w.String(d->name.data(), static_cast<rapidjson::SizeType>(d->name.size()));
                w.Key("profile");
                w.String(d->profile_name.data(), static_cast<rapidjson::SizeType>(d->profile_name.size()));
                w.EndObject();
                done(ctx, TERN_OK, tern_str{sb.GetString(), sb.GetSize()});
            },
            [done, ctx](tern_status s) { done(ctx, s, tern_str{}); });
        return true;
    }
    return false;
}

void embedded_core::client_rpc(uint64_t device_id, tern_str method, tern_str params,
                               int64_t timeout_ms, tern_core_text_fn done, void* ctx) noexcept {
    if (!running_) {
        done(ctx, TERN_UNAVAILABLE, tern_str{});
        return;
    }
    try {
        client_rpc_config cfg;
        {
            std::lock_guard lk(client_mutex_);
            cfg = client_config_;
        }
        if (cfg.builtin && builtin_client_rpc(device_id, to_sv(method), to_sv(params), done, ctx)) return;
        if (!cfg.queue) {
            done(ctx, TERN_NOT_FOUND, tern_str{});
            return;
        }
        const int64_t timeout = timeout_ms > 0 ? timeout_ms : settings_.client_rpc_default_timeout_ms;
        uint64_t id = 0;
        {
            std::lock_guard lk(client_mutex_);
            if (client_calls_.size() >= settings_.client_rpc_queue_capacity) {
                id = 0;
            } else {
                id = next_client_call_++;
                client_call& c = client_calls_[id];
                c.entry.id = id;
                c.entry.device_id = device_id;
                c.entry.method = to_sv(method);
                c.entry.params = to_sv(params);
                c.entry.received_ts = now_ms();
                c.entry.deadline_ts = c.entry.received_ts + timeout;
                c.done = done;
                c.ctx = ctx;
            }
        }
        if (id == 0) {
            metrics_.client_rpc_rejected.inc();
            done(ctx, TERN_BUSY, tern_str{});
            return;
        }
        metrics_.client_rpc_queue_depth.add(1);
        uint64_t timer = 0;
        try {
            timer = timers_.schedule(timeout, [this, id] { client_rpc_timeout(id); });
        } catch (const std::bad_alloc&) {
            timer = 0;
        }
        if (timer == 0) {  // stopping (or out of memory): it would never time out
            client_rpc_timeout(id);
            return;
        }
        std::lock_guard lk(client_mutex_);
        auto it = client_calls_.find(id);
        if (it != client_calls_.end()) it->second.timer = timer;
    } catch (...) {
        // only reachable before the call was queued: the completion has not run
        done(ctx, TERN_INTERNAL, tern_str{});
    }
}

void embedded_core::client_rpc_timeout(uint64_t id) {
    client_call c;
    {
        std::lock_guard lk(client_mutex_);
        auto it = client_calls_.find(id);
        if (it == client_calls_.end()) return;
        c = std::move(it->second);
        client_calls_.erase(it);
    }
    metrics_.client_rpc_queue_depth.add(-1);
    c.done(c.ctx, TERN_TIMEOUT, tern_str{});
}

tern_status embedded_core::reply_client_rpc(uint64_t id, std::string_view json) {
    client_call c;
    {
        std::lock_guard lk(client_mutex_);
        auto it = client_calls_.find(id);
        if (it == client_calls_.end()) return TERN_NOT_FOUND;
        c = std::move(it->second);
        client_calls_.erase(it);
    }
    if (c.timer != 0) timers_.cancel(c.timer);
    metrics_.client_rpc_queue_depth.add(-1);
    c.done(c.ctx, TERN_OK, to_str(json));
    return TERN_OK;
}

void embedded_core::list_client_rpcs(callback<std::vector<client_rpc_entry>> cb) {
    auto list = std::make_shared<std::vector<client_rpc_entry>>();
    {
        std::lock_guard lk(client_mutex_);
        for (const auto& [id, c] : client_calls_) list->push_back(c.entry);
    }
    read<std::vector<client_rpc_entry>>(
        [list, cb](db::connection& c) {
            result<std::vector<client_rpc_entry>> r;
            try {
                for (client_rpc_entry& e : *list) {
                    auto q = c.query("SELECT name FROM devices WHERE id = ?");
                    q->bind_id(1, e.device_id);
                    if (q->step()) e.device_name = q->get_string(0);
                }
                r.value = std::move(*list);
            } catch (const std::exception& e) {
                r.status = TERN_IO;
                r.message = e.what();
            }
            cb(std::move(r));
        },
        cb);
}

client_rpc_config embedded_core::get_client_rpc_config() {
    std::lock_guard lk(client_mutex_);
    return client_config_;
}

void embedded_core::set_client_rpc_config(client_rpc_config c) {
    std::lock_guard lk(client_mutex_);
    client_config_ = c;
}

}  // namespace tern::core_embedded
