// Memory of idle devices: the bytes an Observe relation and its peer cost in the engine's
// tables, computed from the record sizes and from the tables as actually grown and touched
// (the engine's own accounting, the figures coap_memory_bytes exports), beside the process's
// resident growth while they were made. The README's "Memory" table quotes the printed lines.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "harness.hpp"

using namespace tern::coap;
using namespace tern::coap::test;

namespace {

// VmRSS of this process, in bytes (0 where /proc is missing).
int64_t resident_bytes() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
    return 0;
}

// Answers every registration 2.05 with Observe, at once, and keeps nothing (the harness's
// recorder keeps every request, which would be counted in the resident growth).
class observe_all final : public tern::coap_handler_v1 {
public:
    engine* eng = nullptr;
    void on_request(const tern_coap_request* r) noexcept override {
        auto resp = response(code::content);
        resp.flags = TERN_COAP_RESPONSE_OBSERVE;
        eng->respond(r->exchange, &resp, nullptr);
    }
    void on_observation_end(uint64_t, int32_t) noexcept override {}
    void on_notification_result(uint64_t, uint64_t, int32_t) noexcept override {}
};

int64_t table_bytes(const harness& h, const char* table) {
    return h.metrics.get("coap_memory_bytes", std::string("table=\"") + table + "\"");
}

}  // namespace

TEST_CASE("an idle relation's own cost: record, free-list word, published generation, timer position",
          "[budget]") {
    const relation_cost c = shard::cost_of_relation();
    INFO("relation_rec " << c.record << ", free list " << c.free_list << ", published "
                         << c.published << ", timer " << c.timer);
    CHECK(c.total() <= 76);
    CHECK(sizeof(relation_rec) <= 64);
    CHECK(sizeof(peer_rec) <= 112);
    // The records of every table (README "Memory"); each slot also has a 4-byte free-list word.
    std::printf("records: peer %zu, prefix %zu, relation %zu, exchange %zu, dedup %zu, note %zu, "
                "transfer %zu bytes\n",
                sizeof(peer_rec), sizeof(prefix_rec), sizeof(relation_rec), sizeof(exchange_rec),
                sizeof(dedup_rec), sizeof(note_rec), sizeof(transfer_rec));
}

TEST_CASE("100 000 idle relations per path (100 000 devices observing two paths): the engine's bytes per device",
          "[budget][rfc7641]") {
    // The defaults (sized for a million devices), one shard, as a node would run them.
    engine_config c = engine_config::defaults();
    constexpr uint32_t devices = 100000;
    harness h(c);
    observe_all handler;
    handler.eng = h.eng.get();
    h.add("obs", handler, 2, TERN_COAP_RESOURCE_OBSERVABLE);
    h.start();
    h.env.now += 2'000'000'000;  // past the first memory report
    h.as_shard(0, [&] { h.eng->on_timer(0); });
    const int64_t rss0 = resident_bytes();
    msg m = con(GET, "obs", 1);
    m.observe(0);
    bytes wire = m.encode();
    for (uint32_t p = 0; p < devices; ++p) {
        // 127.0.{0,1}.y, a port per 256 devices: two /24 source networks, as behind a NAT.
        tern_peer peer = peer_v4(static_cast<uint8_t>(p), static_cast<uint16_t>(1000 + p / 256));
        peer.endpoint.addr[2] = static_cast<uint8_t>(p >> 16);
        for (uint8_t t = 0; t < 2; ++t) {
            wire[2] = static_cast<uint8_t>(p >> 8);
            wire[3] = static_cast<uint8_t>(p + t);
            wire[4] = t;  // the token
            tern_datagram d{peer, tern_bytes{wire.data(), wire.size()}};
            h.as_shard(0, [&] { h.eng->on_datagrams(0, 0, &d, 1); });
        }
        h.env.sent.clear();
    }
    INFO("shed " << h.metrics.get("coap_shed_total") << ", dropped "
                 << h.metrics.get("coap_dropped_total") << ", peers " << h.census().peers);
    REQUIRE(h.census().relations == 2 * devices);
    REQUIRE(h.metrics.get("coap_observations") == 2 * devices);
    const int64_t rss1 = resident_bytes();

    auto report = [&](const char* when) {
        h.env.now += 1'000'000'001;  // the shard reports at most once a second
        h.as_shard(0, [&] { h.eng->on_timer(0); });
        const double peers = static_cast<double>(table_bytes(h, "peers")) / devices;
        const double obs = static_cast<double>(table_bytes(h, "observations")) / devices;
        const double dedup = static_cast<double>(table_bytes(h, "dedup")) / devices;
        std::printf("%s: per device %.1f bytes peer + %.1f bytes two relations = %.1f bytes idle; "
                    "dedup %.1f bytes (%lld entries)\n",
                    when, peers, obs, peers + obs, dedup,
                    static_cast<long long>(h.metrics.get("coap_entries", "table=\"dedup\"")));
        std::string all;
        for (const char* t : mem_names)
            all += std::string(" ") + t + "=" + std::to_string(table_bytes(h, t));
        std::printf("  tables (bytes):%s\n", all.c_str());
        return peers + obs;
    };
    const double registered = report("registered");
    std::printf("process resident growth while registering: %.1f bytes per device\n",
                static_cast<double>(rss1 - rss0) / devices);
    REQUIRE(h.metrics.get("coap_entries", "table=\"peers\"") == devices);
    REQUIRE(h.metrics.get("coap_entries", "table=\"observations\"") == 2 * devices);

    // Idle past EXCHANGE_LIFETIME: the registrations' dedup entries are gone, the relations
    // and their peers stay.
    h.env.now += c.exchange_lifetime_ms() * 1000000;
    const double idle = report("idle past EXCHANGE_LIFETIME");
    CHECK(h.metrics.get("coap_entries", "table=\"dedup\"") == 0);
    CHECK(table_bytes(h, "dedup") == 0);  // the ring, pool and index gave their pages back
    CHECK(h.census().relations == 2 * devices);
    CHECK(idle == registered);
    std::printf("process resident growth since before registering, idle: %.1f bytes per device\n",
                static_cast<double>(resident_bytes() - rss0) / devices);
    // Peer record, its index share and two relations: under 300 bytes of the process's
    // 1 KiB per device.
    CHECK(idle <= 300);
}
