#include "flood_messages.hpp"

#include "coap_wire.hpp"

#include <charconv>
#include <cstdio>
#include <cstring>

namespace tern::bench {

namespace {

constexpr uint16_t opt_block1 = 27;
constexpr uint16_t opt_size1 = 60;
constexpr uint32_t content_format_json = 50;

constexpr std::array<const char*, flood_kind_count> kind_names{"non", "con", "provision", "block1"};

void random_bytes(rng& r, uint8_t* out, size_t n) {
    while (n) {
        const uint64_t v = r.next();
        const size_t k = n < 8 ? n : 8;
        std::memcpy(out, &v, k);
        out += k;
        n -= k;
    }
}

// n characters of [0-9a-zA-Z], like the access tokens a server generates.
void random_alnum(rng& r, char* out, size_t n) {
    static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (size_t i = 0; i < n; ++i) out[i] = alphabet[r.below(sizeof alphabet - 1)];
}

void random_hex(rng& r, char* out, size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; ++i) out[i] = digits[r.below(16)];
}

void path_telemetry(coap::writer& w, const char* token, size_t token_len) {
    w.option(coap::opt_uri_path, "api", 3);
    w.option(coap::opt_uri_path, "v1", 2);
    w.option(coap::opt_uri_path, token, token_len);
    w.option(coap::opt_uri_path, "telemetry", 9);
}

}  // namespace

const char* flood_kind_name(flood_kind k) { return kind_names[static_cast<size_t>(k)]; }

uint32_t flood_mix::total() const {
    uint32_t t = 0;
    for (uint32_t w : weight) t += w;
    return t;
}

flood_kind flood_mix::pick(uint32_t r) const {
    for (size_t i = 0; i < flood_kind_count; ++i) {
        if (r < weight[i]) return static_cast<flood_kind>(i);
        r -= weight[i];
    }
    return flood_kind::non;  // r >= total(): callers never pass it
}

bool parse_flood_mix(std::string_view text, flood_mix& out, std::string& error) {
    flood_mix m;
    m.weight.fill(0);
    std::array<bool, flood_kind_count> seen{};
    while (!text.empty()) {
        const size_t comma = text.find(',');
        const std::string_view item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        const size_t eq = item.find('=');
        if (eq == std::string_view::npos) {
            error = "--mix wants KIND=WEIGHT items separated by commas, got '" + std::string(item) + "'";
            return false;
        }
        const std::string_view name = item.substr(0, eq);
        const std::string_view number = item.substr(eq + 1);
        size_t k = 0;
        while (k < flood_kind_count && name != kind_names[k]) ++k;
        if (k == flood_kind_count) {
            error = "--mix: unknown kind '" + std::string(name) + "' (non, con, provision, block1)";
            return false;
        }
        if (seen[k]) {
            error = "--mix names '" + std::string(name) + "' twice";
            return false;
        }
        seen[k] = true;
        uint32_t w = 0;
        const auto rc = std::from_chars(number.data(), number.data() + number.size(), w);
        if (number.empty() || rc.ec != std::errc{} || rc.ptr != number.data() + number.size() || w > 1'000'000) {
            error = "--mix: the weight of '" + std::string(name) + "' must be a whole number 0..1000000, got '" +
                    std::string(number) + "'";
            return false;
        }
        m.weight[k] = w;
    }
    if (m.total() == 0) {
        error = "--mix: at least one kind needs a positive weight";
        return false;
    }
    out = m;
    return true;
}

size_t encode_flood(flood_kind k, uint16_t mid, uint64_t serial, rng& r, const flood_params& p,
                    uint8_t* buf, size_t cap) {
    coap::writer w(buf, cap);
    uint8_t token[8];
    random_bytes(r, token, sizeof token);
    char text[32];

    switch (k) {
    case flood_kind::non: {
        // A spoofed source gets nothing from the answer; any token length will do.
        w.header(coap::type_non, coap::code_get, mid, token, static_cast<uint8_t>(r.below(9)));
        random_hex(r, text, 8);
        w.option(coap::opt_uri_path, "flood", 5);
        w.option(coap::opt_uri_path, text, 8);
        break;
    }
    case flood_kind::con: {
        w.header(coap::type_con, coap::code_post, mid, token, sizeof token);
        random_alnum(r, text, 20);
        path_telemetry(w, text, 20);
        w.option_uint(coap::opt_content_format, content_format_json);
        static constexpr char body[] = "{\"temperature\":21}";
        size_t room = 0;
        if (uint8_t* b = w.begin_payload(room); b && room >= sizeof body - 1) {
            std::memcpy(b, body, sizeof body - 1);
            w.end_payload(sizeof body - 1);
        } else {
            return 0;
        }
        break;
    }
    case flood_kind::provision: {
        w.header(coap::type_con, coap::code_post, mid, token, sizeof token);
        w.option(coap::opt_uri_path, "api", 3);
        w.option(coap::opt_uri_path, "v1", 2);
        w.option(coap::opt_uri_path, "provision", 9);
        w.option_uint(coap::opt_content_format, content_format_json);
        random_hex(r, text, 16);
        size_t room = 0;
        uint8_t* b = w.begin_payload(room);
        if (!b) return 0;
        const int n = std::snprintf(reinterpret_cast<char*>(b), room,
                                    "{\"deviceName\":\"flood-%llu\",\"provisionDeviceKey\":\"%s\","
                                    "\"provisionDeviceSecret\":\"wrong-%.16s\"}",
                                    static_cast<unsigned long long>(serial), p.provision_key.c_str(), text);
        if (n <= 0 || static_cast<size_t>(n) >= room) return 0;
        w.end_payload(static_cast<size_t>(n));
        break;
    }
    case flood_kind::block1: {
        w.header(coap::type_con, coap::code_post, mid, token, sizeof token);
        random_alnum(r, text, 20);
        path_telemetry(w, text, 20);
        w.option_uint(coap::opt_content_format, content_format_json);
        // RFC 7959 §2.2: NUM 0, M (more blocks follow), SZX 6 = 1024 bytes.
        w.option_uint(opt_block1, 0u << 4 | 1u << 3 | 6u);
        w.option_uint(opt_size1, p.size1);
        size_t room = 0;
        uint8_t* b = w.begin_payload(room);
        if (!b || room < flood_block_size) return 0;
        // A block of a JSON object that the later blocks would finish: {"k":"xxxx...
        std::memset(b, 'x', flood_block_size);
        std::memcpy(b, "{\"k\":\"", 6);
        w.end_payload(flood_block_size);
        break;
    }
    }
    return w.ok() ? w.size() : 0;
}

}  // namespace tern::bench
