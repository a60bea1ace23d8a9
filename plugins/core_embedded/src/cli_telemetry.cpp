// tern telemetry NAME: a device's latest or ranged telemetry
#include <ctime>

#include "cli_common.hpp"

namespace tern::core_embedded::cli_words {

void define_telemetry(CLI::App& app, context& c) {
    struct options {
        std::string name;
        std::vector<std::string> keys;
        bool latest = false, asc = false;
        std::optional<std::string> since, until, limit;
    };
    auto o = std::make_shared<options>();
    app.add_option("NAME", o->name, "device name")->required();
    list_option(app, "--key", o->keys, "only this key (repeatable)");
    app.add_flag("--latest", o->latest, "the newest value of each key (the default without --since/--until)");
    value_option(app, "--since", o->since, "TIME: from");
    value_option(app, "--until", o->until, "TIME: to");
    integer_option(app, "--limit", o->limit, "at most this many points per key");
    app.add_flag("--asc", o->asc, "oldest first");
    app.callback([&c, o] {
        std::string keys;
        for (const std::string& k : o->keys) keys += (keys.empty() ? "" : ",") + k;
        const std::string base = "/api/devices/" + enc(o->name) + "/telemetry";
        const int64_t now = static_cast<int64_t>(std::time(nullptr)) * 1000;
        if (o->latest || (!o->since && !o->until)) {
            if (o->since || o->until) throw usage_error{"--latest takes no time range"};
            auto d = c.api().call("GET", base + "/latest" + (keys.empty() ? "" : "?keys=" + enc(keys)));
            if (c.json) return c.print_json(d);
            table t({"KEY", "TS", "VALUE"});
            for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it)
                t.add({it->name.GetString(), fmt_time(int_field(it->value, "ts")), json::compact(it->value["value"])});
            return c.io.out(t.render());
        }
        std::string q = "startTs=" + std::to_string(o->since ? parse_time(*o->since, now) : 0);
        if (o->until) q += "&endTs=" + std::to_string(parse_time(*o->until, now));
        if (o->limit) q += "&limit=" + std::to_string(parse_int(*o->limit, "--limit"));
        if (o->asc) q += "&order=asc";
        if (!keys.empty()) q += "&keys=" + enc(keys);
        auto d = c.api().call("GET", base + "?" + q);
        if (c.json) return c.print_json(d);
        table t({"KEY", "TS", "VALUE"});
        for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it)
            for (const auto& p : it->value.GetArray())
                t.add({it->name.GetString(), fmt_time(int_field(p, "ts")), json::compact(p["value"])});
        c.io.out(t.render());
    });
}

}  // namespace tern::core_embedded::cli_words
