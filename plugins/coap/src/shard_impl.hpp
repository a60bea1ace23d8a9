// Internals shared by the shard's and its components' translation units.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <string_view>

#include "shard.hpp"

namespace tern::coap {

// Where and how a response goes: built from a request (engine replies) or an exchange.
struct reply_to {
    uint32_t peer = nil;          // nil: no peer state (refused before one existed)
    uint32_t transport = 0;
    const tern_peer* addr = nullptr;
    std::span<const uint8_t> token;
    uint16_t mid = 0;             // the request's MID
    uint8_t type = 0;             // the request's type
    uint8_t method = 0;
    bool acked = false;           // the CON request has had its empty ACK
    uint8_t no_response = 0;      // RFC 7967: bit (1 << class) set = suppress that class
    uint64_t dedup_seq = 0;
    bool block2 = false;          // the request's Block2 (early negotiation included)
    uint32_t block2_num = 0;
    uint8_t block2_szx = 6;
    bool size2 = false;           // the request asked for Size2
    bool block1 = false;          // echo Block1 (num, M=0, szx)
    uint32_t block1_num = 0;
    uint8_t block1_szx = 6;
    int64_t observe = -1;         // Observe value for the response, -1 none
    uint32_t request_len = 0;     // the request's bytes: the amplification budget's base (0: none)
};

struct build_opts {
    // inputs
    int64_t observe = -1;
    bool block2 = false;
    uint32_t block2_num = 0;
    uint8_t block2_szx = 6;
    bool size2 = false;
    bool block1 = false;
    uint32_t block1_num = 0;
    bool block1_more = false;
    uint8_t block1_szx = 6;
    int64_t size1 = -1;
    int64_t max_age = -1;        // overrides the response's max_age when >= 0
    // amplification limits (amplification.cpp)
    uint8_t szx_cap = 7;         // largest Block2 SZX for this response (7: no cap)
    std::size_t payload_cap = SIZE_MAX; // cut the payload to this many bytes
    const uint8_t* echo = nullptr; // an Echo option value (echo_size bytes) to add
    // outputs
    std::size_t obs_at = 0;      // byte offset where the Observe option starts
    std::size_t suffix_at = 0;   // byte offset just after it
    uint16_t prev_opt = 0;       // the option number written before Observe
    bool first_block = false;    // a Block2 response for block 0 was built
    std::size_t payload_len = 0; // payload bytes written
};

// A request's options as its stages read them (on the stack: nothing allocated). The path,
// query and capture views are in the shard's scratch arrays (path_, query_, caps_).
struct request_options {
    uint64_t ignored = 0;         // bit i: option i is an elective option treated as absent
    int64_t observe = -1;
    int32_t content_format = -1;
    int32_t accept = -1;
    std::optional<block> block1;
    std::optional<block> block2;
    int64_t size1 = -1;
    bool size2 = false;
    bool proxy = false;
    uint32_t path_count = 0;
    uint32_t query_count = 0;
    uint32_t capture_count = 0;
};

// A short diagnostic payload (RFC 7252 §5.5.2) assembled without allocation.
class diag {
public:
    diag& add(std::string_view s) noexcept {
        const std::size_t k = std::min(s.size(), sizeof buf_ - n_);
        if (k == 0) return *this;  // an empty view may have no data() at all: memcpy must not see it
        std::memcpy(buf_ + n_, s.data(), k);
        n_ += k;
        return *this;
    }
    diag& add(uint64_t v) noexcept {
        char t[24];
        auto r = std::to_chars(t, t + sizeof t, v);
        return add(std::string_view(t, static_cast<std::size_t>(r.ptr - t)));
    }
    std::string_view text() const noexcept { return {buf_, n_}; }

private:
    char buf_[200];
    std::size_t n_ = 0;
};

// Brackets every entry into the shard (datagrams, timer, drain, API calls on the shard):
// the outermost one reads the clock once and, on the way out, sends the batch and re-arms
// the timer.
class shard::scope {
public:
    explicit scope(shard& s) noexcept : s_(s) {
        if (s_.depth_++ == 0) s_.now_ = s_.env_.now_ns();
    }
    ~scope() {
        if (--s_.depth_ == 0) {
            s_.flush();
            s_.memory_tick();
            s_.retransmit_.rearm();
        }
    }
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

private:
    shard& s_;
};

inline constexpr uint8_t code_get = 1;

inline uint32_t code_class_of(uint8_t code) noexcept { return code >> 5; }

}  // namespace tern::coap
