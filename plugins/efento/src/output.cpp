#include "output.hpp"

#include <algorithm>
#include <cstring>

#include "tern/tb_number/number.hpp"

namespace tern::efento {

// ---- text_store ----

void text_store::clear() noexcept {
    index_ = 0;
    used_ = 0;
}

std::string_view text_store::store(std::string_view text) {
    if (text.empty()) return {};
    while (index_ < chunks_.size() && chunks_[index_].size - used_ < text.size()) {
        ++index_;
        used_ = 0;
    }
    if (index_ == chunks_.size()) {
        const size_t size = std::max<size_t>(4096, text.size());
        chunks_.push_back(chunk{std::make_unique<char[]>(size), size});
        used_ = 0;
    }
    char* at = chunks_[index_].data.get() + used_;
    std::memcpy(at, text.data(), text.size());
    used_ += text.size();
    return {at, text.size()};
}

// ---- key_text ----

key_text::key_text(std::string_view name, std::string_view part, uint32_t channel) noexcept {
    // Names come from the mapping's tables (at most 64 characters together): never cut.
    const size_t room = sizeof(buf_) - 11;
    const size_t n = std::min(name.size(), room);
    std::memcpy(buf_, name.data(), n);
    const size_t p = std::min(part.size(), room - n);
    if (p != 0) std::memcpy(buf_ + n, part.data(), p);  // a default part's data() is null
    size_ = n + p;
    if (channel != 0) {
        char digits[10];
        int d = 0;
        for (uint32_t c = channel; c != 0; c /= 10) digits[d++] = static_cast<char>('0' + c % 10);
        while (d > 0) buf_[size_++] = digits[--d];
    }
}

// ---- record_builder ----

namespace {

constexpr uint32_t empty_slot = UINT32_MAX;

uint64_t hash_of(int64_t ts, std::string_view key) noexcept {
    uint64_t h = 1469598103934665603ull ^ static_cast<uint64_t>(ts) * 0x9E3779B97F4A7C15ull;
    for (const char c : key) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return h ^ (h >> 29);
}

std::string_view key_of(const tern_kv& kv) noexcept { return {kv.key.data, kv.key.size}; }

}  // namespace

void record_builder::clear() noexcept {
    entries_.clear();
    std::fill(slots_.begin(), slots_.end(), empty_slot);
    text_.clear();
    next_order_ = 0;
    live_ = 0;
}

uint32_t record_builder::lookup(int64_t ts, std::string_view key, uint64_t hash) const noexcept {
    if (slots_.empty()) return empty_slot;
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        const uint32_t e = slots_[i];
        if (e == empty_slot) return empty_slot;
        const entry& x = entries_[e];
        if (x.hash == hash && x.ts == ts && key_of(x.kv) == key) return e;
    }
}

void record_builder::grow() {
    const size_t size = slots_.empty() ? 64 : slots_.size() * 2;
    slots_.assign(size, empty_slot);
    const size_t mask = size - 1;
    for (uint32_t e = 0; e < entries_.size(); ++e) {
        size_t i = entries_[e].hash & mask;
        while (slots_[i] != empty_slot) i = (i + 1) & mask;
        slots_[i] = e;
    }
}

tern_value& record_builder::put(int64_t ts, std::string_view key) {
    const uint64_t hash = hash_of(ts, key);
    const uint32_t found = lookup(ts, key, hash);
    if (found != empty_slot) {
        entry& x = entries_[found];
        if (!x.live) {  // removed, then added again: at the end of its record
            x.live = true;
            x.order = next_order_++;
            ++live_;
        }
        return x.kv.value;
    }
    if ((entries_.size() + 1) * 2 > slots_.size()) grow();
    const std::string_view stored = text_.store(key);
    entries_.push_back(entry{ts, hash, next_order_++, tern_kv{tern_str{stored.data(), stored.size()}, tern_value{}}, true});
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    while (slots_[i] != empty_slot) i = (i + 1) & mask;
    slots_[i] = static_cast<uint32_t>(entries_.size() - 1);
    ++live_;
    return entries_.back().kv.value;
}

const tern_value* record_builder::find(int64_t ts, std::string_view key) const noexcept {
    const uint32_t e = lookup(ts, key, hash_of(ts, key));
    return e != empty_slot && entries_[e].live ? &entries_[e].kv.value : nullptr;
}

void record_builder::remove(int64_t ts, std::string_view key) noexcept {
    const uint32_t e = lookup(ts, key, hash_of(ts, key));
    if (e == empty_slot || !entries_[e].live) return;
    entries_[e].live = false;  // stays in the table: a later put finds it again
    --live_;
}

void record_builder::finish(std::vector<tern_ts_record>& records, std::vector<tern_kv>& values) {
    records.clear();
    values.clear();
    sorted_.clear();
    for (uint32_t e = 0; e < entries_.size(); ++e)
        if (entries_[e].live) sorted_.push_back(e);
    std::sort(sorted_.begin(), sorted_.end(), [this](uint32_t a, uint32_t b) {
        const entry& x = entries_[a];
        const entry& y = entries_[b];
        return x.ts != y.ts ? x.ts < y.ts : x.order < y.order;
    });
    for (const uint32_t e : sorted_) values.push_back(entries_[e].kv);
    // Views into values only once it has stopped growing.
    size_t i = 0;
    while (i < sorted_.size()) {
        const int64_t ts = entries_[sorted_[i]].ts;
        size_t j = i;
        while (j < sorted_.size() && entries_[sorted_[j]].ts == ts) ++j;
        records.push_back(tern_ts_record{ts, values.data() + i, static_cast<uint32_t>(j - i), 0});
        i = j;
    }
}

// ---- value_typer ----

namespace {

void set_double(tern_value& v, double d) noexcept {
    v = tern_value{};
    v.type = TERN_VALUE_DOUBLE;
    v.u.d = d;
}

void set_text(tern_value& v, std::string_view text) noexcept {
    v = tern_value{};
    v.type = TERN_VALUE_STR;
    v.u.s = tern_str{text.empty() ? nullptr : text.data(), text.size()};
}

}  // namespace

void value_typer::java_double(tern_value& v, double d) {
    if (tb::java_double_stays_double(d)) return set_double(v, d);
    number_.clear();
    tb::append_java_double(number_, d);
    tb::decimal dec;
    int64_t i = 0;
    double x = 0;
    if (tb::split_number(number_, dec)) {
        // The values converted here (an int over 10, 100 or 1000) always fit a long: type
        // casting cannot change their class.
        switch (tb::classify(dec, true, i, x, plain_)) {
            case tb::number_class::integer: return set_int(v, i);
            case tb::number_class::floating: return set_double(v, x);
            default: break;
        }
    }
    set_double(v, d);
}

void value_typer::string(tern_value& v, std::string_view text, bool type_cast, bool stable) {
    tb::decimal dec;
    if (type_cast && tb::split_parsable(text, dec)) {
        int64_t i = 0;
        double x = 0;
        switch (tb::classify(dec, true, i, x, plain_)) {
            case tb::number_class::integer: return set_int(v, i);
            case tb::number_class::floating: return set_double(v, x);
            case tb::number_class::text: return set_text(v, text_.store(plain_));
            default: break;  // a plain decimal has no exponent: it stays the string
        }
    }
    set_text(v, stable ? text : text_.store(text));
}

}  // namespace tern::efento
