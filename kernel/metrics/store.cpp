#include "kernel/metrics/store.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <new>

#include "kernel/metrics/prometheus.hpp"
#include "kernel/reactor/shard_pool.hpp"

namespace tern::kernel::metrics {

namespace {

constexpr std::size_t cache_line = 64;
constexpr std::size_t words_per_line = cache_line / sizeof(uint64_t);
constexpr uint32_t max_buckets = 256;

// A shard cell has one writer: a plain load + store is enough and costs no lock prefix.
inline void add_single(std::atomic<uint64_t>& a, uint64_t d) noexcept {
    a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

inline void add_cell(std::atomic<uint64_t>& a, uint64_t d, bool shared) noexcept {
    if (shared) a.fetch_add(d, std::memory_order_relaxed);
    else add_single(a, d);
}

inline void add_double(std::atomic<uint64_t>& a, double d, bool shared) noexcept {
    uint64_t old = a.load(std::memory_order_relaxed);
    if (!shared) {
        a.store(std::bit_cast<uint64_t>(std::bit_cast<double>(old) + d), std::memory_order_relaxed);
        return;
    }
    while (!a.compare_exchange_weak(old, std::bit_cast<uint64_t>(std::bit_cast<double>(old) + d),
                                    std::memory_order_relaxed)) {
    }
}

}  // namespace

struct store::series {
    series(tern_metric_kind k, std::string l, std::vector<double> b, uint32_t cells)
        : kind(k), labels(std::move(l)), bounds(std::move(b)), cell_count(cells) {
        const std::size_t words = kind == TERN_METRIC_HISTOGRAM ? bounds.size() + 3 : 1;
        stride = (words + words_per_line - 1) / words_per_line * words_per_line;
        const std::size_t total = stride * cell_count;
        data = static_cast<std::atomic<uint64_t>*>(
            ::operator new[](total * sizeof(std::atomic<uint64_t>), std::align_val_t{cache_line}));
        for (std::size_t i = 0; i < total; ++i) new (&data[i]) std::atomic<uint64_t>(0);
    }
    series(const series&) = delete;
    series& operator=(const series&) = delete;
    ~series() { ::operator delete[](data, std::align_val_t{cache_line}); }

    std::atomic<uint64_t>* cell(uint32_t i) const noexcept { return data + std::size_t{i} * stride; }

    const tern_metric_kind kind;
    const std::string labels;
    const std::vector<double> bounds;
    const uint32_t cell_count;
    std::size_t stride = 0;
    std::atomic<uint64_t>* data = nullptr;
    std::atomic<int64_t> set_value{0};
};

store::store(uint32_t shards, reactor::shard_pool* pool)
    : shards_(shards), pool_(pool), table_(new std::atomic<series*>[max_series]) {
    for (uint32_t i = 0; i < max_series; ++i) table_[i].store(nullptr, std::memory_order_relaxed);
}

store::~store() = default;

uint32_t store::cell_index() const noexcept {
    if (pool_ == nullptr) return shards_;
    const uint32_t s = pool_->current_shard();
    return s < shards_ ? s : shards_;
}

store::series* store::lookup(uint64_t id, tern_metric_kind kind) const noexcept {
    if (id == 0 || id > max_series) return nullptr;
    series* s = table_[id - 1].load(std::memory_order_acquire);
    return (s != nullptr && s->kind == kind) ? s : nullptr;
}

uint64_t store::add(tern_metric_kind kind, const char* name, const char* help, const std::string& labels,
                    std::string& err) {
    tern_metric_desc d{};
    d.struct_size = sizeof d;
    d.kind = kind;
    d.name = name;
    d.help = help;
    d.labels = labels.empty() ? nullptr : labels.c_str();
    uint64_t id = 0;
    return add(d, "", id, err) == TERN_OK ? id : 0;
}

tern_status store::add(const tern_metric_desc& desc_in, std::string_view instance, uint64_t& out,
                       std::string& err) {
    // Read only what the caller's struct_size says it has.
    tern_metric_desc d{};
    if (desc_in.struct_size < offsetof(tern_metric_desc, reserved)) {
        err = "tern_metric_desc.struct_size is " + std::to_string(desc_in.struct_size);
        return TERN_INVALID_ARGUMENT;
    }
    std::memcpy(&d, &desc_in, std::min<std::size_t>(desc_in.struct_size, sizeof d));
    const std::string name = d.name != nullptr ? d.name : "";
    if (!valid_metric_name(name)) {
        err = "metric name '" + name + "' is not [a-zA-Z_:][a-zA-Z0-9_:]*";
        return TERN_INVALID_ARGUMENT;
    }
    if (d.kind != TERN_METRIC_COUNTER && d.kind != TERN_METRIC_GAUGE && d.kind != TERN_METRIC_HISTOGRAM) {
        err = "metric '" + name + "' has unknown kind " + std::to_string(d.kind);
        return TERN_INVALID_ARGUMENT;
    }
    const auto labels = canonical_labels(d.labels != nullptr ? d.labels : "", err);
    if (!labels) {
        err = "metric '" + name + "': " + err;
        return TERN_INVALID_ARGUMENT;
    }
    std::string all_labels = instance.empty() ? std::string{} : label_pair("instance", instance);
    if (!labels->empty()) all_labels += (all_labels.empty() ? "" : ",") + *labels;
    std::vector<double> bounds;
    if (d.kind == TERN_METRIC_HISTOGRAM) {
        if (d.bucket_count > max_buckets || (d.bucket_count != 0 && d.buckets == nullptr)) {
            err = "histogram '" + name + "' needs 0.." + std::to_string(max_buckets) + " bucket bounds";
            return TERN_INVALID_ARGUMENT;
        }
        bounds.assign(d.buckets, d.buckets + d.bucket_count);
        for (std::size_t i = 0; i < bounds.size(); ++i) {
            if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
                err = "histogram '" + name + "' bucket bounds must be finite and ascending";
                return TERN_INVALID_ARGUMENT;
            }
        }
    }

    std::lock_guard lock(mu_);
    const std::string key = name + "{" + all_labels + "}";
    if (series_index_.count(key) != 0) {
        err = "metric " + key + " is already registered";
        return TERN_EXISTS;
    }
    family* fam = nullptr;
    if (auto it = family_index_.find(name); it != family_index_.end()) {
        fam = &families_[it->second];
        if (fam->kind != d.kind) {
            err = "metric '" + name + "' is already registered with another kind";
            return TERN_INVALID_ARGUMENT;
        }
    }
    if (owned_.size() >= max_series) {
        err = "too many metric series (" + std::to_string(max_series) + ")";
        return TERN_BUSY;
    }
    if (fam == nullptr) {
        family_index_.emplace(name, families_.size());
        families_.push_back(family{name, d.help != nullptr ? d.help : "", d.kind, {}});
        fam = &families_.back();
    }
    auto s = std::make_unique<series>(d.kind, std::move(all_labels), std::move(bounds), shards_ + 1);
    const uint64_t id = owned_.size() + 1;
    fam->members.push_back(s.get());
    table_[id - 1].store(s.get(), std::memory_order_release);
    owned_.push_back(std::move(s));
    series_index_.emplace(key, id);
    out = id;
    return TERN_OK;
}

void store::count(uint64_t id, uint64_t delta) noexcept {
    series* s = lookup(id, TERN_METRIC_COUNTER);
    if (s == nullptr) return;
    const uint32_t c = cell_index();
    add_cell(s->cell(c)[0], delta, c == shards_);
}

void store::gauge_add(uint64_t id, int64_t delta) noexcept {
    series* s = lookup(id, TERN_METRIC_GAUGE);
    if (s == nullptr) return;
    const uint32_t c = cell_index();
    // two's complement: adding the unsigned image of a negative delta subtracts
    add_cell(s->cell(c)[0], static_cast<uint64_t>(delta), c == shards_);
}

void store::gauge_set(uint64_t id, int64_t value) noexcept {
    series* s = lookup(id, TERN_METRIC_GAUGE);
    if (s == nullptr) return;
    s->set_value.store(value, std::memory_order_relaxed);
}

void store::observe(uint64_t id, double value) noexcept {
    series* s = lookup(id, TERN_METRIC_HISTOGRAM);
    if (s == nullptr) return;
    const uint32_t c = cell_index();
    const bool shared = c == shards_;
    std::atomic<uint64_t>* cell = s->cell(c);
    const std::size_t n = s->bounds.size();
    // le semantics: the first bound >= value; NaN and values above every bound go to +Inf.
    std::size_t b = std::isnan(value) ? n
                                      : static_cast<std::size_t>(
                                            std::lower_bound(s->bounds.begin(), s->bounds.end(), value) -
                                            s->bounds.begin());
    add_cell(cell[b], 1, shared);
    add_double(cell[n + 1], value, shared);
    add_cell(cell[n + 2], 1, shared);
}

void store::add_scrape_hook(std::function<void()> hook) {
    std::lock_guard lock(mu_);
    hooks_.push_back(std::move(hook));
}

std::vector<family_snapshot> store::snapshot() {
    std::lock_guard lock(mu_);
    for (auto& h : hooks_) h();
    std::vector<family_snapshot> out;
    out.reserve(families_.size());
    for (const auto& f : families_) {
        family_snapshot fs{f.name, f.help, f.kind, {}};
        for (const series* s : f.members) {
            series_snapshot ss;
            ss.labels = s->labels;
            const std::size_t n = s->bounds.size();
            if (f.kind == TERN_METRIC_HISTOGRAM) {
                ss.bounds = s->bounds;
                ss.buckets.assign(n + 1, 0);
            }
            uint64_t raw = 0;
            for (uint32_t c = 0; c < s->cell_count; ++c) {
                const std::atomic<uint64_t>* cell = s->cell(c);
                if (f.kind == TERN_METRIC_HISTOGRAM) {
                    for (std::size_t b = 0; b <= n; ++b) ss.buckets[b] += cell[b].load(std::memory_order_relaxed);
                    ss.sum += std::bit_cast<double>(cell[n + 1].load(std::memory_order_relaxed));
                    ss.count += cell[n + 2].load(std::memory_order_relaxed);
                } else {
                    raw += cell[0].load(std::memory_order_relaxed);
                }
            }
            if (f.kind == TERN_METRIC_COUNTER) ss.counter = raw;
            if (f.kind == TERN_METRIC_GAUGE)
                ss.gauge = s->set_value.load(std::memory_order_relaxed) + static_cast<int64_t>(raw);
            fs.series.push_back(std::move(ss));
        }
        out.push_back(std::move(fs));
    }
    return out;
}

}  // namespace tern::kernel::metrics
