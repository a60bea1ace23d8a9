#include "node.hpp"

#include <charconv>
#include <random>

#include "tern/sdk/status.hpp"

namespace tern::core_nats {

const char* to_string(request_op op) noexcept {
    switch (op) {
        case request_op::authenticate: return "authenticate";
        case request_op::psk_key: return "psk_key";
        case request_op::get_attributes: return "get_attributes";
        case request_op::client_rpc: return "client_rpc";
        case request_op::claim: return "claim";
        case request_op::provision: return "provision";
        case request_op::ota_package: return "ota_package";
        case request_op::ota_chunk: return "ota_chunk";
        case request_op::subscribe_device: return "subscribe_device";
        case request_op::session_event: return "session_event";
        case request_op::resend_pending_rpcs: return "resend_pending_rpcs";
        case request_op::count_: break;
    }
    return "unknown";
}

const char* to_string(uplink_op op) noexcept {
    switch (op) {
        case uplink_op::telemetry: return "telemetry";
        case uplink_op::attributes: return "attributes";
        case uplink_op::rpc_reply: return "rpc_reply";
        case uplink_op::rpc_status: return "rpc_status";
        case uplink_op::count_: break;
    }
    return "unknown";
}

namespace {

// Label values of the status slots (status_slot()).
constexpr const char* status_labels[status_slots] = {
    "other", "invalid_argument", "not_found", "unsupported", "busy",      "io",
    "timeout", "internal",       "permission", "exists",     "unavailable", "config"};

std::string random_boot_id() {
    std::random_device rd;
    const uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    char buf[17];
    auto r = std::to_chars(buf, buf + 16, v, 16);
    std::string hex(buf, r.ptr);
    return std::string(16 - hex.size(), '0') + hex;
}

}  // namespace

node::node(settings s, sdk::logger log)
    : s_(std::move(s)), log_(log), boot_(random_boot_id()), auth_(s_.auth_cache_size, s_.auth_cache_ttl) {}

node::~node() { close(); }

std::string node::subject(std::string_view tail) const {
    std::string out;
    out.reserve(s_.subject_prefix.size() + 1 + tail.size());
    out.append(s_.subject_prefix).push_back('.');
    out.append(tail);
    return out;
}

std::string node::bucket(std::string_view name) const {
    std::string out = s_.subject_prefix;
    out.push_back('_');
    out.append(name);
    return out;
}

void node::register_metrics(const sdk::host& h) {
    m_.connected = h.gauge("core_nats_connected", "1 while the NATS link is connected, else 0");
    m_.pending_acks = h.gauge("core_nats_pending_acks", "durable uplinks waiting for their JetStream acknowledgement");
    m_.rtt_us = h.gauge("core_nats_rtt_us", "last round trip to the NATS server, microseconds");
    m_.reconnects = h.counter("core_nats_reconnects_total", "reconnections of the NATS link");
    for (std::size_t i = 0; i < m_.requests.size(); ++i) {
        const std::string op = sdk::cat("op=\"", to_string(static_cast<request_op>(i)), "\"");
        m_.requests[i] = h.counter("core_nats_requests_total", "core calls sent to a core node", op.c_str());
        for (std::size_t s = 0; s < status_slots; ++s) {
            const std::string labels = sdk::cat(op, ",status=\"", status_labels[s], "\"");
            m_.request_failures[i][s] = h.counter("core_nats_request_failures_total",
                                                  "core calls that did not complete OK, by status", labels.c_str());
        }
    }
    for (std::size_t i = 0; i < m_.uplinks.size(); ++i) {
        const std::string op = sdk::cat("op=\"", to_string(static_cast<uplink_op>(i)), "\"");
        m_.uplinks[i] = h.counter("core_nats_uplinks_total", "durable uplinks published to JetStream", op.c_str());
        for (std::size_t s = 0; s < status_slots; ++s) {
            const std::string labels = sdk::cat(op, ",status=\"", status_labels[s], "\"");
            m_.uplink_failures[i][s] = h.counter("core_nats_uplink_failures_total",
                                                 "durable uplinks not stored, by status", labels.c_str());
        }
    }
    m_.auth_cache_entries = h.gauge("core_nats_auth_cache_entries", "credentials and PSK identities cached on this node");
    m_.auth_cache_hits = h.counter("core_nats_auth_cache_hits_total", "authentications answered from this node's cache");
    m_.registrations = h.counter("core_nats_registrations_total",
                                 "devices this node registered as its own in the device_node bucket");
    static const char* const kinds[] = {"kind=\"attributes\"", "kind=\"rpc\""};
    for (std::size_t i = 0; i < m_.downlinks.size(); ++i) {
        m_.downlinks[i] = h.counter("core_nats_downlinks_total", "downlinks received from a core node", kinds[i]);
        m_.downlinks_dropped[i] = h.counter("core_nats_downlinks_dropped_total",
                                            "downlinks no local subscriber wanted", kinds[i]);
    }
    m_.ota_cache_bytes = h.gauge("core_nats_ota_cache_bytes", "bytes of OTA packages in ota_cache_dir");
    auth_.set_metrics(m_.auth_cache_entries, m_.auth_cache_hits);
}

void node::open() {
    if (owned_ != nullptr) return;
    nats_link::link_settings ls = link_settings_of(s_);
    const sdk::logger log = log_;
    ls.log = [log](std::string_view line) { log.info(line); };
    std::string error;
    auto l = nats_link::link::open(ls, [this](nats_link::link_state st) { state_changed(st); }, error);
    if (l == nullptr) throw sdk::error(TERN_CONFIG, sdk::cat("cannot open the NATS link: ", error));
    owned_ = std::move(l);
    link_.store(owned_.get(), std::memory_order_release);
    // Connected inside open() (a server was up): the connected event ran before link_ was
    // set, so the listeners get it now.
    if (owned_->connected()) state_changed(nats_link::link_state::connected);
}

void node::close() noexcept {
    link_.store(nullptr, std::memory_order_release);
    owned_.reset();  // completes what is pending with unavailable
    connected_announced_.store(false);
    partitions_.store(0, std::memory_order_release);
    m_.connected.set(0);
    m_.pending_acks.set(0);
}

void node::state_changed(nats_link::link_state st) {
    if (link() == nullptr) return;  // open() replays connected once the link is published
    // The first connection is announced once, whether nats.c or open()'s replay says it.
    if (st == nats_link::link_state::connected && connected_announced_.exchange(true)) return;
    switch (st) {
        case nats_link::link_state::connected: m_.connected.set(1); break;
        case nats_link::link_state::reconnected:
            m_.connected.set(1);
            m_.reconnects.inc();
            break;
        case nats_link::link_state::disconnected:
        case nats_link::link_state::closed: m_.connected.set(0); break;
    }
    if (st == nats_link::link_state::connected || st == nats_link::link_state::reconnected) refresh_partitions();
    for (const auto& fn : listeners_) fn(st);
}

void node::refresh_partitions() {
    nats_link::link* l = link();
    if (l == nullptr) return;
    l->kv_get(bucket("cluster"), "uplink_partitions", [this](nats_link::status st, std::string_view value) {
        if (st == nats_link::status::ok) {
            uint32_t n = 0;
            auto r = std::from_chars(value.data(), value.data() + value.size(), n);
            if (r.ec != std::errc{} || r.ptr != value.data() + value.size() || n == 0 || n > 65536) {
                log_.error("uplink_partitions in bucket ", bucket("cluster"), " is '", value,
                           "', not a count of 1 to 65536: uplinks stay refused");
                return;
            }
            const uint32_t old = partitions_.exchange(n, std::memory_order_acq_rel);
            if (old != n) log_.info("uplink partitions: ", n);
            partitions_warned_.store(false);
            return;
        }
        if (st == nats_link::status::not_found) {
            if (!partitions_warned_.exchange(true))
                log_.warn("no core node has announced the uplink partitions (key uplink_partitions in bucket ",
                          bucket("cluster"), "): uplinks are refused until one does");
            return;
        }
        log_.warn("reading the uplink partitions failed (", nats_link::to_string(st),
                  "); the last known count stays in use");
    });
}

void node::sample_metrics() noexcept {
    nats_link::link* l = link();
    if (l == nullptr) return;
    const nats_link::link_metrics lm = l->metrics();
    m_.connected.set(static_cast<int64_t>(lm.connected));
    m_.pending_acks.set(static_cast<int64_t>(lm.pending_publishes));
    m_.rtt_us.set(static_cast<int64_t>(lm.last_rtt_us));
}

std::string node::next_msg_id() {
    const uint64_t seq = seq_.fetch_add(1, std::memory_order_relaxed) + 1;
    return sdk::cat(s_.node_id, ".", boot_, ".", seq);
}

}  // namespace tern::core_nats
