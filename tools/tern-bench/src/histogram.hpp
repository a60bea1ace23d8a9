// Log-linear latency histogram in the HDR style: values below 2^sub_bits are exact, above
// that every power-of-two range is cut into 2^(sub_bits-1) equal buckets, so any recorded
// value is off by less than 1/128 (0.8 %). Fixed size, no allocation per sample, and two
// histograms merge by adding counts (one per thread).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace tern::bench {

class histogram {
public:
    static constexpr unsigned sub_bits = 8;
    static constexpr uint64_t sub_count = 1u << sub_bits;         // exact below this
    static constexpr uint64_t half = sub_count / 2;                // buckets per octave
    static constexpr unsigned max_shift = 64 - sub_bits;           // covers all of uint64
    static constexpr size_t bucket_count = sub_count + max_shift * half;

    void record(uint64_t v) {
        ++counts_[index_of(v)];
        ++total_;
        if (v > max_) max_ = v;
        if (v < min_) min_ = v;
    }

    void merge(const histogram& o) {
        for (size_t i = 0; i < bucket_count; ++i) counts_[i] += o.counts_[i];
        total_ += o.total_;
        if (o.max_ > max_) max_ = o.max_;
        if (o.min_ < min_) min_ = o.min_;
    }

    uint64_t count() const { return total_; }
    uint64_t max() const { return total_ ? max_ : 0; }
    uint64_t min() const { return total_ ? min_ : 0; }

    // The value at quantile q (0..1): the middle of the bucket holding the ceil(q*n)-th
    // smallest sample, clamped to the exact min/max so it never lies outside the samples.
    uint64_t quantile(double q) const {
        if (!total_) return 0;
        uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_) + 0.999999);
        if (rank < 1) rank = 1;
        if (rank >= total_) return max_;  // the largest sample is known exactly
        uint64_t seen = 0;
        for (size_t i = 0; i < bucket_count; ++i) {
            seen += counts_[i];
            if (seen >= rank) {
                const uint64_t lo = lower_bound(i);
                const uint64_t width = bucket_width(i);
                uint64_t v = lo + width / 2;
                if (v > max_) v = max_;
                if (v < min_) v = min_;
                return v;
            }
        }
        return max_;
    }

    static size_t index_of(uint64_t v) {
        if (v < sub_count) return static_cast<size_t>(v);
        const unsigned shift = static_cast<unsigned>(std::bit_width(v)) - sub_bits;
        // v >> shift lies in [half, sub_count): each octave adds `half` buckets.
        return static_cast<size_t>(shift * half + (v >> shift));
    }
    static uint64_t lower_bound(size_t i) {
        if (i < sub_count) return i;
        const uint64_t shift = (i - half) / half;
        const uint64_t mantissa = i - shift * half;
        return mantissa << shift;
    }
    static uint64_t bucket_width(size_t i) {
        if (i < sub_count) return 1;
        return uint64_t{1} << ((i - half) / half);
    }

private:
    std::array<uint64_t, bucket_count> counts_{};
    uint64_t total_ = 0;
    uint64_t max_ = 0;
    uint64_t min_ = UINT64_MAX;
};

}  // namespace tern::bench
