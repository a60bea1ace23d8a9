#include "metrics.hpp"

#include <string>

namespace tern::coap {

namespace {

constexpr const char* dropped = "coap_dropped_total";
constexpr const char* dropped_help =
    "Datagrams ignored and exchange state given up, by reason";
constexpr const char* shed = "coap_shed_total";
constexpr const char* shed_help =
    "Requests refused with 5.03 (or calls refused with TERN_BUSY) because a bound was reached";
constexpr const char* notes = "coap_notifications_total";
constexpr const char* notes_help = "Observe notifications by outcome";
constexpr const char* amp = "coap_amplification_limited_total";
constexpr const char* amp_help =
    "Answers to unverified addresses held to the amplification budget, by how";
constexpr const char* verified = "coap_address_verifications_total";
constexpr const char* verified_help =
    "Source addresses verified (entered or renewed in the verified-address table), by proof";

constexpr const char* pings = "coap_verification_pings_total";
constexpr const char* pings_help =
    "CoAP pings sent to verify an address before a large answer, and what became of the "
    "answers held for them";

constexpr metric_def counters[] = {
    {TERN_METRIC_COUNTER, "coap_retransmissions_total", nullptr,
     "CON messages sent again because no ACK came in time"},
    {TERN_METRIC_COUNTER, "coap_duplicates_total", nullptr,
     "Duplicate requests recognised by (peer, Message ID)"},
    {TERN_METRIC_COUNTER, notes, "result=\"delivered\"", notes_help},
    {TERN_METRIC_COUNTER, notes, "result=\"timeout\"", notes_help},
    {TERN_METRIC_COUNTER, notes, "result=\"reset\"", notes_help},
    {TERN_METRIC_COUNTER, notes, "result=\"merged\"", notes_help},
    {TERN_METRIC_COUNTER, notes, "result=\"dropped\"", notes_help},
    {TERN_METRIC_COUNTER, "coap_block_transfers_total", "dir=\"in\"",
     "Block-wise transfers: Block1 bodies reassembled (in), Block2 first blocks served (out)"},
    {TERN_METRIC_COUNTER, "coap_block_transfers_total", "dir=\"out\"",
     "Block-wise transfers: Block1 bodies reassembled (in), Block2 first blocks served (out)"},
    {TERN_METRIC_COUNTER, dropped, "reason=\"too_short\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"bad_version\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"malformed\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"malformed_con\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"unexpected_message\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"unmatched_ack\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"unmatched_rst\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"duplicate_non\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"exchange_timeout\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"retransmit_timeout\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"dedup_evicted\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"peer_evicted\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"response_too_large\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"send_failed\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"late_completion\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"no_retransmission_memory\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"dedup_peer_quota\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"peer_prefix_recycled\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"block1_peer_limit\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"block1_evicted\"", dropped_help},
    {TERN_METRIC_COUNTER, dropped, "reason=\"block1_too_large\"", dropped_help},
    {TERN_METRIC_COUNTER, shed, "reason=\"peers\"", shed_help},
    {TERN_METRIC_COUNTER, shed, "reason=\"peers_per_prefix\"", shed_help},
    {TERN_METRIC_COUNTER, shed, "reason=\"exchanges\"", shed_help},
    {TERN_METRIC_COUNTER, shed, "reason=\"observations\"", shed_help},
    {TERN_METRIC_COUNTER, shed, "reason=\"observations_per_peer\"", shed_help},
    {TERN_METRIC_COUNTER, shed, "reason=\"block1_transfers\"", shed_help},
    {TERN_METRIC_COUNTER, shed, "reason=\"block1_memory\"", shed_help},
    {TERN_METRIC_COUNTER, shed, "reason=\"notification_queue\"", shed_help},
    {TERN_METRIC_COUNTER, shed, "reason=\"notification_memory\"", shed_help},
    {TERN_METRIC_COUNTER, amp, "action=\"block\"", amp_help},
    {TERN_METRIC_COUNTER, amp, "action=\"truncated\"", amp_help},
    {TERN_METRIC_COUNTER, amp, "action=\"replay_dropped\"", amp_help},
    {TERN_METRIC_COUNTER, amp, "action=\"retransmit_skipped\"", amp_help},
    {TERN_METRIC_COUNTER, amp, "action=\"echo_challenge\"", amp_help},
    {TERN_METRIC_COUNTER, amp, "action=\"exceeded\"", amp_help},
    {TERN_METRIC_COUNTER, verified, "how=\"echo\"", verified_help},
    {TERN_METRIC_COUNTER, verified, "how=\"ack\"", verified_help},
    {TERN_METRIC_COUNTER, "coap_echo_rejected_total", nullptr,
     "Echo values that were not issued to the sender's address, or are older than verified_lifetime"},
    {TERN_METRIC_COUNTER, dropped, "reason=\"verified_evicted\"", dropped_help},
    {TERN_METRIC_COUNTER, verified, "how=\"ping\"", verified_help},
    {TERN_METRIC_COUNTER, pings, "result=\"sent\"", pings_help},
    {TERN_METRIC_COUNTER, pings, "result=\"waited\"", pings_help},
    {TERN_METRIC_COUNTER, pings, "result=\"timeout\"", pings_help},
    {TERN_METRIC_COUNTER, pings, "result=\"wrong_mid\"", pings_help},
    {TERN_METRIC_COUNTER, pings, "result=\"held_off\"", pings_help},
    {TERN_METRIC_COUNTER, pings, "result=\"table_full\"", pings_help},
    {TERN_METRIC_COUNTER, pings, "result=\"no_memory\"", pings_help},
    {TERN_METRIC_COUNTER, pings, "result=\"late\"", pings_help},
};
static_assert(std::size(counters) == static_cast<std::size_t>(ctr::count_));

constexpr metric_def gauges[] = {
    {TERN_METRIC_GAUGE, "coap_observations", nullptr, "Live Observe relations"},
    {TERN_METRIC_GAUGE, "coap_exchanges", nullptr,
     "Open exchanges: requests awaiting their handler or separate responses awaiting an ACK"},
    {TERN_METRIC_GAUGE, "coap_peers", nullptr, "Peers the engine holds state for"},
};
static_assert(std::size(gauges) == static_cast<std::size_t>(gge::count_));

constexpr const char* method_names[] = {"other", "GET", "POST", "PUT",
                                        "DELETE", "FETCH", "PATCH", "iPATCH"};

// Label text of each pre-registered code; index 0 = "none", last = "other".
constexpr uint8_t code_list[] = {
    0x41, 0x42, 0x43, 0x44, 0x45, 0x5F,                         // 2.01-2.05, 2.31
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x88, 0x8C, 0x8D, 0x8F, // 4.xx
    0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5,                         // 5.00-5.05
};

int code_index(uint8_t code) noexcept {
    if (code == 0) return 0;
    for (std::size_t i = 0; i < std::size(code_list); ++i)
        if (code_list[i] == code) return static_cast<int>(i) + 1;
    return static_cast<int>(std::size(code_list)) + 1;
}

std::string code_label(int idx) {
    if (idx == 0) return "none";
    if (idx > static_cast<int>(std::size(code_list))) return "other";
    const uint8_t c = code_list[idx - 1];
    std::string s;
    s += static_cast<char>('0' + (c >> 5));
    s += '.';
    s += static_cast<char>('0' + (c & 31) / 10);
    s += static_cast<char>('0' + (c & 31) % 10);
    return s;
}

constexpr double latency_buckets[] = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05,
                                      0.1,    0.25,   0.5,   1.0,   2.5,  5.0, 10.0};

}  // namespace

const metric_def& counter_def(ctr c) noexcept { return counters[static_cast<int>(c)]; }
const metric_def& gauge_def(gge g) noexcept { return gauges[static_cast<int>(g)]; }

std::string_view method_label(uint8_t method) noexcept {
    return method_names[method <= 7 ? method : 0];
}

bool engine_metrics::init(metrics_v1* m) noexcept {
    static_assert(std::size(code_list) + 2 == codes);
    m_ = nullptr;
    if (m == nullptr) return true;
    auto add = [&](tern_metric_kind kind, const char* name, const char* labels,
                   const char* help, const double* buckets, uint32_t nb, uint64_t& out) {
        tern_metric_desc d{};
        d.struct_size = sizeof d;
        d.kind = kind;
        d.name = name;
        d.help = help;
        d.labels = labels;
        d.buckets = buckets;
        d.bucket_count = nb;
        return m->add_metric(&d, &out) == TERN_OK;
    };
    for (std::size_t i = 0; i < std::size(counters); ++i)
        if (!add(counters[i].kind, counters[i].name, counters[i].labels, counters[i].help,
                 nullptr, 0, ctr_[i]))
            return false;
    for (std::size_t i = 0; i < std::size(gauges); ++i)
        if (!add(gauges[i].kind, gauges[i].name, gauges[i].labels, gauges[i].help, nullptr,
                 0, gauge_[i]))
            return false;
    try {
        for (int meth = 0; meth < methods; ++meth) {
            for (int c = 0; c < codes; ++c) {
                const std::string labels = std::string("method=\"") + method_names[meth] +
                                           "\",code=\"" + code_label(c) + "\"";
                if (!add(TERN_METRIC_COUNTER, requests_metric, labels.c_str(),
                         "Requests by method and the response code sent (none: no response)",
                         nullptr, 0, req_[meth * codes + c]))
                    return false;
            }
        }
    } catch (...) {
        return false;
    }
    if (!add(TERN_METRIC_HISTOGRAM, latency_metric, nullptr,
             "Time from a request's arrival to its handler's response", latency_buckets,
             static_cast<uint32_t>(std::size(latency_buckets)), latency_))
        return false;
    m_ = m;
    return true;
}

void engine_metrics::request(uint8_t method, uint8_t code) const noexcept {
    if (m_ == nullptr) return;
    const int meth = method <= 7 ? method : 0;
    m_->count(req_[meth * codes + code_index(code)], 1);
}

}  // namespace tern::coap
