// The hot path allocates nothing and takes no lock once warm: a measurement, a device info
// and a configuration whose cloud_token is cached (CON and NON), and GET time. This binary
// replaces the global operator new and interposes pthread_mutex_lock (testing_alloc.hpp).
#include <catch2/catch.hpp>

#include "fixture.hpp"
#include "tern/sdk/testing_alloc.hpp"

using namespace tern;
using namespace tern::efento;
using namespace tern::efento::test;

namespace {

// A request built once, sent many times.
struct canned {
    std::vector<std::string> segs;
    std::vector<tern_str> views;
    std::string body;
    tern_coap_request r{};
    const fake_engine::registration* reg = nullptr;

    canned(fixture& f, std::vector<std::string> path, std::string payload, uint8_t method, uint8_t type)
        : segs(std::move(path)), body(std::move(payload)) {
        for (const std::string& s : segs) views.push_back(sdk::to_str(s));
        r.struct_size = sizeof r;
        r.type = type;
        r.code = method;
        r.observe = -1;
        r.content_format = -1;
        r.accept = -1;
        r.peer.endpoint.family = 4;
        r.peer.endpoint.port = 5683;
        r.peer.endpoint.addr[0] = 10;
        r.peer.endpoint.addr[3] = 1;
        r.transport = sdk::to_str("udp");
        r.path = views.data();
        r.path_count = static_cast<uint32_t>(views.size());
        r.payload = tern_bytes{reinterpret_cast<const uint8_t*>(body.data()), body.size()};
        reg = f.engine.match(segs);
    }
    void send(fixture& f) {
        ++r.exchange;
        f.h.reactor.on(0, [&] { reg->handler->on_request(&r); });
    }
};

}  // namespace

TEST_CASE("a cached sensor's messages allocate nothing and take no lock once warm", "[efento][alloc]") {
    fixture f;
    // Measurements with a token as long as a real one (20 characters); device info and
    // configuration (a few a day) from another sensor with a short token: the decoder keeps
    // those on an arena, where a string past 15 characters costs one allocation.
    const std::string token = "A1b2C3d4E5f6G7h8I9j0";
    f.core.tokens[token] = fake_device{};
    f.core.tokens["tok-1"] = fake_device{8, 3, "Efento sensors", "EFENTO"};
    f.start();
    f.engine.record = false;
    f.core.record = false;
    std::vector<canned> msgs;
    msgs.emplace_back(f, std::vector<std::string>{"efento", "m"}, measurements(token), TERN_COAP_POST, TERN_COAP_CON);
    msgs.emplace_back(f, std::vector<std::string>{"efento", "m"}, measurements(token, 190), TERN_COAP_POST, TERN_COAP_NON);
    msgs.emplace_back(f, std::vector<std::string>{"efento", "i"}, device_info("tok-1"), TERN_COAP_POST, TERN_COAP_CON);
    msgs.emplace_back(f, std::vector<std::string>{"coap", "configuration"}, configuration("tok-1"), TERN_COAP_POST,
                      TERN_COAP_CON);
    msgs.emplace_back(f, std::vector<std::string>{"efento", "t"}, std::string(), TERN_COAP_GET, TERN_COAP_CON);
    for (int i = 0; i < 50; ++i)
        for (canned& c : msgs) c.send(f);
    const uint64_t writes = f.core.writes;
    const uint64_t answered = f.engine.answered;

    tern::sdk::testing::alloc_counter counter;
    for (int i = 0; i < 1000; ++i)
        for (canned& c : msgs) c.send(f);
    const auto n = counter.stop();
    CHECK(n.allocations == 0);
    CHECK(n.locks == 0);
    CHECK(f.core.writes - writes == 4000);
    CHECK(f.engine.answered - answered == 5000);
    CHECK(f.core.auth_calls == 2);
    CHECK(f.res->contexts_made(0) == 1);
}
