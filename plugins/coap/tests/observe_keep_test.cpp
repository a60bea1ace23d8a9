// TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT: a CON notification to a device that sleeps, never
// acknowledged, is reported TIMEOUT with everything queued behind it, and the observation
// stays for the next notify(); the flag of the notification in flight decides; a late ACK is
// ignored; the peer stays pinned by its live observation.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace tern::coap;
using namespace tern::coap::test;

namespace {

constexpr uint32_t keep = TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT;
constexpr double past_retransmissions_ms = 100000;  // beyond MAX_TRANSMIT_WAIT (93 s)

// /obs is observable: a registering GET is answered at once with 2.05 and the observe flag.
struct keep_fixture {
    harness h;
    recorder rec;
    std::vector<uint64_t> ids;  // observation ids, in registration order
    explicit keep_fixture(engine_config c = small_config()) : h(c) {
        rec.on_req = [this](const tern_coap_request& r) {
            auto resp = response(code::content, "v0");
            resp.flags = TERN_COAP_RESPONSE_OBSERVE;
            uint64_t id = 0;
            CHECK(h.eng->respond(r.exchange, &resp, &id) == TERN_OK);
            ids.push_back(id);
        };
        h.add("obs", rec, TERN_COAP_METHOD_BIT(TERN_COAP_GET), TERN_COAP_RESOURCE_OBSERVABLE);
        h.start();
    }
    void reg(uint8_t tok, msg_type type = msg_type::con, const tern_peer& p = peer_v4()) {
        msg m = con(GET, "obs", static_cast<uint16_t>(1000 + tok));
        m.type = type;
        m.token = {tok};
        m.observe(0);
        h.in(m, p);
        CHECK(h.one().code == code::content);
    }
    tern_status note(uint64_t id, std::string_view text, uint64_t cookie, uint32_t flags = keep,
                     uint8_t c = code::content) {
        auto r = response(c, text);
        return h.notify(id, r, cookie, flags);
    }
    static std::vector<int32_t> just(int32_t r) { return {r}; }
};

}  // namespace

TEST_CASE("KEEP_ON_TIMEOUT: the observation survives an unacknowledged notification and the next one goes",
          "[rfc7641][retransmit][power]") {
    keep_fixture f;
    f.reg(1);
    f.reg(2);  // another observation of the same device
    REQUIRE(f.ids.size() == 2);
    CHECK(f.note(f.ids[0], "asleep", 1) == TERN_OK);
    const out first = f.h.one();
    CHECK(first.type == msg_type::con);
    f.h.advance_ms(past_retransmissions_ms);
    CHECK(f.h.take().size() == 4);  // max_retransmit retransmissions, then nothing more
    CHECK(f.rec.results_of(1) == f.just(TERN_COAP_NOTIFY_TIMEOUT));
    CHECK(f.rec.ends.empty());  // no on_observation_end for either observation
    CHECK(f.h.metrics.get("coap_observations") == 2);
    CHECK(f.h.metrics.get("coap_observations_kept_total") == 1);
    CHECK(f.h.metrics.notes("timeout") == 1);
    CHECK(f.h.census().notes == 0);
    CHECK(f.h.census().heap == 0);  // no retransmission timer left behind

    // The device wakes: the next notification is sent as usual, with the next sequence number.
    CHECK(f.note(f.ids[0], "awake", 2) == TERN_OK);
    const out second = f.h.one();
    CHECK(second.type == msg_type::con);
    CHECK(second.text() == "awake");
    CHECK(second.token == bytes{1});
    CHECK(second.mid != first.mid);
    CHECK(second.uint_opt(opt::observe) == *first.uint_opt(opt::observe) + 1);
    f.h.in(empty_msg(msg_type::ack, second.mid));
    CHECK(f.rec.results_of(2) == f.just(TERN_COAP_NOTIFY_DELIVERED));
    // The other observation was untouched throughout.
    CHECK(f.note(f.ids[1], "other", 3) == TERN_OK);
    CHECK(f.h.one().token == bytes{2});
}

TEST_CASE("KEEP_ON_TIMEOUT: notifications queued behind the unacknowledged one are reported TIMEOUT",
          "[rfc7641][retransmit][power]") {
    keep_fixture f;
    f.reg(1);
    f.note(f.ids[0], "a", 1);
    f.note(f.ids[0], "b", 2, 0);  // queued without the flag: the one in flight decides
    f.note(f.ids[0], "c", 3, keep | TERN_COAP_NOTIFY_MERGEABLE);
    CHECK(f.h.one().text() == "a");
    CHECK(f.h.census().notes == 3);
    f.h.advance_ms(past_retransmissions_ms);
    for (const out& o : f.h.take()) CHECK(o.text() == "a");  // b and c never went
    CHECK(f.rec.results_of(1) == f.just(TERN_COAP_NOTIFY_TIMEOUT));
    CHECK(f.rec.results_of(2) == f.just(TERN_COAP_NOTIFY_TIMEOUT));
    CHECK(f.rec.results_of(3) == f.just(TERN_COAP_NOTIFY_TIMEOUT));
    CHECK(f.h.metrics.notes("timeout") == 3);
    CHECK(f.h.census().notes == 0);
    CHECK(f.rec.ends.empty());
    // In reporting order: the one in flight first, then the queue in order.
    REQUIRE(f.rec.results.size() == 3);
    CHECK(std::get<1>(f.rec.results[0]) == 1);
    CHECK(std::get<1>(f.rec.results[2]) == 3);
    // A queue that starts over: the next two go one after the other.
    f.note(f.ids[0], "d", 4);
    f.note(f.ids[0], "e", 5);
    const out d = f.h.one();
    CHECK(d.text() == "d");
    f.h.in(empty_msg(msg_type::ack, d.mid));
    CHECK(f.h.one().text() == "e");
}

TEST_CASE("KEEP_ON_TIMEOUT: a notify() from the TIMEOUT result is sent, not reported with the old queue",
          "[rfc7641][retransmit][power]") {
    keep_fixture f;
    f.reg(1);
    f.note(f.ids[0], "a", 1);
    f.note(f.ids[0], "b", 2);
    f.h.take();
    bool sent_again = false;
    f.rec.on_result = [&](uint64_t obs, uint64_t cookie, int32_t result) {
        if (cookie == 1 && result == TERN_COAP_NOTIFY_TIMEOUT && !sent_again) {
            sent_again = true;
            CHECK(f.note(obs, "retry", 9) == TERN_OK);
        }
    };
    f.h.advance_ms(past_retransmissions_ms);
    const auto v = f.h.take();
    REQUIRE_FALSE(v.empty());
    CHECK(v.back().text() == "retry");
    CHECK(f.rec.results_of(2) == f.just(TERN_COAP_NOTIFY_TIMEOUT));
    CHECK(f.rec.results_of(9).empty());  // in flight
    f.h.in(empty_msg(msg_type::ack, v.back().mid));
    CHECK(f.rec.results_of(9) == f.just(TERN_COAP_NOTIFY_DELIVERED));
}

TEST_CASE("KEEP_ON_TIMEOUT: a late ACK of the given-up notification is ignored",
          "[rfc7641][retransmit][power]") {
    keep_fixture f;
    f.reg(1);
    f.note(f.ids[0], "a", 1);
    const out a = f.h.one();
    f.h.advance_ms(past_retransmissions_ms);
    f.h.take();
    const int64_t unmatched = f.h.metrics.dropped("unmatched_ack");
    f.h.in(empty_msg(msg_type::ack, a.mid));
    CHECK(f.h.take().empty());
    CHECK(f.h.metrics.dropped("unmatched_ack") == unmatched + 1);
    CHECK(f.rec.results_of(1) == f.just(TERN_COAP_NOTIFY_TIMEOUT));  // reported once
    // Nor does it stand for the next notification's ACK.
    f.note(f.ids[0], "b", 2);
    const out b = f.h.one();
    f.h.in(empty_msg(msg_type::ack, a.mid));
    CHECK(f.rec.results_of(2).empty());
    f.h.in(empty_msg(msg_type::ack, b.mid));
    CHECK(f.rec.results_of(2) == f.just(TERN_COAP_NOTIFY_DELIVERED));
}

TEST_CASE("KEEP_ON_TIMEOUT: the peer of a kept observation stays past the idle-peer expiry",
          "[rfc7641][retransmit][power]") {
    keep_fixture f;
    f.reg(1);
    f.note(f.ids[0], "a", 1);
    f.h.take();
    f.h.advance_ms(past_retransmissions_ms);
    f.h.advance_ms(600000);  // far beyond EXCHANGE_LIFETIME: an unpinned peer would be gone
    f.h.take();
    CHECK(f.h.census().peers == 1);
    CHECK(f.h.census().relations == 1);
    CHECK(f.note(f.ids[0], "later", 2) == TERN_OK);
    const out o = f.h.one();
    CHECK(o.text() == "later");
    CHECK(o.peer.endpoint.port == peer_v4().endpoint.port);
}

TEST_CASE("without KEEP_ON_TIMEOUT the notification in flight decides: every relation of the peer ends",
          "[rfc7641][retransmit][power]") {
    keep_fixture f;
    f.reg(1);
    f.reg(2);
    f.note(f.ids[0], "plain", 1, 0);
    f.note(f.ids[0], "kept", 2, keep);  // queued behind: its flag does not count
    f.h.take();
    f.h.advance_ms(past_retransmissions_ms);
    CHECK(f.rec.results_of(1) == f.just(TERN_COAP_NOTIFY_TIMEOUT));
    CHECK(f.rec.results_of(2) == f.just(TERN_COAP_NOTIFY_DROPPED));
    REQUIRE(f.rec.ends.size() == 2);
    CHECK(f.rec.ends[0] == std::make_pair(f.ids[0], int32_t{TERN_COAP_END_TIMEOUT}));
    CHECK(f.rec.ends[1] == std::make_pair(f.ids[1], int32_t{TERN_COAP_END_TIMEOUT}));
    CHECK(f.h.metrics.get("coap_observations") == 0);
    CHECK(f.h.metrics.get("coap_observations_kept_total") == 0);
    CHECK(f.note(f.ids[0], "gone", 4) == TERN_NOT_FOUND);
}

TEST_CASE("KEEP_ON_TIMEOUT in flight keeps the relation even with plain notifications queued",
          "[rfc7641][retransmit][power]") {
    keep_fixture f;
    f.reg(1);
    f.note(f.ids[0], "kept", 1, keep);
    f.note(f.ids[0], "plain", 2, 0);
    f.h.take();
    f.h.advance_ms(past_retransmissions_ms);
    CHECK(f.rec.results_of(1) == f.just(TERN_COAP_NOTIFY_TIMEOUT));
    CHECK(f.rec.results_of(2) == f.just(TERN_COAP_NOTIFY_TIMEOUT));
    CHECK(f.rec.ends.empty());
    // The next plain notification that is never acknowledged ends it the old way.
    f.note(f.ids[0], "plain again", 3, 0);
    f.h.take();
    f.h.advance_ms(past_retransmissions_ms);
    CHECK(f.rec.results_of(3) == f.just(TERN_COAP_NOTIFY_TIMEOUT));
    REQUIRE(f.rec.ends.size() == 1);
    CHECK(f.rec.ends[0].second == TERN_COAP_END_TIMEOUT);
}

TEST_CASE("KEEP_ON_TIMEOUT: a NON observer's periodic CON check keeps the relation too",
          "[rfc7641][retransmit][power]") {
    engine_config c = small_config();
    c.observe_con_every = 1;  // every second notification goes CON
    keep_fixture f(c);
    f.reg(1, msg_type::non);
    f.note(f.ids[0], "n1", 1);
    CHECK(f.h.one().type == msg_type::non);
    CHECK(f.rec.results_of(1) == f.just(TERN_COAP_NOTIFY_DELIVERED));
    f.note(f.ids[0], "check", 2);
    CHECK(f.h.one().type == msg_type::con);
    f.h.advance_ms(past_retransmissions_ms);
    f.h.take();
    CHECK(f.rec.results_of(2) == f.just(TERN_COAP_NOTIFY_TIMEOUT));
    CHECK(f.rec.ends.empty());
    f.note(f.ids[0], "n3", 3);
    CHECK(f.h.one().text() == "n3");
    CHECK(f.rec.results_of(3) == f.just(TERN_COAP_NOTIFY_DELIVERED));
}

TEST_CASE("KEEP_ON_TIMEOUT: an unacknowledged error notification still ends the relation (ERROR)",
          "[rfc7641][retransmit][power]") {
    keep_fixture f;
    f.reg(1);
    f.note(f.ids[0], "a", 1);
    f.note(f.ids[0], "gone", 2, keep, code::not_found);  // the relation's last one
    f.h.take();
    f.h.advance_ms(past_retransmissions_ms);
    CHECK(f.rec.results_of(1) == f.just(TERN_COAP_NOTIFY_TIMEOUT));
    CHECK(f.rec.results_of(2) == f.just(TERN_COAP_NOTIFY_TIMEOUT));
    REQUIRE(f.rec.ends.size() == 1);
    CHECK(f.rec.ends[0] == std::make_pair(f.ids[0], int32_t{TERN_COAP_END_ERROR}));
    CHECK(f.h.metrics.get("coap_observations") == 0);
    CHECK(f.h.census().relations == 0);
    CHECK(f.h.census().peers <= 1);
}
