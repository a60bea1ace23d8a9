// Test helpers: profile contexts with schema texts, messages built by reflection from a
// compiled schema, and sinks that copy what the adaptor hands out.
#pragma once

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adaptor.hpp"
#include "fixed_messages.hpp"
#include "schema.hpp"
#include "tern/sdk/views.hpp"

namespace protobuf_test {

namespace gp = google::protobuf;
using namespace tern::protobuf;

inline tern_bytes bytes_of(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
inline std::string_view sv(tern_str s) { return tern::sdk::to_sv(s); }

// A profile's settings: schema texts by option key, kept alive with their views.
struct profile {
    uint64_t id = 0;
    uint64_t revision = 0;
    std::map<std::string, std::string> texts;
    std::vector<tern_kv> kvs;
    tern_payload_context ctx{};

    profile(uint64_t id_, uint64_t rev, std::map<std::string, std::string> t = {})
        : id(id_), revision(rev), texts(std::move(t)) {
        for (const auto& [k, v] : texts) {
            tern_kv kv{};
            kv.key = tern::sdk::to_str(k);
            kv.value.type = TERN_VALUE_STR;
            kv.value.u.s = tern::sdk::to_str(v);
            kvs.push_back(kv);
        }
        ctx.struct_size = sizeof ctx;
        ctx.profile_id = id;
        ctx.revision = revision;
        ctx.options = kvs.data();
        ctx.option_count = static_cast<uint32_t>(kvs.size());
        ctx.content_format = 42;
    }
    profile(const profile&) = delete;
};

// A message of a schema's root, filled by the test and serialised.
struct builder {
    std::shared_ptr<const compiled_schema> schema;
    std::unique_ptr<gp::Message> msg;

    builder(schema_kind k, std::string_view text) {
        std::string err;
        schema = compile_schema(k, text, {}, err);
        if (!schema) throw std::runtime_error(err);
        msg.reset(schema->root->New());
    }
    // From a prototype of the fixed pool.
    explicit builder(const gp::Message& prototype) : msg(prototype.New()) {}

    gp::Message& m() { return *msg; }
    std::string bytes() const { return msg->SerializeAsString(); }
};

inline const gp::FieldDescriptor* field(const gp::Message& m, const char* name) {
    const auto* f = m.GetDescriptor()->FindFieldByName(name);
    if (f == nullptr) throw std::runtime_error(std::string("no field ") + name);
    return f;
}

// A fixed message of full name parsed from bytes (the tests' decoder of what was encoded).
inline std::unique_ptr<gp::Message> parse_fixed(std::string_view full_name, std::string_view bytes) {
    std::unique_ptr<gp::Message> m(fixed_messages::get().prototype(full_name).New());
    if (!m->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) throw std::runtime_error("does not parse");
    return m;
}

// One value as text, with its type: "i:42", "d:1.5", "b:1", "s:text", "j:{...}", "n".
inline std::string show(const tern_value& v) {
    switch (v.type) {
        case TERN_VALUE_INT: return "i:" + std::to_string(v.u.i);
        case TERN_VALUE_DOUBLE: {
            std::string s = std::to_string(v.u.d);
            return "d:" + s;
        }
        case TERN_VALUE_BOOL: return std::string("b:") + (v.u.b ? "1" : "0");
        case TERN_VALUE_STR: return "s:" + std::string(sv(v.u.s));
        case TERN_VALUE_JSON: return "j:" + std::string(sv(v.u.s));
        case TERN_VALUE_NULL: return "n";
        default: return "?";
    }
}

// What a decode handed to its sink, copied.
struct received {
    std::vector<int64_t> ts;
    std::vector<std::map<std::string, std::string>> records;
    std::map<std::string, std::string> values;
    std::string bytes;
    std::string method, params;
    std::string secret;
    int64_t duration = -1;
    int calls = 0;

    static void on_records(void* c, const tern_ts_record* r, uint32_t n) {
        auto* self = static_cast<received*>(c);
        ++self->calls;
        for (uint32_t i = 0; i < n; ++i) {
            self->ts.push_back(r[i].ts);
            std::map<std::string, std::string> m;
            for (uint32_t k = 0; k < r[i].count; ++k) m[std::string(sv(r[i].values[k].key))] = show(r[i].values[k].value);
            self->records.push_back(std::move(m));
        }
    }
    static void on_kvs(void* c, const tern_kv* kv, uint32_t n) {
        auto* self = static_cast<received*>(c);
        ++self->calls;
        for (uint32_t i = 0; i < n; ++i) self->values[std::string(sv(kv[i].key))] = show(kv[i].value);
    }
    static void on_bytes(void* c, tern_bytes b) {
        auto* self = static_cast<received*>(c);
        ++self->calls;
        self->bytes.assign(reinterpret_cast<const char*>(b.data), b.size);
    }
    static void on_rpc(void* c, tern_str method, tern_str params) {
        auto* self = static_cast<received*>(c);
        ++self->calls;
        self->method = std::string(sv(method));
        self->params = std::string(sv(params));
    }
    static void on_claim(void* c, tern_str secret, int64_t duration) {
        auto* self = static_cast<received*>(c);
        ++self->calls;
        self->secret = std::string(sv(secret));
        self->duration = duration;
    }
};

inline std::string error_of(const tern_error& e) { return std::string(e.msg, e.len); }

}  // namespace protobuf_test
