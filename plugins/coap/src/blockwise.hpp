// Block-wise transfers (RFC 7959). Block1 is reassembled before the handler, per (peer,
// method, path, query): a buffer that grows with the bytes received (never sized from
// Size1), bounded per peer, in total and in memory, the least recently advanced upload
// giving way. Block2 is stateless: every answer is sliced to the block the client asked for.
#pragma once

#include <cstdint>

#include "tern/abi/types.h"

namespace tern::coap {

class shard;
struct reply_to;
struct request_options;
struct build_opts;
struct block;

class blockwise {
public:
    explicit blockwise(shard& s) noexcept : s_(s) {}

    // The request stage (Block1 or Size1 present): adds the block to its upload. True when
    // the request goes on to its handler (payload: the whole body; transfer: the upload to
    // discard after the handler, or nil); false when it was answered (2.31 Continue or an
    // error).
    bool reassemble(reply_to& to, const request_options& o, tern_bytes& payload,
                    uint32_t& transfer) noexcept;
    void discard(uint32_t t) noexcept;
    // Discards uploads idle for blockwise_status_lifetime.
    void expire() noexcept;

    // Block2: the slice of a body of `total` bytes to send, for a response of class 2.xx
    // (success) built with o (the client's Block2, the amplification cap on SZX).
    struct slice_t {
        bool block2 = false;   // the response carries Block2
        uint32_t num = 0;
        uint8_t szx = 6;
        bool more = false;
        uint64_t off = 0;
        uint64_t len = 0;
        bool size2 = false;    // ... and Size2
        bool out_of_range = false;
    };
    slice_t slice(uint64_t total, bool success, const build_opts& o) const noexcept;

private:
    // RFC 7959 §2.5: request matching ignores MID and token; method, path and query
    // identify an upload.
    uint64_t key_of(const reply_to& to, const request_options& o) const noexcept;
    // A new upload (block 0), making room first; nil only when no room could be made.
    uint32_t start_upload(uint32_t peer, uint64_t key, uint32_t kh) noexcept;
    // Appends block b's bytes to upload t; false when answered (out of order, too large,
    // no memory: the upload is discarded then).
    bool append(reply_to& to, uint32_t t, const block& b) noexcept;
    // Makes room in the shared block1_memory budget and grows t's buffer to cap.
    bool grow(uint32_t t, uint64_t cap) noexcept;
    void refuse_too_large(reply_to& to) noexcept;
    void send_continue(const reply_to& to, uint32_t num, uint8_t szx) noexcept;

    shard& s_;
};

}  // namespace tern::coap
