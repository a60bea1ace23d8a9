// libFuzzer entry point for the Efento conversion (decoder.hpp), driven as the resource drives
// it: parse, then convert, on the thread's decoder. The first byte m chooses: m % 3 the message
// kind (0 measurements, 1 device info, 2 configuration), bit 0 of m / 3 small limits (64
// values, 1024 decoded bytes) instead of the defaults, bit 0 of m / 6 type_cast_enabled off.
// The rest is the body.
// Besides "never crash, never hang, never leak", it checks what decoder.hpp promises: a parse
// is ok or parse_error with a reason; after a failed parse the cloud_token is empty; a
// conversion that is not ok says why and maps to a 4.xx/5.xx code; an ok one hands out
// records (measurements, device info) or attributes (configuration), never both, records in
// ascending time with at least one value each, as many values as value_count() and no more
// than max_values, keys non-empty, every text UTF-8, every JSON text an object or an array,
// every double finite; the same body parsed and converted again gives the same result.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "decoder.hpp"

namespace {

namespace ef = tern::efento;

[[noreturn]] void broken(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "efento_decode_fuzz: %s: [%.*s]\n", what, static_cast<int>(detail.size()), detail.data());
    std::abort();
}

std::string_view sv(tern_str s) { return {s.data, s.size}; }

// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t n = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;
        for (size_t k = 1; k <= n; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        static constexpr uint32_t least[] = {0, 0x80, 0x800, 0x10000};
        if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

void check_kv(const tern_kv& kv) {
    const std::string_view key = sv(kv.key);
    if (key.empty()) broken("a value without a key");
    if (!valid_utf8(key)) broken("a key is not UTF-8", key);
    const tern_value& v = kv.value;
    if (v.reserved != 0) broken("tern_value.reserved is not zero", key);
    switch (v.type) {
        case TERN_VALUE_BOOL:
            if (v.u.b != 0 && v.u.b != 1) broken("a bool that is neither 0 nor 1", key);
            break;
        case TERN_VALUE_INT: break;
        case TERN_VALUE_DOUBLE:
            if (!std::isfinite(v.u.d)) broken("a double that is not finite", key);
            break;
        case TERN_VALUE_STR:
            if (!valid_utf8(sv(v.u.s))) broken("a text value is not UTF-8", key);
            break;
        case TERN_VALUE_JSON: {
            const std::string_view j = sv(v.u.s);
            if (!valid_utf8(j)) broken("a JSON value is not UTF-8", key);
            const bool object = j.size() >= 2 && j.front() == '{' && j.back() == '}';
            const bool array = j.size() >= 2 && j.front() == '[' && j.back() == ']';
            if (!object && !array) broken("a JSON value is neither an object nor an array", j);
            break;
        }
        default: broken("a value of a type the conversion never makes", key);
    }
}

// The result of one parse + convert, kept to compare a second run with.
struct outcome {
    ef::decode_status parse{};
    ef::decode_status convert{};
    std::string token;
    std::vector<std::string> dump;  // "ts key type" of every value
};

std::string describe(const tern_kv& kv, int64_t ts) {
    std::string s = std::to_string(ts) + ' ';
    s.append(kv.key.data, kv.key.size);
    s += ' ';
    s += std::to_string(kv.value.type);
    if (kv.value.type == TERN_VALUE_INT) s += ' ' + std::to_string(kv.value.u.i);
    if (kv.value.type == TERN_VALUE_STR || kv.value.type == TERN_VALUE_JSON) {
        s += ' ';
        s.append(kv.value.u.s.data, kv.value.u.s.size);
    }
    return s;
}

outcome run(ef::message_kind kind, tern_bytes body, const ef::decode_limits& lim) {
    ef::decoder& d = ef::thread_decoder();
    outcome o;
    std::string err;
    o.parse = d.parse(kind, body, err);
    if (o.parse != ef::decode_status::ok) {
        if (o.parse != ef::decode_status::parse_error) broken("parse() returned a status other than ok or parse_error");
        if (err.empty()) broken("a parse error without a reason");
        if (!d.cloud_token().empty()) broken("a cloud_token after a failed parse", d.cloud_token());
        return o;
    }
    o.token = std::string(d.cloud_token());
    if (!valid_utf8(o.token)) broken("the cloud_token is not UTF-8", o.token);
    err.clear();
    // A fixed server time: 2024-01-01 00:00:00 UTC.
    o.convert = d.convert(1704067200000, lim, err);
    if (o.convert != ef::decode_status::ok) {
        if (err.empty()) broken("a refused conversion without a reason", ef::status_name(o.convert));
        const uint8_t code = ef::status_code(o.convert);
        if ((code >> 5) != 4 && (code >> 5) != 5) broken("a refusal whose code is not 4.xx or 5.xx", ef::status_name(o.convert));
        return o;
    }
    const auto records = d.records();
    const auto attributes = d.attributes();
    uint64_t values = 0;
    if (kind == ef::message_kind::configuration) {
        if (!records.empty()) broken("a configuration converted to telemetry");
        for (const tern_kv& kv : attributes) {
            check_kv(kv);
            o.dump.push_back(describe(kv, 0));
        }
        values = attributes.size();
    } else {
        if (!attributes.empty()) broken("telemetry converted to attributes");
        if (records.empty()) broken("an accepted message with no record");
        if (kind == ef::message_kind::device_info && records.size() != 1) broken("device info in more than one record");
        int64_t last = INT64_MIN;
        for (const tern_ts_record& r : records) {
            if (r.ts <= last) broken("records not in ascending time");
            last = r.ts;
            if (r.count == 0) broken("an empty record");
            if (r.reserved != 0) broken("tern_ts_record.reserved is not zero");
            for (uint32_t i = 0; i < r.count; ++i) {
                check_kv(r.values[i]);
                o.dump.push_back(describe(r.values[i], r.ts));
            }
            values += r.count;
        }
    }
    if (values != d.value_count()) broken("value_count() differs from the values handed out");
    if (values > lim.max_values) broken("more values than max_values");
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const uint8_t mode = data[0];
    const auto kind = static_cast<ef::message_kind>(mode % 3);
    ef::decode_limits lim;
    lim.type_cast_enabled = ((mode / 6) & 1) == 0;
    if ((mode / 3) & 1) {
        lim.max_values = 64;
        lim.max_decoded_size = 1024;
    }
    const tern_bytes body{data + 1, size - 1};
    const outcome first = run(kind, body, lim);
    // The decoder keeps state between messages: the same body again must come out the same.
    const outcome again = run(kind, body, lim);
    if (first.parse != again.parse || first.convert != again.convert || first.token != again.token ||
        first.dump != again.dump)
        broken("the same body converted twice gave different results");
    static const bool verbose = std::getenv("TERN_FUZZ_VERBOSE") != nullptr;
    if (verbose)
        std::fprintf(stderr, "kind %d: parse %s, convert %s, %zu values\n", static_cast<int>(kind),
                     ef::status_name(first.parse),
                     first.parse == ef::decode_status::ok ? ef::status_name(first.convert) : "-", first.dump.size());
    return 0;
}
