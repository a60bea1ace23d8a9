// libFuzzer entry point for the JSON adaptor. The first byte picks the operation and the
// options; the rest is the payload. Besides "never crash, never hang", it checks what the
// adaptor promises: every text it hands out is valid UTF-8, every JSON text it produces
// parses as strict JSON, and every failure carries a reason.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adaptor.hpp"
#include "document.hpp"
#include "tern/sdk/views.hpp"

namespace {

[[noreturn]] void broken(const char* what, std::string_view text) {
    std::fprintf(stderr, "json_payload_fuzz: %s: [%.*s]\n", what, static_cast<int>(text.size()), text.data());
    std::abort();
}

using tern::sdk::to_sv;

void check_text(tern_str s, const char* what) {
    if (!tern::json::is_valid_utf8(to_sv(s))) broken(what, to_sv(s));
}

// An RFC 8259 checker written for this harness, independent of both parsers under test
// (RapidJSON would refuse valid numbers such as 1e400).
class rfc8259 {
public:
    explicit rfc8259(std::string_view t) : p_(t.data()), e_(t.data() + t.size()) {}
    bool valid() {
        if (!value(0)) return false;
        ws();
        return p_ == e_;
    }

private:
    void ws() {
        while (p_ < e_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
    }
    bool eat(char c) {
        if (p_ < e_ && *p_ == c) {
            ++p_;
            return true;
        }
        return false;
    }
    bool digits() {
        const char* s = p_;
        while (p_ < e_ && *p_ >= '0' && *p_ <= '9') ++p_;
        return p_ != s;
    }
    bool word(std::string_view w) {
        if (static_cast<std::size_t>(e_ - p_) < w.size() || std::string_view(p_, w.size()) != w) return false;
        p_ += w.size();
        return true;
    }
    bool string() {
        if (!eat('"')) return false;
        while (p_ < e_) {
            const auto c = static_cast<unsigned char>(*p_++);
            if (c == '"') return true;
            if (c < 0x20) return false;
            if (c != '\\') continue;
            if (p_ == e_) return false;
            const char x = *p_++;
            if (x == 'u') {
                for (int i = 0; i < 4; ++i, ++p_)
                    if (p_ == e_ || !std::isxdigit(static_cast<unsigned char>(*p_))) return false;
            } else if (std::string_view("\"\\/bfnrt").find(x) == std::string_view::npos) {
                return false;
            }
        }
        return false;
    }
    bool number() {
        eat('-');
        if (!eat('0') && !digits()) return false;
        if (eat('.') && !digits()) return false;
        if (eat('e') || eat('E')) {
            if (!eat('+')) eat('-');
            if (!digits()) return false;
        }
        return true;
    }
    bool value(int depth) {
        ws();
        if (p_ == e_ || depth > 100) return false;
        if (eat('{')) {
            ws();
            if (eat('}')) return true;
            do {
                ws();
                if (!string()) return false;
                ws();
                if (!eat(':') || !value(depth + 1)) return false;
                ws();
            } while (eat(','));
            return eat('}');
        }
        if (eat('[')) {
            ws();
            if (eat(']')) return true;
            do {
                if (!value(depth + 1)) return false;
                ws();
            } while (eat(','));
            return eat(']');
        }
        if (*p_ == '"') return string();
        if (*p_ == 't') return word("true");
        if (*p_ == 'f') return word("false");
        if (*p_ == 'n') return word("null");
        return number();
    }

    const char* p_;
    const char* e_;
};

void check_json(std::string_view text, const char* what) {
    if (!tern::json::is_valid_utf8(text) || !rfc8259(text).valid()) broken(what, text);
}

void check_kv(const tern_kv& kv) {
    check_text(kv.key, "key is not UTF-8");
    switch (kv.value.type) {
        case TERN_VALUE_STR: check_text(kv.value.u.s, "string value is not UTF-8"); break;
        case TERN_VALUE_JSON: check_json(to_sv(kv.value.u.s), "JSON value is not strict JSON"); break;
        case TERN_VALUE_BOOL:
        case TERN_VALUE_INT: break;
        case TERN_VALUE_DOUBLE:
            if (kv.value.u.d != kv.value.u.d) broken("NaN value", to_sv(kv.key));
            break;
        default: broken("unexpected value type", to_sv(kv.key));
    }
}

void check_error(tern_status s, const tern_error& err) {
    if (s == TERN_OK) return;
    if (s != TERN_INVALID_ARGUMENT) broken("unexpected status", std::string_view(err.msg, err.len));
    if (err.len == 0 || err.len >= sizeof err.msg || err.msg[err.len] != '\0') broken("bad error text", "");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const uint8_t mode = data[0];
    tern::json::options o;
    o.type_cast_enabled = (mode & 8) == 0;
    o.lenient = (mode & 16) == 0;
    o.max_string_value_length = (mode & 32) != 0 ? 8 : 0;
    tern::json::adaptor a(o);
    tern::payload_v1& p = a;
    const tern_bytes body{data + 1, size - 1};
    const tern_str text{reinterpret_cast<const char*>(data + 1), size - 1};
    tern_error err{};
    tern_status s = TERN_OK;

    auto bytes_sink = [](void*, tern_bytes b) {
        check_json(std::string_view(reinterpret_cast<const char*>(b.data), b.size), "output is not strict JSON");
    };
    switch (mode & 7) {
        case 0:
            s = p.decode_telemetry(nullptr, body, 1000,
                                   [](void*, const tern_ts_record* r, uint32_t n) {
                                       for (uint32_t i = 0; i < n; ++i)
                                           for (uint32_t k = 0; k < r[i].count; ++k) check_kv(r[i].values[k]);
                                   },
                                   nullptr, &err);
            break;
        case 1:
            s = p.decode_attributes(nullptr, body,
                                    [](void*, const tern_kv* kv, uint32_t n) {
                                        for (uint32_t k = 0; k < n; ++k) check_kv(kv[k]);
                                    },
                                    nullptr, &err);
            break;
        case 2: s = p.decode_rpc_reply(nullptr, body, bytes_sink, nullptr, &err); break;
        case 3:
            s = p.decode_rpc_call(nullptr, body,
                                  [](void*, tern_str method, tern_str params) {
                                      check_text(method, "method is not UTF-8");
                                      check_json(to_sv(params), "params are not strict JSON");
                                  },
                                  nullptr, &err);
            break;
        case 4:
            s = p.decode_claim(nullptr, body, [](void*, tern_str key, int64_t) { check_text(key, "secret is not UTF-8"); },
                               nullptr, &err);
            break;
        case 5:
            s = p.decode_provision(nullptr, body,
                                   [](void*, const tern_provision_request* r) {
                                       check_text(r->device_name, "device name is not UTF-8");
                                       check_text(r->provision_key, "key is not UTF-8");
                                       check_text(r->hash, "hash is not UTF-8");
                                   },
                                   nullptr, &err);
            break;
        case 6: {
            tern_rpc_request rpc{};
            rpc.struct_size = sizeof rpc;
            rpc.id = 7;
            rpc.method = text;
            rpc.params = text;
            s = p.encode_rpc_request(nullptr, &rpc, bytes_sink, nullptr, &err);
            break;
        }
        default: {
            tern_kv kv[3]{};
            kv[0].key = text;
            kv[0].value.type = TERN_VALUE_JSON;
            kv[0].value.u.s = text;
            kv[1].key = tern_str{"s", 1};
            kv[1].value.type = TERN_VALUE_STR;
            kv[1].value.u.s = text;
            kv[2].key = tern_str{"deleted", 7};
            kv[2].value.type = TERN_VALUE_BYTES;
            kv[2].value.u.bytes = body;
            const tern_str deleted[] = {text};
            s = p.encode_attribute_update(nullptr, kv, 3, deleted, 1, bytes_sink, nullptr, &err);
            check_error(s, err);
            s = p.encode_rpc_response(nullptr, text, tern_str{}, bytes_sink, nullptr, &err);
            check_error(s, err);
            s = p.encode_attributes(nullptr, kv, 2, kv, 3, bytes_sink, nullptr, &err);
            break;
        }
    }
    check_error(s, err);
    return 0;
}
