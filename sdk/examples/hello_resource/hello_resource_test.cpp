// hello_resource's own test: the plugin made through its descriptor, as the kernel makes it,
// on the SDK's fake host (tern/sdk/testing.hpp) with a stand-in CoAP engine that records
// what the plugin answers. No kernel, no network, no test framework: it exits 1 and says
// which check failed.
#include <tern/sdk/testing.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

extern "C" const tern_plugin_descriptor* tern_plugin_entry(void);  // hello_resource.cpp

namespace {

namespace testing = tern::sdk::testing;
using tern::sdk::to_str;

int failures = 0;
void check(bool ok, const char* what) {
    if (!ok) {
        ++failures;
        std::fprintf(stderr, "FAILED: %s\n", what);
    }
}

// Records resources, answers and notifications; every exchange and observation is live.
struct recording_engine final : tern::coap_engine_v1 {
    struct answer {
        uint64_t exchange;
        uint8_t code;
        std::string text;
        bool observe;
    };
    tern::coap_handler_v1* handler = nullptr;
    std::vector<std::string> patterns;
    std::vector<answer> answers;
    std::vector<std::string> notifications;
    uint64_t next_observation = 100;

    tern_status add_resource(const tern_coap_resource* d, tern::coap_handler_v1* h, uint64_t* out) noexcept override {
        patterns.emplace_back(d->pattern);
        handler = h;
        *out = patterns.size();
        return TERN_OK;
    }
    void remove_resource(uint64_t) noexcept override {}
    tern_status respond(uint64_t exchange, const tern_coap_response* r, uint64_t* out) noexcept override {
        const bool observe = (r->flags & TERN_COAP_RESPONSE_OBSERVE) != 0;
        answers.push_back({exchange, r->code, std::string(tern::sdk::as_text(r->payload)), observe});
        if (observe && out != nullptr) *out = next_observation++;
        return TERN_OK;
    }
    tern_status notify(uint64_t, const tern_coap_response* n, uint64_t, uint32_t) noexcept override {
        notifications.emplace_back(tern::sdk::as_text(n->payload));
        return TERN_OK;
    }
    tern_status end_observation(uint64_t, const tern_coap_response*) noexcept override { return TERN_OK; }

    // Sends a request to the plugin: method, the {name} capture if any, a text payload.
    void request(uint8_t method, std::string_view name = {}, std::string_view payload = {}, int32_t observe = -1) {
        tern_coap_request r{};
        r.struct_size = sizeof r;
        r.code = method;
        r.exchange = answers.size() + 1;
        r.observe = observe;
        r.content_format = -1;
        r.accept = -1;
        const tern_str capture = to_str(name);
        if (!name.empty()) {
            r.captures = &capture;
            r.capture_count = 1;
        }
        r.payload = tern::sdk::to_bytes(payload);
        handler->on_request(&r);
    }
};

}  // namespace

int main() {
    const tern_plugin_descriptor& d = *tern_plugin_entry();
    testing::fake_host host(d, "hello");
    recording_engine engine;

    // Without an engine, start() refuses with the SDK's one message naming what to enable.
    {
        auto lonely = testing::create(d, host);
        std::string why;
        check(testing::start(*lonely, &why) == TERN_NOT_FOUND, "start without an engine fails");
        check(why.find("tern.coap.engine/1") != std::string::npos, "the refusal names the interface");
    }

    host.registry.provide<tern::coap_engine_v1>("coap", &engine);
    host.config.set("greeting", "hi");
    host.config.set("max_name_length", 4);
    auto plugin = testing::create(d, host);
    check(testing::start(*plugin) == TERN_OK, "start");
    check(engine.patterns == std::vector<std::string>{"hello", "hello/{name}"}, "both resources registered");
    check(host.log.has("greeting 'hi'"), "the start is logged");

    engine.request(TERN_COAP_GET);
    check(engine.answers.back().code == TERN_COAP_CODE(2, 5) && engine.answers.back().text == "hi", "GET /hello");
    engine.request(TERN_COAP_GET, "bob");
    check(engine.answers.back().text == "hi, bob", "GET /hello/bob");
    engine.request(TERN_COAP_GET, "alice");
    check(engine.answers.back().code == TERN_COAP_CODE(4, 0), "a name over max_name_length gets 4.00");

    engine.request(TERN_COAP_GET, {}, {}, 0);
    check(engine.answers.back().observe, "GET with Observe registers");
    engine.request(TERN_COAP_PUT, {}, "hey");
    check(engine.answers.back().code == TERN_COAP_CODE(2, 4), "PUT /hello");
    check(engine.notifications == std::vector<std::string>{"hey"}, "the observer is notified");
    check(host.metrics.value("hello_greeting_changes_total") == 1, "the change is counted");

    plugin->stop();
    if (failures != 0) return 1;
    std::puts("hello_resource_test: all checks passed");
    return 0;
}
