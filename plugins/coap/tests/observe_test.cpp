// Observe (RFC 7641): registration, sequence numbers, CON flow control and queueing,
// merging, NON liveness checks, the ways a relation ends, caps.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace tern::coap;
using namespace tern::coap::test;

namespace {

// /obs is observable: a registering GET is answered synchronously with 2.05 "v0" and
// TERN_COAP_RESPONSE_OBSERVE; a plain GET with 2.05 "plain".
struct obs_fixture {
    harness h;
    recorder rec;
    std::vector<uint64_t> ids;  // observation ids, in registration order
    explicit obs_fixture(engine_config c = small_config()) : h(c) {
        rec.on_req = [this](const tern_coap_request& r) {
            if (r.observe == 0) {
                auto resp = response(code::content, "v0");
                resp.flags = TERN_COAP_RESPONSE_OBSERVE;
                uint64_t id = 0;
                CHECK(h.eng->respond(r.exchange, &resp, &id) == TERN_OK);
                ids.push_back(id);
            } else {
                auto resp = response(code::content, "plain");
                h.eng->respond(r.exchange, &resp, nullptr);
            }
        };
        h.add("obs", rec, TERN_COAP_METHOD_BIT(TERN_COAP_GET), TERN_COAP_RESOURCE_OBSERVABLE);
        h.add("plain", rec, TERN_COAP_METHOD_BIT(TERN_COAP_GET));
        h.start();
    }
    // Registers with token tok (type CON or NON) from peer; returns the response.
    out reg(uint8_t tok, msg_type type = msg_type::con, const tern_peer& p = peer_v4(), uint16_t mid = 0) {
        msg m = con(GET, "obs", mid != 0 ? mid : static_cast<uint16_t>(1000 + tok));
        m.type = type;
        m.token = {tok};
        m.observe(0);
        h.in(m, p);
        return h.one();
    }
    tern_status note(uint64_t id, std::string_view text, uint64_t cookie, uint32_t flags = 0,
                     uint8_t c = code::content) {
        auto r = response(c, text);
        return h.notify(id, r, cookie, flags);
    }
};

}  // namespace

TEST_CASE("RFC 7641 3.1: GET with Observe 0 registers, the response carries Observe", "[rfc7641]") {
    obs_fixture f;
    const out o = f.reg(1);
    CHECK(o.type == msg_type::ack);
    CHECK(o.code == code::content);
    CHECK(o.uint_opt(opt::observe) == 0u);
    CHECK(o.text() == "v0");
    REQUIRE(f.ids.size() == 1);
    CHECK(f.ids[0] != 0);
    CHECK(f.h.metrics.get("coap_observations") == 1);
    CHECK(f.rec.requests[0].observe == 0);
}

TEST_CASE("RFC 7641 4.2: notifications carry the token and an increasing sequence number", "[rfc7641]") {
    obs_fixture f;
    f.reg(7, msg_type::non);
    REQUIRE(f.ids.size() == 1);
    for (uint64_t c = 1; c <= 3; ++c) CHECK(f.note(f.ids[0], "n" + std::to_string(c), c) == TERN_OK);
    const auto v = f.h.take();
    REQUIRE(v.size() == 3);
    for (uint64_t i = 0; i < 3; ++i) {
        CHECK(v[i].type == msg_type::non);  // the registration's type
        CHECK(v[i].token == bytes{7});
        CHECK(v[i].uint_opt(opt::observe) == i + 1);
        CHECK(v[i].text() == "n" + std::to_string(i + 1));
    }
    CHECK(v[0].mid != v[1].mid);
    for (uint64_t c = 1; c <= 3; ++c) CHECK(f.rec.results_of(c) == std::vector<int32_t>{TERN_COAP_NOTIFY_DELIVERED});
}

TEST_CASE("RFC 7641 4.5.2: CON notifications go one at a time, the rest wait in order", "[rfc7641]") {
    obs_fixture f;
    f.reg(1);
    const uint64_t id = f.ids[0];
    f.note(id, "a", 1);
    f.note(id, "b", 2);
    f.note(id, "c", 3);
    const out a = f.h.one();
    CHECK(a.type == msg_type::con);
    CHECK(a.text() == "a");
    CHECK(f.h.census().notes == 3);
    f.h.in(empty_msg(msg_type::ack, a.mid));
    const out b = f.h.one();
    CHECK(b.text() == "b");
    CHECK(f.rec.results_of(1) == std::vector<int32_t>{TERN_COAP_NOTIFY_DELIVERED});
    CHECK(f.rec.results_of(2).empty());
    f.h.in(empty_msg(msg_type::ack, b.mid));
    const out c = f.h.one();
    CHECK(c.text() == "c");
    CHECK(c.uint_opt(opt::observe) == 3u);
    f.h.in(empty_msg(msg_type::ack, c.mid));
    CHECK(f.h.take().empty());
    CHECK(f.h.census().notes == 0);
    CHECK(f.h.metrics.notes("delivered") == 3);
}

TEST_CASE("RFC 7641 4.5.2: a full queue drops the new notification with a DROPPED result",
          "[rfc7641]") {
    engine_config c = small_config();
    c.max_queued_notifications = 2;
    obs_fixture f(c);
    f.reg(1);
    const uint64_t id = f.ids[0];
    f.note(id, "1", 1);  // in flight
    f.note(id, "2", 2);
    f.note(id, "3", 3);
    CHECK(f.note(id, "4", 4) == TERN_OK);
    CHECK(f.note(id, "5", 5) == TERN_OK);
    CHECK(f.rec.results_of(4) == std::vector<int32_t>{TERN_COAP_NOTIFY_DROPPED});
    CHECK(f.rec.results_of(5) == std::vector<int32_t>{TERN_COAP_NOTIFY_DROPPED});
    CHECK(f.h.metrics.shed("notification_queue") == 2);
    CHECK(std::count_if(f.h.env.logs.begin(), f.h.env.logs.end(),
                        [](const std::string& l) { return l.find("queue is full") != std::string::npos; }) == 1);
    // The queued ones still go, in order.
    std::string got;
    for (int i = 0; i < 3; ++i) {
        const out o = f.h.one();
        got += o.text();
        f.h.in(empty_msg(msg_type::ack, o.mid));
    }
    CHECK(got == "123");
}

TEST_CASE("MERGEABLE replaces the newest queued mergeable notification, never an RPC", "[rfc7641]") {
    obs_fixture f;
    f.reg(1);
    const uint64_t id = f.ids[0];
    f.note(id, "attrs-1", 1, TERN_COAP_NOTIFY_MERGEABLE);  // in flight: never replaced
    f.note(id, "attrs-2", 2, TERN_COAP_NOTIFY_MERGEABLE);
    f.note(id, "rpc", 3);
    f.note(id, "attrs-3", 4, TERN_COAP_NOTIFY_MERGEABLE);
    CHECK(f.rec.results_of(2) == std::vector<int32_t>{TERN_COAP_NOTIFY_MERGED});
    CHECK(f.h.metrics.notes("merged") == 1);
    std::vector<std::string> order;
    for (int i = 0; i < 3; ++i) {
        const out o = f.h.one();
        order.push_back(o.text());
        f.h.in(empty_msg(msg_type::ack, o.mid));
    }
    CHECK(order == std::vector<std::string>{"attrs-1", "attrs-3", "rpc"});
    CHECK(f.rec.results_of(3) == std::vector<int32_t>{TERN_COAP_NOTIFY_DELIVERED});
    CHECK(f.rec.results_of(4) == std::vector<int32_t>{TERN_COAP_NOTIFY_DELIVERED});
}

TEST_CASE("RFC 7641 4.5: every observe_con_every-th NON notification goes CON", "[rfc7641]") {
    engine_config c = small_config();
    c.observe_con_every = 3;
    c.observe_con_period_ms = 0;
    obs_fixture f(c);
    f.reg(1, msg_type::non);
    const uint64_t id = f.ids[0];
    std::vector<msg_type> types;
    for (int i = 0; i < 4; ++i) {
        f.note(id, "x", static_cast<uint64_t>(i));
        const out o = f.h.one();
        types.push_back(o.type);
        if (o.type == msg_type::con) f.h.in(empty_msg(msg_type::ack, o.mid));
    }
    CHECK(types == std::vector<msg_type>{msg_type::non, msg_type::non, msg_type::non, msg_type::con});
    // While the CON one is unacknowledged, NON ones queue behind it.
    for (int i = 0; i < 3; ++i) {
        f.note(id, "y", 10);
        f.h.in(empty_msg(msg_type::ack, f.h.one().mid));  // acking a NON's MID is harmless
    }
    f.note(id, "z", 11);
    const out con1 = f.h.one();
    CHECK(con1.type == msg_type::con);
    f.note(id, "behind", 12);
    CHECK(f.h.take().empty());
    f.h.in(empty_msg(msg_type::ack, con1.mid));
    CHECK(f.h.one().text() == "behind");
}

TEST_CASE("RFC 7641 4.5: a NON notification observe_con_period after the last CON goes CON",
          "[rfc7641]") {
    engine_config c = small_config();
    c.observe_con_every = 0;
    c.observe_con_period_ms = 120000;
    obs_fixture f(c);
    f.reg(1, msg_type::non);
    const uint64_t id = f.ids[0];
    f.h.advance_ms(10000);
    f.note(id, "a", 1);
    CHECK(f.h.one().type == msg_type::non);
    f.h.advance_ms(111000);
    f.note(id, "b", 2);
    const out b = f.h.one();
    CHECK(b.type == msg_type::con);
    f.h.in(empty_msg(msg_type::ack, b.mid));
    f.note(id, "c", 3);
    CHECK(f.h.one().type == msg_type::non);
}

TEST_CASE("RFC 7641 3.6: an RST answering a notification ends the relation", "[rfc7641]") {
    obs_fixture f;
    SECTION("CON notification") {
        f.reg(1);
        const uint64_t id = f.ids[0];
        f.note(id, "a", 1);
        f.note(id, "b", 2);
        const out a = f.h.one();
        f.h.in(empty_msg(msg_type::rst, a.mid));
        CHECK(f.rec.results_of(1) == std::vector<int32_t>{TERN_COAP_NOTIFY_RESET});
        CHECK(f.rec.results_of(2) == std::vector<int32_t>{TERN_COAP_NOTIFY_DROPPED});
        REQUIRE(f.rec.ends.size() == 1);
        CHECK(f.rec.ends[0] == std::make_pair(id, int32_t{TERN_COAP_END_RESET}));
    }
    SECTION("NON notification") {
        f.reg(1, msg_type::non);
        const uint64_t id = f.ids[0];
        f.note(id, "a", 1);
        const out a = f.h.one();
        f.h.in(empty_msg(msg_type::rst, a.mid));
        REQUIRE(f.rec.ends.size() == 1);
        CHECK(f.rec.ends[0].second == TERN_COAP_END_RESET);
    }
    CHECK(f.note(f.ids[0], "late", 9) == TERN_NOT_FOUND);
    CHECK(f.h.metrics.get("coap_observations") == 0);
    CHECK(f.h.census().relations == 0);
}

TEST_CASE("RFC 7252 4.2 + RFC 7641 4.5: an unacknowledged CON notification ends every relation of the peer",
          "[rfc7641][retransmit]") {
    obs_fixture f;
    f.reg(1);
    f.reg(2);
    f.reg(3, msg_type::con, peer_v4(9));
    REQUIRE(f.ids.size() == 3);
    f.note(f.ids[1], "queued-elsewhere", 20);
    f.h.in(empty_msg(msg_type::ack, f.h.one().mid));
    f.note(f.ids[0], "never acked", 1);
    f.note(f.ids[0], "behind", 2);
    f.h.take();
    f.h.advance_ms(100000);  // beyond MAX_TRANSMIT_WAIT (93 s)
    CHECK(f.h.take().size() == 4);  // the retransmissions
    CHECK(f.rec.results_of(1) == std::vector<int32_t>{TERN_COAP_NOTIFY_TIMEOUT});
    CHECK(f.rec.results_of(2) == std::vector<int32_t>{TERN_COAP_NOTIFY_DROPPED});
    REQUIRE(f.rec.ends.size() == 2);
    CHECK(f.rec.ends[0] == std::make_pair(f.ids[0], int32_t{TERN_COAP_END_TIMEOUT}));
    CHECK(f.rec.ends[1] == std::make_pair(f.ids[1], int32_t{TERN_COAP_END_TIMEOUT}));
    CHECK(f.note(f.ids[2], "other peer lives", 3) == TERN_OK);
    CHECK(f.h.metrics.get("coap_observations") == 1);
}

TEST_CASE("device-api 0.3: GET with Observe 1 deregisters and gets a real answer", "[rfc7641]") {
    obs_fixture f;
    f.reg(4);
    msg m = con(GET, "obs", 50);
    m.token = {4};
    m.observe(1);
    f.h.in(m);
    const out o = f.h.one();
    CHECK(o.code == code::content);
    CHECK(o.text() == "plain");
    CHECK_FALSE(o.has(opt::observe));
    REQUIRE(f.rec.ends.size() == 1);
    CHECK(f.rec.ends[0] == std::make_pair(f.ids[0], int32_t{TERN_COAP_END_DEREGISTERED}));
    CHECK(f.rec.requests.back().observe == 1);
    CHECK(f.h.census().relations == 0);
}

TEST_CASE("RFC 7641 3.3.1: a re-registration replaces the relation and continues its sequence",
          "[rfc7641]") {
    obs_fixture f;
    f.reg(5, msg_type::non);
    f.note(f.ids[0], "a", 1);
    f.note(f.ids[0], "b", 2);
    f.h.take();
    const out again = f.reg(5, msg_type::non, peer_v4(), 2000);
    REQUIRE(f.ids.size() == 2);
    CHECK(f.ids[1] != f.ids[0]);
    CHECK(again.uint_opt(opt::observe) == 3u);
    REQUIRE(f.rec.ends.size() == 1);
    CHECK(f.rec.ends[0] == std::make_pair(f.ids[0], int32_t{TERN_COAP_END_REPLACED}));
    CHECK(f.note(f.ids[0], "old", 3) == TERN_NOT_FOUND);
    CHECK(f.note(f.ids[1], "new", 4) == TERN_OK);
    CHECK(f.h.one().uint_opt(opt::observe) == 4u);
    CHECK(f.h.metrics.get("coap_observations") == 1);
}

TEST_CASE("Observe caps: past max_observations_per_peer or max_observations, 5.03 + Max-Age",
          "[rfc7641][shed]") {
    engine_config c = small_config();
    c.max_observations_per_peer = 2;
    c.max_observations = 4;
    obs_fixture f(c);
    f.reg(1);
    f.reg(2);
    const out third = f.reg(3);
    CHECK(third.code == code::service_unavailable);
    CHECK(third.uint_opt(opt::max_age) == 5u);
    CHECK(third.text() == "observation limit reached");
    CHECK(f.h.metrics.shed("observations_per_peer") == 1);
    f.reg(4, msg_type::con, peer_v4(2));
    f.reg(5, msg_type::con, peer_v4(2));
    const out full = f.reg(6, msg_type::con, peer_v4(3));
    CHECK(full.code == code::service_unavailable);
    CHECK(f.h.metrics.shed("observations") == 1);
    CHECK(f.ids.size() == 4);
}

TEST_CASE("RFC 7641 2: Observe on a non-observable resource is a plain GET", "[rfc7641]") {
    obs_fixture f;
    msg m = con(GET, "plain", 1);
    m.observe(0);
    f.h.in(m);
    const out o = f.h.one();
    CHECK(o.code == code::content);
    CHECK_FALSE(o.has(opt::observe));
    CHECK(f.rec.requests[0].observe == 0);
    CHECK(f.h.census().relations == 0);
}

TEST_CASE("RFC 7641 4.1: a registration answered without OBSERVE or with an error makes no relation",
          "[rfc7641]") {
    harness h;
    recorder rec;
    rec.on_req = [&](const tern_coap_request& r) {
        auto resp = response(r.token.data[0] == 1 ? code::content : code::not_found);
        uint64_t id = 99;
        resp.flags = r.token.data[0] == 1 ? 0 : TERN_COAP_RESPONSE_OBSERVE;
        h.eng->respond(r.exchange, &resp, &id);
        CHECK(id == 0);
    };
    h.add("obs", rec, 2, TERN_COAP_RESOURCE_OBSERVABLE);
    h.start();
    for (uint8_t t : {1, 2}) {
        msg m = con(GET, "obs", t);
        m.token = {t};
        m.observe(0);
        h.in(m);
        CHECK_FALSE(h.one().has(opt::observe));
    }
    CHECK(h.census().relations == 0);
    CHECK(h.metrics.get("coap_observations") == 0);
}

TEST_CASE("RFC 7641 4.2: a non-2.xx notification is sent and ends the relation", "[rfc7641]") {
    obs_fixture f;
    f.reg(1, msg_type::non);
    const uint64_t id = f.ids[0];
    CHECK(f.note(id, "gone", 1, 0, code::not_found) == TERN_OK);
    const out o = f.h.one();
    CHECK(o.code == code::not_found);
    CHECK(o.has(opt::observe));
    REQUIRE(f.rec.ends.size() == 1);
    CHECK(f.rec.ends[0].second == TERN_COAP_END_ERROR);
    CHECK(f.note(id, "x", 2) == TERN_NOT_FOUND);

    // As CON: the relation ends once the error notification is acknowledged.
    f.reg(2);
    const uint64_t id2 = f.ids[1];
    f.note(id2, "err", 3, 0, code::internal_server_error);
    CHECK(f.note(id2, "after", 4) == TERN_NOT_FOUND);
    const out e = f.h.one();
    CHECK(f.rec.ends.size() == 1);
    f.h.in(empty_msg(msg_type::ack, e.mid));
    REQUIRE(f.rec.ends.size() == 2);
    CHECK(f.rec.ends[1] == std::make_pair(id2, int32_t{TERN_COAP_END_ERROR}));
}

TEST_CASE("end_observation sends the final response without Observe and calls no on_observation_end",
          "[rfc7641]") {
    obs_fixture f;
    f.reg(1);
    const uint64_t id = f.ids[0];
    f.note(id, "inflight", 1);
    f.note(id, "queued", 2);
    const out first = f.h.one();
    auto fin = response(code::not_found, "deleted");
    CHECK(f.h.end(id, &fin) == TERN_OK);
    const out o = f.h.one();
    CHECK(o.type == msg_type::con);
    CHECK(o.code == code::not_found);
    CHECK(o.text() == "deleted");
    CHECK(o.token == bytes{1});
    CHECK_FALSE(o.has(opt::observe));
    CHECK(o.mid != first.mid);
    CHECK(f.rec.ends.empty());
    CHECK(f.rec.results_of(1) == std::vector<int32_t>{TERN_COAP_NOTIFY_DROPPED});
    CHECK(f.rec.results_of(2) == std::vector<int32_t>{TERN_COAP_NOTIFY_DROPPED});
    CHECK(f.h.end(id, nullptr) == TERN_NOT_FOUND);
    // The final CON is retransmitted until acknowledged, then everything is gone.
    f.h.advance_ms(3001);
    CHECK(f.h.one().raw == o.raw);
    f.h.in(empty_msg(msg_type::ack, o.mid));
    CHECK(f.h.census().relations == 0);
    CHECK(f.h.census().notes == 0);
    CHECK(f.rec.ends.empty());
}

TEST_CASE("a transport session end ends the peer's relations (SESSION)", "[rfc7641][session]") {
    obs_fixture f;
    const tern_peer p = peer_v4(3, 5684, 1234);
    f.reg(1, msg_type::con, p);
    f.reg(2, msg_type::con, p);
    f.note(f.ids[0], "pending", 1);
    f.h.take();
    f.h.as_shard(0, [&] { f.h.eng->on_session_end(0, 0, &p); });
    REQUIRE(f.rec.ends.size() == 2);
    CHECK(f.rec.ends[0].second == TERN_COAP_END_SESSION);
    CHECK(f.rec.ends[1].second == TERN_COAP_END_SESSION);
    CHECK(f.rec.results_of(1) == std::vector<int32_t>{TERN_COAP_NOTIFY_DROPPED});
    CHECK(f.h.census().relations == 0);
    CHECK(f.h.census().peers == 0);
    f.h.advance_ms(100000);
    CHECK(f.h.take().empty());
}

TEST_CASE("RFC 7959 2.6: a large notification carries block 0 with Block2 and Size2", "[rfc7641][rfc7959]") {
    obs_fixture f;
    f.reg(1, msg_type::non);
    std::string big(3000, 'n');
    f.note(f.ids[0], big, 1);
    const out o = f.h.one();
    const auto b = o.block_opt(opt::block2);
    REQUIRE(b);
    CHECK(b->num == 0);
    CHECK(b->more);
    CHECK(b->szx == 6);
    CHECK(o.uint_opt(opt::size2) == 3000u);
    CHECK(o.payload.size() == 1024);
    CHECK(o.uint_opt(opt::observe) == 1u);
}

TEST_CASE("remove_resource ends its relations with SHUTDOWN", "[rfc7641]") {
    harness h;
    recorder rec;
    uint64_t id = 0;
    rec.on_req = [&](const tern_coap_request& r) {
        auto resp = response(code::content);
        resp.flags = TERN_COAP_RESPONSE_OBSERVE;
        h.eng->respond(r.exchange, &resp, &id);
    };
    const uint64_t res = h.add("obs", rec, 2, TERN_COAP_RESOURCE_OBSERVABLE);
    h.start();
    h.in(con(GET, "obs", 1).observe(0));
    REQUIRE(id != 0);
    h.eng->remove_resource(res);
    REQUIRE(rec.ends.size() == 1);
    CHECK(rec.ends[0] == std::make_pair(id, int32_t{TERN_COAP_END_SHUTDOWN}));
}
