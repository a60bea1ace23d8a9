// The admin service's attribute and telemetry operations (admin_service.hpp).
#include <set>

#include "admin_service.hpp"
#include "store.hpp"

namespace tern::core_embedded {

// ---- attributes -----------------------------------------------------------------------------

void admin_service::set_attributes(std::string name, tern_attribute_scope scope,
                                   std::vector<kv> values, callback<none> cb) {
    if (scope != TERN_SCOPE_CLIENT && scope != TERN_SCOPE_SHARED && scope != TERN_SCOPE_SERVER) {
        cb({TERN_INVALID_ARGUMENT, "unknown attribute scope", {}});
        return;
    }
    for (const kv& x : values)
        if (x.key.empty() || x.v.type == TERN_VALUE_NULL) {
            cb({TERN_INVALID_ARGUMENT, "attribute keys must not be empty and values not null", {}});
            return;
        }
    auto vals = std::make_shared<std::vector<kv>>(std::move(values));
    auto id = std::make_shared<uint64_t>(0);
    p_.submit(
        [name, scope, vals, id](write_txn& t, std::string& msg) -> tern_status {
            auto d = store::device_id(t.conn(), name);
            if (!d) {
                msg = no_device(name);
                return TERN_NOT_FOUND;
            }
            *id = *d;
            for (const kv& x : *vals) store::upsert_attribute(t.conn(), *d, scope, x.key, x.v, t.now());
            return TERN_OK;
        },
        [this, scope, vals, id, cb](tern_status s, const std::string& msg) {
            if (s == TERN_OK && scope == TERN_SCOPE_SHARED) p_.listener.notify_attributes(*id, *vals, {});
            cb({s, msg, {}});
        });
}

void admin_service::delete_attributes(std::string name, tern_attribute_scope scope,
                                      std::vector<std::string> keys, callback<none> cb) {
    if (scope != TERN_SCOPE_CLIENT && scope != TERN_SCOPE_SHARED && scope != TERN_SCOPE_SERVER) {
        cb({TERN_INVALID_ARGUMENT, "unknown attribute scope", {}});
        return;
    }
    auto ks = std::make_shared<std::vector<std::string>>(std::move(keys));
    auto gone = std::make_shared<std::vector<std::string>>();
    auto id = std::make_shared<uint64_t>(0);
    p_.submit(
        [name, scope, ks, gone, id](write_txn& t, std::string& msg) -> tern_status {
            gone->clear();
            auto d = store::device_id(t.conn(), name);
            if (!d) {
                msg = no_device(name);
                return TERN_NOT_FOUND;
            }
            *id = *d;
            for (const std::string& k : *ks)
                if (store::delete_attribute(t.conn(), *d, scope, k)) gone->push_back(k);
            return TERN_OK;
        },
        [this, scope, gone, id, cb](tern_status s, const std::string& msg) {
            if (s == TERN_OK && scope == TERN_SCOPE_SHARED) p_.listener.notify_attributes(*id, {}, *gone);
            cb({s, msg, {}});
        });
}

void admin_service::read_attributes(std::string name, uint32_t scopes, std::vector<std::string> keys,
                                    callback<attribute_set> cb) {
    p_.read<attribute_set>(
        [name = std::move(name), scopes, keys = std::move(keys), cb](db::connection& c) {
            result<attribute_set> r;
            try {
                auto d = store::device_id(c, name);
                if (!d) {
                    cb({TERN_NOT_FOUND, no_device(name), {}});
                    return;
                }
                const std::vector<std::string>* k = keys.empty() ? nullptr : &keys;
                if (scopes & (1u << TERN_SCOPE_CLIENT)) r.value.client = store::load_attributes(c, *d, TERN_SCOPE_CLIENT, k);
                if (scopes & (1u << TERN_SCOPE_SHARED)) r.value.shared = store::load_attributes(c, *d, TERN_SCOPE_SHARED, k);
                if (scopes & (1u << TERN_SCOPE_SERVER)) r.value.server = store::load_attributes(c, *d, TERN_SCOPE_SERVER, k);
            } catch (const std::exception& e) {
                r = {TERN_IO, e.what(), {}};
            }
            cb(std::move(r));
        },
        cb);
}

// ---- telemetry reads ------------------------------------------------------------------------

void admin_service::latest_telemetry(std::string name, std::vector<std::string> keys,
                                     callback<std::vector<ts_latest>> cb) {
    p_.read<std::vector<ts_latest>>(
        [name = std::move(name), keys = std::move(keys), cb](db::connection& c) {
            result<std::vector<ts_latest>> r;
            try {
                auto d = store::device_id(c, name);
                if (!d) {
                    cb({TERN_NOT_FOUND, no_device(name), {}});
                    return;
                }
                const std::set<std::string> wanted(keys.begin(), keys.end());
                auto q = c.query(
                    "SELECT k.name, l.ts, l.type, l.v FROM ts_latest l JOIN ts_keys k ON k.id = l.key_id "
                    "WHERE l.device_id = ? ORDER BY k.name");
                q->bind_id(1, *d);
                while (q->step()) {
                    std::string k = q->get_string(0);
                    if (!wanted.empty() && !wanted.count(k)) continue;
                    r.value.push_back(ts_latest{std::move(k), q->get_int(1), store::read_value(*q, 2, 3)});
                }
            } catch (const std::exception& e) {
                r = {TERN_IO, e.what(), {}};
            }
            cb(std::move(r));
        },
        cb);
}

void admin_service::telemetry_range(std::string name, std::vector<std::string> keys, int64_t start_ts,
                                    int64_t end_ts, int64_t limit, bool desc,
                                    callback<std::map<std::string, std::vector<ts_point>>> cb) {
    p_.read<std::map<std::string, std::vector<ts_point>>>(
        [name = std::move(name), keys = std::move(keys), start_ts, end_ts, limit, desc, cb](db::connection& c) {
            result<std::map<std::string, std::vector<ts_point>>> r;
            try {
                // One read transaction for the whole walk: a statement outside one opens
                // and closes its own (WAL locks, system calls) on every bucket's seek. It
                // also reads every key from one snapshot.
                db::transaction snapshot(c, false);
                auto d = store::device_id(c, name);
                if (!d) {
                    snapshot.commit();
                    cb({TERN_NOT_FOUND, no_device(name), {}});
                    return;
                }
                struct key_span {
                    std::string name;
                    int64_t id, first_ts, last_ts;
                };
                std::vector<key_span> ks;
                {
                    auto q = c.query(
                        "SELECT k.name, k.id, l.first_ts, l.ts FROM ts_latest l JOIN ts_keys k ON k.id = l.key_id "
                        "WHERE l.device_id = ? ORDER BY k.name");
                    q->bind_id(1, *d);
                    while (q->step()) {
                        std::string k = q->get_string(0);
                        if (keys.empty() || std::find(keys.begin(), keys.end(), k) != keys.end())
                            ks.push_back(key_span{std::move(k), q->get_int(1), q->get_int(2), q->get_int(3)});
                    }
                }
                // Every point of a key lies within [first_ts, latest ts]: the walk over the
                // buckets starts and ends there.
                for (const key_span& k : ks)
                    r.value[k.name] = store::ts_history(c, *d, k.id, std::max(start_ts, k.first_ts),
                                                        std::min(end_ts, k.last_ts), limit <= 0 ? 100 : limit, desc);
                snapshot.commit();
            } catch (const std::exception& e) {
                r = {TERN_IO, e.what(), {}};
            }
            cb(std::move(r));
        },
        cb);
}

}  // namespace tern::core_embedded
