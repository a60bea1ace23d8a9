// The RFC 4648 §10 test vectors both ways, the decoder's refusals, its size bound, and
// round trips of every length of a random buffer.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "tern/base64/base64.hpp"

using namespace tern;

namespace {

std::span<const uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string decoded(std::string_view text) {
    std::vector<uint8_t> out;
    REQUIRE(base64::decode(text, out));
    return std::string(out.begin(), out.end());
}

bool refused(std::string_view text) {
    std::vector<uint8_t> out;
    return !base64::decode(text, out);
}

}  // namespace

TEST_CASE("the RFC 4648 test vectors encode and decode", "[base64]") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, text] : vectors) {
        CHECK(base64::encode(bytes(plain)) == text);
        CHECK(base64::encoded_size(std::string_view(plain).size()) == std::string_view(text).size());
        CHECK(decoded(text) == plain);
    }
}

TEST_CASE("append writes after what the buffer holds", "[base64]") {
    std::string out = "\"";
    base64::append(out, bytes("fooba"));
    out.push_back('"');
    CHECK(out == "\"Zm9vYmE=\"");
    base64::append(out, {});
    CHECK(out == "\"Zm9vYmE=\"");
}

TEST_CASE("the whole alphabet, high bytes included", "[base64]") {
    const uint8_t all[] = {0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b, 0x30, 0xd3, 0x8f,
                           0x41, 0x14, 0x93, 0x51, 0x55, 0x97, 0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f,
                           0x82, 0x18, 0xa3, 0x92, 0x59, 0xa7, 0xa2, 0x9a, 0xab, 0xb2, 0xdb, 0xaf,
                           0xc3, 0x1c, 0xb3, 0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf};
    const std::string text = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    CHECK(base64::encode(all) == text);
    std::vector<uint8_t> out;
    REQUIRE(base64::decode(text, out));
    CHECK(std::equal(out.begin(), out.end(), std::begin(all), std::end(all)));
}

TEST_CASE("decoding skips the whitespace of PEM bodies", "[base64]") {
    CHECK(decoded("Zm9v\nYmFy\r\n") == "foobar");
    CHECK(decoded(" Zm 9v\tYg = = ") == "foob");
}

TEST_CASE("decoding refuses what is not padded Base64", "[base64]") {
    CHECK(refused("Zm9"));        // not a multiple of four
    CHECK(refused("Zg="));        // padding short
    CHECK(refused("Z==="));       // three '='
    CHECK(refused("Zg==Zg=="));   // data after padding
    CHECK(refused("Zm9v-_8="));   // the URL-safe alphabet is another encoding
    CHECK(refused("Zm9v\x01YmFy"));
    CHECK(refused(std::string_view("Zm9vYmFy\0", 9)));
}

TEST_CASE("decoding stops at max_size", "[base64]") {
    std::vector<uint8_t> out;
    CHECK(base64::decode("Zm9vYmFy", out, 6));
    CHECK(out.size() == 6);
    CHECK_FALSE(base64::decode("Zm9vYmFy", out, 5));
    CHECK(out.size() <= 5);
}

TEST_CASE("every length round-trips", "[base64]") {
    std::mt19937 rng(7);
    std::vector<uint8_t> data(300);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    std::vector<uint8_t> back;
    for (std::size_t n = 0; n <= data.size(); ++n) {
        const std::span<const uint8_t> part(data.data(), n);
        const std::string text = base64::encode(part);
        REQUIRE(text.size() == base64::encoded_size(n));
        REQUIRE(base64::decode(text, back));
        REQUIRE(std::equal(back.begin(), back.end(), part.begin(), part.end()));
    }
}
