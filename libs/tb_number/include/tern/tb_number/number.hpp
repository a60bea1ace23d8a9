// Numbers the way ThingsBoard types them (docs/device-api.md §2.2): the literal text is read
// as a java.math.BigDecimal (sign, unscaled digits, scale) and classified from that, so 42
// and 42.0 differ, 1e3 is an integer and 0.1 stays exact until it becomes a double. Shared
// by the payload adaptors (JSON reads the literal a device sent; protobuf prints a field the
// way Java does and reads that), so both type the same number the same way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tern::tb {

// A decimal as written: value = (-1)^negative × int_digits.frac_digits × 10^exponent.
struct decimal {
    bool negative = false;
    std::string_view int_digits;  // may be empty (".5") or have leading zeros ("007")
    std::string_view frac_digits;
    int64_t exponent = 0;
    // isSimpleDouble: the text has a '.' and no exponent ("4.20", not "4.2e1")
    bool simple_double = false;
    // the whole text, which std::from_chars reads as written (both grammars are within its)
    std::string_view text;
};

// A JSON number literal (grammar already checked by the parser). False when the exponent or
// the scale leaves Java's int range, where BigDecimal throws.
bool split_number(std::string_view literal, decimal& out) noexcept;

// commons-lang3 NumberUtils.isParsable: an optional '-', ASCII digits with at most one '.',
// not ending in '.'; no '+', exponent, hex or spaces. Fills out when it is.
bool split_parsable(std::string_view text, decimal& out) noexcept;

enum class number_class {
    integer,     // fits a long: value in as_integer
    floating,    // a double: value in as_double
    text,        // kept as a string (type casting on): BigDecimal.toPlainString() in plain
    unsupported, // too big for a long, or more than 16 decimals, with type casting off
    too_long,    // its plain text would exceed max_plain_text_zeros of padding
    text_too_long // kept as a string, its plain text would be longer than max_text
};

// Most zeros toPlainString may add ("1e10000" is 10001 characters): a bound on what a few
// bytes of input can make us allocate. ThingsBoard has none.
inline constexpr int64_t max_plain_text_zeros = 10000;

// ThingsBoard's buildNumericKeyValueProto:
//   stripped scale <= 0 and not a simple double → long (out of range: text if type_cast,
//   else unsupported); otherwise scale <= 16 → double, else text / unsupported.
// A double that overflows (300+ digit integer part written with a '.') is treated like a
// long out of range instead of becoming Infinity.
// max_text bounds the plain text of a number kept as a string: a longer one is
// text_too_long, and nothing of it is built.
number_class classify(const decimal& d, bool type_cast, int64_t& as_integer, double& as_double,
                      std::string& plain, int64_t max_text = INT64_MAX);

// Characters BigDecimal.toPlainString() gives for d (computed, not built): for messages.
int64_t plain_text_length(const decimal& d) noexcept;

// BigDecimal.longValue(): the fraction truncated, then the low 64 bits of the integer (Java's
// narrowing conversion, so 2^64 + 5 gives 5). Gson's getAsLong on a number.
int64_t java_long_value(const decimal& d) noexcept;

// Long.parseLong: an optional sign and ASCII digits, in range. Gson's getAsLong on a string.
bool parse_java_long(std::string_view text, int64_t& out) noexcept;

// Double.toString as ThingsBoard's Java 17 prints it (FloatingDecimal): "42.0" for 10^-3 <=
// |d| < 10^7, else "4.2E-5"; NaN, Infinity, -0.0. Its digits are mostly the shortest that read
// back as d, but an integer below 2^63 is written from its exact value (8.3812872162815002E17),
// a decimal exactly halfway to a neighbour is passed over (2e23 is 1.9999999999999998E23), and
// its 64-bit last-digit rounding overflows near 2^63 (3.5537613324776884E25). Java 19+ prints
// the shortest digits throughout.
void append_java_double(std::string& out, double d);

// True when the JSON path stores d itself: for 1 <= |d| < 10^7 Double.toString writes plain
// notation with a '.', at most 16 decimals, digits that read back as d, so classify() gives
// the double d. A shortcut for callers holding a double (the protobuf walk); anything else
// goes the long way through append_java_double, split_number and classify.
constexpr bool java_double_stays_double(double d) noexcept {
    const double a = d < 0 ? -d : d;
    return a >= 1.0 && a < 1e7;
}

// Float.toString, the same rules over the float's own digits: 0.1f is "0.1" (not the double's
// 0.10000000149011612), 87525504f "8.7525504E7", 1e10f "1.0E10".
void append_java_float(std::string& out, float f);

}  // namespace tern::tb
