// tern rpc NAME METHOD [PARAMS_JSON] | NAME --get ID | NAME --list
#include "cli_common.hpp"

namespace tern::core_embedded::cli_words {

namespace {

struct rpc_options {
    std::vector<std::string> pos;  // NAME [METHOD [PARAMS_JSON]]
    std::optional<std::string> timeout, get;
    bool oneway = false, persistent = false, list = false;
};

void show_rpc(context& c, const std::string& base, const std::string& id) {
    auto d = c.api().call("GET", base + "/" + std::to_string(parse_int(id, "--get")));
    if (c.json) c.print_json(d);
    else print_rpc(c, d);
}

void list_rpcs(context& c, const std::string& base) {
    auto d = c.api().call("GET", base);
    if (c.json) return c.print_json(d);
    table t({"ID", "METHOD", "STATUS", "CREATED", "EXPIRES", "RESULT OR ERROR"});
    for (const auto& x : d["rpcs"].GetArray()) {
        const std::string error = field(x, "error");
        t.add({field(x, "id"), field(x, "method"), field(x, "status"), fmt_time(int_field(x, "createdTime")),
               fmt_time(int_field(x, "expirationTime")), error != "-" ? "error: " + error : field(x, "result")});
    }
    c.io.out(t.render());
}

// Sends the RPC and waits for its answer (two-way, not persistent) until it expires.
int send_rpc(context& c, const std::string& base, const rpc_options& o) {
    if (o.pos.size() < 2 || o.pos.size() > 3) throw usage_error{"rpc takes NAME METHOD [PARAMS_JSON]"};
    json::out body;
    body.begin_object().kv("method", o.pos[1]);
    if (o.pos.size() == 3) {
        rapidjson::Document p;
        if (std::string e = json::parse(o.pos[2], p); !e.empty()) throw usage_error{"PARAMS_JSON: " + e};
        body.key("params").raw(json::compact(p));
    }
    if (o.oneway) body.kv("oneway", true);
    if (o.persistent) body.kv("persistent", true);
    int64_t timeout = 10000;
    if (o.timeout) {
        timeout = parse_int(*o.timeout, "--timeout");
        if (timeout <= 0) throw usage_error{"--timeout must be positive"};
    }
    body.kv("timeout", timeout);
    body.end_object();
    int status = 0;
    std::string raw;
    auto d = c.api().call("POST", base, body.take(), timeout + 15000, {502, 504}, {}, &status, &raw);
    if (c.json) c.print_json(d);
    else if (status == 202) c.io.out("queued as rpc " + field(d, "id") + " (" + field(d, "status") + ")\n");
    else print_rpc(c, d);
    return status == 200 || status == 202 ? 0 : 1;
}

}  // namespace

void define_rpc(CLI::App& app, context& c) {
    auto o = std::make_shared<rpc_options>();
    app.add_option("ARGS", o->pos, "NAME METHOD [PARAMS_JSON]: the device, the RPC's method and its params")
        ->expected(1, 3);
    app.add_flag("--oneway", o->oneway, "no answer expected");
    app.add_flag("--persistent", o->persistent, "kept until delivered (survives restarts); returns when queued");
    integer_option(app, "--timeout", o->timeout, "ms until the RPC expires (default 10000)");
    integer_option(app, "--get", o->get, "ID: show one RPC of the device");
    app.add_flag("--list", o->list, "list the device's RPCs");
    app.callback([&c, o] {
        if (o->pos.empty()) throw usage_error{"rpc needs a device NAME"};
        const std::string base = "/api/devices/" + enc(o->pos[0]) + "/rpc";
        if (o->get) {
            if (o->pos.size() != 1) throw usage_error{"rpc NAME --get ID takes no METHOD"};
            return show_rpc(c, base, *o->get);
        }
        if (o->list) {
            if (o->pos.size() != 1) throw usage_error{"rpc NAME --list takes no METHOD"};
            return list_rpcs(c, base);
        }
        c.rc = send_rpc(c, base, *o);
    });
}

}  // namespace tern::core_embedded::cli_words
