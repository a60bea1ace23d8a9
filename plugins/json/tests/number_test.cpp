// Value typing (docs/device-api.md §2.2), one row per input: what a telemetry or attribute value becomes
// with type casting on (the default) and off. "" means the value is dropped.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "support.hpp"

using namespace tern::json;
using namespace tern::json::test;

namespace {

struct row {
    const char* value;    // JSON value text, as it appears in {"v":<value>}
    const char* cast_on;  // describe() of the result, "" if dropped, "error" if refused
    const char* cast_off;
};

std::string zeros(std::size_t n) { return std::string(n, '0'); }

void check(const row& r) {
    for (const bool cast : {true, false}) {
        options o;
        o.type_cast_enabled = cast;
        adaptor a(o);
        const std::string got = typed(a, r.value);
        const std::string want = cast ? r.cast_on : r.cast_off;
        INFO("value " << r.value << ", type_cast_enabled=" << cast);
        if (want == "error") {
            CHECK(got.rfind("error: ", 0) == 0);
        } else {
            CHECK(got == want);
        }
    }
}

}  // namespace

TEST_CASE("numbers are typed from their literal text as BigDecimal", "[typing]") {
    const row rows[] = {
        // the device contract's examples
        {"42", "int:42", "int:42"},
        {"42.0", "double:42.0", "double:42.0"},
        {"1e3", "int:1000", "int:1000"},
        {"1.5e3", "int:1500", "int:1500"},
        {"0.1", "double:0.1", "double:0.1"},
        {"12345678901234567890", "string:12345678901234567890", "error"},
        // exponents: integral after stripping zeros and not a simple decimal → long
        {"1E3", "int:1000", "int:1000"},
        {"1e+3", "int:1000", "int:1000"},
        {"4.2e1", "int:42", "int:42"},
        {"1.0e3", "int:1000", "int:1000"},
        {"1000e-3", "int:1", "int:1"},
        {"1.55e1", "double:15.5", "double:15.5"},
        {"1.5e-3", "double:0.0015", "double:0.0015"},
        {"123.456e1", "double:1234.56", "double:1234.56"},
        {"1e-16", "double:1.0E-16", "double:1.0E-16"},
        // a '.' without exponent is always a double, trailing zeros or not
        {"4.20", "double:4.2", "double:4.2"},
        {"10.0", "double:10.0", "double:10.0"},
        {"-1.5", "double:-1.5", "double:-1.5"},
        // zeros: BigDecimal has no negative zero
        {"0", "int:0", "int:0"},
        {"-0", "int:0", "int:0"},
        {"0.0", "double:0.0", "double:0.0"},
        {"-0.0", "double:0.0", "double:0.0"},
        {"0e5", "int:0", "int:0"},
        {"-0e-5", "int:0", "int:0"},
        // the long range
        {"9223372036854775807", "int:9223372036854775807", "int:9223372036854775807"},
        {"-9223372036854775808", "int:-9223372036854775808", "int:-9223372036854775808"},
        {"9223372036854775808", "string:9223372036854775808", "error"},
        {"-9223372036854775809", "string:-9223372036854775809", "error"},
        {"1e18", "int:1000000000000000000", "int:1000000000000000000"},
        {"1e19", "string:10000000000000000000", "error"},
        {"-1.5e19", "string:-15000000000000000000", "error"},
        {"1.2345678901234567890e19", "string:12345678901234567890", "error"},
        // decimal scale: at most 16 decimals make a double, more are kept as text
        {"0.1234567890123456", "double:0.1234567890123456", "double:0.1234567890123456"},
        {"0.12345678901234567", "string:0.12345678901234567", "error"},
        {"1.0000000000000000", "double:1.0", "double:1.0"},
        {"1.00000000000000000", "string:1.00000000000000000", "error"},
        {"1e-17", "string:0.00000000000000001", "error"},
        {"0.00000000000000000000", "string:0.00000000000000000000", "error"},
        // a double's integer part may be large: only the scale counts
        {"123456789012345678901234567890.5", "double:1.2345678901234568E29", "double:1.2345678901234568E29"},
        // huge exponents are bounded rather than materialised without limit
        {"1e20000", "error", "error"},
        {"1e-20000", "error", "error"},
        {"1e2147483648", "error", "error"},
        // not numbers
        {"true", "bool:true", "bool:true"},
        {"false", "bool:false", "bool:false"},
        {"null", "", ""},
        {R"({"a":1})", R"(json:{"a":1})", R"(json:{"a":1})"},
        {"[1, 2.50, \"x\", null]", R"(json:[1,2.50,"x",null])", R"(json:[1,2.50,"x",null])"},
        {"[]", "json:[]", "json:[]"},
        {"{}", "json:{}", "json:{}"},
    };
    for (const row& r : rows) check(r);
}

TEST_CASE("huge integers are kept as their plain digits", "[typing]") {
    options wide;
    wide.max_number_text_length = 0;  // ThingsBoard's length: only the padding-zeros bound
    adaptor a(wide);
    CHECK(typed(a, "1e400") == "string:1" + zeros(400));
    CHECK(typed(a, "1.5e400") == "string:15" + zeros(399));
    CHECK(typed(a, "1e-400") == "string:0." + zeros(399) + "1");
    CHECK(typed(a, "1.7976931348623157e308") == "string:17976931348623157" + zeros(292));
    // a '.' keeps it a double candidate, which overflows: kept as text, not Infinity
    const std::string big = "1" + zeros(400) + ".5";
    CHECK(typed(a, big) == "string:" + big);
    options off;
    off.type_cast_enabled = false;
    adaptor strict(off);
    CHECK(typed(strict, "1e400").rfind("error: value of 'v' is out of range", 0) == 0);
    CHECK(typed(strict, big).rfind("error: ", 0) == 0);
}

TEST_CASE("numeric strings are cast when they are plain decimals", "[typing]") {
    const row rows[] = {
        {R"("42")", "int:42", "string:42"},
        {R"("-1.5")", "double:-1.5", "string:-1.5"},
        {R"("4.20")", "double:4.2", "string:4.20"},
        {R"("007")", "int:7", "string:007"},
        {R"("-007.50")", "double:-7.5", "string:-007.50"},
        {R"("-0")", "int:0", "string:-0"},
        {R"(".5")", "double:0.5", "string:.5"},
        {R"("-.5")", "double:-0.5", "string:-.5"},
        {R"("12345678901234567890")", "string:12345678901234567890", "string:12345678901234567890"},
        // toPlainString of the BigDecimal: leading zeros go
        {R"("0012345678901234567890")", "string:12345678901234567890", "string:0012345678901234567890"},
        {R"("1.50000000000000000000")", "string:1.50000000000000000000", "string:1.50000000000000000000"},
        // NumberUtils.isParsable says no: stays a string
        {R"("+1")", "string:+1", "string:+1"},
        {R"(" 42")", "string: 42", "string: 42"},
        {R"("42 ")", "string:42 ", "string:42 "},
        {R"("1e3")", "string:1e3", "string:1e3"},
        {R"("1E3")", "string:1E3", "string:1E3"},
        {R"("0x1F")", "string:0x1F", "string:0x1F"},
        {R"("5.")", "string:5.", "string:5."},
        {R"(".")", "string:.", "string:."},
        {R"("-")", "string:-", "string:-"},
        {R"("1.2.3")", "string:1.2.3", "string:1.2.3"},
        {R"("--1")", "string:--1", "string:--1"},
        {R"("NaN")", "string:NaN", "string:NaN"},
        {R"("Infinity")", "string:Infinity", "string:Infinity"},
        {R"("")", "string:", "string:"},
        {R"("true")", "string:true", "string:true"},
        // only ASCII digits (Java would also take other Unicode digits)
        {"\"\xD9\xA4\xD9\xA2\"", "string:\xD9\xA4\xD9\xA2", "string:\xD9\xA4\xD9\xA2"},
    };
    for (const row& r : rows) check(r);
}

TEST_CASE("lenient literals are typed like Gson reads them", "[typing][lenient]") {
    const row rows[] = {
        // not JSON numbers: unquoted strings, then cast like any string
        {"007", "int:7", "string:007"},
        {"+1", "string:+1", "string:+1"},
        {"0x1F", "string:0x1F", "string:0x1F"},
        {"1.5f", "string:1.5f", "string:1.5f"},
        {"NaN", "string:NaN", "string:NaN"},
        {"-Infinity", "string:-Infinity", "string:-Infinity"},
        {"auto", "string:auto", "string:auto"},
        // keywords in any case; longer words are strings
        {"TRUE", "bool:true", "bool:true"},
        {"fAlSe", "bool:false", "bool:false"},
        {"NULL", "", ""},
        {"truex", "string:truex", "string:truex"},
        {"'single'", "string:single", "string:single"},
        {"'42'", "int:42", "string:42"},
    };
    for (const row& r : rows) check(r);
}

TEST_CASE("max_string_value_length counts Java characters", "[typing]") {
    options o;
    o.max_string_value_length = 5;
    adaptor a(o);
    CHECK(typed(a, R"("hello")") == "string:hello");
    CHECK(typed(a, "\"h\xC3\xA9llo\"") == "string:h\xC3\xA9llo");  // 5 characters, 6 bytes
    CHECK(typed(a, R"("hello!")") == "error: value of 'v' is 6 characters long, more than max_string_value_length 5");
    // each character beyond the BMP is two UTF-16 units
    CHECK(typed(a, "\"\xF0\x9F\x98\x80\xF0\x9F\x98\x80\"") == "string:\xF0\x9F\x98\x80\xF0\x9F\x98\x80");
    CHECK(typed(a, "\"\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\"").rfind("error: ", 0) == 0);
    // checked before casting, and only on strings
    CHECK(typed(a, R"("123456")").rfind("error: ", 0) == 0);
    CHECK(typed(a, "1234567") == "int:1234567");
    CHECK(typed(a, R"({"long":"string value"})") == R"(json:{"long":"string value"})");
    CHECK(typed(a, "unquoted").rfind("error: ", 0) == 0);
}
