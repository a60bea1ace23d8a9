#include "settings.hpp"

#include <unistd.h>

#include <climits>

#include "tern/sdk/status.hpp"

namespace tern::core_nats {

bool is_token(std::string_view text, std::size_t max) {
    if (text.empty() || text.size() > max) return false;
    for (const char c : text) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '-';
        if (!ok) return false;
    }
    return true;
}

namespace {

// The host name up to its first dot, other characters outside [A-Za-z0-9_-] made '-'.
std::string host_node_id() {
    char buf[HOST_NAME_MAX + 1] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return {};
    std::string id;
    for (const char* p = buf; *p != '\0' && *p != '.' && id.size() < 64; ++p) {
        const char c = *p;
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '-';
        id.push_back(ok ? c : '-');
    }
    return id;
}

}  // namespace

void resolve(settings& s) {
    if (s.servers.empty()) throw sdk::error(TERN_CONFIG, "servers is empty: give at least one NATS URL");
    if (!is_token(s.subject_prefix, 32))
        throw sdk::error(TERN_CONFIG, sdk::cat("subject_prefix '", s.subject_prefix,
                                               "' must be 1 to 32 of A-Z a-z 0-9 _ -"));
    if (s.node_id.empty()) {
        s.node_id = host_node_id();
        if (s.node_id.empty())
            throw sdk::error(TERN_CONFIG, "node_id is empty and the host name cannot be read: set node_id");
    } else if (!is_token(s.node_id, 64)) {
        throw sdk::error(TERN_CONFIG,
                         sdk::cat("node_id '", s.node_id, "' must be 1 to 64 of A-Z a-z 0-9 _ -"));
    }
    if (s.reconnect_wait_max < s.reconnect_wait)
        throw sdk::error(TERN_CONFIG, sdk::cat("reconnect_wait_max (", s.reconnect_wait_max.count(),
                                               " ms) is below reconnect_wait (", s.reconnect_wait.count(), " ms)"));
}

nats_link::link_settings link_settings_of(const settings& s) {
    nats_link::link_settings l;
    l.servers = s.servers;
    l.name = "tern-core_nats-" + s.node_id;
    l.connect_timeout_ms = static_cast<uint32_t>(s.connect_timeout.count());
    l.reconnect_wait_ms = static_cast<uint32_t>(s.reconnect_wait.count());
    l.reconnect_wait_max_ms = static_cast<uint32_t>(s.reconnect_wait_max.count());
    l.request_timeout_ms = static_cast<uint32_t>(s.request_timeout.count());
    l.publish_ack_timeout_ms = static_cast<uint32_t>(s.publish_ack_timeout.count());
    l.max_pending_publishes = s.max_pending_publishes;
    l.max_requests_in_flight = s.max_requests_in_flight;
    return l;
}

}  // namespace tern::core_nats
