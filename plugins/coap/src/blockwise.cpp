#include "blockwise.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "engine.hpp"
#include "shard_impl.hpp"

namespace tern::coap {

// ---- Block1: reassembly (RFC 7959 §2.5) -----------------------------------------------------

bool blockwise::reassemble(reply_to& to, const request_options& o, tern_bytes& payload,
                           uint32_t& transfer) noexcept {
    transfer = nil;
    if (!o.block1 && o.size1 < 0) return true;
    const uint32_t p = to.peer;
    const uint64_t key = key_of(to, o);
    const uint32_t kh = static_cast<uint32_t>(mix64(key ^ p));
    uint32_t t = s_.xfer_index_.find(kh, [&](uint32_t i) {
        return s_.xfers_[i].peer == p && s_.xfers_[i].key == key;
    });

    // Refused at the first block whose Size1 or offset passes the limit, not after the
    // bytes were buffered. (Its default is device_api's max_payload_size default.)
    if (o.size1 >= 0 && static_cast<uint64_t>(o.size1) > s_.cfg_.max_resource_body_size) {
        if (t != nil) discard(t);
        refuse_too_large(to);
        return false;
    }
    if (!o.block1) return true;
    const block b = *o.block1;
    const uint8_t szx = std::min(b.szx, s_.pref_szx_);
    const std::size_t len = s_.msg_.payload.size();
    if ((b.more && len != b.size()) || len > b.size()) {
        if (t != nil) discard(t);
        s_.reply_error(to, code::bad_request, "Block1 payload size does not match its SZX");
        return false;
    }
    to.block1 = true;
    to.block1_num = b.num;
    to.block1_szx = szx;
    if (b.num == 0 && !b.more) {
        if (t != nil) discard(t);  // a one-block body replaces any transfer
        return true;
    }
    if (b.num == 0) {
        if (t != nil) discard(t);
        t = start_upload(p, key, kh);
        if (t == nil) {  // not reached: room was made
            s_.m_.inc(ctr::shed_block1_transfers);
            s_.reply_error(to, code::service_unavailable,
                           "server busy: too many block-wise uploads", s_.cfg_.overload_max_age);
            return false;
        }
    } else if (t == nil) {
        diag d;
        d.add("block ").add(b.num).add(" arrived without the blocks before it");
        s_.reply_error(to, code::request_entity_incomplete, d.text());
        return false;
    }
    if (!append(to, t, b)) return false;
    if (b.more) {
        send_continue(to, b.num, szx);
        return false;
    }
    s_.m_.inc(ctr::block_in);
    transfer = t;
    const transfer_rec& tr = s_.xfers_[t];
    payload = tern_bytes{tr.buf, static_cast<std::size_t>(tr.size)};
    return true;
}

uint64_t blockwise::key_of(const reply_to& to, const request_options& o) const noexcept {
    uint64_t key = mix64(s_.hash_seed_ ^ to.method);
    for (uint32_t i = 0; i < o.path_count; ++i)
        key = mix64(key ^ hash_bytes(s_.path_[i].data, s_.path_[i].size, s_.hash_seed_ + 1));
    for (uint32_t i = 0; i < o.query_count; ++i)
        key = mix64(key ^ hash_bytes(s_.query_[i].data, s_.query_[i].size, s_.hash_seed_ + 2));
    return key;
}

uint32_t blockwise::start_upload(uint32_t p, uint64_t key, uint32_t kh) noexcept {
    // A peer at its cap gives up its own least recently advanced upload; a full table the
    // least recently advanced of any peer. A new upload is never refused for uploads that
    // stalled (or were never meant to finish).
    if (s_.peers_[p].transfers >= s_.cfg_.max_block1_transfers_per_peer) {
        uint32_t own = s_.xfer_lru_.head;
        while (own != nil && s_.xfers_[own].peer != p) own = s_.xfers_[own].lru.next;
        if (own != nil) {
            s_.m_.inc(ctr::block1_recycled_per_peer);
            discard(own);
        }
    }
    if (s_.xfers_.full()) {
        s_.m_.inc(ctr::block1_evicted);
        discard(s_.xfer_lru_.head);
    }
    const uint32_t t = s_.xfers_.alloc();
    if (t == nil) return nil;
    transfer_rec& tr = s_.xfers_[t];
    tr.peer = p;
    tr.key = key;
    tr.hash = kh;
    tr.last_off = UINT64_MAX;
    s_.xfer_index_.insert(kh, t);
    s_.xfer_lru_.push_back(t, [this](uint32_t i) -> list_link& { return s_.xfers_[i].lru; });
    ++s_.peers_[p].transfers;
    s_.peer_ref(p);
    return t;
}

bool blockwise::append(reply_to& to, uint32_t t, const block& b) noexcept {
    transfer_rec& tr = s_.xfers_[t];
    const uint64_t off = b.offset();
    const std::size_t len = s_.msg_.payload.size();
    const bool repeat = off == tr.last_off && b.num == tr.last_num && b.szx == tr.last_szx;
    if (!repeat && off != tr.size) {
        // the diagnostic reads the transfer, so it is built before the free
        diag d;
        d.add("block ").add(b.num).add(" out of order (expected offset ").add(tr.size).add(")");
        discard(t);
        s_.reply_error(to, code::request_entity_incomplete, d.text());
        return false;
    }
    if (!repeat) {
        const uint64_t limit = s_.cfg_.max_resource_body_size;
        const uint64_t end = off + len;
        if (end > limit) {
            discard(t);
            refuse_too_large(to);
            return false;
        }
        if (end > tr.cap) {
            // Grown as blocks arrive (doubling), never reserved from Size1: a claimed size
            // costs nothing until the bytes come.
            const uint64_t cap = std::max<uint64_t>(
                end, std::min<uint64_t>(limit, std::max<uint64_t>(tr.cap * 2, 4096)));
            if (!grow(t, cap)) {
                discard(t);
                s_.m_.inc(ctr::shed_block1_memory);
                s_.reply_error(to, code::service_unavailable,
                               "server busy: block-wise upload memory exhausted",
                               s_.cfg_.overload_max_age);
                return false;
            }
        }
        if (len != 0) std::memcpy(tr.buf + off, s_.msg_.payload.data(), len);
        tr.size = end;
        tr.last_off = off;
        tr.last_num = b.num;
        tr.last_szx = b.szx;
    }
    tr.last_ns = s_.now_;
    s_.xfer_lru_.remove(t, [this](uint32_t i) -> list_link& { return s_.xfers_[i].lru; });
    s_.xfer_lru_.push_back(t, [this](uint32_t i) -> list_link& { return s_.xfers_[i].lru; });
    return true;
}

bool blockwise::grow(uint32_t t, uint64_t cap) noexcept {
    transfer_rec& tr = s_.xfers_[t];
    const uint64_t grow = cap - tr.cap;
    auto& total = s_.eng_.block1_bytes();
    // Over the memory budget (shared by every shard): this shard's least recently advanced
    // other uploads give way first.
    while (total.load(std::memory_order_relaxed) + grow > s_.cfg_.block1_memory) {
        const uint32_t v = s_.xfer_lru_.head == t ? s_.xfers_[t].lru.next : s_.xfer_lru_.head;
        if (v == nil) break;
        s_.m_.inc(ctr::block1_evicted);
        discard(v);
    }
    void* nb = nullptr;
    if (total.fetch_add(grow, std::memory_order_relaxed) + grow <= s_.cfg_.block1_memory)
        nb = std::realloc(tr.buf, cap);
    if (nb == nullptr) {
        total.fetch_sub(grow, std::memory_order_relaxed);
        return false;
    }
    tr.buf = static_cast<uint8_t*>(nb);
    tr.cap = cap;
    return true;
}

void blockwise::refuse_too_large(reply_to& to) noexcept {
    const uint64_t limit = s_.cfg_.max_resource_body_size;
    s_.m_.inc(ctr::block1_too_large);
    diag d;
    d.add("request body too large (limit ").add(limit).add(" bytes)");
    s_.reply_error(to, code::request_entity_too_large, d.text(), -1, static_cast<int64_t>(limit));
}

void blockwise::send_continue(const reply_to& to, uint32_t num, uint8_t szx) noexcept {
    // RFC 7959 §2.3: 2.31 Continue, with the server's block size.
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = code::continue_;
    r.content_format = -1;
    r.max_age = -1;
    reply_to cont = to;
    cont.block2 = false;
    build_opts o;
    o.block1 = true;
    o.block1_num = num;
    o.block1_more = true;
    o.block1_szx = szx;
    cont.block1 = false;
    s_.send_response(cont, r, nil, &o);
}

void blockwise::discard(uint32_t t) noexcept {
    transfer_rec& tr = s_.xfers_[t];
    if (tr.buf != nullptr) std::free(tr.buf);
    s_.eng_.block1_bytes().fetch_sub(tr.cap, std::memory_order_relaxed);
    s_.xfer_index_.erase(tr.hash, t);
    s_.xfer_lru_.remove(t, [this](uint32_t i) -> list_link& { return s_.xfers_[i].lru; });
    const uint32_t p = tr.peer;
    --s_.peers_[p].transfers;
    s_.xfers_.free(t);
    s_.peer_unref(p);
}

void blockwise::expire() noexcept {
    const uint64_t life = s_.cfg_.blockwise_status_lifetime_ms * 1000000;
    while (!s_.xfer_lru_.empty() && s_.xfers_[s_.xfer_lru_.head].last_ns + life <= s_.now_)
        discard(s_.xfer_lru_.head);
}

// ---- Block2: stateless slicing (RFC 7959 §2.4) ----------------------------------------------

blockwise::slice_t blockwise::slice(uint64_t total, bool success, const build_opts& o) const noexcept {
    slice_t s;
    // Our block size, or smaller when the amplification budget asks for it.
    const uint8_t our_szx = std::min(s_.pref_szx_, o.szx_cap);
    s.szx = our_szx;
    s.len = total;
    if (success && o.block2) {
        // The smaller of the client's and our block size; a smaller one renumbers the
        // block so it still starts at the offset the client asked for (RFC 7959 §2.4).
        s.szx = std::min(o.block2_szx, our_szx);
        s.num = o.block2_num << (o.block2_szx - s.szx);
        const uint64_t size = uint64_t{16} << s.szx;
        s.off = uint64_t{s.num} * size;
        if (s.off > total || (s.off == total && total != 0)) {
            s.out_of_range = true;
            return s;
        }
        s.len = std::min(size, total - s.off);
        s.more = s.off + s.len < total;
        s.block2 = true;
        s.size2 = o.size2 || s.num == 0;
    } else if (total > s_.cfg_.max_message_size ||
               (success && o.szx_cap <= 6 && total > (uint64_t{16} << s.szx))) {
        const uint64_t size = uint64_t{16} << s.szx;
        s.len = std::min(size, total);
        s.more = total > s.len;
        s.block2 = true;
        s.size2 = true;
    }
    return s;
}

}  // namespace tern::coap
