// libFuzzer target for the engine's message layer. The input is a little program: each
// step delivers a raw or a structured datagram from one of a few peers, advances the fake
// clock, answers or notifies from the handler's side (on the shard or through the
// completion queue), acknowledges or resets something the engine sent, or ends a session.
// After every step the invariants hold: no table exceeds its bound, every datagram the
// engine sent parses, Block1 memory stays within its budget; at the end the gauges agree
// with the tables.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace tern::coap;
using namespace tern::coap::test;

#define ENGINE_CHECK(cond)                                                                \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "engine_fuzz: check failed: %s (%s:%d)\n", #cond,       \
                         __FILE__, __LINE__);                                             \
            std::abort();                                                                 \
        }                                                                                 \
    } while (0)

class input {
public:
    input(const uint8_t* p, std::size_t n) : p_(p), n_(n) {}
    bool empty() const { return n_ == 0; }
    uint8_t u8() {
        if (n_ == 0) return 0;
        --n_;
        return *p_++;
    }
    uint16_t u16() { return static_cast<uint16_t>(u8() << 8 | u8()); }
    bytes take(std::size_t k) {
        k = std::min(k, n_);
        bytes b(p_, p_ + k);
        p_ += k;
        n_ -= k;
        return b;
    }

private:
    const uint8_t* p_;
    std::size_t n_;
};

engine_config fuzz_config() {
    engine_config c = small_config();
    c.max_peers = 6;
    c.max_exchanges = 6;
    c.max_observations = 6;
    c.max_observations_per_peer = 3;
    c.max_queued_notifications = 3;
    c.dedup_capacity = 12;
    c.dedup_memory = 8 * 1024;
    c.notification_memory = 16 * 1024;
    c.retransmission_memory = 16 * 1024;
    c.max_block1_transfers = 2;
    c.block1_memory = 4096;
    c.max_resource_body_size = 3000;
    c.completion_queue_size = 16;
    c.observe_con_every = 3;
    c.max_message_size = 256;
    c.preferred_block_size = 64;
    return c;
}

const char* const paths[] = {"sync", "async", "obs", "large", "up", ".well-known/core",
                             "nothing/here", "cap/x/y", "/sync/", ""};
const uint8_t codes[] = {0x45, 0x44, 0x41, 0x5F, 0x84, 0x80, 0xA0, 0x43};

struct world {
    harness h{fuzz_config(), 2};
    recorder sync_r, async_r, obs_r, large_r, up_r, cap_r;
    std::vector<uint64_t> observations;
    std::vector<std::pair<uint16_t, tern_peer>> sent_mids;  // CON/NON messages the engine sent
    bytes large_body = bytes(2000, 'L');
    std::vector<std::unique_ptr<counting_body>> bodies;

    world() {
        sync_r.on_req = [this](const tern_coap_request& r) {
            auto resp = response(code::content, "sync");
            h.eng->respond(r.exchange, &resp, nullptr);
        };
        obs_r.on_req = [this](const tern_coap_request& r) {
            auto resp = response(r.observe == 0 ? code::content : code::valid, "obs");
            resp.flags = TERN_COAP_RESPONSE_OBSERVE;
            uint64_t id = 0;
            h.eng->respond(r.exchange, &resp, &id);
            if (id != 0) observations.push_back(id);
        };
        large_r.on_req = [this](const tern_coap_request& r) {
            auto resp = response(code::content);
            if (r.message_id % 2 == 0) {
                resp.payload = tern_bytes{large_body.data(), large_body.size()};
            } else {
                bodies.push_back(std::make_unique<counting_body>(large_body));
                resp.body = bodies.back().get();
            }
            h.eng->respond(r.exchange, &resp, nullptr);
        };
        up_r.on_req = [this](const tern_coap_request& r) {
            auto resp = response(code::changed, "ok");
            h.eng->respond(r.exchange, &resp, nullptr);
        };
        h.add("sync", sync_r);
        h.add("async", async_r);
        h.add("obs", obs_r, 0x1E, TERN_COAP_RESOURCE_OBSERVABLE, "rt=\"x\"");
        h.add("large", large_r);
        h.add("up", up_r);
        h.add("cap/{a}/**", cap_r);
        h.start();
    }

    tern_peer peer(uint8_t b) const { return peer_v4(static_cast<uint8_t>(b % 5), 1000, b % 7 == 6 ? 42 : 0); }
    uint32_t shard_of(const tern_peer& p) const { return p.endpoint.addr[3] % 2; }

    void deliver(const bytes& d, const tern_peer& p) { h.in(d, p, shard_of(p)); }

    bytes structured(input& in) {
        msg m;
        const uint8_t t = in.u8();
        m.type = static_cast<msg_type>(t & 3);
        const uint8_t sel = in.u8();
        m.code = sel % 8 < 5 ? static_cast<uint8_t>(sel % 8 + 1) : sel % 8 == 5 ? uint8_t{0} : in.u8();
        m.mid = static_cast<uint16_t>(in.u8() % 24);
        m.token = in.take(in.u8() % 9);
        m.path(paths[in.u8() % std::size(paths)]);
        const uint8_t f = in.u8();
        if (f & 1) m.observe(in.u8() % 3);
        if (f & 2) m.block2(in.u8() % 40, static_cast<uint8_t>(in.u8() % 7));
        if (f & 4) {
            const uint8_t num = in.u8() % 50;
            const uint8_t szx = static_cast<uint8_t>(in.u8() % 7);
            const bool more = (f & 64) != 0;
            m.block1(num, more, szx);
            m.payload = bytes(more ? (16u << szx) : in.u8(), 'b');
        }
        if (f & 8) m.option_uint(opt::size1, in.u16());
        if (f & 16) m.option_uint(opt::no_response, in.u8());
        if (f & 32) m.option(static_cast<uint16_t>(in.u16() | 1), in.take(3));  // some critical option
        if (f & 128) m.query(in.u8() % 2 ? "rt=x" : "href=/s*");
        if ((f & 4) == 0 && (t & 4)) m.payload = in.take(in.u8());
        bytes d = m.encode();
        if ((t & 8) && !d.empty()) d[in.u8() % d.size()] ^= in.u8();  // a corrupted byte
        return d;
    }

    tern_coap_response pick_response(input& in, std::string& text) {
        const uint8_t sel = in.u8();
        text.assign(sel % 4 == 3 ? 700u : sel % 16, 'r');
        auto r = response(codes[sel % std::size(codes)], text);
        if (sel & 0x40) r.flags |= TERN_COAP_RESPONSE_OBSERVE;
        if (sel & 0x80) r.flags |= TERN_COAP_RESPONSE_SILENT;
        return r;
    }

    void step(input& in) {
        switch (in.u8() % 12) {
        case 0: {
            const tern_peer p = peer(in.u8());
            deliver(in.take(in.u8()), p);
            break;
        }
        case 1:
        case 2:
        case 3: {
            const tern_peer p = peer(in.u8());
            deliver(structured(in), p);
            break;
        }
        case 4: h.advance_ms(in.u8() * 20.0); break;
        case 5: h.advance_ms(in.u8() * 1000.0); break;
        case 6: {  // the async handler answers on the shard
            if (async_r.requests.empty()) break;
            const auto& r = async_r.requests[in.u8() % async_r.requests.size()];
            std::string text;
            auto resp = pick_response(in, text);
            uint64_t obs = 0;
            h.respond(r.exchange, resp, &obs);
            break;
        }
        case 7: {  // a notification
            if (observations.empty()) break;
            const uint64_t id = observations[in.u8() % observations.size()];
            std::string text;
            auto resp = pick_response(in, text);
            // Either flag or both: MERGEABLE, KEEP_ON_TIMEOUT (a sleeping device's).
            h.notify(id, resp, in.u8(), in.u8() & (TERN_COAP_NOTIFY_MERGEABLE | TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT));
            break;
        }
        case 8: {
            if (observations.empty()) break;
            const uint64_t id = observations[in.u8() % observations.size()];
            std::string text;
            auto resp = pick_response(in, text);
            h.end(id, in.u8() & 1 ? &resp : nullptr);
            break;
        }
        case 9: {  // the client acknowledges or resets something we sent
            if (sent_mids.empty()) break;
            const auto& [mid, p] = sent_mids[in.u8() % sent_mids.size()];
            deliver(empty_msg(in.u8() & 1 ? msg_type::rst : msg_type::ack, mid), p);
            break;
        }
        case 10: {
            const tern_peer p = peer(in.u8());
            h.as_shard(shard_of(p), [&] { h.eng->on_session_end(shard_of(p), 0, &p); });
            break;
        }
        case 11: {  // the core's thread answers: through the completion queue
            std::string text;
            auto resp = pick_response(in, text);
            if (!async_r.requests.empty() && in.u8() & 1) {
                h.eng->respond(async_r.requests[in.u8() % async_r.requests.size()].exchange, &resp, nullptr);
            } else if (!observations.empty()) {
                h.eng->notify(observations[in.u8() % observations.size()], &resp, 5, 0);
            }
            h.settle();
            break;
        }
        }
        check();
    }

    void check() {
        for (uint32_t s = 0; s < 2; ++s) {
            const shard::counts c = h.census(s);
            const shard_limits& l = h.eng->at(s).limits();
            ENGINE_CHECK(c.peers <= l.peers);
            ENGINE_CHECK(c.exchanges <= l.exchanges);
            ENGINE_CHECK(c.relations <= l.observations);
            ENGINE_CHECK(c.dedup <= l.dedup_entries);
            ENGINE_CHECK(c.transfers <= l.block1_transfers);
            ENGINE_CHECK(c.notes <= l.notifications);
            ENGINE_CHECK(c.heap <= l.exchanges + l.observations);
        }
        ENGINE_CHECK(h.eng->block1_bytes().load() <= h.eng->config().block1_memory);
        for (const auto& s : h.env.sent) {
            const auto o = parse_out(s.data);
            ENGINE_CHECK(o.has_value());
            ENGINE_CHECK(s.data.size() <= h.eng->limits().datagram_capacity);
            if (o->type == msg_type::con || o->type == msg_type::non) {
                sent_mids.emplace_back(o->mid, s.peer);
                if (sent_mids.size() > 16) sent_mids.erase(sent_mids.begin());
            }
        }
        h.env.sent.clear();
        for (const auto& b : bodies) ENGINE_CHECK(b->released <= 1);
        // Keep the recorders bounded on long inputs.
        if (async_r.requests.size() > 64) async_r.requests.erase(async_r.requests.begin());
        if (observations.size() > 64) observations.erase(observations.begin());
    }

    void finish() {
        // Let every timer run out: all exchanges, dedup entries and transfers expire.
        h.advance_ms(700000);
        check();
        for (uint32_t s = 0; s < 2; ++s) {
            const shard::counts c = h.census(s);
            ENGINE_CHECK(c.exchanges == 0);
            ENGINE_CHECK(c.dedup == 0);
            ENGINE_CHECK(c.transfers == 0);
            ENGINE_CHECK(c.heap == 0 || c.relations != 0);
        }
        uint32_t exchanges = 0, peers = 0;
        for (uint32_t s = 0; s < 2; ++s) {
            exchanges += h.census(s).exchanges;
            peers += h.census(s).peers;
        }
        ENGINE_CHECK(h.metrics.get("coap_exchanges") == static_cast<int64_t>(exchanges));
        ENGINE_CHECK(h.metrics.get("coap_peers") == static_cast<int64_t>(peers));
        ENGINE_CHECK(h.metrics.get("coap_observations") >= 0);
        h.eng->stop();
        for (const auto& b : bodies) ENGINE_CHECK(b->released == 1);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size > 4096) return 0;  // long programs add time, not coverage
    world w;
    input in(data, size);
    int steps = 0;
    while (!in.empty() && steps++ < 400) w.step(in);
    w.finish();
    return 0;
}
