#include "metrics.hpp"

#include <string>

namespace tern::efento {

namespace {

constexpr const char* outcome_names[] = {"stored",         "parse_error",     "conversion_error", "incomplete",
                                         "empty_channels", "too_many_values", "unknown_token",    "wrong_profile",
                                         "busy",           "backend_error",   "rate_limited"};
static_assert(std::size(outcome_names) == static_cast<std::size_t>(outcome::count_));
constexpr const char* kind_names[] = {"measurements", "device_info", "configuration"};

sdk::metric counter(const sdk::host* h, const char* name, const char* help, const std::string& labels = {}) {
    return h == nullptr ? sdk::metric{} : h->counter(name, help, labels.empty() ? nullptr : labels.c_str());
}
sdk::metric gauge(const sdk::host* h, const char* name, const char* help, const std::string& labels = {}) {
    return h == nullptr ? sdk::metric{} : h->gauge(name, help, labels.empty() ? nullptr : labels.c_str());
}

}  // namespace

const char* outcome_name(outcome o) noexcept {
    const auto i = static_cast<std::size_t>(o);
    return i < std::size(outcome_names) ? outcome_names[i] : "unknown";
}

outcome outcome_of(decode_status s) noexcept {
    switch (s) {
        case decode_status::parse_error: return outcome::parse_error;
        case decode_status::conversion_error: return outcome::conversion_error;
        case decode_status::incomplete: return outcome::incomplete;
        case decode_status::empty_channels: return outcome::empty_channels;
        case decode_status::too_many_values: return outcome::too_many_values;
        case decode_status::ok: break;
    }
    return outcome::stored;
}

void metrics::init(const sdk::host* h) {
    for (std::size_t k = 0; k < kind_count; ++k)
        for (std::size_t o = 0; o < static_cast<std::size_t>(outcome::count_); ++o)
            messages[k][o] = counter(h, "efento_messages_total",
                                     "Efento uplinks by kind and what became of them (stored: durable and answered)",
                                     sdk::cat("kind=\"", kind_names[k], "\",outcome=\"", outcome_names[o], "\""));
    values_stored = counter(h, "efento_values_stored_total", "Data points (key/values) of Efento uplinks stored");
    time_requests = counter(h, "efento_time_requests_total", "GET time requests answered");
    bad_requests = counter(h, "efento_bad_requests_total",
                           "Requests refused with 4.00 for their path or method (an unknown name, a GET of an uplink, "
                           "a POST of time)");
    const char* lookup_help = "cloud_token lookups that asked the core, by result";
    lookups_ok = counter(h, "efento_core_lookups_total", lookup_help, "result=\"ok\"");
    lookups_unknown = counter(h, "efento_core_lookups_total", lookup_help, "result=\"unknown\"");
    lookups_error = counter(h, "efento_core_lookups_total", lookup_help, "result=\"error\"");
    const char* hits_help = "cloud_tokens answered from the per-shard caches";
    const char* evict_help = "Cache entries dropped because the cache was full (token_cache_size, unknown_token_cache_size)";
    const char* entries_help = "Entries in the cloud_token caches";
    token_hits = counter(h, "efento_token_cache_hits_total", hits_help, "cache=\"token\"");
    token_evictions = counter(h, "efento_token_cache_evictions_total", evict_help, "cache=\"token\"");
    token_entries = gauge(h, "efento_token_cache_entries", entries_help, "cache=\"token\"");
    unknown_hits = counter(h, "efento_token_cache_hits_total", hits_help, "cache=\"unknown_token\"");
    unknown_evictions = counter(h, "efento_token_cache_evictions_total", evict_help, "cache=\"unknown_token\"");
    unknown_entries = gauge(h, "efento_token_cache_entries", entries_help, "cache=\"unknown_token\"");
    source_evictions = counter(h, "efento_source_buckets_evicted_total",
                               "Per-source rate-limit buckets with history dropped to make room (source_table_size)");
    source_buckets = gauge(h, "efento_source_buckets", "Source addresses with a rate-limit bucket");
    activity_reports = counter(h, "efento_activity_reports_total",
                               "Session activity events sent to the core (one per accepted message)");
    warnings_suppressed = counter(h, "efento_warnings_suppressed_total",
                                  "Warnings about core trouble not logged (at most one is logged a second)");
}

}  // namespace tern::efento
