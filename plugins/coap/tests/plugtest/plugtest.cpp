// plugtest: a test-only resource plugin in the spirit of the ETSI CoAP plugtests. The
// interop tests point real clients (libcoap's coap-client, node's coap package) at these
// resources through the real kernel, udp transport and CoAP engine:
//
//   /test               GET 2.05, POST 2.01, PUT 2.04, DELETE 2.02; the payload names the
//                       method, the request type and the request payload's length
//   /separate           GET, answered after separate_delay ms (past piggyback_timeout, so
//                       the engine sends an empty ACK first and the response separately)
//   /obs                GET, observable: a shard timer ticks every obs_period ms and
//                       notifies "obs <n>" to every observer on that shard
//   /large              GET, a deterministic body of large_size bytes (engine does Block2)
//   /large-body         the same body through a coap_body_v1 range reader
//   /large-post         POST/PUT a body of any size (engine reassembles Block1); answers
//                       2.04 "received <n> bytes, sum <s>" (s = sum of the byte values)
//   /query              GET, echoes the Uri-Query elements joined by '&'
//   /path/**            any method, echoes "path: <the segments after path, joined by />"
//   /capture/{a}/{b}    GET, echoes "a=<a> b=<b>"
//
// The large body: line k (from 0) is printf("%05d %s\n", k, letters) with letters the 57
// characters "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234", so 64 bytes a
// line; the body is the first large_size bytes of those lines.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tern/abi/coap.h"
#include "tern/sdk/coap.hpp"
#include "tern/sdk/plugin.hpp"

namespace {

namespace coap = tern::sdk::coap;
namespace cfg = tern::sdk::cfg;
using tern::sdk::to_sv;

constexpr std::string_view letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234";
static_assert(letters.size() == 57);

// Byte `offset` of the large body.
uint8_t large_byte(uint64_t offset) {
    const uint64_t line = offset / 64, col = offset % 64;
    if (col < 5) {
        uint64_t v = line;
        for (uint64_t i = 4; i > col; --i) v /= 10;
        return static_cast<uint8_t>('0' + v % 10);
    }
    if (col == 5) return ' ';
    if (col == 63) return '\n';
    return static_cast<uint8_t>(letters[col - 6]);
}

// The large body read by range: nothing is materialised beyond the block asked for.
class large_body final : public tern::coap_body_v1 {
public:
    explicit large_body(uint64_t size) : size_(size) {}
    uint64_t size() noexcept override { return size_; }
    tern_status read(uint64_t offset, uint8_t* buf, size_t len, size_t* out_len) noexcept override {
        if (out_len == nullptr || (buf == nullptr && len != 0)) return TERN_INVALID_ARGUMENT;
        size_t n = 0;
        for (; n < len && offset + n < size_; ++n) buf[n] = large_byte(offset + n);
        *out_len = n;
        return TERN_OK;
    }
    void release() noexcept override { delete this; }

private:
    uint64_t size_;
};

struct plugtest_settings {
    std::chrono::milliseconds separate_delay{};
    std::chrono::milliseconds obs_period{};
    uint64_t large_size = 0;
    size_t max_pending_separate = 0;
};

constexpr auto config_schema = cfg::bind<plugtest_settings>(
    cfg::integer("separate_delay", &plugtest_settings::separate_delay, 1500,
                 "How long /separate waits before answering; above the engine's "
                 "piggyback_timeout this forces an empty ACK and a separate response")
        .range(0, 60000),
    cfg::integer("obs_period", &plugtest_settings::obs_period, 500, "Interval of the /obs notifications")
        .range(10, 3600000),
    cfg::integer("large_size", &plugtest_settings::large_size, 3000, "Size of the /large and /large-body bodies")
        .range(0, 16 * 1024 * 1024)
        .unit("bytes"),
    cfg::integer("max_pending_separate", &plugtest_settings::max_pending_separate, 1024,
                 "Pending /separate answers per shard; past it /separate answers 5.03 at once")
        .range(1, 1000000));

constexpr tern_requirement requirements[] = {tern::sdk::need(TERN_IID_COAP_ENGINE_V1)};

class plugtest;

// One handler object per resource: on_request does not say which resource matched.
struct resource_handler final : tern::coap_handler_v1 {
    using fn = void (plugtest::*)(const tern_coap_request&);
    plugtest* owner = nullptr;
    fn handle = nullptr;
    void on_request(const tern_coap_request* req) noexcept override;
    void on_observation_end(uint64_t observation, int32_t reason) noexcept override;
    void on_notification_result(uint64_t observation, uint64_t cookie, int32_t result) noexcept override;
};

class plugtest final : public tern::sdk::instance {
public:
    explicit plugtest(const tern_create_args& args)
        : instance(args),
          cfg_(config_schema.load(config())),
          separate_delay_ns_(static_cast<uint64_t>(std::chrono::nanoseconds(cfg_.separate_delay).count())),
          obs_period_ns_(static_cast<uint64_t>(std::chrono::nanoseconds(cfg_.obs_period).count())),
          large_size_(cfg_.large_size),
          max_pending_separate_(cfg_.max_pending_separate) {}

    // ---- lifecycle (start-stop thread) ------------------------------------------------

    void on_start() override {
        engine_ = host().find<tern::coap_engine_v1>(TERN_IID_COAP_ENGINE_V1);
        if (engine_ == nullptr)
            throw tern::sdk::error(TERN_UNAVAILABLE, "no instance provides " TERN_IID_COAP_ENGINE_V1);
        reactor_ = &host().reactor();
        large_.resize(large_size_);
        for (uint64_t i = 0; i < large_size_; ++i) large_[i] = large_byte(i);

        const uint32_t n = reactor_->shard_count();
        for (uint32_t i = 0; i < n; ++i) {
            auto sh = std::make_unique<shard_state>();
            sh->owner = this;
            sh->index = i;
            shards_.push_back(std::move(sh));
        }
        for (auto& sh : shards_) {
            create_timer(*sh, &on_obs_tick, sh->obs_timer);
            create_timer(*sh, &on_separate_due, sh->separate_timer);
        }

        constexpr uint32_t get = TERN_COAP_METHOD_BIT(TERN_COAP_GET);
        constexpr uint32_t post = TERN_COAP_METHOD_BIT(TERN_COAP_POST);
        constexpr uint32_t put = TERN_COAP_METHOD_BIT(TERN_COAP_PUT);
        constexpr uint32_t del = TERN_COAP_METHOD_BIT(TERN_COAP_DELETE);
        add("test", get | post | put | del, 0, "rt=\"test\";ct=0", &plugtest::on_test);
        add("separate", get, 0, "rt=\"separate\";ct=0", &plugtest::on_separate);
        add("obs", get, TERN_COAP_RESOURCE_OBSERVABLE, "rt=\"observe\";ct=0", &plugtest::on_obs);
        add("large", get, 0, "rt=\"block\";ct=0", &plugtest::on_large);
        add("large-body", get, 0, "rt=\"block\";ct=0", &plugtest::on_large_body);
        add("large-post", post | put, 0, "rt=\"block\"", &plugtest::on_large_post);
        add("query", get, 0, "rt=\"query\";ct=0", &plugtest::on_query);
        add("path/**", get | post | put | del, 0, "rt=\"path\";ct=0", &plugtest::on_path);
        add("capture/{a}/{b}", get, 0, "rt=\"capture\";ct=0", &plugtest::on_capture);
        log().info("plugtest resources registered (separate_delay ", separate_delay_ns_ / 1000000,
                   " ms, obs_period ", obs_period_ns_ / 1000000, " ms, large_size ", large_size_, ")");
    }

    void on_stop() noexcept override {
        // Resources first: after remove_resource no request arrives that could arm a
        // timer, and the observations have ended (SHUTDOWN). A tick or a /separate answer
        // that still fires in between meets NOT_FOUND, which is harmless. Then the timers.
        for (uint64_t r : resources_) engine_->remove_resource(r);
        resources_.clear();
        for (auto& sh : shards_) {
            if (sh->obs_timer != 0) reactor_->timer_destroy(sh->obs_timer);
            if (sh->separate_timer != 0) reactor_->timer_destroy(sh->separate_timer);
            sh->obs_timer = sh->separate_timer = 0;
        }
        shards_.clear();
    }

    // ---- what the handlers do (on the request's shard) -------------------------------

    void answer(const tern_coap_request& req, uint8_t code, std::string_view text) {
        tern_coap_response r = coap::text_response(code, text);
        engine_->respond(req.exchange, &r, nullptr);
    }

    static const char* end_reason_name(int32_t r) {
        switch (r) {
            case TERN_COAP_END_DEREGISTERED: return "deregistered";
            case TERN_COAP_END_RESET: return "reset";
            case TERN_COAP_END_TIMEOUT: return "timeout";
            case TERN_COAP_END_REPLACED: return "replaced";
            case TERN_COAP_END_SESSION: return "session";
            case TERN_COAP_END_SHUTDOWN: return "shutdown";
            case TERN_COAP_END_ERROR: return "error";
            default: return "unknown";
        }
    }
    static const char* type_name(uint8_t t) { return t == TERN_COAP_CON ? "CON" : "NON"; }
    static const char* method_name(uint8_t m) {
        switch (m) {
            case TERN_COAP_GET: return "GET";
            case TERN_COAP_POST: return "POST";
            case TERN_COAP_PUT: return "PUT";
            case TERN_COAP_DELETE: return "DELETE";
            default: return "?";
        }
    }

    void on_test(const tern_coap_request& req) {
        const std::string text = tern::sdk::cat("test: ", method_name(req.code), " ", type_name(req.type),
                                                " ", req.payload.size, " bytes");
        switch (req.code) {
            case TERN_COAP_GET: return answer(req, coap::code(2, 5), text);
            case TERN_COAP_POST: return answer(req, coap::code(2, 1), text);
            case TERN_COAP_PUT: return answer(req, coap::code(2, 4), text);
            case TERN_COAP_DELETE: return answer(req, coap::code(2, 2), text);
            default: return answer(req, coap::code(4, 5), "GET, POST, PUT or DELETE");
        }
    }

    void on_separate(const tern_coap_request& req) {
        shard_state& sh = *shards_.at(req.shard);
        if (sh.separate.size() >= max_pending_separate_)
            return answer(req, coap::code(5, 3), "too many pending /separate requests");
        const uint64_t now = reactor_->now_ns();
        sh.separate.push_back(pending{now + separate_delay_ns_, req.exchange});
        if (sh.separate.size() == 1) reactor_->timer_arm(sh.separate_timer, separate_delay_ns_);
    }

    void on_obs(const tern_coap_request& req) {
        shard_state& sh = *shards_.at(req.shard);
        const std::string text = tern::sdk::cat("obs ", sh.counter);
        if (req.observe != 0) return answer(req, coap::code(2, 5), text);
        tern_coap_response r = coap::text_response(coap::code(2, 5), text);
        r.flags = TERN_COAP_RESPONSE_OBSERVE;
        uint64_t observation = 0;
        if (engine_->respond(req.exchange, &r, &observation) != TERN_OK || observation == 0) return;
        {
            std::lock_guard lock(sh.observers_mutex);
            sh.observers.push_back(observation);
        }
        if (!sh.ticking) {
            sh.ticking = true;
            reactor_->timer_arm(sh.obs_timer, obs_period_ns_);
        }
    }

    void on_large(const tern_coap_request& req) {
        tern_coap_response r = coap::response(coap::code(2, 5), tern_bytes{large_.data(), large_.size()},
                                              TERN_COAP_FORMAT_TEXT);
        engine_->respond(req.exchange, &r, nullptr);
    }

    void on_large_body(const tern_coap_request& req) {
        tern_coap_response r = coap::response(coap::code(2, 5), {}, TERN_COAP_FORMAT_TEXT);
        r.body = new large_body(large_size_);
        engine_->respond(req.exchange, &r, nullptr);
    }

    void on_large_post(const tern_coap_request& req) {
        uint64_t sum = 0;
        for (size_t i = 0; i < req.payload.size; ++i) sum += req.payload.data[i];
        answer(req, coap::code(2, 4), tern::sdk::cat("received ", req.payload.size, " bytes, sum ", sum));
    }

    void on_query(const tern_coap_request& req) {
        std::string text;
        for (uint32_t i = 0; i < req.query_count; ++i) {
            if (i != 0) text += '&';
            text += to_sv(req.query[i]);
        }
        answer(req, coap::code(2, 5), text);
    }

    void on_path(const tern_coap_request& req) {
        std::string text = "path: ";
        for (uint32_t i = 1; i < req.path_count; ++i) {
            if (i != 1) text += '/';
            text += to_sv(req.path[i]);
        }
        answer(req, req.code == TERN_COAP_GET ? coap::code(2, 5) : coap::code(2, 4), text);
    }

    void on_capture(const tern_coap_request& req) {
        if (req.capture_count != 2) return answer(req, coap::code(5, 0), "expected two captures");
        answer(req, coap::code(2, 5),
               tern::sdk::cat("a=", to_sv(req.captures[0]), " b=", to_sv(req.captures[1])));
    }

    void observation_ended(uint64_t observation, int32_t reason) {
        // The interop tests read this line to see how a client left.
        log().info("observation ", observation, " ended, reason ", reason, " (", end_reason_name(reason), ")");
        // Called on the observation's shard, but an engine may end observations from the
        // start-stop thread while removing a resource: hence the lock, and every shard.
        for (auto& sh : shards_) {
            std::lock_guard lock(sh->observers_mutex);
            std::erase(sh->observers, observation);
        }
    }

    void notification_result(uint64_t observation, uint64_t cookie, int32_t result) {
        if (result != TERN_COAP_NOTIFY_DELIVERED)
            log().debug("notification ", cookie, " of observation ", observation, ": result ", result);
    }

private:
    struct pending {
        uint64_t due_ns;
        uint64_t exchange;
    };
    // Everything a shard's handlers and timers touch; only that shard's thread uses it.
    struct shard_state {
        plugtest* owner = nullptr;
        uint32_t index = 0;
        uint64_t obs_timer = 0, separate_timer = 0;
        bool ticking = false;
        uint64_t counter = 0;
        std::mutex observers_mutex;  // see observation_ended()
        std::vector<uint64_t> observers;
        std::deque<pending> separate;
    };

    void create_timer(shard_state& sh, tern_task_fn fn, uint64_t& out) {
        const tern_status s = reactor_->timer_create(sh.index, fn, &sh, &out);
        if (s != TERN_OK) {
            on_stop();
            throw tern::sdk::error(s, tern::sdk::cat("cannot create a timer on shard ", sh.index));
        }
    }

    void add(const char* pattern, uint32_t methods, uint32_t flags, const char* attrs,
             resource_handler::fn fn) {
        auto h = std::make_unique<resource_handler>();
        h->owner = this;
        h->handle = fn;
        tern_coap_resource desc{};
        desc.struct_size = sizeof desc;
        desc.methods = methods;
        desc.pattern = pattern;
        desc.link_attrs = attrs;
        desc.flags = flags;
        uint64_t id = 0;
        const tern_status s = engine_->add_resource(&desc, h.get(), &id);
        if (s != TERN_OK) {
            on_stop();  // stop() is not called after a failed start
            throw tern::sdk::error(s, tern::sdk::cat("cannot register /", pattern, ": ",
                                                     tern::sdk::status_name(s)));
        }
        handlers_.push_back(std::move(h));
        resources_.push_back(id);
    }

    static void on_obs_tick(void* ctx) noexcept {
        auto& sh = *static_cast<shard_state*>(ctx);
        plugtest& self = *sh.owner;
        ++sh.counter;
        const std::string text = tern::sdk::cat("obs ", sh.counter);
        tern_coap_response r = coap::text_response(coap::code(2, 5), text);
        // notify() may end an observation synchronously (on_observation_end edits the
        // list): walk a copy, without holding the lock.
        std::vector<uint64_t> now;
        {
            std::lock_guard lock(sh.observers_mutex);
            now = sh.observers;
        }
        for (uint64_t o : now) {
            if (self.engine_->notify(o, &r, sh.counter, 0) != TERN_NOT_FOUND) continue;
            std::lock_guard lock(sh.observers_mutex);
            std::erase(sh.observers, o);
        }
        bool empty;
        {
            std::lock_guard lock(sh.observers_mutex);
            empty = sh.observers.empty();
        }
        if (empty)
            sh.ticking = false;
        else
            self.reactor_->timer_arm(sh.obs_timer, self.obs_period_ns_);
    }

    static void on_separate_due(void* ctx) noexcept {
        auto& sh = *static_cast<shard_state*>(ctx);
        plugtest& self = *sh.owner;
        const uint64_t now = self.reactor_->now_ns();
        while (!sh.separate.empty() && sh.separate.front().due_ns <= now) {
            const pending p = sh.separate.front();
            sh.separate.pop_front();
            const std::string text =
                tern::sdk::cat("separate response after ", self.separate_delay_ns_ / 1000000, " ms");
            tern_coap_response r = coap::text_response(coap::code(2, 5), text);
            self.engine_->respond(p.exchange, &r, nullptr);
        }
        if (!sh.separate.empty())
            self.reactor_->timer_arm(sh.separate_timer, sh.separate.front().due_ns - now);
    }

    const plugtest_settings cfg_;
    const uint64_t separate_delay_ns_, obs_period_ns_, large_size_;
    const size_t max_pending_separate_;
    tern::coap_engine_v1* engine_ = nullptr;
    tern::reactor_v1* reactor_ = nullptr;
    std::vector<uint8_t> large_;
    std::vector<std::unique_ptr<shard_state>> shards_;
    std::vector<std::unique_ptr<resource_handler>> handlers_;
    std::vector<uint64_t> resources_;
};

void resource_handler::on_request(const tern_coap_request* req) noexcept {
    tern_error err{};
    // An exception must not cross into the engine: answer 5.00 (if the exchange is still
    // open) with what went wrong.
    if (tern::sdk::guard(&err, [&] { (owner->*handle)(*req); }) != TERN_OK)
        owner->answer(*req, coap::code(5, 0), tern::sdk::error_text(err));
}

void resource_handler::on_observation_end(uint64_t observation, int32_t reason) noexcept {
    tern_error err{};
    (void)tern::sdk::guard(&err, [&] { owner->observation_ended(observation, reason); });
}

void resource_handler::on_notification_result(uint64_t observation, uint64_t cookie,
                                              int32_t result) noexcept {
    tern_error err{};
    (void)tern::sdk::guard(&err, [&] { owner->notification_result(observation, cookie, result); });
}

}  // namespace

TERN_PLUGIN(plugtest, {.name = "plugtest",
                       .version = "1.0.0",
                       .vendor = "Tern tests",
                       .description = "ETSI-plugtest-style CoAP resources for interop tests (test only)",
                       .requirements = requirements,
                       .config = config_schema.keys()})
