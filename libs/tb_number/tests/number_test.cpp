// The number primitives ThingsBoard's typing is built from: Java's Double.toString and
// Float.toString, BigDecimal.longValue and Long.parseLong, and the BigDecimal classification
// of a literal (the json plugin's tests type whole documents with them).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "tern/tb_number/json_text.hpp"
#include "tern/tb_number/number.hpp"

using namespace tern::tb;

TEST_CASE("Double.toString as ThingsBoard's Java 17 prints it", "[number]") {
    auto java = [](double d) {
        std::string s;
        append_java_double(s, d);
        return s;
    };
    CHECK(java(42.0) == "42.0");
    CHECK(java(-42.5) == "-42.5");
    CHECK(java(0.1) == "0.1");
    CHECK(java(100.0) == "100.0");
    CHECK(java(0.001) == "0.001");
    CHECK(java(0.0001) == "1.0E-4");
    CHECK(java(0.00012) == "1.2E-4");
    CHECK(java(1234567.0) == "1234567.0");
    CHECK(java(9999999.0) == "9999999.0");
    CHECK(java(1e7) == "1.0E7");
    CHECK(java(12345678.9) == "1.23456789E7");
    CHECK(java(1.0 / 3) == "0.3333333333333333");
    // A decimal exactly halfway between two doubles is not taken (Java 19+ prints 2.0E23 and
    // 1.0E23), but for one above the double when the digits are worked out in big integers.
    CHECK(java(2e23) == "1.9999999999999998E23");
    CHECK(java(1e23) == "9.999999999999999E22");
    CHECK(java(4.73e21) == "4.729999999999999E21");
    CHECK(java(1.024e26) == "1.024E26");
    CHECK(java(35537613324776884.0e9) == "3.5537613324776884E25");  // 64-bit rounding overflows: not ...885
    CHECK(java(1.7976931348623157e308) == "1.7976931348623157E308");
    CHECK(java(5e-324) == "4.9E-324");  // two digits when they are closer than one
    CHECK(java(838128721628150016.0) == "8.3812872162815002E17");  // Java 17: exact integer digits
    CHECK(java(9007199254740993e3) == "9.007199254740993E18");
    CHECK(java(0.0) == "0.0");
    CHECK(java(-0.0) == "-0.0");
    CHECK(java(std::numeric_limits<double>::quiet_NaN()) == "NaN");
    CHECK(java(std::numeric_limits<double>::infinity()) == "Infinity");
    CHECK(java(-std::numeric_limits<double>::infinity()) == "-Infinity");
}

TEST_CASE("getAsLong of a number is BigDecimal.longValue()", "[number]") {
    auto long_of = [](const char* literal) {
        decimal d;
        REQUIRE(split_number(literal, d));
        return java_long_value(d);
    };
    CHECK(long_of("1451649600512") == 1451649600512);
    CHECK(long_of("1.5e12") == 1500000000000);
    CHECK(long_of("1451649600512.9") == 1451649600512);
    CHECK(long_of("-1.9") == -1);
    CHECK(long_of("1e-5") == 0);
    CHECK(long_of("18446744073709551621") == 5);  // 2^64 + 5: the low 64 bits
    CHECK(long_of("9223372036854775808") == std::numeric_limits<int64_t>::min());
    CHECK(long_of("1e100") == 0);  // 10^100 is a multiple of 2^64

    int64_t v = 0;
    CHECK((parse_java_long("+5", v) && v == 5));
    CHECK((parse_java_long("-9223372036854775808", v) && v == std::numeric_limits<int64_t>::min()));
    CHECK_FALSE(parse_java_long("9223372036854775808", v));
    CHECK_FALSE(parse_java_long("1e3", v));
    CHECK_FALSE(parse_java_long(" 5", v));
    CHECK_FALSE(parse_java_long("", v));
    CHECK_FALSE(parse_java_long("-", v));
}

TEST_CASE("Float.toString as Java 17 prints it: the float's own digits", "[number]") {
    auto java = [](float f) {
        std::string s;
        append_java_float(s, f);
        return s;
    };
    CHECK(java(0.1f) == "0.1");  // not the double 0.10000000149011612
    CHECK(java(0.3f) == "0.3");
    CHECK(java(1.1f) == "1.1");
    CHECK(java(21.5f) == "21.5");
    CHECK(java(-42.25f) == "-42.25");
    CHECK(java(100.0f) == "100.0");
    CHECK(java(0.001f) == "0.001");
    CHECK(java(1e-4f) == "1.0E-4");
    CHECK(java(1234567.0f) == "1234567.0");
    CHECK(java(1e7f) == "1.0E7");
    CHECK(java(16777216.0f) == "1.6777216E7");
    CHECK(java(1e10f) == "1.0E10");
    CHECK(java(std::numeric_limits<float>::max()) == "3.4028235E38");
    CHECK(java(std::numeric_limits<float>::denorm_min()) == "1.4E-45");  // two digits are closer
    CHECK(java(7 * std::numeric_limits<float>::denorm_min()) == "9.8E-45");  // though one digit is 1.0E-44
    // Integer values below 2^63: Java 17's exact digits, not the shortest (8.75255E7, 5.722094E8)
    CHECK(java(87525504.0f) == "8.7525504E7");
    CHECK(java(572209408.0f) == "5.7220941E8");  // one digit below the float's precision, rounded
    CHECK(java(209038498235367424.0f) == "2.09038498E17");
    CHECK(java(-17060141744128.0f) == "-1.70601417E13");
    CHECK(java(-5.3683995e25f) == "-5.3683995E25");  // the overflowing rounding again
    CHECK(java(0.0f) == "0.0");
    CHECK(java(-0.0f) == "-0.0");
    CHECK(java(std::numeric_limits<float>::quiet_NaN()) == "NaN");
    CHECK(java(std::numeric_limits<float>::infinity()) == "Infinity");
    CHECK(java(-std::numeric_limits<float>::infinity()) == "-Infinity");
}

TEST_CASE("a literal is classified as BigDecimal reads it", "[number]") {
    auto kind = [](const char* literal, bool cast, std::string& plain) {
        decimal d;
        REQUIRE(split_number(literal, d));
        int64_t i = 0;
        double f = 0;
        switch (classify(d, cast, i, f, plain, 64)) {
            case number_class::integer: return "int:" + std::to_string(i);
            case number_class::floating: {
                std::string s = "double:";
                append_java_double(s, f);
                return s;
            }
            case number_class::text: return "text:" + plain;
            case number_class::unsupported: return std::string("unsupported");
            case number_class::too_long: return std::string("too_long");
            case number_class::text_too_long: return std::string("text_too_long");
        }
        return std::string();
    };
    std::string plain;
    CHECK(kind("22.0", true, plain) == "double:22.0");
    CHECK(kind("1.0E7", true, plain) == "int:10000000");
    CHECK(kind("1.0E-5", true, plain) == "double:1.0E-5");
    CHECK(kind("1.0E20", true, plain) == "text:100000000000000000000");
    CHECK(kind("1.0E20", false, plain) == "unsupported");
    CHECK(kind("1.7976931348623157E308", true, plain) == "text_too_long");

    decimal d;
    CHECK(split_parsable("18446744073709551615", d));
    CHECK_FALSE(split_parsable("1.0E7", d));
    CHECK_FALSE(split_parsable("NaN", d));
}

TEST_CASE("JSON strings are escaped as Gson's JsonWriter escapes them", "[number]") {
    std::string s;
    append_json_string(s, "a\"b\\c\n\t\x01<=>\xE2\x80\xA8\xC3\xA9");
    CHECK(s == "\"a\\\"b\\\\c\\n\\t\\u0001<=>\\u2028\xC3\xA9\"");
}

TEST_CASE("a double between 1 and 10^7 is stored as itself, as the long way through its text says",
          "[number]") {
    // java_double_stays_double lets the protobuf walk skip printing and re-reading such a
    // double; this holds the shortcut to the long way over a seeded sample of the range.
    std::mt19937_64 rng(11);
    int checked = 0;
    for (int k = 0; k < 200000; ++k) {
        const double unit = std::ldexp(static_cast<double>(rng() >> 11), -53);  // [0, 1)
        const double d = (k % 2 ? -1 : 1) * (1.0 + unit * 9.0) * std::pow(10.0, static_cast<double>(k % 7));
        if (!java_double_stays_double(d)) continue;
        std::string text;
        append_java_double(text, d);
        decimal dec;
        REQUIRE(split_number(text, dec));
        int64_t i = 0;
        double back = 0;
        std::string plain;
        REQUIRE(classify(dec, true, i, back, plain) == number_class::floating);
        REQUIRE(std::memcmp(&back, &d, sizeof d) == 0);
        ++checked;
    }
    CHECK(checked > 150000);
    CHECK(java_double_stays_double(1.0));
    CHECK(java_double_stays_double(-9999999.999999998));
    CHECK_FALSE(java_double_stays_double(0.5));
    CHECK_FALSE(java_double_stays_double(1e7));
    CHECK_FALSE(java_double_stays_double(std::nan("")));
}
