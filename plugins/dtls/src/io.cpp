// A shard's datagrams in and out: the socket drained in batches, each datagram dispatched
// (by address, by Connection ID, to another shard, to a ClientHello), records fed to
// wolfSSL through its I/O callbacks, plaintexts collected for the sink, ciphertexts batched
// for sendmmsg, and the engine's sends.
#include "shard.hpp"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include <algorithm>
#include <cstring>

#include "tern/udp_io/endpoint.hpp"

namespace tern::dtls {

namespace {

bool same_endpoint(const tern_endpoint& a, const tern_endpoint& b) noexcept {
    return a.family == b.family && a.port == b.port && a.scope_id == b.scope_id &&
           std::memcmp(a.addr, b.addr, a.family == 6 ? 16 : 4) == 0;
}

struct forwarded {
    std::shared_ptr<liveness> alive;
    uint32_t shard;
    tern_endpoint from;
    std::vector<uint8_t> data;
};

void run_forwarded(void* ctx) noexcept {
    auto* f = static_cast<forwarded*>(ctx);
    if (f->alive->running.load(std::memory_order_acquire)) {
        shard* sh = f->alive->shards[f->shard];
        sh->handle(f->data.data(), f->data.size(), f->from);
        sh->deliver();
        sh->flush();
    }
    auto alive = std::move(f->alive);
    delete f;
    alive->in_flight.fetch_sub(1, std::memory_order_acq_rel);
}

}  // namespace

// ---- wolfSSL's I/O callbacks ----------------------------------------------------------

int io_recv(WOLFSSL*, char* buf, int sz, void* ctx) {
    auto* s = static_cast<session*>(ctx);
    if (s == nullptr || s->in == nullptr) return WOLFSSL_CBIO_ERR_WANT_READ;
    // A datagram is read whole or not at all: wolfSSL's buffer holds any datagram the
    // shard accepts (context MTU >= receive buffer).
    if (s->in_len > static_cast<uint32_t>(sz)) {
        s->in = nullptr;
        return WOLFSSL_CBIO_ERR_WANT_READ;
    }
    std::memcpy(buf, s->in, s->in_len);
    const int n = static_cast<int>(s->in_len);
    s->in = nullptr;
    return n;
}

int io_send(WOLFSSL*, char* buf, int sz, void* ctx) {
    auto* s = static_cast<session*>(ctx);
    if (s == nullptr || s->home == nullptr || sz < 0) return WOLFSSL_CBIO_ERR_GENERAL;
    return s->home->emit(*s, reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(sz));
}

// ---- receiving -------------------------------------------------------------------------

bool shard::drain() noexcept {
    uint32_t errors = 0;
    bool more = true;
    for (uint32_t round = 0; round < env_.cfg->drain_batches; ++round) {
        const int n = rx_.receive(fd_);
        if (n < 0) {
            // ICMP errors of earlier sends surface here; the socket itself is fine.
            count_drop(drop::recv_error, 0, -n);
            if (++errors > 2) {
                more = false;
                break;
            }
            continue;
        }
        if (n == 0) {
            more = false;
            break;
        }
        now_ = env_.reactor->now_ns();
        uint64_t bytes = 0, truncated = 0;
        for (int i = 0; i < n; ++i) {
            if (rx_.truncated(i)) {
                ++truncated;
                continue;
            }
            tern_endpoint from{};
            if (!rx_.endpoint(i, from)) {
                count_drop(drop::recv_error, 1, EAFNOSUPPORT);
                continue;
            }
            bytes += rx_.size(i);
            handle(rx_.data(i), rx_.size(i), from);
        }
        env_.m.datagrams_received.inc(static_cast<uint64_t>(n));
        env_.m.bytes_received.inc(bytes);
        if (truncated != 0) count_drop(drop::truncated, truncated);
        deliver();
        flush();
    }
    return more;
}

void shard::handle(const uint8_t* data, size_t size, const tern_endpoint& from) noexcept {
    const bytes_view d{data, size};
    switch (classify(d)) {
        case datagram_kind::other:
            count_drop(drop::not_dtls);
            return;
        case datagram_kind::unified_header:
            on_unified_record(data, size, from);
            return;
        case datagram_kind::plaintext_record: {
            // An RFC 9146 record has its CID before the length, so its header does not
            // read as a DTLS 1.2 one: its content type alone tells it.
            if (data[0] == ct_tls12_cid) {
                on_tls12_cid_record(data, size, from);
                return;
            }
            auto r = first_record(d);
            if (!r) {
                count_drop(drop::not_dtls);
                return;
            }
            on_plaintext_record(*r, data, size, from);
            return;
        }
    }
}

void shard::on_plaintext_record(const record_header& r, const uint8_t* data, size_t size,
                                const tern_endpoint& from) noexcept {
    session* s = by_addr_.find(key_of(from));
    if (s != nullptr && s->state == session_state::handshake) {
        feed(*s, data, size, from);
        return;
    }
    // An epoch-0 ClientHello starts a handshake, even from the address of an established
    // session (the client lost its state, RFC 6347 §4.2.8): the cookie exchange comes
    // first either way.
    if (r.type == ct_handshake && r.epoch == 0) {
        if (auto ch = parse_client_hello(r)) {
            on_client_hello(*ch, data, size, from, s);
            return;
        }
    }
    if (s != nullptr) {
        feed(*s, data, size, from);
        return;
    }
    count_drop(drop::no_session);
}

// RFC 9146: a DTLS 1.2 record with a Connection ID is matched by its CID, never by the
// address it came from (which may be new: the device moved behind its NAT).
void shard::on_tls12_cid_record(const uint8_t* data, size_t size, const tern_endpoint& from) noexcept {
    if (!tls().cid()) {
        count_drop(drop::unknown_cid);  // no session has a CID
        return;
    }
    const auto records = tls12_cid_records(bytes_view{data, size}, env_.cfg->connection_id_length);
    if (!records) {
        count_drop(drop::not_dtls);
        return;
    }
    cid_key k;
    k.len = static_cast<uint8_t>(records->cid.size());
    std::memcpy(k.bytes, records->cid.data(), records->cid.size());
    if (session* s = by_cid_.find(k)) {
        feed(*s, data, size, from, records->oldest);
        return;
    }
    on_unknown_cid(records->cid, data, size, from);
}

void shard::on_unknown_cid(bytes_view cid, const uint8_t* data, size_t size, const tern_endpoint& from) noexcept {
    // The first CID byte names the shard that made it: after a NAT rebinding the new
    // address may hash to another shard's socket. (Forwarded once: the owner drops it if
    // it has no such session either.)
    const uint32_t owner = cid[0];
    if (owner != index_ && owner < env_.shard_count) {
        forward(owner, data, size, from);
        return;
    }
    count_drop(drop::unknown_cid);
}

void shard::on_unified_record(const uint8_t* data, size_t size, const tern_endpoint& from) noexcept {
    const bytes_view d{data, size};
    if (tls().cid() && (data[0] & 0x10) != 0) {
        auto cid = unified_header_cid(d, env_.cfg->connection_id_length);
        if (!cid) {
            count_drop(drop::no_session);
            return;
        }
        cid_key k;
        k.len = static_cast<uint8_t>(cid->size());
        std::memcpy(k.bytes, cid->data(), cid->size());
        if (session* s = by_cid_.find(k)) {
            feed(*s, data, size, from);
            return;
        }
        on_unknown_cid(*cid, data, size, from);
        return;
    }
    if (session* s = by_addr_.find(key_of(from))) {
        feed(*s, data, size, from);
        return;
    }
    count_drop(drop::no_session);
}

void shard::forward(uint32_t to_shard, const uint8_t* data, size_t size, const tern_endpoint& from) noexcept {
    forwarded* f = nullptr;
    try {
        f = new forwarded{env_.alive, to_shard, from, std::vector<uint8_t>(data, data + size)};
    } catch (...) {
        count_drop(drop::no_session);
        return;
    }
    env_.alive->in_flight.fetch_add(1, std::memory_order_acq_rel);
    if (env_.reactor->post(to_shard, &run_forwarded, f) != TERN_OK) {
        delete f;
        env_.alive->in_flight.fetch_sub(1, std::memory_order_acq_rel);
        return;
    }
    env_.m.cid_forwarded.inc();
}

void shard::feed(session& s, const uint8_t* data, size_t size, const tern_endpoint& from,
                 uint64_t record) noexcept {
    if (s.state == session_state::handshake) {
        if (psk_hold(s, data, size)) return;
        s.in = data;
        s.in_len = static_cast<uint32_t>(size);
        const uint64_t id = s.id;
        advance_handshake(s);
        session* again = find(id);
        if (again == nullptr) return;
        again->in = nullptr;
        if (again->state == session_state::established) {
            // the client's Finished authenticated in this datagram
            if (record != no_record && again->cid_len != 0) again->cid_newest = record;
            read_application_data(*again, from, record);
        }
        return;
    }
    if (s.ssl == nullptr && !restore(s)) {
        end(s, end_reason::error, false);
        return;
    }
    s.in = data;
    s.in_len = static_cast<uint32_t>(size);
    read_application_data(s, from, record);
}

// The first authenticated plaintext of a datagram: does the session follow it to the
// address it came from?
void shard::follow(session& s, const tern_endpoint& from, uint64_t record) noexcept {
    if (s.dtls13) {
        // DTLS 1.3 encrypts the record numbers: wolfSSL's replay window (a repeat never
        // authenticates) is all there is to go by, so an authenticated record moves it.
        if (!same_endpoint(from, s.addr)) move_to(s, from);
        return;
    }
    if (record == no_record) return;  // not found by CID: found at its own address
    // RFC 9146 §6: only a record newer than every one accepted so far moves the session.
    // The datagram's oldest record decides, so neither a delayed (or captured) record
    // nor a forged high-numbered one placed beside a genuine older one can move it.
    if (!same_endpoint(from, s.addr)) {
        if (record > s.cid_newest)
            move_to(s, from);
        else
            env_.m.cid_address_changes_refused.inc();
    }
    s.cid_newest = std::max(s.cid_newest, record);
}

void shard::read_application_data(session& s, const tern_endpoint& from, uint64_t record) noexcept {
    bool any = false;
    const uint32_t limit = env_.cfg->max_datagram_size;
    for (;;) {
        // Asking for one byte more than a datagram may have tells an oversized record
        // apart. (The size asked for also sizes wolfSSL's input buffer, which an idle
        // session keeps: a small ask keeps it small.)
        if (plain_used_ == plain_.size()) deliver();
        uint8_t* slot = plain_arena_.data() + static_cast<size_t>(plain_used_) * (limit + 1);
        const int n = wolfSSL_read(s.ssl, slot, static_cast<int>(limit + 1));
        if (n > 0) {
            if (!any && s.cid_len != 0) follow(s, from, record);
            any = true;
            if (static_cast<uint32_t>(n) > limit) {
                // the rest of the record waits in wolfSSL: read and drop it too
                while (wolfSSL_pending(s.ssl) > 0 && wolfSSL_read(s.ssl, read_buf_.data(), static_cast<int>(read_buf_.size())) > 0) {
                }
                count_drop(drop::too_large);
                continue;
            }
            tern_datagram& d = plain_[plain_used_++];
            d.peer = s.peer();
            d.data = tern_bytes{slot, static_cast<size_t>(n)};
            continue;
        }
        const int err = wolfSSL_get_error(s.ssl, n);
        if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) break;
        s.in = nullptr;
        end(s, err == WOLFSSL_ERROR_ZERO_RETURN ? end_reason::close_notify : end_reason::error, false);
        return;
    }
    s.in = nullptr;
    if (any) {
        s.last_ns = s.used_ns = now_;
        lru_remove(s);
        lru_push(s);
    }
    schedule(s);
}

// ---- sending -----------------------------------------------------------------------------

int shard::emit(session& s, const uint8_t* data, size_t size) noexcept {
    if (s.hs) note_flight(s, data, size);
    if (size > tx_slot_) {
        count_drop(drop::send_error, 1, EMSGSIZE);
        return static_cast<int>(size);
    }
    if (tx_.full()) flush();
    uint8_t* slot = tx_arena_.data() + static_cast<size_t>(tx_used_) * tx_slot_;
    std::memcpy(slot, data, size);
    if (!tx_.add(s.addr, family_, slot, size)) {
        count_drop(drop::unreachable, 1, EAFNOSUPPORT);
        return static_cast<int>(size);
    }
    ++tx_used_;
    // wolfSSL treats its send as done: a datagram the socket cannot take is lost, as UDP
    // loses it, and DTLS retransmission recovers handshake flights.
    return static_cast<int>(size);
}

void shard::flush() noexcept {
    if (!tx_.empty()) tx_.flush(fd_, tx_stats_);
    tx_used_ = 0;
    if (tx_stats_.sent != 0) {
        env_.m.datagrams_sent.inc(tx_stats_.sent);
        env_.m.bytes_sent.inc(tx_stats_.bytes);
    }
    if (tx_stats_.failed != 0) count_drop(drop::send_error, tx_stats_.failed, tx_stats_.last_errno);
    if (tx_stats_.would_block != 0) count_drop(drop::would_block, tx_stats_.would_block, tx_stats_.last_errno);
    tx_stats_ = udp_io::send_stats{};
}

void shard::deliver() noexcept {
    if (plain_used_ == 0) return;
    // Inside the sink slot, attach(nullptr) waits for this call to return.
    env_.sink->enter(index_, [&](datagram_sink_v1* sink) {
        if (sink != nullptr)
            sink->on_datagrams(index_, plain_.data(), plain_used_);
        else
            count_drop(drop::no_sink, plain_used_);
    });
    plain_used_ = 0;
}

tern_status shard::send(const tern_datagram* batch, uint32_t count) noexcept {
    now_ = env_.reactor->now_ns();
    tern_status status = TERN_OK;
    for (uint32_t i = 0; i < count; ++i) {
        const tern_datagram& d = batch[i];
        session* s = find(d.peer.session);
        if (s == nullptr || s->state != session_state::established) {
            count_drop(drop::send_no_session);
            status = TERN_NOT_FOUND;
            continue;
        }
        if (d.data.size > env_.cfg->max_datagram_size || d.data.size == 0) {
            count_drop(drop::too_large);
            status = TERN_INVALID_ARGUMENT;
            continue;
        }
        if (s->ssl == nullptr && !restore(*s)) {
            end(*s, end_reason::error, false);
            status = TERN_NOT_FOUND;
            continue;
        }
        s->used_ns = now_;
        if (s->anonymous && coap_response_vouches(bytes_view{d.data.data, d.data.size})) vouch(*s);
        const int w = wolfSSL_write(s->ssl, d.data.data, static_cast<int>(d.data.size));
        if (w != static_cast<int>(d.data.size)) {
            count_drop(drop::send_error);
            status = TERN_IO;
        }
        schedule(*s);
    }
    flush();
    return status;
}

}  // namespace tern::dtls
