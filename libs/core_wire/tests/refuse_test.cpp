// Bytes that are not a message of the kind asked for, messages past the bounds, and views the
// encoder cannot carry: a clear error, the view zeroed, never a crash.
#include <catch2/catch.hpp>

#include "wire_test_support.hpp"

#include <cstdint>

using namespace tern::core_wire;
using namespace core_wire_test;

namespace {

std::string from_hex(std::string_view h) {
    std::string out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
        const auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
        out += static_cast<char>(nib(h[i]) * 16 + nib(h[i + 1]));
    }
    return out;
}

// Decodes bytes as every kind; returns how many kinds refused them. None may crash, and a
// refused view is zeroed.
template <typename View>
int refused_as(decoder& dec, const std::string& b, View view = View{}) {
    const result r = dec.decode(bytes(b), view);
    if (r) return 0;
    CHECK(r.detail[0] != '\0');
    return 1;
}

int decode_every_kind(decoder& dec, const std::string& b) {
    return refused_as<authenticate_request>(dec, b) + refused_as<authenticate_reply>(dec, b) +
           refused_as<psk_key_request>(dec, b) + refused_as<psk_key_reply>(dec, b) +
           refused_as<post_telemetry_request>(dec, b) + refused_as<post_attributes_request>(dec, b) +
           refused_as<get_attributes_request>(dec, b) + refused_as<get_attributes_reply>(dec, b) +
           refused_as<rpc_status_request>(dec, b) + refused_as<rpc_reply_request>(dec, b) +
           refused_as<resend_pending_rpcs_request>(dec, b) + refused_as<client_rpc_request>(dec, b) +
           refused_as<client_rpc_reply>(dec, b) + refused_as<session_event_request>(dec, b) +
           refused_as(dec, b, status_reply{status_op::session_event}) + refused_as<device_event>(dec, b) +
           refused_as<attributes_updated_event>(dec, b) + refused_as<rpc_request_event>(dec, b) +
           refused_as<claim_request>(dec, b) + refused_as<provision_request>(dec, b) +
           refused_as<provision_reply>(dec, b) + refused_as<ota_package_request>(dec, b) +
           refused_as<ota_package_reply>(dec, b) + refused_as<ota_chunk_request>(dec, b) +
           refused_as<ota_chunk_reply>(dec, b) + refused_as<subscribe_device_request>(dec, b) +
           refused_as(dec, b, status_reply{status_op::subscribe_device});
}

}  // namespace

TEST_CASE("truncated messages are refused as malformed", "[core_wire]") {
    const std::vector<tern_kv> values = every_kind();
    encoder enc;
    decoder dec;
    std::string wire;
    REQUIRE(enc.encode(post_attributes_request{8, TERN_SCOPE_CLIENT, values.data(),
                                               static_cast<std::uint32_t>(values.size())},
                       wire));
    // The last field is a length-delimited key/value: every cut inside it is refused.
    post_attributes_request got;
    for (std::size_t cut = 1; cut <= 4; ++cut) {
        const std::string prefix = wire.substr(0, wire.size() - cut);
        const result r = dec.decode(bytes(prefix), got);
        CHECK(r.error == wire_error::malformed);
        CHECK(got.values == nullptr);
        CHECK(got.count == 0);
        CHECK(got.device_id == 0);
    }
    // Every prefix, decoded as every kind: no crash.
    for (std::size_t n = 0; n < wire.size(); ++n) decode_every_kind(dec, wire.substr(0, n));
}

TEST_CASE("garbage bytes never crash any decoder", "[core_wire]") {
    decoder dec;
    std::uint64_t x = 0x9e3779b97f4a7c15ull;  // a fixed seed: the run is repeatable
    int refused = 0;
    for (int round = 0; round < 3000; ++round) {
        std::string b(static_cast<std::size_t>(round % 64), '\0');
        for (char& c : b) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c = static_cast<char>(x);
        }
        refused += decode_every_kind(dec, b);
    }
    CHECK(refused > 0);
    // A byte that opens a field and nothing after it.
    CHECK(decode_every_kind(dec, std::string("\x0a", 1)) > 0);
    CHECK(decode_every_kind(dec, std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11)) == 27);
}

TEST_CASE("sizes and null views the decoder refuses", "[core_wire]") {
    decoder dec;
    device_event ev;
    const std::uint8_t one = 0x08;
    // Past max_message_bytes: refused before any byte is read.
    result r = dec.decode(tern_bytes{&one, max_message_bytes + 1}, ev);
    CHECK(r.error == wire_error::too_large);
    r = dec.decode(tern_bytes{nullptr, 3}, ev);
    CHECK(r.error == wire_error::malformed);
    // Empty bytes are a message with every field at its default.
    REQUIRE(dec.decode(tern_bytes{nullptr, 0}, ev));
    CHECK(ev.device_id == 0);
}

TEST_CASE("values the decoder refuses", "[core_wire]") {
    decoder dec;
    attributes_updated_event ev;
    // updated { value { type: 9 } }: an unknown value type.
    result r = dec.decode(bytes(from_hex("120412020809")), ev);
    CHECK(r.error == wire_error::bad_value);
    CHECK(ev.updated == nullptr);
    // updated { value { type: BOOL, int_value: 2 (zigzag 4) } }: a bool other than 0 or 1.
    r = dec.decode(bytes(from_hex("1206120408011004")), ev);
    CHECK(r.error == wire_error::bad_value);
    // updated { value { type: BOOL, int_value: 1 (zigzag 2) } } is fine.
    REQUIRE(dec.decode(bytes(from_hex("1206120408011002")), ev));
    REQUIRE(ev.updated_count == 1);
    CHECK(ev.updated[0].value.u.b == 1);
}

TEST_CASE("counts past the bounds are refused on decode", "[core_wire]") {
    decoder dec;
    // max_key_values + 1 empty key/values (field 3, length 0).
    std::string many;
    for (std::uint32_t i = 0; i <= max_key_values; ++i) many += from_hex("1a00");
    post_attributes_request post;
    CHECK(dec.decode(bytes(many), post).error == wire_error::too_many);
    CHECK(post.count == 0);
    many.resize(many.size() - 2);
    REQUIRE(dec.decode(bytes(many), post));
    CHECK(post.count == max_key_values);

    // max_records + 1 empty records (field 2, length 0).
    std::string records;
    for (std::uint32_t i = 0; i <= max_records; ++i) records += from_hex("1200");
    post_telemetry_request tel;
    CHECK(dec.decode(bytes(records), tel).error == wire_error::too_many);
    records.resize(records.size() - 2);
    REQUIRE(dec.decode(bytes(records), tel));
    CHECK(tel.count == max_records);

    // max_keys + 1 deleted keys (field 3, length 0).
    std::string deleted;
    for (std::uint32_t i = 0; i <= max_keys; ++i) deleted += from_hex("1a00");
    attributes_updated_event ev;
    CHECK(dec.decode(bytes(deleted), ev).error == wire_error::too_many);

    // A client filter (field 2) of max_keys + 1 keys (field 2, length 0).
    std::string keys;
    for (std::uint32_t i = 0; i <= max_keys; ++i) keys += from_hex("1200");
    std::string filter = from_hex("12") + std::string(1, static_cast<char>(0x80 | (keys.size() & 0x7f))) +
                         std::string(1, static_cast<char>(keys.size() >> 7)) + keys;
    get_attributes_request get;
    CHECK(dec.decode(bytes(filter), get).error == wire_error::too_many);
    CHECK(get.client == nullptr);
}

TEST_CASE("views the encoder refuses", "[core_wire]") {
    encoder enc;
    std::string wire = "stale";
    tern_kv bad{str("k"), tern_value{}};
    bad.value.type = 42;
    result r = enc.encode(post_attributes_request{1, TERN_SCOPE_CLIENT, &bad, 1}, wire);
    CHECK(r.error == wire_error::bad_value);
    CHECK(wire.empty());
    r = enc.encode(post_attributes_request{1, TERN_SCOPE_CLIENT, nullptr, 2}, wire);
    CHECK(r.error == wire_error::bad_value);
    r = enc.encode(authenticate_request{TERN_CREDENTIAL_ACCESS_TOKEN, tern_str{nullptr, 4}}, wire);
    CHECK(r.error == wire_error::bad_value);
    r = enc.encode(rpc_request_event{1, nullptr}, wire);
    CHECK(r.error == wire_error::bad_value);
    const tern_key_filter nokeys{TERN_KEYS_LISTED, 2, nullptr};
    r = enc.encode(get_attributes_request{1, &nokeys, nullptr}, wire);
    CHECK(r.error == wire_error::bad_value);
    std::vector<tern_str> keys(max_keys + 1, str("k"));
    const tern_key_filter toomany{TERN_KEYS_LISTED, max_keys + 1, keys.data()};
    r = enc.encode(get_attributes_request{1, nullptr, &toomany}, wire);
    CHECK(r.error == wire_error::too_many);
    // A text larger than a message.
    const std::string huge(max_message_bytes + 1, 'x');
    r = enc.encode(client_rpc_reply{TERN_OK, {}, str(huge)}, wire);
    CHECK(r.error == wire_error::too_large);
    // Two texts that fit alone but not together.
    const std::string half(max_message_bytes / 2 + 1, 'y');
    r = enc.encode(client_rpc_request{1, str(half), str(half), 0}, wire);
    CHECK(r.error == wire_error::too_large);
    CHECK(wire.empty());
    CHECK(std::string(to_string(r.error)) == "too_large");
}

TEST_CASE("null provisioning views the encoder refuses", "[core_wire]") {
    encoder enc;
    std::string wire;
    CHECK(enc.encode(provision_request{nullptr}, wire).error == wire_error::bad_value);
    tern_ota_package pkg{};
    pkg.struct_size = sizeof pkg;
    pkg.url = tern_str{nullptr, 5};
    CHECK(enc.encode(ota_package_reply{TERN_OK, {}, &pkg}, wire).error == wire_error::bad_value);
    CHECK(wire.empty());
}

TEST_CASE("valid messages with one byte changed never crash any decoder", "[core_wire]") {
    // Random bytes rarely get past the first tag; a valid message with one byte changed reaches
    // the length, count and value checks deep inside.
    const std::vector<tern_kv> values = every_kind();
    const tern_ts_record records[] = {{1, values.data(), static_cast<std::uint32_t>(values.size()), 0}};
    tern_device_record rec{};
    rec.struct_size = sizeof rec;
    rec.device_name = str("dev");
    rec.profile_options = values.data();
    rec.profile_option_count = static_cast<std::uint32_t>(values.size());
    encoder enc;
    std::vector<std::string> messages(2);
    REQUIRE(enc.encode(post_telemetry_request{1, records, 1}, messages[0]));
    REQUIRE(enc.encode(authenticate_reply{TERN_OK, str("m"), &rec}, messages[1]));
    decoder dec;
    int refused = 0;
    for (const std::string& m : messages) {
        for (std::size_t i = 0; i < m.size(); ++i) {
            for (const unsigned char b : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
                std::string changed = m;
                changed[i] = static_cast<char>(b);
                refused += decode_every_kind(dec, changed);
            }
        }
    }
    CHECK(refused > 0);
}

TEST_CASE("OTA chunks past max_ota_chunk_bytes are refused both ways", "[core_wire]") {
    encoder enc;
    decoder dec;
    std::string wire = "stale";
    CHECK(enc.encode(ota_chunk_request{1, TERN_OTA_FIRMWARE, 2, 0, max_ota_chunk_bytes + 1}, wire).error ==
          wire_error::too_many);
    CHECK(wire.empty());
    const std::string big(max_ota_chunk_bytes + 1, 'z');
    const tern_bytes big_bytes{reinterpret_cast<const std::uint8_t*>(big.data()), big.size()};
    CHECK(enc.encode(ota_chunk_reply{TERN_OK, {}, big.size(), big_bytes}, wire).error == wire_error::too_many);
    CHECK(wire.empty());
    CHECK(enc.encode(ota_chunk_reply{TERN_OK, {}, 5, tern_bytes{nullptr, 5}}, wire).error ==
          wire_error::bad_value);

    // The same from a peer that did not check: length (field 5) = max + 1; data (field 4) of
    // max + 1 bytes.
    std::string req;
    REQUIRE(enc.encode(ota_chunk_request{1, TERN_OTA_FIRMWARE, 2, 0, max_ota_chunk_bytes}, req));
    req.back() = static_cast<char>(req.back() + 1);  // the varint's last byte: 512 KiB -> 528 KiB
    ota_chunk_request got_req;
    CHECK(dec.decode(bytes(req), got_req).error == wire_error::too_many);
    CHECK(got_req.length == 0);
    CHECK(got_req.device_id == 0);
    std::string reply = from_hex("22");
    std::uint32_t n = max_ota_chunk_bytes + 1;
    while (n >= 0x80) {
        reply += static_cast<char>(0x80 | (n & 0x7f));
        n >>= 7;
    }
    reply += static_cast<char>(n);
    reply += big;
    ota_chunk_reply got_reply;
    CHECK(dec.decode(bytes(reply), got_reply).error == wire_error::too_many);
    CHECK(got_reply.data.size == 0);
    CHECK(got_reply.data.data == nullptr);
}
