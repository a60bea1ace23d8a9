// tern attr set|get|delete: a device's shared and server attributes
#include "cli_common.hpp"

namespace tern::core_embedded::cli_words {

namespace {

std::string attributes_path(const std::string& name) { return "/api/devices/" + enc(name) + "/attributes"; }

// --shared and --server, repeatable; `what` names their value in the help.
struct scoped_lists {
    std::vector<std::string> shared, server;
    void add(CLI::App& app, const char* what) {
        list_option(app, "--shared", shared, std::string("shared attribute ") + what + " (repeatable)");
        list_option(app, "--server", server, std::string("server attribute ") + what + " (repeatable)");
    }
};

void define_set(CLI::App& word, context& c) {
    struct options {
        std::string name;
        scoped_lists lists;
    };
    auto o = std::make_shared<options>();
    CLI::App* sub = word.add_subcommand("set", "set shared or server attributes (VALUE: JSON when it parses, else text)");
    sub->add_option("NAME", o->name, "device name")->required();
    o->lists.add(*sub, "KEY=VALUE");
    sub->callback([&c, o] {
        const auto& shared = o->lists.shared;
        const auto& server = o->lists.server;
        if (shared.empty() && server.empty()) throw usage_error{"give --shared KEY=VALUE or --server KEY=VALUE"};
        for (const auto& [scope, list] : {std::pair{"shared", &shared}, std::pair{"server", &server}}) {
            if (list->empty()) continue;
            json::out body;
            body.begin_object();
            for (const std::string& s : *list) {
                const auto eq = s.find('=');
                if (eq == std::string::npos || eq == 0) throw usage_error{"expected KEY=VALUE, got '" + s + "'"};
                body.key(s.substr(0, eq)).val(json::value_from_text(s.substr(eq + 1)));
            }
            body.end_object();
            c.api().call("POST", attributes_path(o->name) + "/" + scope, body.take());
        }
        if (c.json) {
            json::out out;
            c.io.out(out.begin_object().kv("shared", static_cast<uint64_t>(shared.size()))
                         .kv("server", static_cast<uint64_t>(server.size())).end_object().take() + "\n");
        } else {
            c.io.out("set " + std::to_string(shared.size()) + " shared and " + std::to_string(server.size()) +
                     " server attribute(s) of " + o->name + "\n");
        }
    });
}

void define_get(CLI::App& word, context& c) {
    struct options {
        std::string name;
        std::vector<std::string> scopes;
        std::optional<std::string> keys;
    };
    auto o = std::make_shared<options>();
    CLI::App* sub = word.add_subcommand("get", "show a device's attributes");
    sub->add_option("NAME", o->name, "device name")->required();
    list_option(*sub, "--scope", o->scopes, "client, shared or server (repeatable; default: all)");
    value_option(*sub, "--keys", o->keys, "K1,K2: only these keys");
    sub->callback([&c, o] {
        std::string target = attributes_path(o->name), q;
        for (const std::string& s : o->scopes) q += (q.empty() ? "" : "&") + std::string("scope=") + enc(s);
        if (o->keys) q += (q.empty() ? "" : "&") + std::string("keys=") + enc(*o->keys);
        if (!q.empty()) target += "?" + q;
        auto d = c.api().call("GET", target);
        if (c.json) return c.print_json(d);
        table t({"SCOPE", "KEY", "VALUE", "UPDATED"});
        for (const char* scope : {"client", "shared", "server"}) {
            const rapidjson::Value* list = json::member(d, scope);
            if (list == nullptr || !list->IsArray()) continue;
            for (const auto& x : list->GetArray())
                t.add({scope, field(x, "key"), json::compact(x["value"]), fmt_time(int_field(x, "lastUpdateTs"))});
        }
        c.io.out(t.render());
    });
}

void define_delete(CLI::App& word, context& c) {
    struct options {
        std::string name;
        scoped_lists lists;
    };
    auto o = std::make_shared<options>();
    CLI::App* sub = word.add_subcommand("delete", "delete shared or server attributes");
    sub->add_option("NAME", o->name, "device name")->required();
    o->lists.add(*sub, "KEY");
    sub->callback([&c, o] {
        const auto& shared = o->lists.shared;
        const auto& server = o->lists.server;
        if (shared.empty() && server.empty()) throw usage_error{"give --shared KEY or --server KEY"};
        for (const auto& [scope, list] : {std::pair{"shared", &shared}, std::pair{"server", &server}}) {
            if (list->empty()) continue;
            std::string keys;
            for (const std::string& k : *list) keys += (keys.empty() ? "" : ",") + k;
            c.api().call("DELETE", attributes_path(o->name) + "/" + scope + "?keys=" + enc(keys));
        }
        const std::string n = std::to_string(shared.size() + server.size());
        if (!c.json) c.io.out("deleted " + n + " attribute(s) of " + o->name + "\n");
        else c.io.out("{\"deleted\":" + n + "}\n");
    });
}

}  // namespace

void define_attr(CLI::App& app, context& c) {
    define_set(app, c);
    define_get(app, c);
    define_delete(app, c);
}

}  // namespace tern::core_embedded::cli_words
