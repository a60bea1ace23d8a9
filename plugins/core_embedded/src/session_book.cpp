#include "session_book.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "store.hpp"
#include "tern/sdk/views.hpp"

namespace tern::core_embedded {

using sdk::to_sv;

namespace {

// "a.b.c.d:port" as (address in host order, port); false for anything else, or for text that
// would not print back the same (leading zeros), so that listing shows what was reported.
bool parse_ipv4(std::string_view ad, uint32_t& ip, uint16_t& port) {
    const size_t colon = ad.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 15 || colon + 1 >= ad.size()) return false;
    char host[16] = {};
    ad.copy(host, colon);
    in_addr a{};
    if (::inet_pton(AF_INET, host, &a) != 1) return false;
    const std::string_view p = ad.substr(colon + 1);
    unsigned v = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc() || end != p.data() + p.size() || v > 65535 || (p.size() > 1 && p[0] == '0')) return false;
    char back[INET_ADDRSTRLEN];
    if (::inet_ntop(AF_INET, &a, back, sizeof back) == nullptr || std::string_view(back) != ad.substr(0, colon))
        return false;
    ip = ntohl(a.s_addr);
    port = static_cast<uint16_t>(v);
    return true;
}

std::string format_ipv4(uint32_t ip, uint16_t port) {
    in_addr a{};
    a.s_addr = htonl(ip);
    char buf[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &a, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(port);
}

// Heap a string holds beyond its own object (0 while it fits the small-string buffer).
size_t heap_of(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

}  // namespace

void session_book::start() {
    std::lock_guard lk(mutex_);
    started_ts_ = now_ms();
    if (p_.settings.activity_flush_interval_ms <= 0) return;
    timer_ = p_.timers.schedule(p_.settings.activity_flush_interval_ms, [this] { flush(); });
}

int session_book::transport_index(std::string_view tr) {
    for (size_t i = 0; i < transports_.size(); ++i)
        if (transports_[i] == tr) return static_cast<int>(i);
    if (transports_.size() >= 255) return -1;
    transports_.emplace_back(tr);
    return static_cast<int>(transports_.size() - 1);
}

// A new session, or the one already open for (transport, address); true when new.
bool session_book::open_session(uint64_t device_id, entry& e, std::string_view tr, std::string_view ad, int64_t now) {
    uint32_t ip = 0;
    uint16_t port = 0;
    const bool compact = parse_ipv4(ad, ip, port);
    const int t = compact ? transport_index(tr) : -1;
    if ((e.flags & inline_open) && t >= 0 && e.transport == t && e.ipv4 == ip && e.port == port) return false;
    if (e.flags & has_extra) {
        for (const session_info& s : extra_[device_id])
            if (s.transport == tr && s.address == ad) return false;
    }
    if (!(e.flags & inline_open) && t >= 0) {
        e.flags |= inline_open;
        e.transport = static_cast<uint8_t>(t);
        e.ipv4 = ip;
        e.port = port;
        e.opened_ts = now;
        return true;
    }
    session_info s;
    s.device_id = device_id;
    s.transport = tr;
    s.address = ad;
    s.opened_ts = now;
    s.last_activity_ts = now;
    extra_bytes_ += sizeof s + heap_of(s.transport) + heap_of(s.address);
    extra_[device_id].push_back(std::move(s));
    e.flags |= has_extra;
    return true;
}

// Closes the session of (transport, address); true when one was open.
bool session_book::close_session(uint64_t device_id, entry& e, std::string_view tr, std::string_view ad) {
    if (e.flags & inline_open) {
        uint32_t ip = 0;
        uint16_t port = 0;
        if (parse_ipv4(ad, ip, port) && e.ipv4 == ip && e.port == port && transports_[e.transport] == tr) {
            e.flags &= static_cast<uint8_t>(~inline_open);
            return true;
        }
    }
    if (!(e.flags & has_extra)) return false;
    auto it = extra_.find(device_id);
    if (it == extra_.end()) return false;
    std::vector<session_info>& list = it->second;
    for (auto s = list.begin(); s != list.end(); ++s) {
        if (s->transport != tr || s->address != ad) continue;
        extra_bytes_ -= std::min(extra_bytes_, sizeof *s + heap_of(s->transport) + heap_of(s->address));
        list.erase(s);
        if (list.empty()) {
            extra_.erase(it);
            e.flags &= static_cast<uint8_t>(~has_extra);
        }
        return true;
    }
    return false;
}

// An entry with no session and nothing to write has nothing to keep.
void session_book::drop_if_idle(uint64_t device_id, const entry& e) {
    if ((e.flags & (inline_open | has_extra | dirty)) == 0) sessions_.erase(device_id);
}

void session_book::event(uint64_t device_id, tern_session_event event, tern_str transport,
                         tern_str address) noexcept {
    if (device_id == 0) return;  // no device has id 0 (SQLite row ids start at 1)
    try {
        const int64_t now = now_ms();
        std::lock_guard lk(mutex_);
        if (event == TERN_SESSION_ASLEEP) {
            // The first report counts: a repeated one does not move "since".
            auto [since, made] = asleep_.try_emplace(device_id);
            if (made) {
                *since = now;
                p_.metrics.devices_asleep.add(1);
            }
            return;
        }
        // Older and newer transports: an event this core does not know changes nothing.
        if (event != TERN_SESSION_OPEN && event != TERN_SESSION_CLOSE && event != TERN_SESSION_ACTIVITY) return;
        // An Observe registration (OPEN) is an uplink too: either wakes the device.
        if (event != TERN_SESSION_CLOSE && asleep_.erase(device_id)) p_.metrics.devices_asleep.add(-1);
        const std::string_view tr = to_sv(transport), ad = to_sv(address);
        if (event == TERN_SESSION_ACTIVITY) {
            entry& e = *sessions_.try_emplace(device_id).first;
            e.last_activity_ts = now;
            if (!(e.flags & dirty)) {
                dirty_.push_back(device_id);
                e.flags |= dirty;
            }
            return;
        }
        connect_times& ct = *pending_.try_emplace(device_id).first;
        if (event == TERN_SESSION_OPEN) {
            ct.connect_ts = now;
            entry& e = *sessions_.try_emplace(device_id).first;
            if (open_session(device_id, e, tr, ad, now)) {
                ++count_;
                p_.metrics.sessions.add(1);
            }
            return;
        }
        ct.disconnect_ts = now;
        if (entry* e = sessions_.find(device_id)) {
            if (close_session(device_id, *e, tr, ad)) {
                --count_;
                p_.metrics.sessions.add(-1);
            }
            drop_if_idle(device_id, *e);
        }
    } catch (...) {
        p_.log.error("session_event failed: out of memory");
    }
}

// Writes lastActivityTime (and connect/disconnect times) of every device that had traffic
// since the last flush in one op: at most one write per device per interval, whatever
// the message rate. Only the devices active since the last flush are visited.
void session_book::flush() {
    struct item {
        uint64_t device;
        int64_t activity_ts, connect_ts, disconnect_ts;  // 0: nothing to write
    };
    auto items = std::make_shared<std::vector<item>>();
    {
        std::lock_guard lk(mutex_);
        try {
            items->reserve(dirty_.size() + pending_.size());
            for (uint64_t d : dirty_) {
                entry* e = sessions_.find(d);
                if (e == nullptr || !(e->flags & dirty)) continue;
                e->flags &= static_cast<uint8_t>(~dirty);
                item x{d, e->last_activity_ts, 0, 0};
                if (connect_times* ct = pending_.find(d)) {
                    x.connect_ts = ct->connect_ts;
                    x.disconnect_ts = ct->disconnect_ts;
                    pending_.erase(d);
                }
                items->push_back(x);
                drop_if_idle(d, *e);
            }
            pending_.for_each([&](uint64_t d, connect_times& ct) {
                items->push_back(item{d, 0, ct.connect_ts, ct.disconnect_ts});
            });
        } catch (const std::bad_alloc&) {
            p_.log.error("activity times not stored: out of memory");
        }
        dirty_.clear();
        dirty_.shrink_to_fit();
        pending_.clear();
        if (p_.running && p_.settings.activity_flush_interval_ms > 0)
            timer_ = p_.timers.schedule(p_.settings.activity_flush_interval_ms, [this] { flush(); });
    }
    if (items->empty()) return;
    p_.submit(
        [items](write_txn& t, std::string&) -> tern_status {
            for (const item& x : *items) {
                if (t.deleted(x.device)) continue;
                const std::pair<const char*, int64_t> values[] = {{"lastConnectTime", x.connect_ts},
                                                                  {"lastDisconnectTime", x.disconnect_ts},
                                                                  {"lastActivityTime", x.activity_ts}};
                for (const auto& [key, ts] : values)
                    if (ts != 0)
                        store::upsert_attribute(t.conn(), x.device, TERN_SCOPE_SERVER, key, value::of_int(ts), t.now());
            }
            return TERN_OK;
        },
        [this](tern_status s, const std::string& msg) {
            if (s != TERN_OK) p_.log.warn("activity times not stored: ", msg);
        });
}

void session_book::list(size_t limit, callback<std::vector<session_info>> cb) {
    auto list = std::make_shared<std::vector<session_info>>();
    {
        std::lock_guard lk(mutex_);
        sessions_.for_each([&](uint64_t d, const entry& e) {
            if (!(e.flags & inline_open) || list->size() >= limit) return;
            session_info s;
            s.device_id = d;
            s.transport = transports_[e.transport];
            s.address = format_ipv4(e.ipv4, e.port);
            s.opened_ts = e.opened_ts;
            s.last_activity_ts = std::max(e.opened_ts, e.last_activity_ts);
            list->push_back(std::move(s));
        });
        for (const auto& [d, sessions] : extra_)
            for (session_info s : sessions) {
                if (list->size() >= limit) break;
                if (const entry* e = sessions_.find(d)) s.last_activity_ts = std::max(s.opened_ts, e->last_activity_ts);
                list->push_back(std::move(s));
            }
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
    extra_.clear();
    extra_bytes_ = 0;
    dirty_.clear();
    dirty_.shrink_to_fit();
    pending_.clear();
    asleep_.clear();
    count_ = 0;
}

void session_book::power_of(uint64_t device_id, int64_t stored_activity_ts, device_power_status& out) {
    std::lock_guard lk(mutex_);
    out.asleep_since_ts = 0;
    if (const int64_t* a = asleep_.find(device_id)) out.asleep_since_ts = *a;
    int64_t memory_ts = 0;
    if (const entry* e = sessions_.find(device_id)) memory_ts = e->last_activity_ts;
    out.last_activity_ts = std::max(memory_ts, stored_activity_ts);
    out.seen_since_start = out.asleep_since_ts != 0 || memory_ts != 0 ||
                           (started_ts_ != 0 && stored_activity_ts >= started_ts_);
}

void session_book::forget(uint64_t device_id) {
    std::lock_guard lk(mutex_);
    if (asleep_.erase(device_id)) p_.metrics.devices_asleep.add(-1);
}

size_t session_book::asleep() {
    std::lock_guard lk(mutex_);
    return asleep_.size();
}

session_book::table_memory session_book::sessions_memory() {
    std::lock_guard lk(mutex_);
    // The side map's nodes and buckets: a node holds the key, the vector and the next pointer.
    const size_t extra_nodes = extra_.size() * (sizeof(void*) * 2 + 32) + extra_.bucket_count() * sizeof(void*);
    return {sessions_.size() + extra_.size(), sessions_.bytes() + pending_.bytes() +
                                                  dirty_.capacity() * sizeof(uint64_t) + extra_nodes + extra_bytes_};
}

session_book::table_memory session_book::asleep_memory() {
    std::lock_guard lk(mutex_);
    return {asleep_.size(), asleep_.bytes()};
}

}  // namespace tern::core_embedded
