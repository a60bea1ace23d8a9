#include "device_data.hpp"

#include "store.hpp"
#include "tern/sdk/views.hpp"

namespace tern::core_embedded {

using sdk::to_str;
using sdk::to_sv;

namespace {

// Telemetry of one device: flattened into one arena so an op costs three allocations.
class telemetry_op final : public write_op {
public:
    struct item {
        int64_t ts;
        tern_value_type type;
        uint32_t key_off, key_len;
        uint32_t s_off, s_len;
        int64_t i;
        double d;
    };

    telemetry_op(uint64_t device, tern_core_done_fn done, void* ctx, core_metrics& m)
        : device_(device), done_(done), ctx_(ctx), metrics_(m) {}

    void add(int64_t ts, const tern_kv& kv) {
        if (kv.value.type == TERN_VALUE_NULL) return;  // a null value is dropped, as ThingsBoard does
        item it{};
        it.ts = ts;
        it.type = kv.value.type;
        it.key_off = static_cast<uint32_t>(arena_.size());
        it.key_len = static_cast<uint32_t>(kv.key.size);
        arena_.append(to_sv(kv.key));
        switch (kv.value.type) {
            case TERN_VALUE_BOOL: it.i = kv.value.u.b != 0; break;
            case TERN_VALUE_INT: it.i = kv.value.u.i; break;
            case TERN_VALUE_DOUBLE: it.d = kv.value.u.d; break;
            case TERN_VALUE_BYTES:
                it.s_off = static_cast<uint32_t>(arena_.size());
                it.s_len = static_cast<uint32_t>(kv.value.u.bytes.size);
                arena_.append(sdk::as_text(kv.value.u.bytes));
                break;
            default:
                it.s_off = static_cast<uint32_t>(arena_.size());
                it.s_len = static_cast<uint32_t>(kv.value.u.s.size);
                arena_.append(to_sv(kv.value.u.s));
                break;
        }
        items_.push_back(it);
    }
    size_t size() const noexcept { return items_.size(); }
    void reserve(size_t n, size_t bytes) {
        items_.reserve(n);
        arena_.reserve(bytes);
    }

    bool isolated() const noexcept override { return false; }

    tern_status apply(write_txn& t) override {
        if (t.deleted(device_)) {
            message = "the device was deleted";
            return TERN_NOT_FOUND;
        }
        const std::string_view a(arena_);
        // max_telemetry_keys_per_device / max_telemetry_keys: refused before anything is written
        names_.clear();
        for (const item& it : items_) names_.push_back(a.substr(it.key_off, it.key_len));
        if (const tern_status s = t.admit_ts_keys(device_, names_, message); s != TERN_OK) return s;
        for (const item& it : items_) {
            const int64_t key = t.ts_key(a.substr(it.key_off, it.key_len));
            store::upsert_ts_point(t.conn(), device_, key, it.ts, view(it, a));
            t.device_has_ts_key(device_, key);
        }
        return TERN_OK;
    }

    void finish(tern_status s) noexcept override {
        if (s == TERN_OK) metrics_.telemetry_values.inc(items_.size());
        done_(ctx_, s, to_str(message));
    }

private:
    // The item as a value that points into the arena.
    static tern_value view(const item& it, std::string_view a) {
        tern_value v{};
        v.type = it.type;
        switch (it.type) {
            case TERN_VALUE_BOOL: v.u.b = it.i != 0; break;
            case TERN_VALUE_INT: v.u.i = it.i; break;
            case TERN_VALUE_DOUBLE: v.u.d = it.d; break;
            case TERN_VALUE_BYTES:
                v.u.bytes = tern_bytes{reinterpret_cast<const uint8_t*>(a.data() + it.s_off), it.s_len};
                break;
            default: v.u.s = tern_str{a.data() + it.s_off, it.s_len}; break;
        }
        return v;
    }

    uint64_t device_;
    tern_core_done_fn done_;
    void* ctx_;
    core_metrics& metrics_;
    std::vector<item> items_;
    std::string arena_;
    std::vector<std::string_view> names_;
};

}  // namespace

void device_data::post_telemetry(uint64_t device_id, const tern_ts_record* records, uint32_t count,
                                 tern_core_done_fn done, void* ctx) noexcept {
    std::unique_ptr<telemetry_op> op;
    try {
        op = std::make_unique<telemetry_op>(device_id, done, ctx, p_.metrics);
        size_t n = 0, bytes = 0;
        const int64_t max_key = p_.writes.settings().max_key_length;
        std::string why;
        for (uint32_t r = 0; r < count; ++r) {
            n += records[r].count;
            for (uint32_t k = 0; k < records[r].count; ++k) {
                const tern_kv& kv = records[r].values[k];
                if (key_too_long(to_sv(kv.key), max_key, "telemetry key", why)) {
                    p_.metrics.key_length_refused.inc();
                    done(ctx, TERN_INVALID_ARGUMENT, to_str(why));
                    return;
                }
                bytes += kv.key.size;
                if (kv.value.type == TERN_VALUE_STR || kv.value.type == TERN_VALUE_JSON)
                    bytes += kv.value.u.s.size;
                else if (kv.value.type == TERN_VALUE_BYTES)
                    bytes += kv.value.u.bytes.size;
            }
        }
        if (bytes > 0xFFFFFFF0u) {
            done(ctx, TERN_INVALID_ARGUMENT, to_str("telemetry too large"));
            return;
        }
        op->reserve(n, bytes);
        op->bytes = sizeof(telemetry_op) + n * (sizeof(telemetry_op::item) + sizeof(std::string_view)) + bytes;
        for (uint32_t r = 0; r < count; ++r)
            for (uint32_t k = 0; k < records[r].count; ++k) op->add(records[r].ts, records[r].values[k]);
    } catch (...) {
        done(ctx, TERN_INTERNAL, to_str("out of memory"));
        return;
    }
    if (op->size() == 0) {  // nothing to store ({} or only nulls): already "durable"
        done(ctx, TERN_OK, tern_str{});
        return;
    }
    p_.submit(std::move(op));
}

void device_data::post_attributes(uint64_t device_id, tern_attribute_scope scope, const tern_kv* values,
                                  uint32_t count, tern_core_done_fn done, void* ctx) noexcept {
    if (scope != TERN_SCOPE_CLIENT && scope != TERN_SCOPE_SHARED && scope != TERN_SCOPE_SERVER) {
        done(ctx, TERN_INVALID_ARGUMENT, to_str("unknown attribute scope"));
        return;
    }
    auto vals = std::make_shared<std::vector<kv>>();
    uint64_t bytes = 0;
    try {
        std::string why;
        for (uint32_t i = 0; i < count; ++i) {
            if (key_too_long(to_sv(values[i].key), p_.writes.settings().max_key_length, "attribute key", why)) {
                p_.metrics.key_length_refused.inc();
                done(ctx, TERN_INVALID_ARGUMENT, to_str(why));
                return;
            }
        }
        vals->reserve(count);
        for (uint32_t i = 0; i < count; ++i) {
            if (values[i].value.type == TERN_VALUE_NULL) continue;
            vals->push_back(kv{std::string(to_sv(values[i].key)), value::from(values[i].value)});
            bytes += sizeof(kv) + vals->back().key.size() + vals->back().v.s.size();
        }
    } catch (...) {
        done(ctx, TERN_INTERNAL, to_str("out of memory"));
        return;
    }
    if (vals->empty()) {
        done(ctx, TERN_OK, tern_str{});
        return;
    }
    std::unique_ptr<fn_op> op;
    try {
        op = std::make_unique<fn_op>(
            [this, device_id, scope, vals](write_txn& t, std::string& msg) -> tern_status {
                if (t.deleted(device_id)) {
                    msg = "the device was deleted";
                    return TERN_NOT_FOUND;
                }
                // max_attributes_per_device: refused before anything is written
                if (!store::attribute_keys_fit(t.conn(), device_id, scope, *vals,
                                               p_.writes.settings().max_attributes_per_device, msg)) {
                    p_.metrics.attribute_keys_refused.inc();
                    return TERN_INVALID_ARGUMENT;
                }
                for (const kv& x : *vals) store::upsert_attribute(t.conn(), device_id, scope, x.key, x.v, t.now());
                return TERN_OK;
            },
            [this, device_id, scope, vals, done, ctx](tern_status s, const std::string& msg) {
                if (s == TERN_OK && scope == TERN_SCOPE_SHARED) p_.listener.notify_attributes(device_id, *vals, {});
                done(ctx, s, to_str(msg));
            },
            /*isolated=*/false);
    } catch (const std::bad_alloc&) {
        done(ctx, TERN_INTERNAL, to_str("out of memory"));
        return;
    }
    op->bytes = sizeof(fn_op) + bytes;
    p_.submit(std::move(op));
}

void device_data::get_attributes(uint64_t device_id, const tern_key_filter* client, const tern_key_filter* shared,
                                 tern_core_attributes_fn done, void* ctx) noexcept {
    struct filter {
        tern_key_selection selection = TERN_KEYS_NONE;
        std::vector<std::string> keys;
    };
    auto copy = [](const tern_key_filter* f) {
        filter out;
        if (f == nullptr) return out;  // no filter: nothing of that scope
        out.selection = f->selection;
        if (f->selection == TERN_KEYS_LISTED)
            for (uint32_t i = 0; i < f->count; ++i) out.keys.emplace_back(to_sv(f->keys[i]));
        return out;
    };
    filter fc, fs_;
    try {
        fc = copy(client);
        fs_ = copy(shared);
    } catch (...) {
        done(ctx, TERN_INTERNAL, nullptr, 0, nullptr, 0);
        return;
    }
    try {
        p_.reads.submit(
            [device_id, fc = std::move(fc), fs_ = std::move(fs_), done, ctx](db::connection& c) {
                std::vector<attribute> ca, sa;
                try {
                    auto load = [&](const filter& f, tern_attribute_scope scope) {
                        if (f.selection == TERN_KEYS_ALL) return store::load_attributes(c, device_id, scope, nullptr);
                        if (f.selection == TERN_KEYS_LISTED) return store::load_attributes(c, device_id, scope, &f.keys);
                        return std::vector<attribute>{};
                    };
                    ca = load(fc, TERN_SCOPE_CLIENT);
                    sa = load(fs_, TERN_SCOPE_SHARED);
                } catch (const std::exception&) {
                    done(ctx, TERN_UNAVAILABLE, nullptr, 0, nullptr, 0);
                    return;
                }
                std::vector<tern_kv> ck, sk;
                ck.reserve(ca.size());
                sk.reserve(sa.size());
                for (const attribute& a : ca) ck.push_back(tern_kv{to_str(a.key), a.v.view()});
                for (const attribute& a : sa) sk.push_back(tern_kv{to_str(a.key), a.v.view()});
                done(ctx, TERN_OK, ck.data(), static_cast<uint32_t>(ck.size()), sk.data(),
                     static_cast<uint32_t>(sk.size()));
            },
            [done, ctx](tern_status s) { done(ctx, s, nullptr, 0, nullptr, 0); });
    } catch (const std::bad_alloc&) {  // nothing was queued
        done(ctx, TERN_INTERNAL, nullptr, 0, nullptr, 0);
    }
}

}  // namespace tern::core_embedded
