// The `protobuf` plugin: one payload adaptor instance (tern.payload/1 and tern.payload/2, the
// same object) configured from its manifest table. What the adaptor does is in decode.cpp,
// encode.cpp and profile_cache.cpp; this file is the descriptor, the config schema (bound to
// tern::protobuf::options), the metrics and the instance.
#include <tern/sdk/config.hpp>
#include <tern/sdk/plugin.hpp>

#include "adaptor.hpp"

namespace {

namespace cfg = tern::sdk::cfg;
using tern::protobuf::options;

// Each key fills its member of tern::protobuf::options.
constexpr auto protobuf_schema = cfg::bind<options>(
    cfg::boolean(
        "type_cast_enabled", &options::type_cast_enabled, true,
        "Store strings in plain decimal notation (\"42\", \"-1.5\") as numbers, as the json adaptor's "
        "setting of the same name does for JSON. ThingsBoard's path prints 64-bit integer fields as "
        "strings, so with this off they are stored as strings, as there"),
    cfg::integer(
        "max_message_size", &options::max_message_size, 65536,
        "Longest uplink body parsed; a longer one is refused with 4.00 before parsing")
        .range(1, 16777216)
        .unit("bytes"),
    cfg::integer(
        "max_depth", &options::max_depth, 32,
        "Deepest nesting of messages in a body (the parser's recursion limit) and of declarations in a "
        "schema; deeper bodies get 4.00, deeper schemas are refused when saved")
        .range(1, 100),
    cfg::integer(
        "max_schema_size", &options::max_schema_size, 65536,
        "Longest .proto text of one profile schema; a longer one is refused when the profile is saved")
        .range(1, 16777216)
        .unit("bytes"),
    cfg::integer(
        "max_cached_profiles", &options::max_cached_profiles, 1024,
        "Profiles whose compiled schemas are kept; beyond it the least recently looked up one is "
        "dropped (protobuf_profile_evictions_total) and compiled again when next used")
        .range(1, 1000000),
    cfg::integer(
        "max_number_text_length", &options::max_number_text_length, 64,
        "Longest text a number kept as a string by type casting may become; a longer one refuses the "
        "message with 4.00 naming the key (as the json adaptor's setting)")
        .range(0, 100000)
        .unit("characters"),
    cfg::integer(
        "max_decoded_size", &options::max_decoded_size, 262144,
        "Most bytes one uplink's keys and values may decode to (stored text, 8 per number or boolean; RPC "
        "replies as JSON text); more refuses the message with 4.00. 0: no limit")
        .range(0, 1073741824)
        .unit("bytes"));

tern::protobuf::metrics metrics_of(const tern::sdk::host& h) {
    tern::protobuf::metrics m;
    m.cache.compiles = h.counter("protobuf_profile_compiles_total",
                                 "Profiles whose schemas were compiled (once per profile revision, plus each check "
                                 "of a profile on save)");
    m.cache.evictions = h.counter("protobuf_profile_evictions_total",
                                  "Compiled profiles dropped because max_cached_profiles were kept");
    m.cache.refusals = h.counter("protobuf_schema_refusals_total",
                                 "Schemas refused when compiled (broken rules, syntax, size, depth)");
    m.message_size = h.counter("protobuf_message_size_refused_total",
                               "Uplinks refused: the body was longer than max_message_size");
    m.unparsable = h.counter("protobuf_unparsable_total",
                             "Uplinks refused: the body did not parse as its message (or nested deeper than "
                             "max_depth)");
    m.decoded_size = h.counter("protobuf_decoded_size_refused_total",
                               "Uplinks refused: their keys and values decoded to more than max_decoded_size");
    m.number_text = h.counter("protobuf_number_text_refused_total",
                              "Uplinks refused: a number's plain text was longer than max_number_text_length");
    m.walk_refused = h.counter("protobuf_value_refused_total",
                               "Uplinks refused after parsing for a value or shape ThingsBoard's typing refuses (a "
                               "`ts` that is not a number, a value out of range without type casting)");
    return m;
}

class protobuf_plugin final : public tern::sdk::instance {
public:
    // Runs inside create(): a bad configuration fails create() with its message.
    explicit protobuf_plugin(const tern_create_args& args)
        : instance(args), adaptor_(protobuf_schema.load(config()), metrics_of(host())) {
        const auto& o = adaptor_.settings();
        log().debug("type_cast_enabled=", o.type_cast_enabled, " max_message_size=", o.max_message_size,
                    " max_depth=", o.max_depth, " max_schema_size=", o.max_schema_size,
                    " max_cached_profiles=", o.max_cached_profiles, " max_number_text_length=",
                    o.max_number_text_length, " max_decoded_size=", o.max_decoded_size);
    }

private:
    void* provide(std::string_view iid) noexcept override {
        if (iid == TERN_IID_PAYLOAD_V1) return static_cast<tern::payload_v1*>(&adaptor_);
        if (iid == TERN_IID_PAYLOAD_V2) return static_cast<tern::payload_v2*>(&adaptor_);
        return nullptr;
    }

    tern::protobuf::adaptor adaptor_;
};

constexpr const char* protobuf_provides[] = {TERN_IID_PAYLOAD_V1, TERN_IID_PAYLOAD_V2};

}  // namespace

TERN_PLUGIN(protobuf_plugin,
            {.name = "protobuf",
             .version = "1.0.0",
             .vendor = "Tern",
             .description = "Protobuf payload adaptor: ThingsBoard's device messages with per-profile schemas",
             .provides = protobuf_provides,
             .config = protobuf_schema.keys()})
