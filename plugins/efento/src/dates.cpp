// The two date texts of ThingsBoard's Efento conversion (Java's SimpleDateFormat patterns).
#include <time.h>

#include "conversions.hpp"

namespace tern::efento {

namespace {

constexpr const char* month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void append_digits(std::string& out, int64_t v, int width) {
    char buf[24];
    int n = 0;
    const bool negative = v < 0;
    uint64_t u = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    do {
        buf[n++] = static_cast<char>('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (negative) out += '-';
    for (int i = n; i < width; ++i) out += '0';
    while (n > 0) out += buf[--n];
}

struct civil {
    int64_t year;
    int month;  // 1..12
    int day;
};

// The proleptic Gregorian date of a day count from 1970-01-01 (era arithmetic, 400-year cycles).
civil civil_of(int64_t days) {
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const int64_t doe = days - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

}  // namespace

void append_utc_time(std::string& out, int64_t ms) {
    const int64_t seconds = floor_div(ms, 1000);
    const int64_t days = floor_div(seconds, 86400);
    const int64_t rest = seconds - days * 86400;
    const civil d = civil_of(days);
    append_digits(out, d.year, 4);
    out += '-';
    append_digits(out, d.month, 2);
    out += '-';
    append_digits(out, d.day, 2);
    out += ' ';
    append_digits(out, rest / 3600, 2);
    out += ':';
    append_digits(out, rest / 60 % 60, 2);
    out += ':';
    append_digits(out, rest % 60, 2);
    out += " UTC";
}

void append_local_date(std::string& out, int64_t seconds) {
    const time_t t = static_cast<time_t>(seconds);
    struct tm tm {};
    if (localtime_r(&t, &tm) == nullptr) return append_utc_time(out, seconds * 1000);  // not for int32 seconds
    append_digits(out, tm.tm_mday, 2);
    out += ' ';
    out += month_names[tm.tm_mon];
    out += ' ';
    append_digits(out, static_cast<int64_t>(tm.tm_year) + 1900, 4);
    out += ' ';
    append_digits(out, tm.tm_hour, 2);
    out += ':';
    append_digits(out, tm.tm_min, 2);
    out += ':';
    append_digits(out, tm.tm_sec, 2);
    // Z: the zone's offset as +hhmm / -hhmm.
    const long offset = tm.tm_gmtoff;
    out += offset < 0 ? " -" : " +";
    const long a = offset < 0 ? -offset : offset;
    append_digits(out, a / 3600, 2);
    append_digits(out, a / 60 % 60, 2);
}

}  // namespace tern::efento
