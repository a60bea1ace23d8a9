// A warm encoder and decoder allocate nothing and lock nothing: a telemetry request, an
// authenticate reply with profile options, an attributes reply and an OTA chunk, each encoded
// and decoded 2 000 times after a warm-up, with texts longer than the 15 bytes a std::string
// keeps inline.
// This binary replaces the global operator new and interposes pthread_mutex_lock
// (testing_alloc.hpp).
#include <catch2/catch.hpp>

#include "tern/sdk/testing_alloc.hpp"
#include "wire_test_support.hpp"

using namespace tern::core_wire;
using namespace core_wire_test;

TEST_CASE("a warm encode and decode allocates nothing and locks nothing", "[core_wire]") {
    const std::string long_text = "a text longer than the inline buffer of std::string";
    std::vector<tern_kv> kvs = every_kind();
    kvs.push_back({str("long_key_of_more_than_fifteen_bytes"), str_value(long_text)});
    const auto n = static_cast<std::uint32_t>(kvs.size());
    const tern_ts_record records[] = {{1, kvs.data(), n, 0}, {2, kvs.data(), n, 0}};
    tern_device_record rec{};
    rec.struct_size = sizeof rec;
    rec.device_id = 1;
    rec.device_name = str(long_text);
    rec.profile_name = str(long_text);
    rec.credential_value = bytes_value(long_text).u.bytes;
    rec.profile_options = kvs.data();
    rec.profile_option_count = n;

    encoder enc;
    decoder dec;
    std::string wire;
    const auto once = [&] {
        bool ok = true;
        post_telemetry_request tel;
        ok = ok && enc.encode(post_telemetry_request{1, records, 2}, wire) && dec.decode(bytes(wire), tel);
        ok = ok && tel.count == 2 && tel.records[1].count == n;
        authenticate_reply auth;
        ok = ok && enc.encode(authenticate_reply{TERN_OK, str(long_text), &rec}, wire) &&
             dec.decode(bytes(wire), auth);
        ok = ok && auth.device != nullptr && auth.device->profile_option_count == n;
        get_attributes_reply attrs;
        ok = ok && enc.encode(get_attributes_reply{TERN_OK, {}, kvs.data(), n, kvs.data(), n}, wire) &&
             dec.decode(bytes(wire), attrs);
        ok = ok && attrs.shared_count == n;
        ota_chunk_reply chunk;
        ok = ok && enc.encode(ota_chunk_reply{TERN_OK, {}, 1u << 20, bytes_value(long_text).u.bytes}, wire) &&
             dec.decode(bytes(wire), chunk);
        ok = ok && chunk.data.size == long_text.size();
        return ok;
    };
    for (int i = 0; i < 20; ++i) REQUIRE(once());  // grows the buffers
    tern::sdk::testing::alloc_counter c;
    bool ok = true;
    for (int i = 0; i < 2000; ++i) ok = once() && ok;
    const auto counts = c.stop();
    REQUIRE(ok);
    CHECK(counts.allocations == 0);
    CHECK(counts.locks == 0);
}
