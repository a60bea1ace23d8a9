// The `json` plugin: one payload adaptor instance (tern.payload/1) configured from its
// manifest table. Everything it does is in adaptor.cpp; this file is the descriptor.
#include <tern/sdk/plugin.hpp>

#include "adaptor.hpp"

namespace {

tern::json::options read_options(const tern::sdk::config& c) {
    tern::json::options o;
    o.type_cast_enabled = c.get_bool("type_cast_enabled");
    o.max_string_value_length = c.get_int("max_string_value_length");
    o.lenient = c.get_bool("lenient");
    return o;
}

class json_plugin final : public tern::sdk::instance {
public:
    // Runs inside create(): a bad configuration fails create() with its message.
    explicit json_plugin(const tern_create_args& args) : instance(args), adaptor_(read_options(config())) {
        const auto& o = adaptor_.settings();
        log().debug("type_cast_enabled=", o.type_cast_enabled, " max_string_value_length=",
                    o.max_string_value_length, " lenient=", o.lenient);
    }

private:
    void* provide(std::string_view iid) noexcept override {
        if (iid == TERN_IID_PAYLOAD_V1) return static_cast<tern::payload_v1*>(&adaptor_);
        return nullptr;
    }

    tern::json::adaptor adaptor_;
};

constexpr const char* json_provides[] = {TERN_IID_PAYLOAD_V1};

constexpr tern_config_key json_config[] = {
    tern::sdk::cfg::boolean(
        "type_cast_enabled", true,
        "Store strings in plain decimal notation (\"42\", \"-1.5\") as numbers, and keep numbers "
        "that fit neither a 64-bit integer nor a double of at most 16 decimals as strings instead "
        "of refusing the message (ThingsBoard's transport.json.type_cast_enabled)"),
    tern::sdk::cfg::integer(
        "max_string_value_length", 0,
        "Longest string value accepted in telemetry and attributes, in UTF-16 characters; a "
        "longer one refuses the message with 4.00. 0: no limit")
        .at_least(0)
        .unit("characters"),
    tern::sdk::cfg::boolean(
        "lenient", true,
        "Accept Gson-lenient JSON as ThingsBoard does: unquoted or single-quoted names and "
        "strings, comments, '=' or '=>' between name and value, ';' between members. Off: "
        "strict RFC 8259 only"),
};

}  // namespace

TERN_PLUGIN(json_plugin, {.name = "json",
                          .version = "1.0.0",
                          .vendor = "Tern",
                          .description = "JSON payload adaptor: ThingsBoard's device JSON formats and value typing",
                          .provides = json_provides,
                          .config = json_config})
