// Where a conversion builds its result: telemetry records keyed by ts, keys unique per
// record, and the text of their keys and values. Everything is kept from message to message
// and only cleared, so once the buffers have grown to the largest message seen a conversion
// allocates nothing. Values are typed here the way ThingsBoard types what its Efento code puts
// into a JSON object (a Java double is printed and read back as a number, a string in plain
// decimal becomes a number with type casting), through libs/tb_number like the payload
// adaptors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tern/abi/core.h"
#include "tern/abi/types.h"

namespace tern::efento {

// Text whose bytes keep their address until clear(), however much is stored after them.
class text_store {
public:
    void clear() noexcept;
    std::string_view store(std::string_view text);

private:
    struct chunk {
        std::unique_ptr<char[]> data;
        size_t size = 0;
    };
    std::vector<chunk> chunks_;
    size_t index_ = 0;  // the chunk being filled
    size_t used_ = 0;   // bytes used in it
};

// A key's text: a name, an optional second part and a channel number (0: none), as in
// "co2_" "metadata_" 2 -> "co2_metadata_2".
class key_text {
public:
    explicit key_text(std::string_view name, std::string_view part = {}, uint32_t channel = 0) noexcept;
    std::string_view view() const noexcept { return {buf_, size_}; }

private:
    char buf_[128];
    size_t size_ = 0;
};

// Telemetry records under construction. A key put twice at one ts keeps its first place and
// its last value (what a JSON object does when a property is added again); a removed key put
// again goes to the end of its record.
class record_builder {
public:
    void clear() noexcept;
    // The value of key at ts: the one there (replaced by the caller), or a new one.
    tern_value& put(int64_t ts, std::string_view key);
    // The value of key at ts, if there is one.
    const tern_value* find(int64_t ts, std::string_view key) const noexcept;
    void remove(int64_t ts, std::string_view key) noexcept;
    // Values the records hold now.
    uint32_t size() const noexcept { return live_; }
    // The records by ts ascending, each key once; views into this builder's storage, valid
    // until clear().
    void finish(std::vector<tern_ts_record>& records, std::vector<tern_kv>& values);
    text_store& text() noexcept { return text_; }

private:
    struct entry {
        int64_t ts;
        uint64_t hash;
        uint64_t order;  // place in its record
        tern_kv kv;
        bool live;
    };
    uint32_t lookup(int64_t ts, std::string_view key, uint64_t hash) const noexcept;
    void grow();

    std::vector<entry> entries_;
    std::vector<uint32_t> slots_;  // open addressing: an entry's index, or empty
    std::vector<uint32_t> sorted_;
    text_store text_;
    uint64_t next_order_ = 0;
    uint32_t live_ = 0;
};

// Typed values, as ThingsBoard types them.
class value_typer {
public:
    explicit value_typer(text_store& text) noexcept : text_(text) {}
    // A Java double added to a JSON object: printed by Double.toString and that text typed as
    // a JSON number (1.0E7 becomes the integer 10000000; 22.3 stays the double 22.3).
    void java_double(tern_value& v, double d);
    // A Java String: with type casting a plain decimal becomes a number (a serial "00001234" is
    // the integer 1234), else the text (copied unless stable: it outlives the conversion).
    void string(tern_value& v, std::string_view text, bool type_cast, bool stable);

private:
    text_store& text_;
    std::string number_;
    std::string plain_;
};

inline void set_int(tern_value& v, int64_t i) noexcept {
    v = tern_value{};
    v.type = TERN_VALUE_INT;
    v.u.i = i;
}

// Java's int arithmetic: two's complement wrap-around.
inline int32_t java_int(int64_t v) noexcept { return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v))); }

}  // namespace tern::efento
