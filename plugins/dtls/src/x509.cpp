#include "x509.hpp"

#include <cstddef>
#include <ctime>

namespace tern::dtls {

namespace {

struct tlv {
    uint8_t tag = 0;
    std::span<const uint8_t> value;
};

// One DER element at the front of in (definite lengths only, up to 4 length bytes);
// advances in past it.
bool next(std::span<const uint8_t>& in, tlv& out) noexcept {
    if (in.size() < 2) return false;
    out.tag = in[0];
    size_t len = in[1];
    size_t header = 2;
    if (len & 0x80) {
        const size_t n = len & 0x7f;
        if (n == 0 || n > 4 || in.size() < 2 + n) return false;
        len = 0;
        for (size_t i = 0; i < n; ++i) len = len << 8 | in[2 + i];
        header += n;
    }
    if (in.size() - header < len) return false;
    out.value = in.subspan(header, len);
    in = in.subspan(header + len);
    return true;
}

bool digits(std::span<const uint8_t> s, size_t at, size_t n, int& out) noexcept {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

// UTCTime YYMMDDHHMMSSZ (RFC 5280 §4.1.2.5.1: YY < 50 is 20YY) or GeneralizedTime
// YYYYMMDDHHMMSSZ; the profile requires seconds and Z.
bool parse_time(const tlv& t, int64_t& out) noexcept {
    const auto s = t.value;
    int year = 0;
    size_t at = 0;
    if (t.tag == 0x17) {
        if (s.size() != 13 || !digits(s, 0, 2, year)) return false;
        year += year < 50 ? 2000 : 1900;
        at = 2;
    } else if (t.tag == 0x18) {
        if (s.size() != 15 || !digits(s, 0, 4, year)) return false;
        at = 4;
    } else {
        return false;
    }
    int mon, day, hh, mm, ss;
    if (!digits(s, at, 2, mon) || !digits(s, at + 2, 2, day) || !digits(s, at + 4, 2, hh) ||
        !digits(s, at + 6, 2, mm) || !digits(s, at + 8, 2, ss) || s[at + 10] != 'Z')
        return false;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return false;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    out = static_cast<int64_t>(::timegm(&tm));  // UTC, no time zone involved
    return true;
}

}  // namespace

std::optional<validity> certificate_validity(std::span<const uint8_t> der) noexcept {
    tlv cert, tbs, e;
    if (!next(der, cert) || cert.tag != 0x30) return std::nullopt;
    auto c = cert.value;
    if (!next(c, tbs) || tbs.tag != 0x30) return std::nullopt;
    auto t = tbs.value;
    if (!next(t, e)) return std::nullopt;
    if (e.tag == 0xa0 && !next(t, e)) return std::nullopt;  // [0] version, then the serial
    if (e.tag != 0x02) return std::nullopt;                    // serialNumber
    if (!next(t, e) || e.tag != 0x30) return std::nullopt;     // signature
    if (!next(t, e) || e.tag != 0x30) return std::nullopt;     // issuer
    if (!next(t, e) || e.tag != 0x30) return std::nullopt;     // validity
    auto v = e.value;
    tlv nb, na;
    validity out;
    if (!next(v, nb) || !next(v, na) || !parse_time(nb, out.not_before) ||
        !parse_time(na, out.not_after))
        return std::nullopt;
    return out;
}

date_check check_dates(std::span<const uint8_t> der, int64_t now) noexcept {
    const auto v = certificate_validity(der);
    if (!v) return date_check::unreadable;
    if (now < v->not_before) return date_check::not_yet_valid;
    if (now > v->not_after) return date_check::expired;
    return date_check::valid;
}

}  // namespace tern::dtls
