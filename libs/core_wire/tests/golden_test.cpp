// The exact bytes of one message per operation. The field numbers and types of
// proto/core_wire_v1.proto are the compatibility contract between nodes of different
// versions: a renumbered or retyped field changes these bytes and fails here. These strings
// are never updated to follow a change of the .proto; a change that needs them updated breaks
// running clusters (README.md, "Compatibility").
#include <catch2/catch.hpp>

#include "wire_test_support.hpp"

#include <type_traits>

using namespace tern::core_wire;
using namespace core_wire_test;

namespace {

template <typename View>
std::string encoded(const View& v) {
    encoder enc;
    std::string wire;
    REQUIRE(enc.encode(v, wire));
    // The golden bytes decode back to what was encoded (checked field by field elsewhere);
    // here only that they decode at all.
    decoder dec;
    View back{};
    if constexpr (std::is_same_v<View, status_reply>) back.op = v.op;
    REQUIRE(dec.decode(bytes(wire), back));
    return hex(wire);
}

const std::vector<tern_kv>& sample_kvs() {
    static const std::vector<tern_kv> kvs = {
        {str("b"), bool_value(true)},
        {str("i"), int_value(-2)},
        {str("d"), double_value(-0.0)},
        {str("s"), str_value("x")},
        {str("y"), bytes_value(std::string_view("\xff", 1))},
        {str("j"), str_value("{}", TERN_VALUE_JSON)},
        {str("n"), null_value()},
    };
    return kvs;
}

}  // namespace

TEST_CASE("golden bytes of every message", "[core_wire]") {
    const auto& kvs = sample_kvs();
    const auto kv_count = static_cast<std::uint32_t>(kvs.size());
    std::vector<std::pair<const char*, std::string>> got;

    got.emplace_back("authenticate_request", encoded(authenticate_request{TERN_CREDENTIAL_X509, str("ab")}));
    tern_device_record rec{};
    rec.struct_size = sizeof rec;
    rec.payload_type = TERN_PAYLOAD_PROTOBUF;
    rec.device_id = 1;
    rec.device_name = str("d");
    rec.profile_id = 2;
    rec.profile_name = str("p");
    rec.revision = 3;
    rec.credential_value = bytes_value("k").u.bytes;
    rec.profile_options = kvs.data();
    rec.profile_option_count = 2;
    got.emplace_back("authenticate_reply", encoded(authenticate_reply{TERN_OK, str("m"), &rec}));
    got.emplace_back("psk_key_request", encoded(psk_key_request{str("id")}));
    got.emplace_back("psk_key_reply", encoded(psk_key_reply{TERN_OK, str("m"), 5, bytes_value("k").u.bytes}));
    const tern_ts_record records[] = {{1000, kvs.data(), kv_count, 0}};
    got.emplace_back("post_telemetry_request", encoded(post_telemetry_request{6, records, 1}));
    got.emplace_back("post_attributes_request",
                     encoded(post_attributes_request{6, TERN_SCOPE_SHARED, kvs.data(), 1}));
    const tern_str keys[] = {str("a")};
    const tern_key_filter listed{TERN_KEYS_LISTED, 1, keys};
    const tern_key_filter all{TERN_KEYS_ALL, 0, nullptr};
    got.emplace_back("get_attributes_request", encoded(get_attributes_request{6, &listed, &all}));
    got.emplace_back("get_attributes_reply",
                     encoded(get_attributes_reply{TERN_OK, str("m"), kvs.data(), 1, kvs.data() + 1, 1}));
    got.emplace_back("rpc_status_request", encoded(rpc_status_request{6, 7, TERN_RPC_FAILED, str("e")}));
    got.emplace_back("rpc_reply_request", encoded(rpc_reply_request{6, 7, str("{}")}));
    got.emplace_back("resend_pending_rpcs_request", encoded(resend_pending_rpcs_request{6}));
    got.emplace_back("client_rpc_request", encoded(client_rpc_request{6, str("m"), str("{}"), 500}));
    got.emplace_back("client_rpc_reply", encoded(client_rpc_reply{TERN_TIMEOUT, str("m"), str("t")}));
    got.emplace_back("session_event_request",
                     encoded(session_event_request{6, TERN_SESSION_CLOSE, str("t"), str("a")}));
    for (status_op op : {status_op::post_telemetry, status_op::post_attributes, status_op::rpc_status,
                         status_op::rpc_reply, status_op::resend_pending_rpcs, status_op::session_event,
                         status_op::claim, status_op::subscribe_device}) {
        got.emplace_back("status_reply", encoded(status_reply{op, TERN_BUSY, str("m")}));
    }
    got.emplace_back("device_event", encoded(device_event{6, TERN_DEVICE_DELETED}));
    got.emplace_back("attributes_updated_event",
                     encoded(attributes_updated_event{6, kvs.data() + 3, 1, keys, 1}));
    tern_rpc_request rpc{};
    rpc.struct_size = sizeof rpc;
    rpc.flags = TERN_RPC_PERSISTENT;
    rpc.id = 7;
    rpc.method = str("m");
    rpc.params = str("{}");
    rpc.expiration_ms = 9;
    got.emplace_back("rpc_request_event", encoded(rpc_request_event{6, &rpc}));
    got.emplace_back("claim_request", encoded(claim_request{6, str("s"), 60000}));
    tern_provision_request preq{};
    preq.struct_size = sizeof preq;
    preq.credentials_type = TERN_CREDENTIAL_ACCESS_TOKEN;
    preq.device_name = str("d");
    preq.provision_key = str("k");
    preq.provision_secret = str("s");
    preq.token = str("t");
    preq.client_id = str("c");
    preq.username = str("u");
    preq.password = str("p");
    preq.hash = str("h");
    preq.gateway = 1;
    got.emplace_back("provision_request", encoded(provision_request{&preq}));
    tern_provision_result pres{};
    pres.struct_size = sizeof pres;
    pres.status = TERN_PROVISION_SUCCESS;
    pres.credentials_type = TERN_CREDENTIAL_MQTT_BASIC;
    pres.credentials_value = str("v");
    pres.client_id = str("c");
    pres.username = str("u");
    pres.password = str("p");
    got.emplace_back("provision_reply", encoded(provision_reply{TERN_OK, str("m"), &pres}));
    got.emplace_back("ota_package_request", encoded(ota_package_request{6, TERN_OTA_SOFTWARE}));
    tern_ota_package pkg{};
    pkg.struct_size = sizeof pkg;
    pkg.type = TERN_OTA_SOFTWARE;
    pkg.package_id = 2;
    pkg.title = str("t");
    pkg.version = str("v");
    pkg.tag = str("g");
    pkg.size = 3;
    pkg.checksum = str("c");
    pkg.checksum_algorithm = str("a");
    pkg.path = str("p");
    pkg.url = str("u");
    got.emplace_back("ota_package_reply", encoded(ota_package_reply{TERN_OK, str("m"), &pkg}));
    got.emplace_back("ota_chunk_request", encoded(ota_chunk_request{6, TERN_OTA_SOFTWARE, 2, 3, 4}));
    got.emplace_back("ota_chunk_reply",
                     encoded(ota_chunk_reply{TERN_NOT_FOUND, str("m"), 3, bytes_value("d").u.bytes}));
    got.emplace_back("subscribe_device_request",
                     encoded(subscribe_device_request{6, TERN_SUBSCRIBE_RPC, str("n")}));

    const std::vector<std::pair<const char*, const char*>> golden = {
        {"authenticate_request", "080112026162"},
        {"authenticate_reply",
         "12016d1a27" // message "m", device {
         "080110011a016420022a017030033a016b42090a016212040801100242090a0169120408021003"},
        {"psk_key_request", "0a026964"},
        {"psk_key_reply", "12016d180522016b"},
        {"post_telemetry_request",
         "0806125708e807" // device 6, a record at ts 1000 of
         "12090a016212040801100212090a016912040802100312100a0164120b08"
         "03190000000000000080120a0a017312050804220178120a0a0179"
         "120508052201ff120b0a016a1206080622027b7d12050a016e1200"},
        {"post_attributes_request", "080610021a090a0162120408011002"},
        {"get_attributes_request", "0806120508021201611a020801"},
        {"get_attributes_reply", "12016d1a090a016212040801100222090a0169120408021003"},
        {"rpc_status_request", "080610071805220165"},
        {"rpc_reply_request", "080610071a027b7d"},
        {"resend_pending_rpcs_request", "0806"},
        {"client_rpc_request", "080612016d1a027b7d20f403"},
        {"client_rpc_reply", "080612016d1a0174"},
        {"session_event_request", "080610021a0174220161"},
        {"status_reply", "080412016d"},
        {"status_reply", "080412016d"},
        {"status_reply", "080412016d"},
        {"status_reply", "080412016d"},
        {"status_reply", "080412016d"},
        {"status_reply", "080412016d"},
        {"status_reply", "080412016d"},
        {"status_reply", "080412016d"},
        {"device_event", "08061003"},
        {"attributes_updated_event", "0806120a0a0173120508042201781a0161"},
        {"rpc_request_event", "08061002180722016d2a027b7d3009"},
        {"claim_request", "080612017318e0d403"},
        {"provision_request", "1201641a016b2201732a01743201633a01754201704a01685001"},
        {"provision_reply", "12016d1a10080110031a01762201632a0175320170"},
        {"ota_package_request", "08061001"},
        {"ota_package_reply", "12016d1a1b080110021a01742201762a016730033a01634201614a0170520175"},
        {"ota_chunk_request", "08061001180220032804"},
        {"ota_chunk_reply", "080212016d1803220164"},
        {"subscribe_device_request", "080610021a016e"},
    };
    REQUIRE(got.size() == golden.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO(golden[i].first);
        CHECK(got[i].first == std::string(golden[i].first));
        CHECK(got[i].second == golden[i].second);
    }
}
