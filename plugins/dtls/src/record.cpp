#include "record.hpp"

#include <algorithm>
#include <cstring>
#include <initializer_list>

namespace tern::dtls {

namespace {

uint16_t be16(const uint8_t* p) noexcept { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be24(const uint8_t* p) noexcept {
    return static_cast<uint32_t>(p[0]) << 16 | static_cast<uint32_t>(p[1]) << 8 | p[2];
}
uint64_t be48(const uint8_t* p) noexcept {
    uint64_t v = 0;
    for (int i = 0; i < 6; ++i) v = v << 8 | p[i];
    return v;
}
void put16(uint8_t* p, uint32_t v) noexcept {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void put24(uint8_t* p, uint32_t v) noexcept {
    p[0] = static_cast<uint8_t>(v >> 16);
    p[1] = static_cast<uint8_t>(v >> 8);
    p[2] = static_cast<uint8_t>(v);
}
void put48(uint8_t* p, uint64_t v) noexcept {
    for (int i = 5; i >= 0; --i) {
        p[i] = static_cast<uint8_t>(v);
        v >>= 8;
    }
}

// A cursor that never reads past its end; every take fails once anything was short.
struct reader {
    const uint8_t* p;
    size_t left;
    bool ok = true;

    explicit reader(bytes_view b) : p(b.data()), left(b.size()) {}
    bool take(size_t n, bytes_view& out) noexcept {
        if (!ok || n > left) return ok = false;
        out = bytes_view{p, n};
        p += n;
        left -= n;
        return true;
    }
    bool u8(uint8_t& v) noexcept {
        bytes_view b;
        if (!take(1, b)) return false;
        v = b[0];
        return true;
    }
    bool u16(uint16_t& v) noexcept {
        bytes_view b;
        if (!take(2, b)) return false;
        v = be16(b.data());
        return true;
    }
    bool vec8(bytes_view& out) noexcept {
        uint8_t n = 0;
        return u8(n) && take(n, out);
    }
    bool vec16(bytes_view& out) noexcept {
        uint16_t n = 0;
        return u16(n) && take(n, out);
    }
};

// The handshake messages of an epoch-0 handshake record that are complete in it.
template <class F>
void each_whole_message(const record_header& r, F&& f) noexcept {
    if (r.type != ct_handshake || r.epoch != 0) return;
    reader in(r.fragment);
    while (in.left >= handshake_header_size) {
        bytes_view h;
        in.take(handshake_header_size, h);
        const uint8_t type = h[0];
        const uint32_t length = be24(h.data() + 1);
        const uint16_t message_seq = be16(h.data() + 4);
        const uint32_t offset = be24(h.data() + 6);
        const uint32_t frag_len = be24(h.data() + 9);
        bytes_view body;
        if (!in.take(frag_len, body)) return;
        if (offset == 0 && frag_len == length) f(type, message_seq, body);
    }
}

}  // namespace

datagram_kind classify(bytes_view d) noexcept {
    if (d.empty()) return datagram_kind::other;
    const uint8_t b = d[0];
    if ((b & 0xe0) == 0x20) return datagram_kind::unified_header;
    if (b >= ct_change_cipher_spec && b <= ct_tls12_cid) return datagram_kind::plaintext_record;
    return datagram_kind::other;
}

std::optional<record_header> first_record(bytes_view d) noexcept {
    if (d.size() < record_header_size) return std::nullopt;
    record_header r;
    r.type = d[0];
    r.version = be16(d.data() + 1);
    r.epoch = be16(d.data() + 3);
    r.sequence = be48(d.data() + 5);
    r.length = be16(d.data() + 11);
    if (d.size() - record_header_size < r.length) return std::nullopt;
    r.fragment = d.subspan(record_header_size, r.length);
    return r;
}

std::optional<client_hello> parse_client_hello(const record_header& r) noexcept {
    std::optional<client_hello> out;
    each_whole_message(r, [&](uint8_t type, uint16_t message_seq, bytes_view body) {
        if (out || type != hs_client_hello) return;
        client_hello ch;
        ch.record_sequence = r.sequence;
        ch.message_seq = message_seq;
        reader in(body);
        if (!in.take(2, ch.version_bytes)) return;
        ch.version = be16(ch.version_bytes.data());
        if (!in.take(32, ch.random) || !in.vec8(ch.session_id) || !in.vec8(ch.cookie) ||
            !in.vec16(ch.cipher_suites) || !in.vec8(ch.compression))
            return;
        if (ch.session_id.size() > 32) return;
        if (in.left != 0 && !in.vec16(ch.extensions)) return;
        reader ext(ch.extensions);
        while (ext.ok && ext.left >= 4) {
            uint16_t et = 0;
            bytes_view data;
            if (!ext.u16(et) || !ext.vec16(data)) return;  // malformed extensions
            if (et == 43) {  // supported_versions: versions<2..254>
                reader v(data);
                bytes_view list;
                if (v.vec8(list))
                    for (size_t i = 0; i + 1 < list.size(); i += 2)
                        if (be16(list.data() + i) == dtls_1_3) ch.offers_dtls13 = true;
            } else if (et == 35) {  // session_ticket
                ch.has_ticket = !data.empty();
            } else if (et == 41) {  // pre_shared_key
                ch.has_psk_extension = true;
            } else if (et == 44) {  // cookie
                ch.has_cookie_extension = true;
            }
        }
        out = ch;
    });
    return out;
}

size_t write_hello_verify_request(const client_hello& hello, bytes_view cookie,
                                  std::span<uint8_t> out) noexcept {
    if (cookie.size() > 255) return 0;
    const size_t body = 2 + 1 + cookie.size();
    const size_t total = record_header_size + handshake_header_size + body;
    if (out.size() < total) return 0;
    uint8_t* p = out.data();
    // record header: handshake, DTLS 1.0 (RFC 6347 §4.2.1), epoch 0, the ClientHello's
    // record sequence number
    p[0] = ct_handshake;
    put16(p + 1, dtls_1_0);
    put16(p + 3, 0);
    put48(p + 5, hello.record_sequence);
    put16(p + 11, static_cast<uint32_t>(handshake_header_size + body));
    p += record_header_size;
    // handshake header: one unfragmented message
    p[0] = hs_hello_verify_request;
    put24(p + 1, static_cast<uint32_t>(body));
    put16(p + 4, hello.message_seq);
    put24(p + 6, 0);
    put24(p + 9, static_cast<uint32_t>(body));
    p += handshake_header_size;
    put16(p, dtls_1_0);
    p[2] = static_cast<uint8_t>(cookie.size());
    if (!cookie.empty()) std::memcpy(p + 3, cookie.data(), cookie.size());
    return total;
}

std::optional<std::string_view> psk_identity(bytes_view d) noexcept {
    std::optional<std::string_view> out;
    while (!out && d.size() >= record_header_size) {
        auto r = first_record(d);
        if (!r) break;
        each_whole_message(*r, [&](uint8_t type, uint16_t, bytes_view body) {
            if (out || type != hs_client_key_exchange) return;
            reader in(body);
            bytes_view id;
            if (in.vec16(id))
                out = std::string_view(reinterpret_cast<const char*>(id.data()), id.size());
        });
        d = d.subspan(record_header_size + r->length);
    }
    return out;
}

std::optional<bytes_view> server_hello_session_id(bytes_view d) noexcept {
    auto r = first_record(d);
    if (!r) return std::nullopt;
    std::optional<bytes_view> out;
    each_whole_message(*r, [&](uint8_t type, uint16_t, bytes_view body) {
        if (out || type != 2 /* server_hello */) return;
        reader in(body);
        bytes_view version, random, id;
        if (in.take(2, version) && in.take(32, random) && in.vec8(id) && id.size() <= 32) out = id;
    });
    return out;
}

std::optional<tls12_cid_datagram> tls12_cid_records(bytes_view d, size_t cid_len) noexcept {
    if (cid_len == 0 || d.empty() || d[0] != ct_tls12_cid) return std::nullopt;
    tls12_cid_datagram out;
    out.oldest = UINT64_MAX;
    while (!d.empty()) {
        const uint8_t type = d[0];
        if (type < ct_change_cipher_spec || type > ct_tls12_cid) return std::nullopt;
        const size_t cid = type == ct_tls12_cid ? cid_len : 0;
        const size_t header = record_header_size + cid;
        if (d.size() < header) return std::nullopt;
        const size_t length = be16(d.data() + 11 + cid);
        if (d.size() - header < length) return std::nullopt;
        if (type == ct_tls12_cid) {
            if (out.cid.empty()) out.cid = d.subspan(11, cid_len);
            const uint64_t number = static_cast<uint64_t>(be16(d.data() + 3)) << 48 | be48(d.data() + 5);
            out.oldest = std::min(out.oldest, number);
        }
        d = d.subspan(header + length);
    }
    return out;
}

std::optional<bytes_view> unified_header_cid(bytes_view d, size_t cid_len) noexcept {
    if (d.empty() || (d[0] & 0xe0) != 0x20 || (d[0] & 0x10) == 0 || cid_len == 0) return std::nullopt;
    if (d.size() < 1 + cid_len) return std::nullopt;
    return d.subspan(1, cid_len);
}

bool coap_response_vouches(bytes_view d) noexcept {
    if (d.size() < 4 || (d[0] >> 6) != 1) return false;
    const uint8_t code = d[1];
    if (code == 0x41 || code == 0x44) return true;   // 2.01, 2.04
    if (code != 0x43 && code != 0x45) return false;  // 2.03, 2.05: only with Observe
    size_t i = 4 + (d[0] & 0x0f);
    uint32_t number = 0;
    while (i < d.size() && d[i] != 0xff) {
        uint32_t delta = d[i] >> 4, len = d[i] & 0x0f;
        ++i;
        for (uint32_t* v : {&delta, &len}) {
            if (*v == 13) {
                if (i >= d.size()) return false;
                *v = 13u + d[i++];
            } else if (*v == 14) {
                if (i + 1 >= d.size()) return false;
                *v = 269u + (static_cast<uint32_t>(d[i]) << 8 | d[i + 1]);
                i += 2;
            } else if (*v == 15) {
                return false;
            }
        }
        number += delta;
        if (number == 6) return true;  // Observe
        if (number > 6) return false;  // options come in order: no Observe
        i += len;
    }
    return false;
}

}  // namespace tern::dtls
