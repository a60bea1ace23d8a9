// What every call of the JSON adaptor works in: a per-thread scratch (buffers reused from
// call to call, so a warmed-up thread decodes without allocating) leased for the call, and
// the few steps every call shares (parse the body, fail with a message, emit the output).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "document.hpp"
#include "tern/abi/payload.h"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"
#include "writer.hpp"

namespace tern::json {

// Everything one call needs, reused from call to call on a thread so that decoding a
// message allocates nothing once the buffers have grown to the traffic's size.
struct scratch {
    struct record {
        int64_t ts;
        uint32_t first;
        uint32_t count;
    };

    std::string input;  // the body, parsed in place: keys and strings point into it
    document doc;
    std::string arena;  // text made while decoding: JSON values, big numbers
    std::string plain;
    std::vector<tern_kv> kvs;
    std::vector<std::pair<uint32_t, uint32_t>> fixups;  // kv whose text lives in arena, at offset
    std::vector<record> records;
    std::vector<tern_ts_record> ts_records;
    std::vector<member> members;
    std::vector<uint32_t> order;
    std::string out;
    std::string error;

    void reset() noexcept {
        doc.clear();
        arena.clear();
        kvs.clear();
        fixups.clear();
        records.clear();
        ts_records.clear();
        members.clear();
        out.clear();
        error.clear();
    }

    // A rare huge message must not pin its memory to the thread for good.
    void trim() noexcept {
        constexpr std::size_t keep = 256 * 1024;
        auto shrink = [](auto& v, std::size_t bytes) {
            if (bytes > keep) std::decay_t<decltype(v)>().swap(v);
        };
        shrink(input, input.capacity());
        shrink(arena, arena.capacity());
        shrink(plain, plain.capacity());
        shrink(out, out.capacity());
        shrink(doc.nodes, doc.nodes.capacity() * sizeof(node));
        shrink(kvs, kvs.capacity() * sizeof(tern_kv));
        shrink(members, members.capacity() * sizeof(member));
        shrink(order, order.capacity() * sizeof(uint32_t));
        shrink(records, records.capacity() * sizeof(record));
        shrink(ts_records, ts_records.capacity() * sizeof(tern_ts_record));
        shrink(fixups, fixups.capacity() * sizeof(fixups[0]));
    }
};

// A scratch for the duration of one call. A sink may call back into the adaptor on the same
// thread (a core completing synchronously, say): nested calls get their own scratch, so the
// views handed to the outer sink stay intact.
class scratch_lease {
public:
    scratch_lease() {
        auto& p = pool();
        if (depth_ < p.size()) {
            s_ = p[depth_].get();
        } else if (p.size() < 4) {
            p.push_back(std::make_unique<scratch>());
            s_ = p.back().get();
        } else {
            own_ = std::make_unique<scratch>();
            s_ = own_.get();
        }
        ++depth_;
        s_->reset();
    }
    ~scratch_lease() {
        --depth_;
        s_->trim();
    }
    scratch_lease(const scratch_lease&) = delete;
    scratch_lease& operator=(const scratch_lease&) = delete;

    scratch* operator->() const noexcept { return s_; }
    scratch& operator*() const noexcept { return *s_; }

private:
    static std::vector<std::unique_ptr<scratch>>& pool() {
        thread_local std::vector<std::unique_ptr<scratch>> p;
        return p;
    }
    static inline thread_local std::size_t depth_ = 0;
    scratch* s_ = nullptr;
    std::unique_ptr<scratch> own_;
};

// ---- steps every call shares -----------------------------------------------------------------

inline tern_status fail(tern_error* err, std::string_view why) {
    sdk::set_error(err, why);
    return TERN_INVALID_ARGUMENT;
}

inline void emit(tern_bytes_sink sink, void* ctx, std::string_view text) { sink(ctx, sdk::to_bytes(text)); }

inline bool parse_body(scratch& s, tern_bytes body, bool lenient) {
    return parse(sdk::as_text(body), parse_options{lenient}, s.input, s.doc, s.error);
}

inline bool is_object(const document& doc) noexcept { return !doc.empty && doc[0].kind == node_kind::object; }

// A key for an error message: at most 64 bytes, cut at a character boundary.
inline std::string shown(std::string_view key) {
    if (key.size() <= 64) return std::string(key);
    std::size_t n = 64;
    while (n > 0 && (static_cast<unsigned char>(key[n]) & 0xC0) == 0x80) --n;
    return std::string(key.substr(0, n)) + "...";
}

}  // namespace tern::json
