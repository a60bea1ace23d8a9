// A comfortable face over the host services: a logger that takes several arguments, a
// config reader that throws tern::sdk::error, metric handles, typed registry look-ups
// (find<I>() and require<I>(), by the id interfaces.hpp binds to I).
// Everything here is inline and compiled into the plugin; only ABI types cross.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tern/abi/host.h"
#include "tern/sdk/interfaces.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::sdk {

namespace detail {
inline void append(std::string& out, std::string_view v) { out.append(v); }
inline void append(std::string& out, const char* v) { out.append(v == nullptr ? "(null)" : v); }
inline void append(std::string& out, const std::string& v) { out.append(v); }
inline void append(std::string& out, char v) { out.push_back(v); }
inline void append(std::string& out, bool v) { out.append(v ? "true" : "false"); }
inline void append(std::string& out, tern_str v) { out.append(to_sv(v)); }
template <class T>
    requires std::is_arithmetic_v<T>
void append(std::string& out, T v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, r.ptr);
}
}  // namespace detail

// Concatenates the arguments' text: cat("port ", 5683) == "port 5683".
template <class... A>
std::string cat(const A&... a) {
    std::string s;
    (detail::append(s, a), ...);
    return s;
}

class logger {
public:
    logger() = default;
    explicit logger(log_v1* log) : log_(log) {}

    bool enabled(tern_log_level level) const noexcept {
        return log_ != nullptr && level >= log_->level();
    }
    template <class... A>
    void write(tern_log_level level, const A&... a) const {
        if (!enabled(level)) return;
        const std::string s = cat(a...);
        log_->write(level, to_str(s));
    }
    template <class... A> void trace(const A&... a) const { write(TERN_LOG_TRACE, a...); }
    template <class... A> void debug(const A&... a) const { write(TERN_LOG_DEBUG, a...); }
    template <class... A> void info(const A&... a) const { write(TERN_LOG_INFO, a...); }
    template <class... A> void warn(const A&... a) const { write(TERN_LOG_WARN, a...); }
    template <class... A> void error(const A&... a) const { write(TERN_LOG_ERROR, a...); }

private:
    log_v1* log_ = nullptr;
};

// Typed reads of the instance's validated configuration. Keys the schema declares always
// have a value; asking for anything else throws.
class config {
public:
    config() = default;
    explicit config(config_v1* c) : c_(c) {}

    bool get_bool(std::string_view key) const {
        int32_t v = 0;
        check(c_->get_bool(to_str(key), &v), key, "bool");
        return v != 0;
    }
    int64_t get_int(std::string_view key) const {
        int64_t v = 0;
        check(c_->get_int(to_str(key), &v), key, "integer");
        return v;
    }
    double get_double(std::string_view key) const {
        double v = 0;
        check(c_->get_double(to_str(key), &v), key, "number");
        return v;
    }
    // LIFETIME: the view lives until the instance is destroyed.
    std::string_view get_string(std::string_view key) const {
        tern_str v{};
        check(c_->get_string(to_str(key), &v), key, "string");
        return to_sv(v);
    }
    std::vector<std::string> get_strings(std::string_view key) const {
        uint32_t n = 0;
        check(c_->get_array_size(to_str(key), &n), key, "array");
        std::vector<std::string> out;
        out.reserve(n);
        for (uint32_t i = 0; i < n; ++i) {
            tern_str v{};
            check(c_->get_array_string(to_str(key), i, &v), key, "array of strings");
            out.emplace_back(to_sv(v));
        }
        return out;
    }
    // "config/tern.toml:12", "--set" or "default": where a key's value came from.
    std::string_view origin(std::string_view key) const { return to_sv(c_->origin(to_str(key))); }

private:
    void check(tern_status s, std::string_view key, const char* type) const {
        if (c_ == nullptr) throw error(TERN_UNAVAILABLE, "no configuration service");
        if (s != TERN_OK)
            throw error(TERN_CONFIG, cat("config key '", key, "' is not a ", type, " (",
                                         status_name(s), ")"));
    }
    config_v1* c_ = nullptr;
};

// A registered metric. Copyable; updates are lock-free.
class metric {
public:
    metric() = default;
    metric(metrics_v1* m, uint64_t id) : m_(m), id_(id) {}
    void inc(uint64_t n = 1) const noexcept { if (m_) m_->count(id_, n); }
    void add(int64_t d) const noexcept { if (m_) m_->gauge_add(id_, d); }
    void set(int64_t v) const noexcept { if (m_) m_->gauge_set(id_, v); }
    void observe(double v) const noexcept { if (m_) m_->observe(id_, v); }
    explicit operator bool() const noexcept { return m_ != nullptr; }

private:
    metrics_v1* m_ = nullptr;
    uint64_t id_ = 0;
};

// The services of one instance, looked up once.
class host {
public:
    explicit host(tern_host* h) : h_(h) {
        log_ = static_cast<log_v1*>(h->query(to_str(TERN_IID_LOG_V1)));
        reactor_ = static_cast<reactor_v1*>(h->query(to_str(TERN_IID_REACTOR_V1)));
        registry_ = static_cast<registry_v1*>(h->query(to_str(TERN_IID_REGISTRY_V1)));
        metrics_ = static_cast<metrics_v1*>(h->query(to_str(TERN_IID_METRICS_V1)));
        config_ = static_cast<config_v1*>(h->query(to_str(TERN_IID_CONFIG_V1)));
        if (!log_ || !reactor_ || !registry_ || !metrics_ || !config_)
            throw error(TERN_UNSUPPORTED, "this kernel lacks a host service of ABI 1.0");
    }

    host_v1& raw() const noexcept { return *h_; }
    std::string_view instance_name() const noexcept { return to_sv(h_->instance_name()); }
    logger log() const noexcept { return logger{log_}; }
    // The log service itself, for code that keeps it beside the instance (a hot path that
    // checks level() before formatting).
    log_v1& log_service() const noexcept { return *log_; }
    sdk::config config() const noexcept { return sdk::config{config_}; }
    reactor_v1& reactor() const noexcept { return *reactor_; }
    registry_v1& registry() const noexcept { return *registry_; }
    metrics_v1& metrics() const noexcept { return *metrics_; }

    // The interface I of the instance named instance, or of the first instance (in manifest
    // order) providing it when instance is empty; null when there is none. I's id is
    // iid_of<I>. For the older call find<I>(iid) an argument holding '/' is taken as the id
    // (every id has one, no instance name does).
    template <bound_interface I>
    I* find(std::string_view instance = {}) const noexcept {
        if (instance.find('/') != std::string_view::npos) return find<I>(instance, std::string_view{});
        return find<I>(iid_v<I>, instance);
    }
    // The interface I under the id iid (the form before ids were bound to types; also for
    // interfaces without a bound id).
    template <class I>
    I* find(std::string_view iid, std::string_view instance) const noexcept {
        return static_cast<I*>(registry_->find(to_str(iid), to_str(instance)));
    }
    template <class I>
        requires(!bound_interface<I>)
    I* find(std::string_view iid) const noexcept {
        return find<I>(iid, std::string_view{});
    }

    // As find<I>(instance), but a missing interface throws sdk::error (TERN_NOT_FOUND) with
    // the one refusal message every plugin gives: the id, the instance asked for, what to do.
    template <bound_interface I>
    I& require(std::string_view instance = {}) const {
        if (I* i = find<I>(iid_v<I>, instance)) return *i;
        throw error(TERN_NOT_FOUND, missing_interface(iid_v<I>, instance));
    }
    static std::string missing_interface(std::string_view iid, std::string_view instance) {
        if (instance.empty())
            return cat("interface '", iid, "' is provided by no enabled instance; enable a plugin that ",
                       "provides it in the manifest ('tern plugins list' shows who provides what)");
        return cat("interface '", iid, "' of instance '", instance, "' is not available (no enabled instance '",
                   instance, "' provides it); enable [plugins.", instance, "] in the manifest with a plugin ",
                   "that provides it ('tern plugins list' shows who provides what)");
    }

    metric counter(const char* name, const char* help, const char* labels = nullptr) const {
        return add(TERN_METRIC_COUNTER, name, help, labels, nullptr, 0);
    }
    metric gauge(const char* name, const char* help, const char* labels = nullptr) const {
        return add(TERN_METRIC_GAUGE, name, help, labels, nullptr, 0);
    }
    metric histogram(const char* name, const char* help, std::span<const double> buckets,
                     const char* labels = nullptr) const {
        return add(TERN_METRIC_HISTOGRAM, name, help, labels, buckets.data(),
                   static_cast<uint32_t>(buckets.size()));
    }

private:
    metric add(tern_metric_kind kind, const char* name, const char* help, const char* labels,
               const double* buckets, uint32_t n) const {
        tern_metric_desc d{};
        d.struct_size = sizeof d;
        d.kind = kind;
        d.name = name;
        d.help = help;
        d.labels = labels;
        d.buckets = buckets;
        d.bucket_count = n;
        uint64_t id = 0;
        if (metrics_->add_metric(&d, &id) != TERN_OK)
            throw error(TERN_INVALID_ARGUMENT, cat("cannot register metric ", name));
        return metric{metrics_, id};
    }

    tern_host* h_;
    log_v1* log_ = nullptr;
    reactor_v1* reactor_ = nullptr;
    registry_v1* registry_ = nullptr;
    metrics_v1* metrics_ = nullptr;
    config_v1* config_ = nullptr;
};

}  // namespace tern::sdk
