#include "session_book.hpp"

#include <algorithm>

#include "store.hpp"
#include "tern/sdk/views.hpp"

namespace tern::core_embedded {

using sdk::to_sv;

void session_book::start() {
    std::lock_guard lk(mutex_);
    started_ts_ = now_ms();
    if (p_.settings.activity_flush_interval_ms <= 0) return;
    timer_ = p_.timers.schedule(p_.settings.activity_flush_interval_ms, [this] { flush(); });
}

void session_book::event(uint64_t device_id, tern_session_event event, tern_str transport,
                         tern_str address) noexcept {
    try {
        const int64_t now = now_ms();
        std::lock_guard lk(mutex_);
        if (event == TERN_SESSION_ASLEEP) {
            // The first report counts: a repeated one does not move "since".
            if (asleep_.try_emplace(device_id, now).second) p_.metrics.devices_asleep.add(1);
            return;
        }
        // Older and newer transports: an event this core does not know changes nothing.
        if (event != TERN_SESSION_OPEN && event != TERN_SESSION_CLOSE && event != TERN_SESSION_ACTIVITY) return;
        // An Observe registration (OPEN) is an uplink too: either wakes the device.
        if (event != TERN_SESSION_CLOSE && asleep_.erase(device_id) > 0) p_.metrics.devices_asleep.add(-1);
        device_sessions& ds = sessions_[device_id];
        const std::string_view tr = to_sv(transport), ad = to_sv(address);
        auto find = [&] {
            for (auto it = ds.open.begin(); it != ds.open.end(); ++it)
                if (it->transport == tr && it->address == ad) return it;
            return ds.open.end();
        };
        switch (event) {
            case TERN_SESSION_OPEN: {
                auto it = find();
                if (it == ds.open.end()) {
                    session_info s;
                    s.device_id = device_id;
                    s.transport = tr;
                    s.address = ad;
                    s.opened_ts = now;
                    s.last_activity_ts = now;
                    ds.open.push_back(std::move(s));
                    ++count_;
                    p_.metrics.sessions.add(1);
                } else {
                    it->last_activity_ts = now;
                }
                ds.pending.push_back(kv{"lastConnectTime", value::of_int(now)});
                break;
            }
            case TERN_SESSION_CLOSE: {
                auto it = find();
                if (it != ds.open.end()) {
                    ds.open.erase(it);
                    --count_;
                    p_.metrics.sessions.add(-1);
                }
                ds.pending.push_back(kv{"lastDisconnectTime", value::of_int(now)});
                break;
            }
            case TERN_SESSION_ACTIVITY: {
                auto it = find();
                if (it != ds.open.end()) it->last_activity_ts = now;
                ds.last_activity_ts = now;
                ds.dirty = true;
                break;
            }
            default: break;
        }
    } catch (...) {
        p_.log.error("session_event failed: out of memory");
    }
}

// Writes lastActivityTime (and connect/disconnect times) of every device that had traffic
// since the last flush in one op: at most one write per device per interval, whatever
// the message rate.
void session_book::flush() {
    struct item {
        uint64_t device;
        std::vector<kv> values;
    };
    auto items = std::make_shared<std::vector<item>>();
    {
        std::lock_guard lk(mutex_);
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            device_sessions& ds = it->second;
            if (ds.dirty || !ds.pending.empty()) {
                item x{it->first, std::move(ds.pending)};
                ds.pending.clear();
                if (ds.dirty) x.values.push_back(kv{"lastActivityTime", value::of_int(ds.last_activity_ts)});
                ds.dirty = false;
                items->push_back(std::move(x));
            }
            if (ds.open.empty() && !ds.dirty && ds.pending.empty()) it = sessions_.erase(it);
            else ++it;
        }
        if (p_.running && p_.settings.activity_flush_interval_ms > 0)
            timer_ = p_.timers.schedule(p_.settings.activity_flush_interval_ms, [this] { flush(); });
    }
    if (items->empty()) return;
    p_.submit(
        [items](write_txn& t, std::string&) -> tern_status {
            for (const item& x : *items) {
                if (t.deleted(x.device)) continue;
                for (const kv& v : x.values)
                    store::upsert_attribute(t.conn(), x.device, TERN_SCOPE_SERVER, v.key, v.v, t.now());
            }
            return TERN_OK;
        },
        [this](tern_status s, const std::string& msg) {
            if (s != TERN_OK) p_.log.warn("activity times not stored: ", msg);
        });
}

void session_book::list(callback<std::vector<session_info>> cb) {
    auto list = std::make_shared<std::vector<session_info>>();
    {
        std::lock_guard lk(mutex_);
        for (const auto& [id, ds] : sessions_)
            for (const session_info& s : ds.open) list->push_back(s);
    }
    p_.read<std::vector<session_info>>(
        [list, cb](db::connection& c) {
            result<std::vector<session_info>> r;
            try {
                for (session_info& s : *list) {
                    auto q = c.query("SELECT name FROM devices WHERE id = ?");
                    q->bind_id(1, s.device_id);
                    if (q->step()) s.device_name = q->get_string(0);
                }
                std::sort(list->begin(), list->end(), [](const session_info& a, const session_info& b) {
                    return a.device_name != b.device_name ? a.device_name < b.device_name
                                                          : a.opened_ts < b.opened_ts;
                });
                r.value = std::move(*list);
            } catch (const std::exception& e) {
                r.status = TERN_IO;
                r.message = e.what();
            }
            cb(std::move(r));
        },
        cb);
}

size_t session_book::count() {
    std::lock_guard lk(mutex_);
    return count_;
}

void session_book::clear() {
    std::lock_guard lk(mutex_);
    p_.metrics.sessions.add(-static_cast<int64_t>(count_));
    p_.metrics.devices_asleep.add(-static_cast<int64_t>(asleep_.size()));
    sessions_.clear();
    asleep_.clear();
    count_ = 0;
}

void session_book::power_of(uint64_t device_id, int64_t stored_activity_ts, device_power_status& out) {
    std::lock_guard lk(mutex_);
    out.asleep_since_ts = 0;
    if (auto a = asleep_.find(device_id); a != asleep_.end()) out.asleep_since_ts = a->second;
    int64_t memory_ts = 0;
    if (auto s = sessions_.find(device_id); s != sessions_.end()) memory_ts = s->second.last_activity_ts;
    out.last_activity_ts = std::max(memory_ts, stored_activity_ts);
    out.seen_since_start = out.asleep_since_ts != 0 || memory_ts != 0 ||
                           (started_ts_ != 0 && stored_activity_ts >= started_ts_);
}

void session_book::forget(uint64_t device_id) {
    std::lock_guard lk(mutex_);
    if (asleep_.erase(device_id) > 0) p_.metrics.devices_asleep.add(-1);
}

size_t session_book::asleep() {
    std::lock_guard lk(mutex_);
    return asleep_.size();
}

}  // namespace tern::core_embedded
