// Idle compaction: a DTLS 1.2 session quiet for idle_compact_after gives its wolfSSL object
// up for the object's exported state, and gets it back (imported) for its next datagram.
//
// wolfSSL's export carries keys, sequence numbers and the replay window, but not the
// Connection ID. What receiving needs of it is the CID we issued (the session keeps it), and
// wolfSSL's record layer reads only that once the handshake is over, so an imported object is
// given it again. The client's own CID (what our records to it would carry) could only be
// learnt from a handshake: a session whose client asked for a non-empty one keeps its object.
// Devices behind NAT ask for an empty one.
//
// The exported state is kept packed (zero_runs.hpp): it is mostly zeros.
#include "shard.hpp"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include <malloc.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "zero_runs.hpp"

namespace tern::dtls {

namespace {

constexpr uint64_t compact_scan_min_gap_ns = 100 * shard::ms;  // the pass walks every session
constexpr size_t compact_trim_threshold = 256;           // compactions that warrant a malloc_trim

}  // namespace

void shard::compact(session& s) noexcept {
#ifdef WOLFSSL_SESSION_EXPORT
    if (s.cid_len != 0) {
        unsigned int peer_cid = 0;
        if (wolfSSL_dtls_cid_get_tx_size(s.ssl, &peer_cid) != WOLFSSL_SUCCESS || peer_cid != 0) {
            s.keep_object = true;
            return;
        }
    }
    unsigned int size = 0;
    wolfSSL_dtls_export(s.ssl, nullptr, &size);
    // the export, then its packing, in the shard's scratch
    try {
        export_buf_.resize(size + packed_bound(size));
    } catch (...) {
        return;
    }
    const int n = wolfSSL_dtls_export(s.ssl, export_buf_.data(), &size);
    if (n <= 0) {
        s.keep_object = true;  // not exportable: do not try every tick
        return;
    }
    uint8_t* packed = export_buf_.data() + size;
    const size_t packed_len = pack_zeros(export_buf_.data(), static_cast<size_t>(n), packed);
    uint8_t* blob = packed_len <= blob_slot ? static_cast<uint8_t*>(blobs_.take())
                                            : new (std::nothrow) uint8_t[packed_len];
    if (blob == nullptr) return;
    std::memcpy(blob, packed, packed_len);
    wolfSSL_free(s.ssl);
    s.ssl = nullptr;
    s.blob = blob;
    s.blob_len = static_cast<uint32_t>(packed_len);
    ++compacted_;
    if (packed_len > blob_slot) heap_blob_bytes_ += chunk(packed_len);
    env_.m.compact_sessions.add(1);
#else
    (void)s;
#endif
}

bool shard::restore(session& s) noexcept {
#ifdef WOLFSSL_SESSION_EXPORT
    if (s.ssl != nullptr) return true;
    if (s.blob == nullptr) return false;
    const size_t size = unpacked_size(s.blob, s.blob_len);
    if (size == 0) return false;
    try {
        export_buf_.resize(std::max(export_buf_.size(), size));
    } catch (...) {
        return false;
    }
    unpack_zeros(s.blob, s.blob_len, export_buf_.data());
    WOLFSSL* ssl = wolfSSL_new(tls().restore_ctx());
    if (ssl == nullptr) return false;
    if (wolfSSL_dtls_import(ssl, export_buf_.data(), static_cast<unsigned int>(size)) <= 0) {
        wolfSSL_free(ssl);
        return false;
    }
    if (s.cid_len != 0 &&
        (wolfSSL_dtls_cid_use(ssl) != WOLFSSL_SUCCESS || wolfSSL_dtls_cid_set(ssl, s.cid, s.cid_len) != WOLFSSL_SUCCESS)) {
        wolfSSL_free(ssl);
        return false;
    }
    wolfSSL_SetIOReadCtx(ssl, &s);
    wolfSSL_SetIOWriteCtx(ssl, &s);
    wolfSSL_SetCertCbCtx(ssl, &s);
    wolfSSL_dtls_set_using_nonblock(ssl, 1);
#ifdef WOLFSSL_DTLS_MTU
    wolfSSL_dtls_set_mtu(ssl, static_cast<unsigned short>(env_.cfg->max_datagram_size + record_overhead));
#endif
    s.ssl = ssl;
    --compacted_;
    drop_blob(s);
    env_.m.compact_sessions.add(-1);
    // restored for traffic (either way): compact again once that is quiet
    s.used_ns = now_;
    compact_due_ns_ = std::min(compact_due_ns_, now_ + env_.cfg->idle_compact_after_ms * ms);
    arm(now_ + env_.cfg->idle_compact_after_ms * ms);
    return true;
#else
    (void)s;
    return false;
#endif
}

void shard::compact_idle() noexcept {
    const settings& c = *env_.cfg;
    if (c.idle_compact_after_ms == 0 || compact_due_ns_ > now_ ||
        now_ - compact_scanned_ns_ < compact_scan_min_gap_ns)
        return;
    // One pass: compact what has been quiet long enough, and note when the next one will
    // be. Sessions are in order of last receipt, but a send (used_ns) or a pending timer
    // can hold one back while newer ones are due, so the pass does not stop early.
    const uint64_t after = c.idle_compact_after_ms * ms;
    uint64_t due = UINT64_MAX;
    size_t compacted = 0;
    for (session* first : {known_.oldest, anon_.oldest}) {
        for (session* s = first; s != nullptr; s = s->newer) {
            // DTLS 1.3 sessions keep their object: wolfSSL's export does not carry DTLS 1.3.
            if (s->ssl == nullptr || s->dtls13 || s->keep_object) continue;
            const uint64_t at = std::max(s->last_ns, s->used_ns) + after;
            if (at <= now_ && s->timer_ns == 0) {
                compact(*s);
                ++compacted;
            } else {
                due = std::min(due, std::max(at, now_ + ms));
            }
        }
    }
    compact_due_ns_ = due;
    // Each compaction frees ~9 KB in pieces; once a few hundred have been freed, give the
    // pages back to the OS so the resident size (what operators watch) shows the saving.
    compacted_since_trim_ += compacted;
    if (compacted_since_trim_ >= compact_trim_threshold) {
        ::malloc_trim(0);
        compacted_since_trim_ = 0;
    }
    compact_scanned_ns_ = now_;
}

void shard::drop_blob(session& s) noexcept {
    if (s.blob == nullptr) return;
    if (s.blob_len <= blob_slot) {
        blobs_.give(s.blob);
    } else {
        heap_blob_bytes_ -= chunk(s.blob_len);
        delete[] s.blob;
    }
    s.blob = nullptr;
    s.blob_len = 0;
}

uint64_t shard::compaction_due() const noexcept {
    if (env_.cfg->idle_compact_after_ms == 0 || compact_due_ns_ == UINT64_MAX) return UINT64_MAX;
    return std::max(compact_due_ns_, compact_scanned_ns_ + compact_scan_min_gap_ns);
}

}  // namespace tern::dtls
