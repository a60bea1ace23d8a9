// hello_resource: a CoAP resource plugin built against the installed Tern SDK alone.
//
//   GET /hello            2.05 "<greeting>"           observable
//   PUT /hello  <text>    2.04; the greeting becomes <text> and observers are notified
//   GET /hello/{name}     2.05 "<greeting>, <name>"
//
// Everything here is ordinary C++ with the compiler and standard library the vendor
// chose: only ABI types (tern_str, tern_coap_request, ...) cross into the kernel and the
// CoAP engine, so this file builds the same with clang + libc++ as with gcc + libstdc++.
#include <tern/abi/coap.h>
#include <tern/sdk/coap.hpp>
#include <tern/sdk/config.hpp>
#include <tern/sdk/plugin.hpp>
#include <tern/sdk/record.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace coap = tern::sdk::coap;
using tern::sdk::to_sv;

constexpr std::size_t max_greeting_size = 256;

// The configuration: each key is declared once, bound to the member it fills; the same
// declaration is the descriptor's schema (and so the README's table).
struct hello_settings {
    std::string greeting;
    std::size_t max_name_length = 0;
};

namespace cfg = tern::sdk::cfg;
constexpr auto hello_schema = cfg::bind<hello_settings>(
    cfg::string("greeting", &hello_settings::greeting, "hello", "What GET /hello answers until a PUT changes it")
        .range(1, max_greeting_size)
        .unit("bytes"),
    cfg::integer("max_name_length", &hello_settings::max_name_length, 32,
                 "Longest {name} that GET /hello/{name} accepts")
        .range(1, 64)
        .unit("bytes"));

class hello_resource final : public tern::sdk::instance, public tern::coap_handler_v1 {
public:
    // Runs inside create(): what throws here fails create() with its message.
    explicit hello_resource(const tern_create_args& args)
        : instance(args), settings_(hello_schema.load(config())), greeting_(settings_.greeting) {}

private:
    // ---- lifecycle (start-stop thread) ------------------------------------------------

    void on_start() override {
        // Providers start before the instances that require them, so the engine is there;
        // when it is not, require<>() throws the SDK's standard refusal, which says what to enable.
        engine_ = &host().require<tern::coap_engine_v1>();
        changes_ = host().counter("hello_greeting_changes_total",
                                  "Times PUT /hello changed the greeting");
        add_resource("hello", TERN_COAP_METHOD_BIT(TERN_COAP_GET) | TERN_COAP_METHOD_BIT(TERN_COAP_PUT),
                     TERN_COAP_RESOURCE_OBSERVABLE, "rt=\"greeting\";ct=0");
        add_resource("hello/{name}", TERN_COAP_METHOD_BIT(TERN_COAP_GET), 0, "rt=\"greeting\";ct=0");
        log().info("serving /hello and /hello/{name}, greeting '", greeting_, "'");
    }

    void on_stop() noexcept override {
        // remove_resource ends the observations, which calls on_observation_end: never hold
        // mutex_ around calls into the engine.
        for (uint64_t r : resources_) engine_->remove_resource(r);
        resources_.clear();
    }

    void add_resource(const char* pattern, uint32_t methods, uint32_t flags, const char* attrs) {
        tern_coap_resource desc{};
        desc.struct_size = sizeof desc;
        desc.methods = methods;
        desc.pattern = pattern;
        desc.link_attrs = attrs;
        desc.flags = flags;
        uint64_t id = 0;
        const tern_status s = engine_->add_resource(&desc, this, &id);
        if (s != TERN_OK) {
            // stop() is not called after a failed start: undo what this start did.
            on_stop();
            throw tern::sdk::error(s, tern::sdk::cat("cannot register /", pattern, ": ",
                                                     tern::sdk::status_name(s)));
        }
        resources_.push_back(id);
    }

    // ---- requests (a shard thread; answered synchronously) ------------------------------

    void on_request(const tern_coap_request* in) noexcept override {
        // The request as this plugin knows it: an engine built against an older SDK may pass a
        // shorter record (the fields it lacks read as zero), a newer one a longer record.
        constexpr std::size_t needed = offsetof(tern_coap_request, exchange) + sizeof(uint64_t);
        const tern_coap_request req = tern::sdk::read_record(in, needed);
        if (req.struct_size == 0) return;  // no exchange to answer
        // An exception (say, bad_alloc) must not cross into the engine: answer 5.00.
        tern_error err{};
        if (tern::sdk::guard(&err, [&] { handle(req); }) != TERN_OK)
            answer(req, coap::code(5, 0), tern::sdk::error_text(err));
    }

    void handle(const tern_coap_request& req) {
        if (req.capture_count == 1) return get_named(req, to_sv(req.captures[0]));
        if (req.code == TERN_COAP_GET) return get_greeting(req);
        if (req.code == TERN_COAP_PUT) return put_greeting(req);
        answer(req, coap::code(4, 5), "GET or PUT");
    }

    void get_greeting(const tern_coap_request& req) {
        std::string text;
        uint64_t seen = 0;
        {
            std::scoped_lock lock(mutex_);
            text = greeting_;
            seen = version_;
        }
        if (req.observe != 0) return answer(req, coap::code(2, 5), text);

        tern_coap_response r = coap::text_response(coap::code(2, 5), text);
        r.flags = TERN_COAP_RESPONSE_OBSERVE;
        uint64_t observation = 0;
        if (engine_->respond(req.exchange, &r, &observation) != TERN_OK) return;
        bool missed = false;
        {
            std::scoped_lock lock(mutex_);
            observers_.push_back(observation);
            missed = version_ != seen;
        }
        log().debug("observation ", observation, " registered");
        // A PUT landed between reading the greeting and registering: catch the new
        // observer up rather than leave it with a stale value until the next change.
        if (missed) notify_observers();
    }

    void get_named(const tern_coap_request& req, std::string_view name) {
        if (name.empty() || name.size() > settings_.max_name_length)
            return answer(req, coap::code(4, 0),
                          tern::sdk::cat("name must be 1..", settings_.max_name_length, " bytes"));
        std::string text;
        {
            std::scoped_lock lock(mutex_);
            text = tern::sdk::cat(greeting_, ", ", name);
        }
        answer(req, coap::code(2, 5), text);
    }

    void put_greeting(const tern_coap_request& req) {
        if (req.content_format != -1 && req.content_format != TERN_COAP_FORMAT_TEXT)
            return answer(req, coap::code(4, 15), "the greeting is text/plain (format 0)");
        const std::string_view text = tern::sdk::as_text(req.payload);
        if (text.empty()) return answer(req, coap::code(4, 0), "the greeting must not be empty");
        if (text.size() > max_greeting_size)
            return answer(req, coap::code(4, 13),
                          tern::sdk::cat("the greeting is at most ", max_greeting_size, " bytes"));
        {
            std::scoped_lock lock(mutex_);
            greeting_.assign(text);
            ++version_;
        }
        changes_.inc();
        answer(req, coap::code(2, 4), {});
        notify_observers();
    }

    // Sends the current greeting to every observer. Serialised by notify_mutex_ and
    // reading the greeting inside it, the last notification anyone receives always
    // carries the latest greeting, however PUTs on different shards interleave.
    void notify_observers() {
        std::scoped_lock order(notify_mutex_);
        std::string text;
        std::vector<uint64_t> observers;
        uint64_t version = 0;
        {
            std::scoped_lock lock(mutex_);
            text = greeting_;
            observers = observers_;
            version = version_;
        }
        const tern_coap_response n = coap::text_response(coap::code(2, 5), text);
        for (uint64_t o : observers) {
            // Mergeable: a queued older greeting is worthless once a newer one exists.
            if (engine_->notify(o, &n, version, TERN_COAP_NOTIFY_MERGEABLE) == TERN_NOT_FOUND)
                forget(o);
        }
    }

    void answer(const tern_coap_request& req, uint8_t code, std::string_view text) noexcept {
        const tern_coap_response r =
            text.empty() ? coap::response(code) : coap::text_response(code, text);
        // TERN_NOT_FOUND: the exchange expired meanwhile; the client has given up.
        engine_->respond(req.exchange, &r, nullptr);
    }

    // ---- observations (the observation's shard) ----------------------------------------

    void on_observation_end(uint64_t observation, tern_coap_end_reason reason) noexcept override {
        forget(observation);
        log().debug("observation ", observation, " ended (reason ", reason, ")");
    }

    void on_notification_result(uint64_t observation, uint64_t cookie,
                                tern_coap_notify_result result) noexcept override {
        // Failed deliveries end the observation too (on_observation_end); nothing to retry.
        log().trace("notification ", cookie, " on ", observation, ": result ", result);
    }

    void forget(uint64_t observation) noexcept {
        std::scoped_lock lock(mutex_);
        std::erase(observers_, observation);
    }

    const hello_settings settings_;
    tern::coap_engine_v1* engine_ = nullptr;
    std::vector<uint64_t> resources_; // start-stop thread only
    tern::sdk::metric changes_;

    std::mutex notify_mutex_;
    std::mutex mutex_; // guards what follows: requests arrive on every shard
    std::string greeting_;
    uint64_t version_ = 0; // bumped by every PUT
    std::vector<uint64_t> observers_;
};

constexpr tern_requirement hello_requirements[] = {
    tern::sdk::need(TERN_IID_COAP_ENGINE_V1),
};

}  // namespace

TERN_PLUGIN(hello_resource, {.name = "hello_resource",
                             .version = "1.0.0",
                             .vendor = "Tern SDK example",
                             .description = "Answers GET /hello and GET /hello/{name}; PUT /hello changes the greeting",
                             .requirements = hello_requirements,
                             .config = hello_schema.keys()})
