#include "tern/tb_number/number.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace tern::tb {

namespace {

constexpr int64_t int_max = std::numeric_limits<int32_t>::max();

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// The unscaled value of a decimal: its digits (integer then fraction) without leading zeros.
class unscaled {
public:
    explicit unscaled(const decimal& d) noexcept : a_(d.int_digits), b_(d.frac_digits) {
        const std::size_t total = a_.size() + b_.size();
        while (lead_ < total && at_raw(lead_) == '0') ++lead_;
        size_ = total - lead_;
        while (trailing_zeros_ < size_ && (*this)[size_ - 1 - trailing_zeros_] == '0') ++trailing_zeros_;
    }
    std::size_t size() const noexcept { return size_; }
    bool zero() const noexcept { return size_ == 0; }
    std::size_t trailing_zeros() const noexcept { return trailing_zeros_; }
    char operator[](std::size_t i) const noexcept { return at_raw(lead_ + i); }
    void append(std::string& out, std::size_t from, std::size_t to) const {
        for (std::size_t i = from; i < to; ++i) out.push_back((*this)[i]);
    }

private:
    char at_raw(std::size_t i) const noexcept { return i < a_.size() ? a_[i] : b_[i - a_.size()]; }

    std::string_view a_, b_;
    std::size_t lead_ = 0;
    std::size_t size_ = 0;
    std::size_t trailing_zeros_ = 0;
};

int64_t scale_of(const decimal& d) noexcept {
    return static_cast<int64_t>(d.frac_digits.size()) - d.exponent;
}

// Characters of BigDecimal.toPlainString() of unscaled u with scale s (nothing is built).
int64_t plain_length(const decimal& d, const unscaled& u, int64_t scale) noexcept {
    const auto n = static_cast<int64_t>(u.size());
    if (u.zero()) return scale <= 0 ? 1 : 2 + scale;  // "0", "0.000"
    const int64_t sign = d.negative ? 1 : 0;
    if (scale <= 0) return sign + n - scale;  // digits, then -scale zeros
    if (n > scale) return sign + n + 1;       // digits with a '.' inside
    return sign + 2 + scale;                  // "0." then zeros and the digits
}

// BigDecimal.toPlainString() of unscaled u with scale s, unless it is longer than max_text.
number_class plain_text(const decimal& d, const unscaled& u, int64_t scale, std::string& out,
                        int64_t max_text) {
    out.clear();
    const auto n = static_cast<int64_t>(u.size());
    if (u.zero()) {
        if (scale <= 0) {
            out = "0";
            return number_class::text;
        }
        if (scale - 1 > max_plain_text_zeros) return number_class::too_long;
        if (plain_length(d, u, scale) > max_text) return number_class::text_too_long;
        out = "0.";
        out.append(static_cast<std::size_t>(scale - 1), '0');
        out.push_back('0');
        return number_class::text;
    }
    if (scale < 0 && -scale > max_plain_text_zeros) return number_class::too_long;
    if (scale > 0 && scale - n > max_plain_text_zeros) return number_class::too_long;
    if (plain_length(d, u, scale) > max_text) return number_class::text_too_long;
    if (d.negative) out.push_back('-');
    if (scale <= 0) {
        u.append(out, 0, u.size());
        out.append(static_cast<std::size_t>(-scale), '0');
    } else if (n > scale) {
        u.append(out, 0, static_cast<std::size_t>(n - scale));
        out.push_back('.');
        u.append(out, static_cast<std::size_t>(n - scale), u.size());
    } else {
        out += "0.";
        out.append(static_cast<std::size_t>(scale - n), '0');
        u.append(out, 0, u.size());
    }
    return number_class::text;
}

number_class too_big(const decimal& d, const unscaled& u, int64_t scale, bool type_cast,
                     std::string& plain, int64_t max_text) {
    if (!type_cast) return number_class::unsupported;
    return plain_text(d, u, scale, plain, max_text);
}

}  // namespace

bool split_number(std::string_view s, decimal& out) noexcept {
    out = decimal{};
    std::size_t i = 0;
    if (i < s.size() && s[i] == '-') {
        out.negative = true;
        ++i;
    }
    std::size_t start = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    out.int_digits = s.substr(start, i - start);
    bool dot = false;
    if (i < s.size() && s[i] == '.') {
        dot = true;
        start = ++i;
        while (i < s.size() && is_digit(s[i])) ++i;
        out.frac_digits = s.substr(start, i - start);
    }
    bool exponent = false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        exponent = true;
        ++i;
        bool minus = false;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) minus = s[i++] == '-';
        int64_t e = 0;
        for (; i < s.size() && is_digit(s[i]); ++i) {
            e = e * 10 + (s[i] - '0');
            if (e > int_max) return false;  // "Exponent overflow"
        }
        out.exponent = minus ? -e : e;
    }
    out.simple_double = dot && !exponent;
    out.text = s;
    const int64_t scale = scale_of(out);
    return scale >= -int_max - 1 && scale <= int_max;
}

bool split_parsable(std::string_view s, decimal& out) noexcept {
    if (s.empty() || s.back() == '.') return false;
    out = decimal{};
    out.text = s;
    std::size_t i = 0;
    if (s[0] == '-') {
        if (s.size() == 1) return false;
        out.negative = true;
        i = 1;
    }
    std::size_t dot = std::string_view::npos;
    for (std::size_t k = i; k < s.size(); ++k) {
        if (s[k] == '.') {
            if (dot != std::string_view::npos) return false;
            dot = k;
        } else if (!is_digit(s[k])) {
            return false;
        }
    }
    if (dot == std::string_view::npos) {
        out.int_digits = s.substr(i);
    } else {
        out.int_digits = s.substr(i, dot - i);
        out.frac_digits = s.substr(dot + 1);
        out.simple_double = true;
    }
    return true;
}

int64_t plain_text_length(const decimal& d) noexcept {
    const unscaled u(d);
    return plain_length(d, u, scale_of(d));
}

number_class classify(const decimal& d, bool type_cast, int64_t& as_integer, double& as_double,
                      std::string& plain, int64_t max_text) {
    const unscaled u(d);
    const int64_t scale = scale_of(d);
    const int64_t stripped = u.zero() ? 0 : scale - static_cast<int64_t>(u.trailing_zeros());
    const auto n = static_cast<int64_t>(u.size());

    if (stripped <= 0 && !d.simple_double) {
        if (u.zero()) {
            as_integer = 0;
            return number_class::integer;
        }
        // Integer digits: the unscaled digits less the `scale` trailing zeros it covers, or
        // followed by -scale zeros.
        if (n - scale > 19) return too_big(d, u, scale, type_cast, plain, max_text);
        uint64_t magnitude = 0;
        const int64_t kept = scale > 0 ? n - scale : n;
        for (int64_t k = 0; k < kept; ++k)
            magnitude = magnitude * 10 + static_cast<uint64_t>(u[static_cast<std::size_t>(k)] - '0');
        for (int64_t k = scale; k < 0; ++k) magnitude *= 10;  // at most 19 digits in all: no overflow
        constexpr uint64_t long_max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
        if (magnitude > long_max + (d.negative ? 1 : 0)) return too_big(d, u, scale, type_cast, plain, max_text);
        as_integer = d.negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
        return number_class::integer;
    }
    if (scale > 16) return too_big(d, u, scale, type_cast, plain, max_text);
    if (u.zero()) {
        as_double = 0.0;  // BigDecimal has no negative zero: -0.0 is 0.0
        return number_class::floating;
    }
    // BigDecimal.doubleValue(): the decimal correctly rounded, which from_chars gives.
    double v = 0;
    const char* end = d.text.data() + d.text.size();
    const auto r = std::from_chars(d.text.data(), end, v);
    if (r.ec != std::errc{} || r.ptr != end || !std::isfinite(v)) return too_big(d, u, scale, type_cast, plain, max_text);
    as_double = v;
    return number_class::floating;
}

int64_t java_long_value(const decimal& d) noexcept {
    const unscaled u(d);
    if (u.zero()) return 0;
    const int64_t scale = scale_of(d);
    const auto n = static_cast<int64_t>(u.size());
    uint64_t v = 0;  // arithmetic modulo 2^64 is exactly Java's narrowing
    const int64_t kept = scale > 0 ? n - scale : n;
    for (int64_t k = 0; k < kept; ++k) v = v * 10 + static_cast<uint64_t>(u[static_cast<std::size_t>(k)] - '0');
    // 10^64 is a multiple of 2^64: more zeros than that leave 0.
    for (int64_t k = 0; k < -scale && k < 64; ++k) v *= 10;
    if (d.negative) v = 0 - v;
    return static_cast<int64_t>(v);
}

bool parse_java_long(std::string_view s, int64_t& out) noexcept {
    if (s.empty()) return false;
    std::size_t i = 0;
    bool negative = false;
    if (s[0] == '-' || s[0] == '+') {
        negative = s[0] == '-';
        i = 1;
        if (s.size() == 1) return false;
    }
    uint64_t v = 0;
    constexpr uint64_t long_max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    const uint64_t limit = long_max + (negative ? 1 : 0);
    for (; i < s.size(); ++i) {
        if (!is_digit(s[i])) return false;
        const auto digit = static_cast<uint64_t>(s[i] - '0');
        if (v > (limit - digit) / 10) return false;
        v = v * 10 + digit;
    }
    out = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
    return true;
}

namespace {

// The exponent of to_chars' scientific text ("4.2e+01" → 1).
int sci_exponent(std::string_view sci, std::size_t e_pos) noexcept {
    int exponent = 0;
    std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exponent);
    return exponent;
}

// A decimal d.ddd × 10^exponent: its significant digits, no trailing zero but the first digit.
struct java_digits {
    char d[32];
    std::size_t count = 0;
    int exponent = 0;
};

// Java 8-17 (FloatingDecimal, ThingsBoard's runtime) writes an integer-valued magnitude below
// 2^63 from its exact integer value, dropping only the low decimal digits its precision cannot
// tell apart: floor((e - p - 1) · log10 2) of them for 2^e <= m, p significand bits (53 or 24),
// rounded half up. Shortest-digit printing stops earlier: Float.toString(87525504f) is
// "8.7525504E7" there, where the shortest digits give "8.75255E7".
template <class T>
bool integer_digits(T m, java_digits& out) {
    if (m < 1 || m >= 0x1p63 || m != std::floor(m)) return false;
    const int p2 = std::ilogb(m) - std::numeric_limits<T>::digits - 1;
    const int dropped = p2 > 1 ? p2 * 30103 / 100000 : 0;  // floor(p2 · log10 2) for p2 < 64
    auto v = static_cast<uint64_t>(m);
    if (dropped > 0) {
        uint64_t pow10 = 1;
        for (int i = 0; i < dropped; ++i) pow10 *= 10;
        const uint64_t rest = v % pow10;
        v /= pow10;
        if (rest >= pow10 / 2) ++v;
    }
    const auto r = std::to_chars(out.d, out.d + sizeof out.d, v);
    out.count = static_cast<std::size_t>(r.ptr - out.d);
    out.exponent = dropped + static_cast<int>(out.count) - 1;
    while (out.count > 1 && out.d[out.count - 1] == '0') --out.count;
    return true;
}

// The digits of a scientific to_chars text ("4.2e+01"), trailing zeros dropped.
void scientific_digits(std::string_view sci, java_digits& out) {
    const std::size_t e_pos = sci.find('e');
    out.count = 0;
    for (std::size_t i = 0; i < e_pos; ++i)
        if (sci[i] != '.') out.d[out.count++] = sci[i];
    while (out.count > 1 && out.d[out.count - 1] == '0') --out.count;
    out.exponent = sci_exponent(sci, e_pos);
}

// Whether n × 10^q is exactly odd × 2^p (odd an odd number below 2^56).
bool decimal_equals_dyadic(uint64_t n, int q, uint64_t odd, int p) {
    // odd × 2^p has no factor 5, so 5^|q| must divide out; 5^24 is the last below 2^56.
    using u128 = unsigned __int128;
    if (q > 24 || q < -24) return false;
    uint64_t pow5 = 1;
    for (int i = 0; i < (q < 0 ? -q : q); ++i) pow5 *= 5;
    u128 x = n;
    int twos = q;
    if (q >= 0) {
        x *= pow5;
    } else {
        if (n % pow5 != 0) return false;
        x = n / pow5;
    }
    while (x != 0 && (x & 1) == 0) {
        x >>= 1;
        ++twos;
    }
    return x == odd && twos == p;
}

// Bits of 5^k as FloatingDecimal counts them (its table up to 5^26, then 3 per power).
int java_5_bits(int k) {
    if (k == 0) return 0;
    if (k >= 27) return k * 3;
    uint64_t v = 1;
    for (int i = 0; i < k; ++i) v *= 5;
    return std::bit_width(v);
}

// FloatingDecimal's set-up (Java 8-17) for m = sig × 2^ex: m = B / S × 10^dec_exp with half an
// ulp M on B's scale, each a power of 5 times a power of 2 (M's power of 5 is B's); dec_exp
// estimated from the bits. It works in 32-bit or 64-bit integers when those fit, else in big
// integers.
struct java_plan {
    uint64_t fract = 0;  // the significand less its trailing zero bits
    int dec_exp = 0, b2 = 0, b5 = 0, s2 = 0, s5 = 0, m2 = 0;
    bool big = false, small = false;
};

template <class T>
java_plan java_plan_of(uint64_t sig, int ex) {
    constexpr int p = std::numeric_limits<T>::digits;
    java_plan j;
    // m in the layout of a double: 53 significant bits, the leading one at bit 52.
    const int lead = std::bit_width(sig) - 1;
    const uint64_t fract_bits = sig << (52 - lead);
    const int bin_exp = ex + lead;
    const int n_significant = sig >= (uint64_t{1} << (p - 1)) ? p : lead + 1;  // subnormals: their bits
    const int tail_zeros = std::countr_zero(fract_bits);
    const int n_fract = 53 - tail_zeros;
    const int n_tiny = std::max(0, n_fract - bin_exp - 1);
    const double d2 = std::bit_cast<double>((uint64_t{1023} << 52) | (fract_bits & ((uint64_t{1} << 52) - 1)));
    const double estimate = (d2 - 1.5) * 0.289529654 + 0.176091259 + static_cast<double>(bin_exp) * 0.301029995663981;
    j.dec_exp = static_cast<int>(std::floor(estimate));
    j.fract = fract_bits >> tail_zeros;
    j.b5 = std::max(0, -j.dec_exp);
    j.s5 = std::max(0, j.dec_exp);
    j.b2 = j.b5 + n_tiny + bin_exp;
    j.s2 = j.s5 + n_tiny;
    j.m2 = j.b2 - n_significant;
    j.b2 -= n_fract - 1;
    const int common = std::min(j.b2, j.s2);
    j.b2 -= common;
    j.s2 -= common;
    j.m2 -= common;
    if (n_fract == 1) j.m2 -= 1;  // a power of two: its lower neighbour is half as far
    if (j.m2 < 0) {
        j.b2 -= j.m2;
        j.s2 -= j.m2;
        j.m2 = 0;
    }
    const int b_bits = n_fract + j.b2 + java_5_bits(j.b5);
    const int ten_s_bits = j.s2 + 1 + java_5_bits(j.s5 + 1);
    j.big = b_bits >= 64 || ten_s_bits >= 64;
    j.small = b_bits < 32 && ten_s_bits < 32;
    return j;
}

// FloatingDecimal's digit loop in Java's int or long (I), wrapping as they do: digits while
// neither the truncation (remainder < M) nor the rounding up (remainder + M > 10S) is within half
// an ulp, at least two in the exponent form, the last one rounded by comparing 2·remainder with
// 10S. Near 2^63 that comparison overflows and truncates where the nearer decimal rounds up
// (3.5537613324776884E25); ThingsBoard stores what this prints.
template <class I>
void java_fixed_digits(const java_plan& j, java_digits& out) {
    using U = std::make_unsigned_t<I>;
    auto pow5 = [](int k) {
        U v = 1;
        for (int i = 0; i < k; ++i) v *= 5;
        return v;
    };
    const auto wrap = [](U v) { return static_cast<I>(v); };
    I b = wrap(static_cast<U>(static_cast<U>(j.fract) * pow5(j.b5)) << j.b2);
    const I s = wrap(pow5(j.s5) << j.s2);
    I m = wrap(pow5(j.b5) << j.m2);
    const I tens = wrap(static_cast<U>(s) * 10);
    int dec_exp = j.dec_exp;
    out.count = 0;
    auto next = [&]() {
        const I q = b / s;
        b = wrap(static_cast<U>(b % s) * 10);
        m = wrap(static_cast<U>(m) * 10);
        return static_cast<char>('0' + q);
    };
    char first = next();
    bool low = b < m;
    bool high = wrap(static_cast<U>(b) + static_cast<U>(m)) > tens;
    if (first == '0' && !high) --dec_exp;  // the estimate was one too high
    else out.d[out.count++] = first;
    if (dec_exp < -3 || dec_exp >= 8) low = high = false;
    while (!low && !high && out.count < sizeof out.d) {
        const char digit = next();
        if (m > 0) {
            low = b < m;
            high = wrap(static_cast<U>(b) + static_cast<U>(m)) > tens;
        } else {
            low = high = true;  // M overflowed: it is past everything
        }
        out.d[out.count++] = digit;
    }
    const I difference = wrap((static_cast<U>(b) << 1) - static_cast<U>(tens));
    bool up = high && (!low || difference > 0 || (difference == 0 && ((out.d[out.count - 1] - '0') & 1) != 0));
    if (up) {
        std::size_t i = out.count - 1;
        while (out.d[i] == '9' && i > 0) out.d[i--] = '0';
        if (out.d[i] == '9') {
            out.d[0] = '1';
            ++dec_exp;
        } else {
            ++out.d[i];
        }
    }
    out.exponent = dec_exp;
    while (out.count > 1 && out.d[out.count - 1] == '0') --out.count;
}

// m = sig × 2^ex with sig its integer significand (subnormals: at the smallest exponent).
template <class T>
void significand(T m, uint64_t& sig, int& ex) {
    constexpr int p = std::numeric_limits<T>::digits;
    int e2 = 0;
    std::frexp(m, &e2);
    ex = std::max(e2 - p, std::numeric_limits<T>::min_exponent - p);
    sig = static_cast<uint64_t>(std::ldexp(m, -ex));
}

// Whether FloatingDecimal, working in big integers, stops at these digits for m: within half an
// ulp of m (a quarter, each side, when m's significand is a single bit), strictly below m, up
// to and including that bound above it. Shortest-digit rules also take a decimal exactly
// halfway below m when m's significand is even.
template <class T>
bool java_big_accepts(T m, const java_digits& j) {
    uint64_t sig = 0;
    int ex = 0;
    significand(m, sig, ex);
    uint64_t n = 0;
    for (std::size_t i = 0; i < j.count; ++i) n = n * 10 + static_cast<uint64_t>(j.d[i] - '0');
    const int q = j.exponent - static_cast<int>(j.count) + 1;  // the decimal is n × 10^q
    if ((sig & (sig - 1)) == 0) {
        // A power of two: the narrower bound, checked in long double, where the decimal near m
        // and the bound are exact enough.
        char text[48];
        auto r = std::to_chars(text, text + sizeof text - 8, n);
        *r.ptr++ = 'e';
        r = std::to_chars(r.ptr, text + sizeof text - 1, q);
        *r.ptr = '\0';
        const long double off = std::strtold(text, nullptr) - static_cast<long double>(m);
        const long double bound = std::ldexp(1.0L, ex - 2);
        return std::fabs(off) < bound || off == bound;
    }
    return !decimal_equals_dyadic(n, q, 2 * sig - 1, ex - 1);
}

// FloatingDecimal's digits where it works in big integers: the shortest digits that read back
// as m, two when one would do and two are closer, then more while they lie exactly halfway
// below m.
template <class T>
void shortest_digits(T m, java_digits& out) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, m, std::chars_format::scientific);
    scientific_digits(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)), out);
    if (out.count == 1) {
        // Among the decimals of length 1 or 2 that round to m, Java picks the closest: the
        // correctly rounded 2-digit one when it rounds to m (4.9E-324, not 5e-324; 9.8E-45 for
        // 7 × 2^-149, where one digit gives 1e-44).
        char buf2[64];
        auto r2 = std::to_chars(buf2, buf2 + sizeof buf2, m, std::chars_format::scientific, 1);
        std::string_view two(buf2, static_cast<std::size_t>(r2.ptr - buf2));
        const std::size_t e2 = two.find('e');
        T back = 0;
        std::from_chars(two.data(), two.data() + two.size(), back);
        if (e2 == 3 && two[2] != '0' && back == m) {
            out.d[0] = two[0];
            out.d[1] = two[2];
            out.count = 2;
            out.exponent = sci_exponent(two, e2);
        }
    }
    for (int digits = static_cast<int>(out.count) + 1; !java_big_accepts(m, out) && digits <= 25; ++digits) {
        r = std::to_chars(buf, buf + sizeof buf, m, std::chars_format::scientific, digits - 1);
        scientific_digits(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)), out);
    }
}

// Java's layout of the digits: "42.0" for 10^-3 <= |v| < 10^7, else "4.2E-5".
void append_java_layout(std::string& out, const java_digits& j) {
    const int exponent = j.exponent;
    const char* digits = j.d;
    const std::size_t count = j.count;
    if (exponent >= -3 && exponent < 7) {
        if (exponent >= 0) {
            const auto int_len = static_cast<std::size_t>(exponent) + 1;
            for (std::size_t i = 0; i < int_len; ++i) out.push_back(i < count ? digits[i] : '0');
            out.push_back('.');
            if (count > int_len) out.append(digits + int_len, count - int_len);
            else out.push_back('0');
        } else {
            out += "0.";
            out.append(static_cast<std::size_t>(-exponent - 1), '0');
            out.append(digits, count);
        }
        return;
    }
    out.push_back(digits[0]);
    out.push_back('.');
    if (count > 1) out.append(digits + 1, count - 1);
    else out.push_back('0');
    out.push_back('E');
    char eb[16];
    auto er = std::to_chars(eb, eb + sizeof eb, exponent);
    out.append(eb, er.ptr);
}

template <class T>
void append_java(std::string& out, T v) {
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v < 0 ? "-Infinity" : "Infinity";
        return;
    }
    if (v == 0) {
        out += std::signbit(v) ? "-0.0" : "0.0";
        return;
    }
    if (v < 0) out.push_back('-');
    const T m = std::fabs(v);
    java_digits digits;
    if (!integer_digits(m, digits)) {
        uint64_t sig = 0;
        int ex = 0;
        significand(m, sig, ex);
        const java_plan plan = java_plan_of<T>(sig, ex);
        if (plan.small) java_fixed_digits<int32_t>(plan, digits);
        else if (!plan.big) java_fixed_digits<int64_t>(plan, digits);
        else shortest_digits(m, digits);
    }
    append_java_layout(out, digits);
}

}  // namespace

void append_java_double(std::string& out, double d) { append_java(out, d); }

void append_java_float(std::string& out, float f) { append_java(out, f); }

}  // namespace tern::tb
