// The bounds on what a small message may expand to: a number's plain text
// (max_number_text_length, and max_string_value_length when set) and the bytes one message's
// keys and values decode to (max_decoded_size). Refusals name the key or the limit, and the
// sink is never called, so nothing of a refused message is stored.
#include <catch2/catch.hpp>

#include <string>

#include "support.hpp"

using namespace tern::json;
using namespace tern::json::test;

namespace {

// {"k0":<value>,"k1":<value>,...} of about `size` bytes
std::string repeated_members(std::string_view value, std::size_t size) {
    std::string body = "{";
    for (int i = 0; body.size() < size; ++i) {
        if (i != 0) body.push_back(',');
        body += "\"k" + std::to_string(i) + "\":" + std::string(value);
    }
    body.push_back('}');
    return body;
}

}  // namespace

TEST_CASE("limits: a number's plain text is bounded by default (64 characters)", "[limits]") {
    adaptor a(options{});
    // the review's attack, one value: 6 bytes that would become 10 000 digits
    const auto r = telemetry(a, R"({"ok":1,"k1":1e9999})");
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.sink_calls == 0);
    CHECK(r.error == "value of 'k1' (1e9999) would be stored as a string of 10000 characters, more than "
                     "max_number_text_length 64");
    // what fits stays ThingsBoard's typing
    CHECK(typed(a, "1e63") == "string:1" + std::string(63, '0'));                      // 64 characters
    CHECK(typed(a, "-1e62") == "string:-1" + std::string(62, '0'));                    // 64 with the sign
    CHECK(typed(a, "1e-62") == "string:0." + std::string(61, '0') + "1");              // 64
    CHECK(typed(a, "12345678901234567890") == "string:12345678901234567890");          // beyond a long
    CHECK(typed(a, "0.12345678901234567") == "string:0.12345678901234567");            // 17 decimals
    CHECK(typed(a, "0.00000000000000000000") == "string:0.00000000000000000000");      // zero, 22
    // one character more is refused, for every shape of plain text
    for (const std::string v : {"1e64", "-1e63", "1e-63", "1.5e64", "-1.5e-61"}) {
        INFO(v);
        CHECK(typed(a, v).rfind("error: value of 'v' (" + v + ") would be stored as a string of 65 ", 0) == 0);
    }
    CHECK(typed(a, "0e-63") == "int:0");  // a zero with an exponent is the integer 0
    CHECK(typed(a, "0." + std::string(63, '0')).rfind("error: value of 'v' (0.0000", 0) == 0);
    // numbers that are longs or doubles have no text to bound
    CHECK(typed(a, "1e18") == "int:1000000000000000000");
    CHECK(typed(a, "1e300") .rfind("error: ", 0) == 0);
    CHECK(typed(a, "1.5e300") .rfind("error: ", 0) == 0);
    CHECK(typed(a, "123456789012345678901234567890.5") == "double:1.2345678901234568E29");
}

TEST_CASE("limits: max_number_text_length is a setting, 0 leaves only the padding-zeros bound", "[limits]") {
    options o;
    o.max_number_text_length = 20;
    adaptor a(o);
    CHECK(typed(a, "12345678901234567890") == "string:12345678901234567890");
    CHECK(typed(a, "-12345678901234567890").rfind("error: value of 'v' (-12345678901234567890) would be stored as a "
                                                 "string of 21 characters, more than max_number_text_length 20", 0) == 0);
    o.max_number_text_length = 0;
    adaptor wide(o);
    CHECK(typed(wide, "1e9999") == "string:1" + std::string(9999, '0'));
    CHECK(typed(wide, "1e20000").rfind("error: value of 'v' is out of range: its exponent is too large", 0) == 0);
}

TEST_CASE("limits: max_string_value_length bounds a number's text too", "[limits]") {
    options o;
    o.max_string_value_length = 25;
    adaptor a(o);
    CHECK(typed(a, "12345678901234567890") == "string:12345678901234567890");
    CHECK(typed(a, "1e25") == "error: value of 'v' (1e25) would be stored as a string of 26 characters, more than "
                              "max_string_value_length 25");
    // the smaller of the two limits is the one named
    o.max_string_value_length = 100;
    o.max_number_text_length = 30;
    adaptor b(o);
    CHECK(typed(b, "1e40") == "error: value of 'v' (1e40) would be stored as a string of 41 characters, more than "
                              "max_number_text_length 30");
    o.max_number_text_length = 0;
    adaptor c(o);
    CHECK(typed(c, "1e100") == "error: value of 'v' (1e100) would be stored as a string of 101 characters, more "
                               "than max_string_value_length 100");
    // a numeric string is bounded by its own length, as sent (and cast as before)
    CHECK(typed(c, "\"" + std::string(90, '9') + "\"") == "string:" + std::string(90, '9'));
}

TEST_CASE("limits: without type casting an out-of-range number is refused as before", "[limits]") {
    options o;
    o.type_cast_enabled = false;
    adaptor a(o);
    CHECK(typed(a, "1e9999").rfind("error: value of 'v' is out of range (1e9999): integers beyond 64 bits", 0) == 0);
}

TEST_CASE("limits: the review's 64 KiB of 1e9999 is refused, nothing reaches the sink", "[limits]") {
    adaptor a(options{});
    const std::string body = repeated_members("1e9999", 64 * 1024);
    const auto r = telemetry(a, body);
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.sink_calls == 0);
    CHECK(r.error.rfind("value of 'k0' (1e9999) would be stored as a string of 10000 characters", 0) == 0);
    const auto attrs = attributes(a, body);
    CHECK(attrs.status == TERN_INVALID_ARGUMENT);
    CHECK(attrs.sink_calls == 0);
}

TEST_CASE("limits: a message decodes to at most max_decoded_size bytes", "[limits]") {
    options o;
    o.max_decoded_size = 4096;
    adaptor a(o);
    // numbers within the text limit, but many: 64 characters each
    const std::string numbers = repeated_members("1e63", 1024);
    auto r = telemetry(a, numbers);
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.sink_calls == 0);
    CHECK(r.error == "the message's keys and values decode to more than max_decoded_size (4096 bytes); nothing of it "
                     "was stored");
    CHECK(attributes(a, numbers).status == TERN_INVALID_ARGUMENT);
    // lenient JSON values grow when re-serialised: [,,,] is [null,null,null,null]
    const std::string nulls = "{\"j\":[" + std::string(1500, ',') + "]}";
    r = telemetry(a, nulls);
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.error.rfind("the message's keys and values decode to more than max_decoded_size", 0) == 0);
    // records of an array count together
    std::string records = "[";
    for (int i = 0; i < 40; ++i) records += std::string(i ? "," : "") + R"({"ts":1,"values":{"s":")" + std::string(100, 'x') + "\"}}";
    records += "]";
    CHECK(telemetry(a, records).status == TERN_INVALID_ARGUMENT);
    // below the budget: accepted as before
    const auto ok = telemetry(a, repeated_members("1e63", 300));
    CHECK(ok.ok());
    CHECK(ok.sink_calls == 1);
    // RPC bodies are bounded by what they re-serialise to
    CHECK(rpc_reply(a, nulls).status == TERN_INVALID_ARGUMENT);
    CHECK(rpc_call(a, "{\"method\":\"m\",\"params\":[" + std::string(1500, ',') + "]}").status == TERN_INVALID_ARGUMENT);
    CHECK(rpc_reply(a, R"({"result":"ok"})").ok());
    // 0: no budget
    o.max_decoded_size = 0;
    adaptor unlimited(o);
    CHECK(telemetry(unlimited, numbers).ok());
}

TEST_CASE("limits: the default budget (256 KiB) admits 64 KiB of ordinary values, not of long numbers", "[limits]") {
    adaptor a(options{});
    CHECK(telemetry(a, repeated_members("123456", 64 * 1024)).ok());
    CHECK(telemetry(a, repeated_members("1.5", 64 * 1024)).ok());
    CHECK(telemetry(a, repeated_members("\"on\"", 64 * 1024)).ok());
    CHECK(telemetry(a, "{\"s\":\"" + std::string(64 * 1024, 'x') + "\"}").ok());
    CHECK(telemetry(a, "{\"j\":[" + std::string(64 * 1024 / 2, '1') + "]}").ok());
    // 64 KiB of 64-character numbers would be about 450 KB
    const auto r = telemetry(a, repeated_members("1e63", 64 * 1024));
    CHECK(r.status == TERN_INVALID_ARGUMENT);
    CHECK(r.error == "the message's keys and values decode to more than max_decoded_size (262144 bytes); nothing of "
                     "it was stored");
}
