// tern/sdk/payload.hpp: the payload type -> adaptor name convention and the catalog built
// from the registry, on the fake host's registry with the SDK's fake adaptor
// (testing_payload.hpp).
#include <catch2/catch.hpp>

#include <string>

#include "tern/sdk/payload.hpp"
#include "tern/sdk/testing.hpp"
#include "tern/sdk/testing_payload.hpp"

namespace testing = tern::sdk::testing;
using tern::sdk::payload_catalog;

namespace {

tern_kv text_kv(const char* key, const char* text) {
    tern_kv kv{};
    kv.key = tern::sdk::to_str(key);
    kv.value.type = TERN_VALUE_STR;
    kv.value.u.s = tern::sdk::to_str(text);
    return kv;
}

}  // namespace

TEST_CASE("each ThingsBoard payload type names its adaptor, JSON first", "[sdk][payload]") {
    static_assert(tern::sdk::payload_adaptor_name(TERN_PAYLOAD_JSON) == "json");
    static_assert(tern::sdk::payload_adaptor_name(TERN_PAYLOAD_PROTOBUF) == "protobuf");
    static_assert(tern::sdk::payload_adaptor_name(7).empty());
    static_assert(tern::sdk::payload_kinds[0].type == TERN_PAYLOAD_JSON);
    static_assert(tern::sdk::payload_kinds[1].type_name == "PROTOBUF");
    CHECK(tern::sdk::missing_payload_adaptor(TERN_PAYLOAD_PROTOBUF) ==
          "payload type PROTOBUF needs the payload adaptor \"protobuf\", which is not loaded (add "
          "[plugins.protobuf] to the manifest)");
    CHECK(tern::sdk::missing_payload_adaptor(7) == "payload type 7 is unknown to this server");
}

TEST_CASE("the catalog finds adaptors by the name they give, and their tern.payload/2", "[sdk][payload]") {
    testing::fake_host h;
    testing::fake_payload_adaptor json("json", 50);
    testing::fake_payload_adaptor pb("protobuf");
    // JSON answers tern.payload/1 only; protobuf both ids. The instance names differ from
    // the adaptor names on purpose: the catalog goes by name().
    h.registry.provide(TERN_IID_PAYLOAD_V1, "codec_a", static_cast<tern::payload_v1*>(&json));
    pb.publish(h.registry, "codec_b");

    const payload_catalog c(h.registry);
    REQUIRE(c.entries().size() == 2);
    CHECK(c.find("json") == &json);
    CHECK(c.find("protobuf") == &pb);
    CHECK(c.find("cbor") == nullptr);
    CHECK(c.checker("json") == nullptr);
    CHECK(c.checker("protobuf") == &pb);
    CHECK(c.entries()[1].instance == "codec_b");
    CHECK(c.for_type(TERN_PAYLOAD_JSON) == &json);
    CHECK(c.for_type(TERN_PAYLOAD_PROTOBUF) == &pb);
    CHECK(c.for_type(9) == &json);  // an unknown type: JSON's, as before
    CHECK(c.provisioning_order()[0] == &json);
    CHECK(c.provisioning_order()[1] == &pb);
}

TEST_CASE("the first instance in manifest order serves a name, and one listing only tern.payload/2 serves too",
          "[sdk][payload]") {
    testing::fake_host h;
    testing::fake_payload_adaptor first("json"), second("json"), only_v2("protobuf");
    h.registry.provide(TERN_IID_PAYLOAD_V1, "first", static_cast<tern::payload_v1*>(&first));
    second.publish(h.registry, "second");
    h.registry.provide(TERN_IID_PAYLOAD_V2, "pb", static_cast<tern::payload_v2*>(&only_v2));

    const payload_catalog c(h.registry);
    CHECK(c.find("json") == &first);
    // second's tern.payload/2 is not first's: first has no checker.
    CHECK(c.checker("json") == nullptr);
    CHECK(c.find("protobuf") == &only_v2);
    CHECK(c.checker("protobuf") == &only_v2);
    CHECK(c.provisioning_order()[1] == &only_v2);
}

TEST_CASE("with nothing loaded the catalog is empty and every type is missing", "[sdk][payload]") {
    testing::fake_host h;
    const payload_catalog c(h.registry);
    CHECK(c.entries().empty());
    CHECK(c.for_type(TERN_PAYLOAD_JSON) == nullptr);
    CHECK(c.for_type(TERN_PAYLOAD_PROTOBUF) == nullptr);
    CHECK(c.check_profile(TERN_PAYLOAD_JSON, nullptr, 0, 0) ==
          "payload type JSON needs the payload adaptor \"json\", which is not loaded (add [plugins.json] to the "
          "manifest)");
    const payload_catalog none;
    CHECK(none.for_type(TERN_PAYLOAD_JSON) == nullptr);
}

TEST_CASE("check_profile: a missing adaptor, an adaptor without a check, and the check's verdict",
          "[sdk][payload]") {
    testing::fake_host h;
    testing::fake_payload_adaptor json("json", 50);
    h.registry.provide(TERN_IID_PAYLOAD_V1, "json", static_cast<tern::payload_v1*>(&json));

    const tern_kv opts[] = {text_kv("telemetry_schema", "syntax = \"proto2\";"),
                            text_kv("rpc_request_schema", "syntax = \"proto3\";")};
    SECTION("protobuf not loaded") {
        const payload_catalog c(h.registry);
        CHECK(c.check_profile(TERN_PAYLOAD_PROTOBUF, opts, 2, 0) ==
              "payload type PROTOBUF needs the payload adaptor \"protobuf\", which is not loaded (add "
              "[plugins.protobuf] to the manifest)");
        // JSON's adaptor has no tern.payload/2: nothing to check, the profile is fine.
        CHECK(c.check_profile(TERN_PAYLOAD_JSON, opts, 2, 0).empty());
        CHECK(json.checks().empty());
    }
    SECTION("protobuf loaded: its check decides, and sees what the profile would have") {
        testing::fake_payload_adaptor pb("protobuf");
        pb.publish(h.registry, "protobuf");
        pb.on_check = [](const testing::checked_profile& p) -> std::string {
            if (p.option("telemetry_schema").find("proto2") != std::string::npos)
                return "telemetry_schema:1:10: only proto3 schemas are supported";
            return "";
        };
        const payload_catalog c(h.registry);
        CHECK(c.check_profile(TERN_PAYLOAD_PROTOBUF, opts, 2, 12) ==
              "telemetry_schema:1:10: only proto3 schemas are supported");
        CHECK(c.check_profile(TERN_PAYLOAD_PROTOBUF, opts + 1, 1, 0).empty());
        const auto seen = pb.checks();
        REQUIRE(seen.size() == 2);
        CHECK(seen[0].profile_id == 12);
        CHECK(seen[0].revision == 0);
        CHECK(seen[0].content_format == -1);
        CHECK(seen[0].options.size() == 2);
        CHECK(seen[1].profile_id == 0);
        CHECK(seen[1].has("rpc_request_schema"));
        CHECK_FALSE(seen[1].has("telemetry_schema"));
    }
    SECTION("a refusal without a message names the adaptor and the status") {
        struct silent final : tern::payload_v2 {
            testing::fake_payload_adaptor inner{"protobuf"};
            tern_str name() noexcept override { return inner.name(); }
            int32_t content_format() noexcept override { return 42; }
            tern_status check_profile(const tern_payload_context*, tern_error*) noexcept override {
                return TERN_INVALID_ARGUMENT;
            }
#define TERN_FORWARD(m, ...) \
    tern_status m(__VA_ARGS__) noexcept override { return TERN_UNSUPPORTED; }
            TERN_FORWARD(decode_telemetry, const tern_payload_context*, tern_bytes, int64_t, tern_records_sink, void*,
                         tern_error*)
            TERN_FORWARD(decode_attributes, const tern_payload_context*, tern_bytes, tern_kv_sink, void*, tern_error*)
            TERN_FORWARD(decode_rpc_reply, const tern_payload_context*, tern_bytes, tern_bytes_sink, void*, tern_error*)
            TERN_FORWARD(decode_rpc_call, const tern_payload_context*, tern_bytes, tern_rpc_call_sink, void*,
                         tern_error*)
            TERN_FORWARD(decode_claim, const tern_payload_context*, tern_bytes, tern_claim_sink, void*, tern_error*)
            TERN_FORWARD(decode_provision, const tern_payload_context*, tern_bytes, tern_provision_sink, void*,
                         tern_error*)
            TERN_FORWARD(encode_attribute_update, const tern_payload_context*, const tern_kv*, uint32_t,
                         const tern_str*, uint32_t, tern_bytes_sink, void*, tern_error*)
            TERN_FORWARD(encode_attributes, const tern_payload_context*, const tern_kv*, uint32_t, const tern_kv*,
                         uint32_t, tern_bytes_sink, void*, tern_error*)
            TERN_FORWARD(encode_rpc_request, const tern_payload_context*, const tern_rpc_request*, tern_bytes_sink,
                         void*, tern_error*)
            TERN_FORWARD(encode_rpc_response, const tern_payload_context*, tern_str, tern_str, tern_bytes_sink, void*,
                         tern_error*)
            TERN_FORWARD(encode_provision_response, const tern_payload_context*, const tern_provision_result*,
                         tern_bytes_sink, void*, tern_error*)
#undef TERN_FORWARD
        } s;
        h.registry.provide(TERN_IID_PAYLOAD_V1, "pb", static_cast<tern::payload_v1*>(&s));
        h.registry.provide(TERN_IID_PAYLOAD_V2, "pb", static_cast<tern::payload_v2*>(&s));
        const payload_catalog c(h.registry);
        CHECK(c.check_profile(TERN_PAYLOAD_PROTOBUF, opts, 2, 0) ==
              "the payload adaptor \"protobuf\" refused the profile's settings (invalid argument)");
    }
}

TEST_CASE("the catalog from an sdk::host looks in the host's registry", "[sdk][payload]") {
    testing::fake_host h;
    testing::fake_payload_adaptor pb("protobuf");
    pb.publish(h.registry, "protobuf");
    const tern::sdk::host host(&h);
    const payload_catalog c(host);
    CHECK(c.checker("protobuf") == &pb);
}
