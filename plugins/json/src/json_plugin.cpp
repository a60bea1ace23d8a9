// The `json` plugin: one payload adaptor instance (tern.payload/1) configured from its
// manifest table. What the adaptor does is in decode.cpp and encode.cpp; this file is the
// descriptor, the config schema (bound to tern::json::options) and the instance.
#include <tern/sdk/config.hpp>
#include <tern/sdk/plugin.hpp>

#include "adaptor.hpp"

namespace {

namespace cfg = tern::sdk::cfg;
using tern::json::options;

// Each key fills its member of tern::json::options.
constexpr auto json_schema = cfg::bind<options>(
    cfg::boolean(
        "type_cast_enabled", &options::type_cast_enabled, true,
        "Store strings in plain decimal notation (\"42\", \"-1.5\") as numbers, and keep numbers "
        "that fit neither a 64-bit integer nor a double of at most 16 decimals as strings instead "
        "of refusing the message (ThingsBoard's transport.json.type_cast_enabled)"),
    cfg::integer(
        "max_string_value_length", &options::max_string_value_length, 0,
        "Longest string value accepted in telemetry and attributes, in UTF-16 characters; a "
        "longer one refuses the message with 4.00. 0: no limit")
        .at_least(0)
        .unit("characters"),
    cfg::boolean(
        "lenient", &options::lenient, true,
        "Accept Gson-lenient JSON as ThingsBoard does: unquoted or single-quoted names and "
        "strings, comments, '=' or '=>' between name and value, ';' between members. Off: "
        "strict RFC 8259 only"),
    cfg::integer(
        "max_number_text_length", &options::max_number_text_length, 64,
        "Longest text a number kept as a string by type casting may become (1e400 is 401 digits); a "
        "longer one refuses the message with 4.00 naming the key. 0: up to 10 000 padding zeros")
        .range(0, 100000)
        .unit("characters"),
    cfg::integer(
        "max_decoded_size", &options::max_decoded_size, 262144,
        "Most bytes one uplink's keys and values may decode to (stored text, 8 per number or boolean; RPC "
        "bodies as re-serialised); more refuses the message with 4.00. Keep it above "
        "device_api.max_payload_size. 0: no limit")
        .range(0, 1073741824)
        .unit("bytes"));

tern::json::limit_metrics limit_metrics_of(const tern::sdk::host& h) {
    tern::json::limit_metrics m;
    m.number_text = h.counter("json_number_text_refused_total",
                              "Uplinks refused: a number's plain text was longer than max_number_text_length "
                              "(or max_string_value_length)");
    m.decoded_size = h.counter("json_decoded_size_refused_total",
                               "Uplinks refused: their keys and values decoded to more than max_decoded_size");
    return m;
}

class json_plugin final : public tern::sdk::instance {
public:
    // Runs inside create(): a bad configuration fails create() with its message.
    explicit json_plugin(const tern_create_args& args)
        : instance(args), adaptor_(json_schema.load(config()), limit_metrics_of(host())) {
        const auto& o = adaptor_.settings();
        log().debug("type_cast_enabled=", o.type_cast_enabled, " max_string_value_length=",
                    o.max_string_value_length, " lenient=", o.lenient, " max_number_text_length=",
                    o.max_number_text_length, " max_decoded_size=", o.max_decoded_size);
    }

private:
    void* provide(std::string_view iid) noexcept override {
        if (iid == TERN_IID_PAYLOAD_V1) return static_cast<tern::payload_v1*>(&adaptor_);
        return nullptr;
    }

    tern::json::adaptor adaptor_;
};

constexpr const char* json_provides[] = {TERN_IID_PAYLOAD_V1};

}  // namespace

TERN_PLUGIN(json_plugin, {.name = "json",
                          .version = "1.0.0",
                          .vendor = "Tern",
                          .description = "JSON payload adaptor: ThingsBoard's device JSON formats and value typing",
                          .provides = json_provides,
                          .config = json_schema.keys()})
