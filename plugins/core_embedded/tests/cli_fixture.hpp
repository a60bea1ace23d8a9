// The `tern` command words run() against a live admin API, the way the kernel calls them
// (an instance that was never started): for the CLI tests.
#pragma once

#include "admin_fixture.hpp"
#include "cli.hpp"

namespace tern::core_embedded::test {

struct run_result {
    int rc = -1;
    std::string out, err;
};

struct cli_fixture : admin_fixture {
    cli_settings cs;
    cli tool{[this] { return cs; }};

    cli_fixture() {
        cs.database = settings.database;
        cs.admin_bind = "127.0.0.1:" + std::to_string(server->port());
        cs.admin_key = key;
    }

    run_result run(std::vector<std::string> args) {
        std::vector<tern_str> argv;
        for (const std::string& a : args) argv.push_back(sdk::to_str(a));
        run_result r;
        struct sink {
            static void out(void* ctx, tern_str s) { static_cast<run_result*>(ctx)->out.append(s.data, s.size); }
            static void err(void* ctx, tern_str s) { static_cast<run_result*>(ctx)->err.append(s.data, s.size); }
        };
        r.rc = tool.run(static_cast<uint32_t>(argv.size()), argv.data(), &sink::out, &sink::err, &r);
        return r;
    }
    rapidjson::Document json_of(const run_result& r) {
        rapidjson::Document d;
        INFO(r.out << r.err);
        REQUIRE(json::parse(r.out, d).empty());
        return d;
    }
};

}  // namespace tern::core_embedded::test
