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
    {"coap_retransmissions_total", nullptr,
     "CON messages sent again because no ACK came in time"},
    {"coap_duplicates_total", nullptr,
     "Duplicate requests recognised by (peer, Message ID)"},
    {notes, "result=\"delivered\"", notes_help},
    {notes, "result=\"timeout\"", notes_help},
    {notes, "result=\"reset\"", notes_help},
    {notes, "result=\"merged\"", notes_help},
    {notes, "result=\"dropped\"", notes_help},
    {"coap_block_transfers_total", "dir=\"in\"",
     "Block-wise transfers: Block1 bodies reassembled (in), Block2 first blocks served (out)"},
    {"coap_block_transfers_total", "dir=\"out\"",
     "Block-wise transfers: Block1 bodies reassembled (in), Block2 first blocks served (out)"},
    {dropped, "reason=\"too_short\"", dropped_help},
    {dropped, "reason=\"bad_version\"", dropped_help},
    {dropped, "reason=\"malformed\"", dropped_help},
    {dropped, "reason=\"malformed_con\"", dropped_help},
    {dropped, "reason=\"unexpected_message\"", dropped_help},
    {dropped, "reason=\"unmatched_ack\"", dropped_help},
    {dropped, "reason=\"unmatched_rst\"", dropped_help},
    {dropped, "reason=\"duplicate_non\"", dropped_help},
    {dropped, "reason=\"exchange_timeout\"", dropped_help},
    {dropped, "reason=\"retransmit_timeout\"", dropped_help},
    {dropped, "reason=\"dedup_evicted\"", dropped_help},
    {dropped, "reason=\"peer_evicted\"", dropped_help},
    {dropped, "reason=\"response_too_large\"", dropped_help},
    {dropped, "reason=\"send_failed\"", dropped_help},
    {dropped, "reason=\"late_completion\"", dropped_help},
    {dropped, "reason=\"no_retransmission_memory\"", dropped_help},
    {dropped, "reason=\"dedup_peer_quota\"", dropped_help},
    {dropped, "reason=\"peer_prefix_recycled\"", dropped_help},
    {dropped, "reason=\"block1_peer_limit\"", dropped_help},
    {dropped, "reason=\"block1_evicted\"", dropped_help},
    {dropped, "reason=\"block1_too_large\"", dropped_help},
    {shed, "reason=\"peers\"", shed_help},
    {shed, "reason=\"peers_per_prefix\"", shed_help},
    {shed, "reason=\"exchanges\"", shed_help},
    {shed, "reason=\"observations\"", shed_help},
    {shed, "reason=\"observations_per_peer\"", shed_help},
    {shed, "reason=\"block1_transfers\"", shed_help},
    {shed, "reason=\"block1_memory\"", shed_help},
    {shed, "reason=\"notification_queue\"", shed_help},
    {shed, "reason=\"notification_memory\"", shed_help},
    {amp, "action=\"block\"", amp_help},
    {amp, "action=\"truncated\"", amp_help},
    {amp, "action=\"replay_dropped\"", amp_help},
    {amp, "action=\"retransmit_skipped\"", amp_help},
    {amp, "action=\"echo_challenge\"", amp_help},
    {amp, "action=\"exceeded\"", amp_help},
    {verified, "how=\"echo\"", verified_help},
    {verified, "how=\"ack\"", verified_help},
    {"coap_echo_rejected_total", nullptr,
     "Echo values that were not issued to the sender's address, or are older than verified_lifetime"},
    {dropped, "reason=\"verified_evicted\"", dropped_help},
    {verified, "how=\"ping\"", verified_help},
    {pings, "result=\"sent\"", pings_help},
    {pings, "result=\"waited\"", pings_help},
    {pings, "result=\"timeout\"", pings_help},
    {pings, "result=\"wrong_mid\"", pings_help},
    {pings, "result=\"held_off\"", pings_help},
    {pings, "result=\"table_full\"", pings_help},
    {pings, "result=\"no_memory\"", pings_help},
    {pings, "result=\"late\"", pings_help},
    {"coap_observations_kept_total", nullptr,
     "Observations kept after a CON notification sent with KEEP_ON_TIMEOUT went unacknowledged "
     "(a sleeping device)"},
};
static_assert(std::size(counters) == static_cast<std::size_t>(ctr::count_));

constexpr metric_def gauges[] = {
    {"coap_observations", nullptr, "Live Observe relations"},
    {"coap_exchanges", nullptr,
     "Open exchanges: requests awaiting their handler or separate responses awaiting an ACK"},
    {"coap_peers", nullptr, "Peers the engine holds state for"},
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


std::string_view method_label(uint8_t method) noexcept {
    return method_names[method <= 7 ? method : 0];
}

void engine_metrics::init(const sdk::host* host) {
    static_assert(std::size(code_list) + 2 == codes);
    if (host == nullptr) return;
    for (std::size_t i = 0; i < std::size(counters); ++i)
        ctr_[i] = host->counter(counters[i].name, counters[i].help, counters[i].labels);
    for (std::size_t i = 0; i < std::size(gauges); ++i)
        gauge_[i] = host->gauge(gauges[i].name, gauges[i].help, gauges[i].labels);
    for (std::size_t i = 0; i < std::size(mem_names); ++i) {
        const std::string labels = std::string("table=\"") + mem_names[i] + "\"";
        mem_bytes_[i] = host->gauge("coap_memory_bytes",
                                    "Bytes a table of the engine holds now (its records, index "
                                    "and buffers as touched), from the engine's own accounting",
                                    labels.c_str());
        mem_entries_[i] = host->gauge("coap_entries", "Entries a table of the engine holds now",
                                      labels.c_str());
    }
    for (int meth = 0; meth < methods; ++meth) {
        for (int c = 0; c < codes; ++c) {
            const std::string labels = std::string("method=\"") + method_names[meth] +
                                       "\",code=\"" + code_label(c) + "\"";
            req_[meth * codes + c] =
                host->counter(requests_metric,
                              "Requests by method and the response code sent (none: no response)",
                              labels.c_str());
        }
    }
    latency_ = host->histogram(latency_metric,
                               "Time from a request's arrival to its handler's response",
                               latency_buckets);
}

void engine_metrics::request(uint8_t method, uint8_t code) const noexcept {
    const int meth = method <= 7 ? method : 0;
    req_[meth * codes + code_index(code)].inc();
}

}  // namespace tern::coap
