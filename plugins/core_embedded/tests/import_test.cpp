// Bulk import: POST /api/devices/import (CSV rows, one transaction per request, a refusal
// naming the line) and `tern device import FILE` (batches, FILE:LINE on a refusal).
#include <algorithm>
#include <fstream>

#include "cli_fixture.hpp"
#include "device_import.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;

namespace {

bool known(embedded_core& core, const std::string& token) {
    return authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, token).status == TERN_OK;
}

std::string rows(int from, int to) {  // dev-I,token-of-device-I for I in [from, to)
    std::string s;
    for (int i = from; i < to; ++i) s += "dev-" + std::to_string(i) + ",token-of-device-" + std::to_string(i) + "\n";
    return s;
}

}  // namespace

TEST_CASE("import csv: header, quotes, CRLF and blank lines, malformed lines named", "[import]") {
    std::vector<import_row> out;
    CHECK_FALSE(parse_import_csv("name,token\r\n\"a, b\",tok-1\r\n\nplain,\"t\"\"2\"\n", 1, out));
    REQUIRE(out.size() == 2);
    CHECK(out[0].name == "a, b");
    CHECK(out[0].token == "tok-1");
    CHECK(out[0].line == 2);
    CHECK(out[1].name == "plain");
    CHECK(out[1].token == "t\"2");
    CHECK(out[1].line == 4);

    // The header is skipped only as the file's first line.
    out.clear();
    CHECK_FALSE(parse_import_csv("name,token\n", 7, out));
    CHECK(out.size() == 1);

    auto bad = [](std::string_view text, int64_t first) {
        std::vector<import_row> r;
        auto e = parse_import_csv(text, first, r);
        REQUIRE(e);
        return *e;
    };
    CHECK(bad("a,b\nonly-a-name\n", 10).line == 11);
    CHECK(bad("a,b\nonly-a-name\n", 10).why == "expected 2 fields (name,token), found 1");
    CHECK(bad("a,b,c\n", 1).why == "expected 2 fields (name,token), found 3");
    CHECK(bad("\"a,b\n", 1).why == "a quoted field is not closed");
    CHECK(bad("\"a\"x,b\n", 1).why == "text after a quoted field");
    CHECK(bad("a\"x,b\n", 1).why.find("a quote inside an unquoted field") == 0);
}

TEST_CASE("admin: POST /api/devices/import stores a batch in one transaction", "[admin][import]") {
    admin_fixture f;
    auto r = f.call("POST", "/api/devices/import", "name,token\r\nthermo-1,thermo-1-token-abcdef\r\n\r\nthermo-2,t2-short\r\n");
    REQUIRE(r.status == 200);
    CHECK(r.json["imported"].GetInt() == 2);
    CHECK(std::string(r.json["warning"].GetString()).find("1 access token(s) shorter than 16") == 0);
    CHECK(known(f.core, "thermo-1-token-abcdef"));
    auto d = authenticate(f.core, TERN_CREDENTIAL_ACCESS_TOKEN, "t2-short");
    CHECK(d.name == "thermo-2");
    CHECK(d.profile == "default");
    // One CREDENTIALS_CHANGED for the batch: transports forget the tokens they knew as unknown.
    CHECK(f.listener.wait_for([&] {
        return std::count_if(f.listener.events.begin(), f.listener.events.end(),
                             [](auto& e) { return e.second == TERN_DEVICE_CREDENTIALS_CHANGED; }) == 1;
    }));
    CHECK(f.call("GET", "/api/devices/thermo-1").status == 200);

    SECTION("a profile for the whole batch") {
        REQUIRE(f.call("POST", "/api/profiles", R"({"name":"meters"})").status == 201);
        REQUIRE(f.call("POST", "/api/devices/import?profile=meters", "m-1,meter-token-0001\n").status == 200);
        CHECK(authenticate(f.core, TERN_CREDENTIAL_ACCESS_TOKEN, "meter-token-0001").profile == "meters");
        auto nf = f.call("POST", "/api/devices/import?profile=nope", "m-2,meter-token-0002\n");
        CHECK(nf.status == 404);
        CHECK_FALSE(known(f.core, "meter-token-0002"));
    }
}

TEST_CASE("admin: an import refusal names the line, and nothing of its batch is stored", "[admin][import]") {
    admin_fixture f;
    REQUIRE(f.call("POST", "/api/devices", R"({"name":"taken","token":"taken-token-abcdef"})").status == 201);
    struct refusal {
        std::string body;
        int status;
        int64_t line;
        std::string error;
    };
    // ?line=100: the body is lines 100.. of the caller's file.
    const refusal cases[] = {
        {"a-1,token-a-000001\nb,c,d\n", 400, 101, "line 101: expected 2 fields (name,token), found 3"},
        {"a-1,token-a-000001\ntaken,token-b-000001\n", 409, 101, "line 101: a device named 'taken' exists"},
        {"a-1,token-a-000001\nb-1,taken-token-abcdef\n", 409, 101,
         "line 101: this access token belongs to device 'taken'"},
        {"a-1,token-a-000001\nb-1,token-a-000001\n", 409, 101, "line 101: this access token belongs to device 'a-1'"},
        {"a-1,token-a-000001\n\na-1,token-b-000001\n", 409, 102, "line 102: a device named 'a-1' exists"},
        {"a-1,token-a-000001\nb-1,\n", 400, 101, "line 101: the access token is empty"},
        {"a-1,token-a-000001\nb-1,abc\n", 400, 101, "line 101: the token must be at least 4 characters (min_token_length)"},
        {"a-1,token-a-000001\nb-1,has space\n", 400, 101,
         "line 101: the access token must not contain spaces, control characters or '/'"},
        {"a-1,token-a-000001\n,token-b-000001\n", 400, 101, "line 101: device name must not be empty"},
    };
    for (const refusal& c : cases) {
        INFO(c.body);
        auto r = f.call("POST", "/api/devices/import?line=100", c.body);
        CHECK(r.status == c.status);
        CHECK(r.json["error"].GetString() == c.error);
        CHECK(r.json["line"].GetInt64() == c.line);
        CHECK_FALSE(known(f.core, "token-a-000001"));  // line 100 was fine, and is not stored either
        CHECK(f.call("GET", "/api/devices/a-1").status == 404);
    }
    CHECK(f.call("POST", "/api/devices/import?line=0", "a,b").status == 400);

}

TEST_CASE("admin: an import request carries at most 10 000 rows", "[admin][import]") {
    admin_fixture f(1 << 20, 1 << 20);
    auto big = f.call("POST", "/api/devices/import", rows(0, static_cast<int>(max_import_rows) + 1));
    CHECK(big.status == 413);
    CHECK(std::string(big.json["error"].GetString()) == "10001 rows: at most 10000 a request");
    CHECK(f.call("GET", "/api/devices/dev-0").status == 404);
    auto full = f.call("POST", "/api/devices/import", rows(0, static_cast<int>(max_import_rows)), admin_fixture::key,
                       {}, 30000);
    CHECK(full.status == 200);
    CHECK(full.json["imported"].GetInt() == 10000);
}

TEST_CASE("cli: device import sends batches and says how many were imported", "[cli][import]") {
    cli_fixture f;
    f.cs.max_request_size = 64 * 1024;  // the fixture's server limit: batches are cut by bytes
    const std::string path = f.dir.file("devices.csv");
    std::ofstream(path) << "name,token\n" << rows(0, 12000);
    auto r = f.run({"device", "import", path});
    INFO(r.out << r.err);
    REQUIRE(r.rc == 0);
    CHECK(r.out.find("imported 12000 devices in ") == 0);
    CHECK(r.err.empty());
    for (int i : {0, 2999, 3000, 7777, 11999}) CHECK(known(f.core, "token-of-device-" + std::to_string(i)));

    std::ofstream(f.dir.file("more.csv")) << "more-1,more-token-00001\n";
    auto j = f.run({"device", "import", f.dir.file("more.csv"), "--json"});
    REQUIRE(j.rc == 0);
    CHECK(f.json_of(j)["imported"].GetInt() == 1);
}

TEST_CASE("cli: device import stops at a refused line with FILE:LINE", "[cli][import]") {
    cli_fixture f;
    f.cs.max_request_size = 64 * 1024;
    const std::string path = f.dir.file("devices.csv");
    // Line 7999 repeats line 2's name; it falls in a later batch than line 2.
    std::string text = rows(0, 7998) + "dev-1,another-token-1\n" + rows(8000, 9000);
    std::ofstream(path) << text;
    auto r = f.run({"device", "import", path});
    INFO(r.out << r.err);
    CHECK(r.rc == 1);
    CHECK(r.err.find(path + ":7999: a device named 'dev-1' exists (HTTP 409); ") != std::string::npos);
    CHECK(r.err.find(" devices were imported before this batch, nothing of it was stored") != std::string::npos);
    // The batches before the refused one are stored, the refused one and what follows not.
    const auto semi = r.err.find("; ");
    REQUIRE(semi != std::string::npos);
    const int before = std::stoi(r.err.substr(semi + 2));
    CHECK(before > 0);
    CHECK(before < 7998);
    CHECK(known(f.core, "token-of-device-0"));
    CHECK(known(f.core, "token-of-device-" + std::to_string(before - 1)));
    CHECK_FALSE(known(f.core, "token-of-device-" + std::to_string(before)));
    CHECK_FALSE(known(f.core, "token-of-device-8500"));

    auto missing = f.run({"device", "import", f.dir.file("nope.csv")});
    CHECK(missing.rc == 1);
    CHECK(missing.err.find("cannot read") != std::string::npos);
}
