// The efento resource on the SDK's fake host (manual reactor: posted tasks run when the test
// says) with the fake engine and core of fakes.hpp, and requests sent as the engine would.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fakes.hpp"
#include "resource.hpp"

namespace tern::efento::test {

// ---- the fixture ---------------------------------------------------------------------------------

inline int64_t fixed_wall_ms() { return 1'700'000'123'456; }

struct fixture {
    sdk::testing::fake_host h;
    sdk::host sh{&h};
    fake_engine engine;
    fake_core core;
    settings s = default_settings();
    std::unique_ptr<resource> res;
    uint64_t next_exchange = 1;

    explicit fixture(uint32_t shards = 1) : h(settings_schema.keys(), "efento", shards) {}
    ~fixture() {
        if (res) res->stop();
    }

    // Makes and starts the resource with s (check()ed first).
    void start() {
        check(s);
        services w;
        w.reactor = &h.reactor;
        w.engine = &engine;
        w.core = core_links::of(core);
        w.host = &sh;
        w.log = &h.log;
        w.wall_ms = &fixed_wall_ms;
        res = std::make_unique<resource>(s, w);
        res->start();
    }

    // Sends a request through the resource the engine would pick, on its shard; the
    // exchange id (its answer: answer(id)).
    uint64_t send(const std::string& path, std::string_view payload, uint8_t method = TERN_COAP_POST,
                  uint8_t type = TERN_COAP_CON, uint32_t shard = 0, uint8_t last_octet = 7) {
        std::vector<std::string> segs;
        std::string_view rest = path;
        while (!rest.empty()) {
            const std::size_t slash = rest.find('/');
            segs.emplace_back(rest.substr(0, slash));
            if (slash == std::string_view::npos) break;
            rest.remove_prefix(slash + 1);
        }
        std::vector<tern_str> views;
        for (const std::string& s : segs) views.push_back(sdk::to_str(s));
        tern_coap_request r{};
        r.struct_size = sizeof r;
        r.type = type;
        r.code = method;
        r.exchange = next_exchange++;
        r.shard = shard;
        r.observe = -1;
        r.content_format = -1;
        r.accept = -1;
        r.peer.endpoint.family = 4;
        r.peer.endpoint.port = 5683;
        r.peer.endpoint.addr[0] = 192;
        r.peer.endpoint.addr[1] = 0;
        r.peer.endpoint.addr[2] = 2;
        r.peer.endpoint.addr[3] = last_octet;
        r.transport = sdk::to_str("udp");
        r.path = views.data();
        r.path_count = static_cast<uint32_t>(views.size());
        r.payload = tern_bytes{reinterpret_cast<const uint8_t*>(payload.data()), payload.size()};
        const fake_engine::registration* reg = engine.match(segs);
        if (reg == nullptr) throw std::runtime_error("no resource for " + path);
        if ((reg->methods & TERN_COAP_METHOD_BIT(method)) == 0) throw std::runtime_error("the engine answers 4.05");
        h.reactor.on(shard, [&] { reg->handler->on_request(&r); });
        return r.exchange;
    }

    const fake_engine::response& answer(uint64_t exchange) const {
        if (const auto* r = engine.find(exchange)) return *r;
        throw std::runtime_error("exchange " + std::to_string(exchange) + " was not answered");
    }
    bool answered(uint64_t exchange) const { return engine.find(exchange) != nullptr; }

    int64_t messages(const char* kind, const char* outcome) const {
        return h.metrics.value("efento_messages_total",
                               std::string("kind=\"") + kind + "\",outcome=\"" + outcome + "\"");
    }
};

}  // namespace tern::efento::test
