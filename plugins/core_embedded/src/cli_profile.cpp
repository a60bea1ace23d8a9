// tern profile add|update|list|show|delete
#include "cli_common.hpp"

namespace tern::core_embedded::cli_words {

namespace {

// What `profile add` and `profile update` take.
struct profile_options {
    std::string name;
    std::optional<std::string> new_name, transport, coap_device_type, payload, provision_key, provision_secret, strategy,
        options;
    power_options power;
    std::optional<std::string> schema_files[4];

    void add(CLI::App& app) {
        app.add_option("NAME", name, "profile name")->required();
        value_option(app, "--provision-key", provision_key, "devices provision themselves with this key ...");
        value_option(app, "--provision-secret", provision_secret, "... and this secret");
        value_option(app, "--strategy", strategy, "allow-create or pre-provisioned (default with a key: allow-create)");
        value_option(app, "--transport", transport, "DEFAULT or COAP");
        value_option(app, "--payload", payload, "json or protobuf (any case)");
        value_option(app, "--coap-device-type", coap_device_type, "DEFAULT or EFENTO");
        power.add(app);
        for (size_t i = 0; i < 4; ++i)
            value_option(app, schema_options[i][0], schema_files[i],
                         std::string("FILE: the ") + schema_options[i][1] + " message's .proto schema (protobuf payloads)");
        value_option(app, "--options", options,
                     "KEY=N,...: integer options for transports (e.g. device_message_rate=10; \"\" removes them)");
    }

    void write(json::out& o) const {
        if (transport) o.kv("transport", *transport);
        if (coap_device_type) o.kv("coapDeviceType", *coap_device_type);
        if (payload) {
            std::string upper = *payload;
            for (char& ch : upper) ch = static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
            o.kv("payload", upper);
        }
        std::optional<std::string> strat = strategy;
        if (provision_key || provision_secret || strat) {
            if ((provision_key || provision_secret) && !strat) strat = "allow-create";
            o.key("provision").begin_object();
            if (strat) o.kv("strategy", *strat);
            if (provision_key) o.kv("key", *provision_key);
            if (provision_secret) o.kv("secret", *provision_secret);
            o.end_object();
        }
        power.write(o);
        bool any = false;
        for (const auto& f : schema_files) any = any || f.has_value();
        if (any) {
            o.key("schemas").begin_object();
            for (size_t i = 0; i < 4; ++i)
                if (schema_files[i]) o.kv(schema_options[i][2], read_file(*schema_files[i]));
            o.end_object();
        }
        if (options) write_options(o, *options);
    }

    // --options KEY=N[,KEY=N...]: integer options for transports (the device API's rate
    // limits); they replace the profile's options, "" removes them.
    static void write_options(json::out& o, std::string_view rest) {
        o.key("options").begin_object();
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            const std::string item(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
            const auto eq = item.find('=');
            if (eq == std::string::npos || eq == 0) throw usage_error{"--options takes KEY=N[,KEY=N...]"};
            o.kv(item.substr(0, eq), parse_int(item.substr(eq + 1), "--options"));
        }
        o.end_object();
    }

    // The --*-proto names, and the --*-schema names they had first.
    static constexpr const char* schema_options[4][3] = {
        {"--telemetry-proto,--telemetry-schema", "telemetry", "telemetry"},
        {"--attributes-proto,--attributes-schema", "attributes", "attributes"},
        {"--rpc-request-proto,--rpc-request-schema", "RPC request", "rpcRequest"},
        {"--rpc-response-proto,--rpc-response-schema", "RPC response", "rpcResponse"}};
};

void show_or_json(context& c, const rapidjson::Value& d) {
    if (c.json) c.print_json(d);
    else print_profile(c, d);
}

void define_add_update(CLI::App& word, context& c, bool add) {
    auto o = std::make_shared<profile_options>();
    CLI::App* sub = add ? word.add_subcommand("add", "add a device profile")
                        : word.add_subcommand("update", "change a device profile (the options of add, and --name)");
    o->add(*sub);
    value_option(*sub, "--name", o->new_name, add ? "(for update)" : "new name");
    sub->callback([&c, o, add] {
        json::out body;
        body.begin_object();
        if (add) {
            if (o->new_name) throw usage_error{"--name is for update"};
            body.kv("name", o->name);
        } else if (o->new_name) {
            body.kv("name", *o->new_name);
        }
        o->write(body);
        body.end_object();
        show_or_json(c, add ? c.api().call("POST", "/api/profiles", body.take())
                            : c.api().call("PATCH", "/api/profiles/" + enc(o->name), body.take()));
    });
}

void define_list(CLI::App& word, context& c) {
    CLI::App* sub = word.add_subcommand("list", "list device profiles");
    sub->callback([&c] {
        auto d = c.api().call("GET", "/api/profiles");
        if (c.json) return c.print_json(d);
        table t({"NAME", "TRANSPORT", "PAYLOAD", "PROVISIONING", "POWER", "DEVICES"});
        for (const auto& x : d["profiles"].GetArray())
            t.add({field(x, "name"), field(x, "transport"), field(x, "payload"), field(x["provision"], "strategy"),
                   field(x["power"], "mode"), field(x, "devices")});
        c.io.out(t.render());
    });
}

void define_show_delete(CLI::App& word, context& c, bool show) {
    auto name = std::make_shared<std::string>();
    CLI::App* sub = show ? word.add_subcommand("show", "show a device profile")
                         : word.add_subcommand("delete", "delete a device profile no device uses");
    sub->add_option("NAME", *name, "profile name")->required();
    sub->callback([&c, name, show] {
        auto d = c.api().call(show ? "GET" : "DELETE", "/api/profiles/" + enc(*name));
        if (c.json) c.print_json(d);
        else if (show) print_profile(c, d);
        else c.io.out("deleted profile " + *name + "\n");
    });
}

}  // namespace

void define_profile(CLI::App& app, context& c) {
    define_add_update(app, c, true);
    define_add_update(app, c, false);
    define_list(app, c);
    define_show_delete(app, c, true);
    define_show_delete(app, c, false);
}

}  // namespace tern::core_embedded::cli_words
