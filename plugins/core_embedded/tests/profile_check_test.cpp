// Profiles checked against the payload adaptors before they are stored (profile_check.hpp):
// the adaptor a profile's payload type names must be loaded, and a tern.payload/2 adaptor's
// check_profile must accept the settings. The adaptors are the SDK's fake one
// (tern/sdk/testing_payload.hpp) in a fake registry; the real protobuf adaptor is exercised
// end to end by plugins/protobuf/tests/blackbox. Also: the profile.revision option every
// device record carries, and the CLI's --*-proto options.
#include <fstream>

#include "admin_fixture.hpp"
#include "cli.hpp"
#include "tern/sdk/testing.hpp"
#include "tern/sdk/testing_payload.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;
using tern::sdk::testing::checked_profile;
using tern::sdk::testing::fake_payload_adaptor;

namespace {

constexpr const char* missing_protobuf =
    "payload type PROTOBUF needs the payload adaptor \"protobuf\", which is not loaded (add [plugins.protobuf] to "
    "the manifest)";

// A core whose profiles are checked against the adaptors in registry (JSON's always there).
struct checked_core {
    temp_dir dir;
    embedded_core core{admin_metrics, {}};
    tern::sdk::testing::fake_registry registry;
    fake_payload_adaptor json{"json", 50};

    checked_core() {
        registry.provide(TERN_IID_PAYLOAD_V1, "json", static_cast<tern::payload_v1*>(&json));
        core.use_payload_adaptors(&registry);
        core.start(settings_for(dir));
    }
    ~checked_core() { core.stop(); }

    result<profile> create(profile_spec s) {
        return await<profile>([&](auto cb) { core.create_profile(std::move(s), cb); });
    }
    result<profile> update(profile_spec s) {
        return await<profile>([&](auto cb) { core.update_profile(std::move(s), cb); });
    }
};

profile_spec protobuf_profile(const std::string& name, const std::string& telemetry_schema) {
    profile_spec p;
    p.name = name;
    p.payload_type = TERN_PAYLOAD_PROTOBUF;
    p.schemas[0] = telemetry_schema;
    return p;
}

// Refuses any schema that says "required", naming where, as the protobuf adaptor does.
std::string refuse_required(const checked_profile& p) {
    const std::string t = p.option("telemetry_schema");
    const auto at = t.find("required");
    if (at == std::string::npos) return "";
    return "telemetry_schema:1:" + std::to_string(at + 1) + ": proto3 has no required fields";
}

}  // namespace

TEST_CASE("profile check: a payload type whose adaptor is not loaded is refused with what to do",
          "[profile_check]") {
    checked_core c;
    auto r = c.create(protobuf_profile("pb", "syntax = \"proto3\"; message T { int32 t = 1; }"));
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.message == missing_protobuf);
    CHECK(await<profile>([&](auto cb) { c.core.get_profile("pb", cb); }).status == TERN_NOT_FOUND);

    // JSON profiles are served by the json adaptor; changing one to PROTOBUF is refused too.
    profile_spec j;
    j.name = "plain";
    REQUIRE(c.create(j).ok());
    profile_spec to_pb;
    to_pb.name = "plain";
    to_pb.payload_type = TERN_PAYLOAD_PROTOBUF;
    r = c.update(to_pb);
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.message == missing_protobuf);
    auto stored = await<profile>([&](auto cb) { c.core.get_profile("plain", cb); });
    REQUIRE(stored.ok());
    CHECK(stored.value.payload_type == TERN_PAYLOAD_JSON);
}

TEST_CASE("profile check: a tern.payload/2 adaptor decides, seeing the settings the profile would have",
          "[profile_check]") {
    checked_core c;
    fake_payload_adaptor pb("protobuf");
    pb.on_check = refuse_required;
    pb.publish(c.registry, "protobuf");

    // refused with the adaptor's message, nothing stored
    auto r = c.create(protobuf_profile("pb", "message T { required int32 t = 1; }"));
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.message == "telemetry_schema:1:13: proto3 has no required fields");
    CHECK(await<profile>([&](auto cb) { c.core.get_profile("pb", cb); }).status == TERN_NOT_FOUND);

    // accepted: stored; a new profile is checked as profile 0, revision 0
    profile_spec ok = protobuf_profile("pb", "syntax = \"proto3\"; message T { int32 t = 1; }");
    ok.schemas[2] = "syntax = \"proto3\"; message R { string method = 1; }";
    ok.options = std::vector<profile_option>{{"device_message_rate", 5}};
    auto created = c.create(ok);
    REQUIRE(created.ok());
    auto seen = pb.checks();
    REQUIRE(seen.size() == 2);
    CHECK(seen[1].profile_id == 0);
    CHECK(seen[1].revision == 0);
    CHECK(seen[1].content_format == -1);
    // the schema texts that are set, then the integer options: what its devices get
    CHECK(seen[1].options == std::vector<std::pair<std::string, std::string>>{
                                 {"telemetry_schema", ok.schemas[0].value()},
                                 {"rpc_request_schema", ok.schemas[2].value()},
                                 {"device_message_rate", "5"}});

    // an update is checked as it would be stored: the stored schemas with the change merged
    profile_spec bad_rpc;
    bad_rpc.name = "pb";
    bad_rpc.schemas[0] = "message T { required int32 t = 1; }";
    r = c.update(bad_rpc);
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.message == "telemetry_schema:1:13: proto3 has no required fields");
    seen = pb.checks();
    REQUIRE(seen.size() == 3);
    CHECK(seen[2].profile_id == created.value.id);
    CHECK(seen[2].option("rpc_request_schema") == ok.schemas[2].value());
    auto stored = await<profile>([&](auto cb) { c.core.get_profile("pb", cb); });
    REQUIRE(stored.ok());
    CHECK(stored.value.schemas[0] == ok.schemas[0].value());
    CHECK(stored.value.revision == created.value.revision);

    // a change the check does not mind (a rename) is checked too, and stored
    profile_spec rename;
    rename.name = "pb";
    rename.new_name = "pb2";
    REQUIRE(c.update(rename).ok());
    CHECK(pb.checks().size() == 4);

    // an adaptor of tern.payload/1 only is not asked: JSON profiles store as before
    profile_spec j;
    j.name = "plain";
    j.schemas[0] = "anything";
    REQUIRE(c.create(j).ok());
    CHECK(c.json.checks().empty());
}

TEST_CASE("profile check: the store alone (no registry) stores every profile, as before", "[profile_check]") {
    temp_dir dir;
    embedded_core core{admin_metrics, {}};
    core.start(settings_for(dir));
    auto r = await<profile>([&](auto cb) { core.create_profile(protobuf_profile("pb", "x"), cb); });
    CHECK(r.ok());
    core.stop();
}

TEST_CASE("profile.revision: every device record carries the profile's own revision, which moves only with it",
          "[profile_check][auth]") {
    checked_core c;
    fake_payload_adaptor pb("protobuf");
    pb.publish(c.registry, "protobuf");
    auto p = c.create(protobuf_profile("pb", "syntax = \"proto3\"; message T { int32 t = 1; }"));
    REQUIRE(p.ok());
    device_spec d;
    d.name = "dev";
    d.profile = "pb";
    d.cred = token("pb-token");
    REQUIRE(await<device>([&](auto cb) { c.core.create_device(d, cb); }).ok());

    auto a = authenticate(c.core, TERN_CREDENTIAL_ACCESS_TOKEN, "pb-token");
    REQUIRE(a.status == TERN_OK);
    REQUIRE(a.ints.count(TERN_OPTION_PROFILE_REVISION) == 1);
    const int64_t rev = a.ints[TERN_OPTION_PROFILE_REVISION];
    CHECK(rev == static_cast<int64_t>(p.value.revision));
    CHECK(std::string(tern::sdk::to_sv(a.info.profile_options[0].key)) == TERN_OPTION_PROFILE_REVISION);

    // The device changes: its record's revision moves, the profile's does not.
    device_spec rename;
    rename.name = "dev";
    rename.new_name = "dev2";
    REQUIRE(await<device>([&](auto cb) { c.core.update_device(rename, cb); }).ok());
    auto b = authenticate(c.core, TERN_CREDENTIAL_ACCESS_TOKEN, "pb-token");
    REQUIRE(b.status == TERN_OK);
    CHECK(b.revision > a.revision);
    CHECK(b.ints[TERN_OPTION_PROFILE_REVISION] == rev);

    // The profile changes: both move.
    profile_spec up;
    up.name = "pb";
    up.schemas[0] = "syntax = \"proto3\"; message T { int64 t = 1; }";
    REQUIRE(c.update(up).ok());
    auto e = authenticate(c.core, TERN_CREDENTIAL_ACCESS_TOKEN, "pb-token");
    REQUIRE(e.status == TERN_OK);
    CHECK(e.ints[TERN_OPTION_PROFILE_REVISION] > rev);
    CHECK(e.revision > b.revision);

    // Nobody else may set it.
    profile_spec forged;
    forged.name = "pb";
    forged.options = std::vector<profile_option>{{TERN_OPTION_PROFILE_REVISION, 1}};
    auto r = c.update(forged);
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.message == "'profile.revision' is the profile's revision, which the core sets");
}

namespace {

struct checked_admin : admin_fixture {
    tern::sdk::testing::fake_registry registry;
    fake_payload_adaptor json{"json", 50};
    cli_settings cs;
    cli tool{[this] { return cs; }};

    checked_admin() {
        registry.provide(TERN_IID_PAYLOAD_V1, "json", static_cast<tern::payload_v1*>(&json));
        core.use_payload_adaptors(&registry);
        cs.database = settings.database;
        cs.admin_bind = "127.0.0.1:" + std::to_string(server->port());
        cs.admin_key = key;
    }
    struct run_result {
        int rc = -1;
        std::string out, err;
    };
    run_result run(std::vector<std::string> args) {
        std::vector<tern_str> argv;
        for (const std::string& a : args) argv.push_back(tern::sdk::to_str(a));
        run_result r;
        struct sink {
            static void out(void* ctx, tern_str s) { static_cast<run_result*>(ctx)->out.append(s.data, s.size); }
            static void err(void* ctx, tern_str s) { static_cast<run_result*>(ctx)->err.append(s.data, s.size); }
        };
        r.rc = tool.run(static_cast<uint32_t>(argv.size()), argv.data(), &sink::out, &sink::err, &r);
        return r;
    }
};

}  // namespace

TEST_CASE("profile check: the admin API answers 400 with the reason, and PUT updates as PATCH does",
          "[profile_check][admin]") {
    checked_admin f;
    auto r = f.call("POST", "/api/profiles", R"({"name":"pb","payload":"PROTOBUF"})");
    CHECK(r.status == 400);
    CHECK(std::string(r.json["error"].GetString()) == missing_protobuf);

    fake_payload_adaptor pb("protobuf");
    pb.on_check = refuse_required;
    pb.publish(f.registry, "protobuf");
    r = f.call("POST", "/api/profiles",
               R"({"name":"pb","payload":"PROTOBUF","schemas":{"telemetry":"message T { required int32 t = 1; }"}})");
    CHECK(r.status == 400);
    CHECK(std::string(r.json["error"].GetString()) == "telemetry_schema:1:13: proto3 has no required fields");
    r = f.call("POST", "/api/profiles", R"({"name":"pb","payload":"PROTOBUF"})");
    CHECK(r.status == 201);
    r = f.call("PUT", "/api/profiles/pb", R"({"schemas":{"telemetry":"message T { required int32 t = 1; }"}})");
    CHECK(r.status == 400);
    r = f.call("PUT", "/api/profiles/pb", R"({"schemas":{"telemetry":"message T { int32 t = 1; }"}})");
    CHECK(r.status == 200);
    CHECK(std::string(r.json["payload"].GetString()) == "PROTOBUF");
}

TEST_CASE("profile check: the CLI's --*-proto files, --payload in any case, the refusal printed with exit 1",
          "[profile_check][cli]") {
    checked_admin f;
    const std::string good = f.dir.file("t.proto"), bad = f.dir.file("bad.proto"), rpc = f.dir.file("rpc.proto");
    std::ofstream(good) << "syntax = \"proto3\";\nmessage T { int32 t = 1; }\n";
    std::ofstream(bad) << "message T { required int32 t = 1; }";
    std::ofstream(rpc) << "syntax = \"proto3\";\nmessage R { string method = 1; }\n";

    auto refused = f.run({"profile", "add", "pb", "--payload", "protobuf", "--telemetry-proto", good});
    CHECK(refused.rc == 1);
    CHECK_THAT(refused.err, Catch::Contains(missing_protobuf));

    fake_payload_adaptor pb("protobuf");
    pb.on_check = refuse_required;
    pb.publish(f.registry, "protobuf");
    refused = f.run({"profile", "add", "pb", "--payload", "Protobuf", "--telemetry-proto", bad});
    CHECK(refused.rc == 1);
    CHECK_THAT(refused.err, Catch::Contains("telemetry_schema:1:13: proto3 has no required fields"));

    auto added = f.run({"profile", "add", "pb", "--payload", "protobuf", "--telemetry-proto", good,
                        "--attributes-proto", good, "--rpc-request-proto", rpc, "--rpc-response-proto", good});
    INFO(added.err);
    REQUIRE(added.rc == 0);
    auto stored = await<profile>([&](auto cb) { f.core.get_profile("pb", cb); });
    REQUIRE(stored.ok());
    CHECK(stored.value.payload_type == TERN_PAYLOAD_PROTOBUF);
    CHECK(stored.value.schemas[2] == "syntax = \"proto3\";\nmessage R { string method = 1; }\n");
    CHECK(stored.value.schemas[3] == stored.value.schemas[0]);

    // the --*-schema names still work
    auto upd = f.run({"profile", "update", "pb", "--rpc-request-schema", good});
    INFO(upd.err);
    REQUIRE(upd.rc == 0);
    stored = await<profile>([&](auto cb) { f.core.get_profile("pb", cb); });
    CHECK(stored.value.schemas[2] == stored.value.schemas[0]);
    auto show = f.run({"profile", "show", "pb"});
    REQUIRE(show.rc == 0);
    CHECK_THAT(show.out, Catch::Contains("PROTOBUF"));
}
