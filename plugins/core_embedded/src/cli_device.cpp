// tern device add|list|show|update|credentials|delete|claim|unclaim|sessions (import: cli_import.cpp)
#include "cli_common.hpp"

namespace tern::core_embedded::cli_words {

namespace {

struct credential_options {
    std::optional<std::string> token, x509, psk_identity, psk_key;

    void add(CLI::App& app) {
        value_option(app, "--token", token, "access token (16 or more characters recommended)");
        value_option(app, "--x509", x509, "PEM file of the device's certificate");
        value_option(app, "--psk-identity", psk_identity, "PSK identity (with --psk-key)");
        value_option(app, "--psk-key", psk_key, "PSK key, hex (with --psk-identity)");
    }
    void write(json::out& o) const {
        if ((token ? 1 : 0) + (x509 ? 1 : 0) + ((psk_identity || psk_key) ? 1 : 0) > 1)
            throw usage_error{"give one of --token, --x509, --psk-identity/--psk-key"};
        if (token) o.kv("token", *token);
        if (x509) o.kv("x509", read_file(*x509));
        if (psk_identity || psk_key) {
            if (!psk_identity || !psk_key) throw usage_error{"PSK credentials need --psk-identity and --psk-key"};
            o.kv("pskIdentity", *psk_identity).kv("pskKey", *psk_key);
        }
    }
};

// What `device add` and `device update` share: profile, label and power saving.
struct device_options {
    std::optional<std::string> profile, label;
    power_options power;

    void add(CLI::App& app) {
        value_option(app, "--profile", profile, "device profile (default: default)");
        value_option(app, "--label", label, "free text");
        power.add(app);
    }
    void write(json::out& o) const {
        if (profile) o.kv("profile", *profile);
        if (label) o.kv("label", *label);
    }
};

std::string device_path(const std::string& name) { return "/api/devices/" + enc(name); }

void show_or_json(context& c, const rapidjson::Value& d) {
    if (c.json) c.print_json(d);
    else print_device(c, d);
}

void define_add(CLI::App& word, context& c) {
    struct options {
        std::string name;
        device_options device;
        credential_options cred;
    };
    auto o = std::make_shared<options>();
    CLI::App* sub = word.add_subcommand("add", "add a device (without credentials: a generated access token)");
    sub->add_option("NAME", o->name, "device name")->required();
    o->device.add(*sub);
    o->cred.add(*sub);
    sub->callback([&c, o] {
        json::out body;
        body.begin_object().kv("name", o->name);
        o->device.write(body);
        o->cred.write(body);
        o->device.power.write(body);
        body.end_object();
        show_or_json(c, c.api().call("POST", "/api/devices", body.take()));
    });
}

void define_list(CLI::App& word, context& c) {
    struct options {
        std::optional<std::string> profile, limit;
    };
    auto o = std::make_shared<options>();
    CLI::App* sub = word.add_subcommand("list", "list devices");
    value_option(*sub, "--profile", o->profile, "only this profile's devices");
    value_option(*sub, "--limit", o->limit, "at most this many");
    sub->callback([&c, o] {
        std::string target = "/api/devices", q;
        if (o->profile) q += "profile=" + enc(*o->profile);
        if (o->limit) q += (q.empty() ? "" : "&") + std::string("limit=") + enc(*o->limit);
        if (!q.empty()) target += "?" + q;
        auto d = c.api().call("GET", target);
        if (c.json) return c.print_json(d);
        table t({"NAME", "PROFILE", "CREDENTIALS", "CREATED"});
        for (const auto& x : d["devices"].GetArray()) {
            std::string cred = "-";
            if (const rapidjson::Value* cr = json::member(x, "credentials"); cr != nullptr && cr->IsObject()) {
                const std::string type = field(*cr, "type");
                cred = type == "ACCESS_TOKEN" ? "token " + field(*cr, "token")
                       : type == "X509_CERTIFICATE" ? "x509 " + field(*cr, "sha3").substr(0, 16) + "..."
                       : type == "PSK" ? "psk " + field(*cr, "identity") : type;
            }
            t.add({field(x, "name"), field(x, "profile"), cred, fmt_time(int_field(x, "createdTime"))});
        }
        c.io.out(t.render());
    });
}

// show, delete, unclaim: one NAME, no options.
void define_by_name(CLI::App& word, context& c, const std::string& verb, const std::string& summary) {
    auto name = std::make_shared<std::string>();
    CLI::App* sub = word.add_subcommand(verb, summary);
    sub->add_option("NAME", *name, "device name")->required();
    sub->callback([&c, name, verb] {
        if (verb == "show") return show_or_json(c, c.api().call("GET", device_path(*name)));
        auto d = c.api().call("DELETE", device_path(*name) + (verb == "unclaim" ? "/claim" : ""));
        if (c.json) c.print_json(d);
        else c.io.out((verb == "delete" ? "deleted device " : "unclaimed device ") + *name + "\n");
    });
}

void define_update(CLI::App& word, context& c) {
    struct options {
        std::string name;
        std::optional<std::string> new_name;
        device_options device;
        credential_options cred;
    };
    auto o = std::make_shared<options>();
    CLI::App* sub = word.add_subcommand("update", "change a device's name, profile, label, power saving or credentials");
    sub->add_option("NAME", o->name, "device name")->required();
    value_option(*sub, "--name", o->new_name, "new name");
    o->device.add(*sub);
    o->cred.add(*sub);
    sub->callback([&c, o] {
        json::out body;
        body.begin_object();
        if (o->new_name) body.kv("name", *o->new_name);
        o->device.write(body);
        o->cred.write(body);
        o->device.power.write(body);
        body.end_object();
        show_or_json(c, c.api().call("PATCH", device_path(o->name), body.take()));
    });
}

void define_credentials(CLI::App& word, context& c) {
    struct options {
        std::string name;
        credential_options cred;
    };
    auto o = std::make_shared<options>();
    CLI::App* sub = word.add_subcommand("credentials", "replace a device's credentials (none given: a generated token)");
    sub->add_option("NAME", o->name, "device name")->required();
    o->cred.add(*sub);
    sub->callback([&c, o] {
        json::out body;
        body.begin_object();
        o->cred.write(body);
        body.end_object();
        show_or_json(c, c.api().call("PUT", device_path(o->name) + "/credentials", body.take()));
    });
}

void define_claim(CLI::App& word, context& c) {
    struct options {
        std::string name;
        std::optional<std::string> secret, owner;
    };
    auto o = std::make_shared<options>();
    CLI::App* sub = word.add_subcommand("claim", "complete a device's claim with its secret");
    sub->add_option("NAME", o->name, "device name")->required();
    value_option(*sub, "--secret", o->secret, "the secret key the device registered");
    value_option(*sub, "--owner", o->owner, "who claims it (default: admin)");
    sub->callback([&c, o] {
        json::out body;
        body.begin_object().kv("secretKey", o->secret.value_or(""));
        if (o->owner) body.kv("owner", *o->owner);
        body.end_object();
        auto d = c.api().call("POST", device_path(o->name) + "/claim", body.take());
        if (c.json) c.print_json(d);
        else c.io.out("claimed device " + o->name + "\n");
    });
}

void define_sessions(CLI::App& word, context& c) {
    auto limit = std::make_shared<std::optional<std::string>>();
    CLI::App* sub = word.add_subcommand("sessions", "list the devices' open sessions");
    integer_option(*sub, "--limit", *limit, "at most this many (1..100000, default 1000)");
    sub->callback([&c, limit] {
        auto d = c.api().call("GET", "/api/sessions" + (*limit ? "?limit=" + enc(**limit) : std::string()));
        if (c.json) return c.print_json(d);
        if (const int64_t total = int_field(d, "total"); total > static_cast<int64_t>(d["sessions"].Size()))
            c.io.err(std::to_string(d["sessions"].Size()) + " of " + std::to_string(total) + " sessions shown (--limit)\n");
        table t({"DEVICE", "TRANSPORT", "ADDRESS", "OPENED", "LAST ACTIVITY"});
        for (const auto& x : d["sessions"].GetArray())
            t.add({field(x, "device"), field(x, "transport"), field(x, "address"), fmt_time(int_field(x, "openedTime")),
                   fmt_time(int_field(x, "lastActivityTime"))});
        c.io.out(t.render());
    });
}

}  // namespace

void define_device(CLI::App& app, context& c) {
    define_add(app, c);
    define_list(app, c);
    define_by_name(app, c, "show", "show a device");
    define_update(app, c);
    define_credentials(app, c);
    define_by_name(app, c, "delete", "delete a device (its history is removed in the background)");
    define_claim(app, c);
    define_by_name(app, c, "unclaim", "remove a device's claim");
    define_sessions(app, c);
    define_import(app, c);
}

}  // namespace tern::core_embedded::cli_words
