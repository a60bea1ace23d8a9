// libFuzzer entry point for the protobuf adaptor, driven through tern.payload/2 as the device
// API drives it. The first byte chooses: its low 3 bits the operation (0 telemetry,
// 1 attributes, 2 RPC reply, 3 client-side RPC call, 4 claim, 5 provisioning, 6 the
// encoders, 7 a schema), the next 2 bits the profile (ThingsBoard's defaults, or one of three
// fixed custom profiles: nesting, enums, maps, oneof, repeated fields, a ts + values root,
// recursive messages, every scalar type), the top 3 bits small variations. The rest is the
// body. In mode 7 the rest is a schema text up to the first NUL byte, checked through
// check_profile as a profile save does, and when it is accepted the bytes after the NUL are
// decoded against it (schema parser and compiler fuzzing, then the walk over odd schemas).
// Besides "never crash, never hang", it checks what the adaptor promises: a decode either
// calls its sink once and returns TERN_OK, or returns TERN_INVALID_ARGUMENT with a reason and
// never calls the sink; every text handed out is UTF-8; every JSON text is strict JSON; every
// encoded downlink parses as the message it claims to be.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adaptor.hpp"
#include "fixed_messages.hpp"
#include "schema.hpp"
#include "tern/sdk/views.hpp"

namespace {

using tern::sdk::to_sv;
namespace pb = tern::protobuf;

[[noreturn]] void broken(const char* what, std::string_view text) {
    std::fprintf(stderr, "protobuf_payload_fuzz: %s: [%.*s]\n", what, static_cast<int>(text.size()), text.data());
    std::abort();
}

// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. The length of the
// longest valid prefix of s.
size_t utf8_prefix(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t n = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (i + n >= s.size()) return i;
        for (size_t k = 1; k <= n; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (d & 0x3F);
        }
        static constexpr uint32_t least[] = {0, 0x80, 0x800, 0x10000};
        if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += n + 1;
    }
    return i;
}

bool valid_utf8(std::string_view s) { return utf8_prefix(s) == s.size(); }

void check_text(tern_str s, const char* what) {
    if (!valid_utf8(to_sv(s))) broken(what, to_sv(s));
}

// RFC 8259, checked without recursion (a device's string may hold JSON nested thousands
// deep) and without RapidJSON, whose stack arithmetic on a null pointer UBSan reports.
class strict_json {
public:
    explicit strict_json(std::string_view t) : t_(t) {}
    bool valid() {
        std::vector<char> open;  // '{' or '[' per level
        bool want_key = false;
        for (;;) {
            ws();
            if (want_key) {
                if (!string()) return false;
                ws();
                if (!eat(':')) return false;
                ws();
                want_key = false;
            }
            if (eat('{')) {
                ws();
                if (!eat('}')) {
                    open.push_back('{');
                    want_key = true;
                    continue;
                }
            } else if (eat('[')) {
                ws();
                if (!eat(']')) {
                    open.push_back('[');
                    continue;
                }
            } else if (!scalar()) {
                return false;
            }
            // After a value: close what ends here, or go on after a comma.
            for (;;) {
                ws();
                if (open.empty()) return i_ == t_.size();
                if (eat(',')) {
                    want_key = open.back() == '{';
                    break;
                }
                if (!eat(open.back() == '{' ? '}' : ']')) return false;
                open.pop_back();
            }
        }
    }

private:
    bool more() const { return i_ < t_.size(); }
    void ws() {
        while (more() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
    }
    bool eat(char c) {
        if (!more() || t_[i_] != c) return false;
        ++i_;
        return true;
    }
    bool digits() {
        const size_t s = i_;
        while (more() && t_[i_] >= '0' && t_[i_] <= '9') ++i_;
        return i_ != s;
    }
    bool word(std::string_view w) {
        if (t_.substr(i_, w.size()) != w) return false;
        i_ += w.size();
        return true;
    }
    bool string() {
        if (!eat('"')) return false;
        while (more()) {
            const auto c = static_cast<unsigned char>(t_[i_++]);
            if (c == '"') return true;
            if (c < 0x20) return false;
            if (c != '\\') continue;
            if (!more()) return false;
            const char x = t_[i_++];
            if (x == 'u') {
                for (int k = 0; k < 4; ++k, ++i_)
                    if (!more() || !std::isxdigit(static_cast<unsigned char>(t_[i_]))) return false;
            } else if (std::string_view("\"\\/bfnrt").find(x) == std::string_view::npos) {
                return false;
            }
        }
        return false;
    }
    bool scalar() {
        if (!more()) return false;
        if (t_[i_] == '"') return string();
        if (t_[i_] == 't') return word("true");
        if (t_[i_] == 'f') return word("false");
        if (t_[i_] == 'n') return word("null");
        eat('-');
        if (!eat('0') && !digits()) return false;
        if (eat('.') && !digits()) return false;
        if (eat('e') || eat('E')) {
            if (!eat('+')) eat('-');
            if (!digits()) return false;
        }
        return true;
    }

    std::string_view t_;
    size_t i_ = 0;
};

void check_json(std::string_view text, const char* what) {
    if (!valid_utf8(text) || !strict_json(text).valid()) broken(what, text);
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

// The three custom profiles (index 1..3; 0 is ThingsBoard's defaults). Texts in the order
// telemetry, attributes, RPC request, RPC response; empty: that kind's default.
constexpr std::string_view custom[3][pb::schema_kind_count] = {
    {R"(syntax = "proto3";
package sensors;
enum Mode { MODE_OFF = 0; MODE_ON = 1; MODE_AUTO = 2; }
message Reading {
  double temperature = 1;
  optional int64 counter = 2;
  Mode mode = 3;
  repeated float samples = 4;
  map<string, int32> labels = 5;
  message Inner { string name = 1; bool ok = 2; bytes raw = 3; }
  Inner inner = 6;
  repeated Inner history = 7;
}
message Packet {
  int64 ts = 1;
  Reading values = 2;
}
)",
     R"(syntax = "proto3";
message Firmware { string version = 1; uint32 build = 2; }
message Attrs {
  string model = 1;
  Firmware fw = 2;
  repeated string tags = 3;
  map<int32, Firmware> by_slot = 4;
  oneof power { uint64 battery_mv = 5; sint32 mains = 6; }
}
)",
     R"(syntax = "proto3";
message Params {
  string target = 1;
  repeated int32 levels = 2;
  message Nested { bool on = 1; double level = 2; }
  Nested nested = 3;
}
message Rpc { string method = 1; int32 requestId = 2; Params params = 3; }
)",
     R"(syntax = "proto3";
message Reply { bool ok = 1; repeated double values = 2; map<string, string> extra = 3; }
)"},
    {R"(syntax = "proto3";
message Node {
  string name = 1;
  double value = 2;
  Node child = 3;
  repeated Node children = 4;
  map<string, Node> named = 5;
}
)",
     R"(syntax = "proto3";
message A { B b = 1; int32 x = 2; }
message B { A a = 1; repeated A list = 2; string s = 3; }
)",
     "",
     R"(syntax = "proto3";
message R { R next = 1; bytes data = 2; }
)"},
    {R"(syntax = "proto3";
package flat;
message Sample {
  int64 ts = 1;
  map<string, double> values = 2;
}
)",
     R"(syntax = "proto3";
enum Level { LOW = 0; HIGH = 1; }
message Scalars {
  int32 i32 = 1; int64 i64 = 2; uint32 u32 = 3; uint64 u64 = 4;
  sint32 s32 = 5; sint64 s64 = 6; fixed32 f32 = 7; fixed64 f64 = 8;
  sfixed32 sf32 = 9; sfixed64 sf64 = 10; float f = 11; double d = 12;
  bool b = 13; string s = 14; bytes by = 15; Level level = 16;
  repeated int64 many = 17; repeated Level levels = 18; repeated bytes blobs = 19;
}
)",
     R"(syntax = "proto3";
message Call { string method = 1; int64 requestId = 2; string params = 3; }
)",
     ""},
};

// A profile context: its schema options live as long as the profile.
struct profile {
    tern_kv options[pb::schema_kind_count]{};
    uint32_t option_count = 0;
    tern_payload_context ctx{};
    // The RPC request schema compiled by the harness: what encode_rpc_request writes must
    // parse as its root.
    std::shared_ptr<const pb::compiled_schema> rpc_request;
};

// In place: the context points into the profile's own option array.
void init_profile(profile& p, uint64_t id, const std::string_view* texts) {
    const std::string_view rpc_text = texts ? texts[static_cast<int>(pb::schema_kind::rpc_request)] : std::string_view{};
    std::string why;
    p.rpc_request = pb::compile_schema(pb::schema_kind::rpc_request, rpc_text, pb::schema_limits{}, why);
    if (!p.rpc_request) broken("fixed RPC request schema refused", why);
    for (int k = 0; texts && k < pb::schema_kind_count; ++k) {
        if (texts[k].empty()) continue;
        const auto key = pb::kind_option(static_cast<pb::schema_kind>(k));
        tern_kv& kv = p.options[p.option_count++];
        kv.key = tern_str{key.data(), key.size()};
        kv.value.type = TERN_VALUE_STR;
        kv.value.u.s = tern_str{texts[k].data(), texts[k].size()};
    }
    p.ctx.struct_size = sizeof p.ctx;
    p.ctx.profile_id = id;
    p.ctx.revision = 1;
    p.ctx.options = p.option_count ? p.options : nullptr;
    p.ctx.option_count = p.option_count;
    p.ctx.content_format = 42;
}

struct harness {
    harness() : adaptor(pb::options{}) {
        init_profile(profiles[0], 1, nullptr);
        for (int i = 0; i < 3; ++i) init_profile(profiles[i + 1], static_cast<uint64_t>(i + 2), custom[i]);
        // Every fixed profile is a valid one: a refusal here is a bug, not a finding.
        for (auto& p : profiles) {
            tern_error err{};
            if (adaptor.check_profile(&p.ctx, &err) != TERN_OK) broken("fixed profile refused", std::string_view(err.msg, err.len));
        }
    }
    pb::adaptor adaptor;
    profile profiles[4];
    uint64_t schema_revision = 0;
};

// Never destroyed: libFuzzer may exit from any thread at any time, and the adaptor's cached
// schemas must not be torn down under a run in progress.
harness& the_harness() {
    static harness* h = new harness;
    return *h;
}

// Decodes report through these; a second sink call or a sink call on failure is a bug.
struct outcome {
    int calls = 0;
};

void check_error(tern_status s, const tern_error& err) {
    if (s == TERN_OK) return;
    if (s != TERN_INVALID_ARGUMENT) broken("unexpected status", std::string_view(err.msg, err.len));
    if (err.len == 0 || err.len >= sizeof err.msg || err.msg[err.len] != '\0') broken("bad error text", "");
}

void check_status(tern_status s, const tern_error& err, const outcome& o) {
    check_error(s, err);
    if (s == TERN_OK && o.calls != 1) broken("TERN_OK without exactly one sink call", "");
    if (s != TERN_OK && o.calls != 0) broken("sink called on a failure", std::string_view(err.msg, err.len));
}

void check_parses(const google::protobuf::Message& prototype, tern_bytes b, std::string_view what) {
    std::unique_ptr<google::protobuf::Message> m(prototype.New());
    if (!m->ParseFromArray(b.data, static_cast<int>(b.size))) broken("downlink does not parse", what);
}

// A downlink must parse as the fixed message it claims to be.
void check_parses(const char* full_name, tern_bytes b) {
    check_parses(pb::fixed_messages::get().prototype(full_name), b, full_name);
}

tern_status decode(pb::adaptor& a, const tern_payload_context* ctx, int op, tern_bytes body, tern_error& err) {
    outcome o;
    tern_status s = TERN_OK;
    switch (op) {
        case 0:
            s = a.decode_telemetry(ctx, body, 1'700'000'000'000,
                                   [](void* c, const tern_ts_record* r, uint32_t n) {
                                       ++static_cast<outcome*>(c)->calls;
                                       for (uint32_t i = 0; i < n; ++i)
                                           for (uint32_t k = 0; k < r[i].count; ++k) check_kv(r[i].values[k]);
                                   },
                                   &o, &err);
            break;
        case 1:
            s = a.decode_attributes(ctx, body,
                                    [](void* c, const tern_kv* kv, uint32_t n) {
                                        ++static_cast<outcome*>(c)->calls;
                                        for (uint32_t k = 0; k < n; ++k) check_kv(kv[k]);
                                    },
                                    &o, &err);
            break;
        case 2:
            s = a.decode_rpc_reply(ctx, body,
                                   [](void* c, tern_bytes b) {
                                       ++static_cast<outcome*>(c)->calls;
                                       check_json(std::string_view(reinterpret_cast<const char*>(b.data), b.size),
                                                  "RPC reply is not strict JSON");
                                   },
                                   &o, &err);
            break;
        case 3:
            s = a.decode_rpc_call(ctx, body,
                                  [](void* c, tern_str method, tern_str params) {
                                      ++static_cast<outcome*>(c)->calls;
                                      check_text(method, "method is not UTF-8");
                                      check_json(to_sv(params), "params are not strict JSON");
                                  },
                                  &o, &err);
            break;
        case 4:
            s = a.decode_claim(ctx, body,
                               [](void* c, tern_str key, int64_t) {
                                   ++static_cast<outcome*>(c)->calls;
                                   check_text(key, "secret is not UTF-8");
                               },
                               &o, &err);
            break;
        default:
            s = a.decode_provision(ctx, body,
                                   [](void* c, const tern_provision_request* r) {
                                       ++static_cast<outcome*>(c)->calls;
                                       for (tern_str t : {r->device_name, r->provision_key, r->provision_secret, r->token,
                                                          r->client_id, r->username, r->password, r->hash})
                                           check_text(t, "provisioning text is not UTF-8");
                                   },
                                   &o, &err);
            break;
    }
    check_status(s, err, o);
    // TERN_FUZZ_VERBOSE=1 with the replay: what each seed came to (make_corpus.sh).
    static const bool verbose = std::getenv("TERN_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "op %d: %s %.*s\n", op, s == TERN_OK ? "ok" : "refused", static_cast<int>(err.len), err.msg);
    return s;
}

// The encoders, fed the input as keys, texts and JSON.
void encode_all(pb::adaptor& a, const tern_payload_context* ctx, const pb::compiled_schema& rpc_schema,
                uint8_t variant, tern_bytes body) {
    // tern_str is UTF-8 by the ABI (the core hands out what a device or the admin API sent,
    // validated): the input's longest valid prefix. Arbitrary bytes go in as a BYTES value.
    const std::string_view raw(reinterpret_cast<const char*>(body.data), body.size);
    const tern_str text{raw.data(), utf8_prefix(raw)};
    tern_error err{};
    struct sink_state {
        const char* message;  // a fixed message, or null: the RPC request schema's root
        const google::protobuf::Message* root;
        int calls;
    } st{nullptr, rpc_schema.root, 0};
    const tern_bytes_sink sink = [](void* c, tern_bytes b) {
        auto* s = static_cast<sink_state*>(c);
        ++s->calls;
        if (s->message) check_parses(s->message, b);
        else check_parses(*s->root, b, "the RPC request root");
    };
    auto run = [&](const char* message, auto&& call) {
        st.message = message;
        st.calls = 0;
        err = {};
        const tern_status s = call();
        if (s == TERN_OK && st.calls != 1) broken("encoder returned TERN_OK without one sink call", message ? message : "");
        if (s != TERN_OK && (s != TERN_INVALID_ARGUMENT || st.calls != 0 || err.len == 0))
            broken("encoder failed badly", std::string_view(err.msg, err.len));
    };

    tern_kv kv[5]{};
    kv[0].key = text;
    kv[0].value.type = TERN_VALUE_JSON;
    kv[0].value.u.s = text;
    kv[1].key = tern_str{"s", 1};
    kv[1].value.type = TERN_VALUE_STR;
    kv[1].value.u.s = text;
    kv[2].key = tern_str{"n", 1};
    kv[2].value.type = (variant & 1) ? TERN_VALUE_DOUBLE : TERN_VALUE_INT;
    if (variant & 1) kv[2].value.u.d = body.size ? body.data[0] / 3.0 : -0.0;
    else kv[2].value.u.i = body.size ? static_cast<int64_t>(body.data[0]) << 56 : INT64_MIN;
    kv[3].key = tern_str{"b", 1};
    kv[3].value.type = TERN_VALUE_BOOL;
    kv[3].value.u.b = 1;
    kv[4].key = tern_str{"raw", 3};
    kv[4].value.type = TERN_VALUE_BYTES;
    kv[4].value.u.bytes = body;
    const tern_str deleted[] = {text, tern_str{"gone", 4}};

    run("transport.AttributeUpdateNotificationMsg",
        [&] { return a.encode_attribute_update(ctx, kv, 5, deleted, 2, sink, &st, &err); });
    run("transport.GetAttributeResponseMsg",
        [&] { return a.encode_attributes(ctx, kv, 2, kv + 1, 4, sink, &st, &err); });
    run("transport.ToServerRpcResponseMsg",
        [&] { return a.encode_rpc_response(ctx, text, (variant & 2) ? text : tern_str{}, sink, &st, &err); });
    tern_provision_result res{};
    res.struct_size = sizeof res;
    res.status = static_cast<tern_provision_status>(variant & 3);
    res.credentials_type = (variant & 4) ? TERN_CREDENTIAL_MQTT_BASIC : TERN_CREDENTIAL_ACCESS_TOKEN;
    res.credentials_value = text;
    res.client_id = text;
    res.username = text;
    res.password = text;
    run("transport.ProvisionDeviceResponseMsg", [&] { return a.encode_provision_response(ctx, &res, sink, &st, &err); });
    // An RPC merged into the profile's own request message: the params are the input.
    tern_rpc_request rpc{};
    rpc.struct_size = sizeof rpc;
    rpc.id = 7;
    rpc.method = tern_str{"setLevel", 8};
    rpc.params = text;
    run(nullptr, [&] { return a.encode_rpc_request(ctx, &rpc, sink, &st, &err); });
}

// Mode 7: the input's schema text through check_profile, then its body against it.
void schema_mode(harness& h, uint8_t mode, const uint8_t* data, size_t size) {
    const auto kind = static_cast<pb::schema_kind>((mode >> 3) & 3);
    size_t cut = 0;
    while (cut < size && data[cut] != 0) ++cut;
    const std::string_view text(reinterpret_cast<const char*>(data), cut);
    const tern_bytes body{data + (cut < size ? cut + 1 : size), cut < size ? size - cut - 1 : 0};
    const auto key = pb::kind_option(kind);
    tern_kv option{};
    option.key = tern_str{key.data(), key.size()};
    option.value.type = TERN_VALUE_STR;
    option.value.u.s = tern_str{text.data(), text.size()};
    tern_payload_context ctx{};
    ctx.struct_size = sizeof ctx;
    ctx.options = &option;
    ctx.option_count = 1;
    ctx.content_format = -1;
    tern_error err{};
    const tern_status s = h.adaptor.check_profile(&ctx, &err);
    check_error(s, err);
    if (std::getenv("TERN_FUZZ_VERBOSE"))
        std::fprintf(stderr, "schema: %s %.*s\n", s == TERN_OK ? "ok" : "refused", static_cast<int>(err.len), err.msg);
    if (s != TERN_OK) return;
    // Accepted: one profile id whose revision moves on, as a profile updated again and again.
    ctx.profile_id = 1000;
    ctx.revision = ++h.schema_revision;
    ctx.content_format = 42;
    err = {};
    switch (kind) {
        case pb::schema_kind::telemetry: decode(h.adaptor, &ctx, 0, body, err); break;
        case pb::schema_kind::attributes: decode(h.adaptor, &ctx, 1, body, err); break;
        case pb::schema_kind::rpc_response: decode(h.adaptor, &ctx, 2, body, err); break;
        case pb::schema_kind::rpc_request: {
            std::string why;
            const auto compiled = pb::compile_schema(kind, text, pb::schema_limits{}, why);
            if (!compiled) broken("check_profile accepted a schema compile_schema refuses", why);
            encode_all(h.adaptor, &ctx, *compiled, mode >> 5, body);
            break;
        }
    }
}

}  // namespace

#ifdef TERN_FUZZ_UBSAN_SUPPRESSIONS
// The fuzzer's UBSan settings, also when it is run by hand: stop at the first report, with a
// stack, except what ubsan.supp skips (RapidJSON's stack arithmetic on a null pointer).
extern "C" const char* __ubsan_default_options() {
    return "halt_on_error=1:print_stacktrace=1:suppressions=" TERN_FUZZ_UBSAN_SUPPRESSIONS;
}
#endif

// The replay's `--schema P K` (tests/support/fuzz_replay_main.cpp asks here first): prints the
// text profile P (0..3) uses for kind K (0 telemetry, 1 attributes, 2 RPC request, 3 RPC
// response; the kind's default where the profile has none, empty for numbers out of range),
// which make_corpus.sh hands to `protoc --encode`, so the seeds are written against the very
// texts the harness uses. -1 for any other command line: replay as usual.
extern "C" int tern_fuzz_replay_command(int argc, char** argv) {
    if (argc != 4 || std::strcmp(argv[1], "--schema") != 0) return -1;
    const int profile = std::atoi(argv[2]);
    const int kind = std::atoi(argv[3]);
    std::string_view text;
    if (profile >= 0 && profile <= 3 && kind >= 0 && kind < pb::schema_kind_count) {
        const auto k = static_cast<pb::schema_kind>(kind);
        text = profile == 0 || custom[profile - 1][kind].empty() ? pb::default_schema_text(k)
                                                                 : custom[profile - 1][kind];
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    harness& h = the_harness();
    const uint8_t mode = data[0];
    const int op = mode & 7;
    if (op == 7) {
        schema_mode(h, mode, data + 1, size - 1);
        return 0;
    }
    const profile& p = h.profiles[(mode >> 3) & 3];
    const tern_payload_context* ctx = &p.ctx;
    const tern_bytes body{data + 1, size - 1};
    if (op == 6) {
        encode_all(h.adaptor, ctx, *p.rpc_request, mode >> 5, body);
        return 0;
    }
    tern_error err{};
    decode(h.adaptor, ctx, op, body, err);
    return 0;
}
