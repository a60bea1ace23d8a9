// Memory budget of an idle Observe relation (ENGINE.md: at most about 256 bytes all-in).
// A size budget is deterministic: it is computed from the record sizes and from the
// tables as actually allocated, not measured with a clock or from RSS.
#include <catch2/catch.hpp>

#include <cstdio>

#include "harness.hpp"

using namespace tern::coap;
using namespace tern::coap::test;

TEST_CASE("an idle relation costs at most 256 bytes (record + indexes + timer share)", "[budget]") {
    const relation_cost c = shard::cost_of_relation();
    INFO("relation_rec " << c.record << ", index " << c.index << ", timer " << c.timer
                         << ", mid index " << c.mid_index << ", published " << c.published
                         << ", free list " << c.free_list);
    CHECK(c.total() <= 256);
    // The record itself stays within two cache lines.
    CHECK(sizeof(relation_rec) <= 128);
}

TEST_CASE("100 000 idle relations, 2 per peer: at most 256 bytes each, the peer's share included",
          "[budget][rfc7641]") {
    engine_config c = small_config();
    c.max_observations = 100000;
    c.max_peers = 50000;
    c.max_exchanges = 1024;
    c.dedup_capacity = 1024;
    c.max_observations_per_peer = 2;
    harness h(c);
    recorder rec;
    rec.on_req = [&](const tern_coap_request& r) {
        auto resp = response(code::content);
        resp.flags = TERN_COAP_RESPONSE_OBSERVE;
        h.eng->respond(r.exchange, &resp, nullptr);
    };
    h.add("obs", rec, 2, TERN_COAP_RESOURCE_OBSERVABLE);
    h.start();
    rec.on_req = [&](const tern_coap_request& r) {  // no recording: 100 000 requests
        auto resp = response(code::content);
        resp.flags = TERN_COAP_RESPONSE_OBSERVE;
        h.eng->respond(r.exchange, &resp, nullptr);
    };
    msg m = con(GET, "obs", 1);
    m.observe(0);
    bytes wire = m.encode();
    for (uint32_t p = 0; p < 50000; ++p) {
        const tern_peer peer = peer_v4(static_cast<uint8_t>(p), static_cast<uint16_t>(1000 + p / 256));
        for (uint8_t t = 0; t < 2; ++t) {
            wire[2] = static_cast<uint8_t>(p >> 8);
            wire[3] = static_cast<uint8_t>(p + t);
            wire[4] = t;  // the token
            tern_datagram d{peer, tern_bytes{wire.data(), wire.size()}};
            h.as_shard(0, [&] { h.eng->on_datagrams(0, 0, &d, 1); });
        }
        h.env.sent.clear();
    }
    rec.requests.clear();
    REQUIRE(h.census().relations == 100000);
    REQUIRE(h.metrics.get("coap_observations") == 100000);
    const shard& s = h.eng->at(0);
    const double per_relation = static_cast<double>(s.relation_table_bytes()) / 100000.0;
    const double per_peer = static_cast<double>(s.peer_table_bytes()) / 50000.0;
    const double all_in = per_relation + per_peer / 2;
    std::printf("idle relation: %.1f bytes own + %.1f bytes peer share = %.1f bytes all-in\n",
                per_relation, per_peer / 2, all_in);
    CHECK(all_in <= 256);
}
