// tern client-rpc list|reply|config: devices' client-side RPCs waiting for an operator
#include "cli_common.hpp"

namespace tern::core_embedded::cli_words {

namespace {

void define_list(CLI::App& word, context& c) {
    CLI::App* sub = word.add_subcommand("list", "list the waiting client-side RPCs");
    sub->callback([&c] {
        auto d = c.api().call("GET", "/api/client-rpc");
        if (c.json) return c.print_json(d);
        table t({"ID", "DEVICE", "METHOD", "PARAMS", "DEADLINE"});
        for (const auto& x : d["calls"].GetArray())
            t.add({field(x, "id"), field(x, "device"), field(x, "method"), json::compact(x["params"]),
                   fmt_time(int_field(x, "deadline"))});
        c.io.out(t.render());
    });
}

void define_reply(CLI::App& word, context& c) {
    struct options {
        std::string id, reply;
    };
    auto o = std::make_shared<options>();
    CLI::App* sub = word.add_subcommand("reply", "answer a waiting client-side RPC");
    sub->add_option("ID", o->id, "the call's id")->required();
    sub->add_option("JSON", o->reply, "the answer")->required();
    sub->callback([&c, o] {
        rapidjson::Document j;
        if (std::string e = json::parse(o->reply, j); !e.empty()) throw usage_error{"JSON: " + e};
        auto d = c.api().call("POST", "/api/client-rpc/" + std::to_string(parse_int(o->id, "ID")) + "/reply",
                              json::compact(j));
        if (c.json) c.print_json(d);
        else c.io.out("answered client RPC " + o->id + "\n");
    });
}

void define_config(CLI::App& word, context& c) {
    struct options {
        std::optional<std::string> builtin, queue;
    };
    auto o = std::make_shared<options>();
    CLI::App* sub = word.add_subcommand("config", "show or switch the built-in answers and the operator queue");
    value_option(*sub, "--builtin", o->builtin, "on or off");
    value_option(*sub, "--queue", o->queue, "on or off");
    sub->callback([&c, o] {
        auto onoff = [](const std::string& s, const char* what) {
            if (s == "on" || s == "true") return true;
            if (s == "off" || s == "false") return false;
            throw usage_error{std::string(what) + " takes on or off"};
        };
        rapidjson::Document d;
        if (o->builtin || o->queue) {
            json::out body;
            body.begin_object();
            if (o->builtin) body.kv("builtin", onoff(*o->builtin, "--builtin"));
            if (o->queue) body.kv("queue", onoff(*o->queue, "--queue"));
            body.end_object();
            d = c.api().call("PUT", "/api/client-rpc/config", body.take());
        } else {
            d = c.api().call("GET", "/api/client-rpc/config");
        }
        if (c.json) c.print_json(d);
        else c.io.out(std::string("built-in answers: ") + (d["builtin"].GetBool() ? "on" : "off") +
                      "\noperator queue: " + (d["queue"].GetBool() ? "on" : "off") + "\n");
    });
}

}  // namespace

void define_client_rpc(CLI::App& app, context& c) {
    define_list(app, c);
    define_reply(app, c);
    define_config(app, c);
}

}  // namespace tern::core_embedded::cli_words
