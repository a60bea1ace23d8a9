#include "resource.hpp"

#include <algorithm>
#include <cstdio>
#include <random>
#include <thread>

#include "tern/ratelimit/ratelimit.hpp"
#include "tern/sdk/coap.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::efento {

namespace {

constexpr uint8_t code_content = TERN_COAP_CODE(2, 5);
constexpr uint8_t code_bad_request = TERN_COAP_CODE(4, 0);
constexpr uint8_t code_internal = TERN_COAP_CODE(5, 0);
constexpr uint8_t code_unavailable = TERN_COAP_CODE(5, 3);

uint64_t ms_to_ns(int64_t ms) noexcept { return ms <= 0 ? 0 : static_cast<uint64_t>(ms) * 1000000u; }

std::size_t per_shard(int64_t total, uint32_t shards) noexcept {
    return total <= 0 ? 0 : static_cast<std::size_t>((total + shards - 1) / shards);
}

}  // namespace

resource::resource(const settings& s, services w) : s_(s), w_(w), log_(w.log) {
    if (w_.reactor == nullptr || w_.engine == nullptr || !w_.core.complete())
        throw sdk::error(TERN_INVALID_ARGUMENT, "efento needs a reactor, a CoAP engine and the core's capabilities");
    m_.init(w_.host);
    limits_.max_values = static_cast<uint32_t>(s_.max_values_per_message);
    limits_.max_decoded_size = s_.max_decoded_size;
    limits_.type_cast_enabled = s_.type_cast_enabled;
    shard_count_ = w_.reactor->shard_count();
    if (shard_count_ == 0) shard_count_ = 1;
    cache_limits l;
    l.tokens = per_shard(s_.token_cache_size, shard_count_);
    l.unknown = per_shard(s_.unknown_token_cache_size, shard_count_);
    l.sources = per_shard(s_.source_table_size, shard_count_);
    l.ttl_ns = ms_to_ns(s_.token_cache_ttl_ms);
    l.unknown_ttl_ns = ms_to_ns(s_.unknown_token_cache_ttl_ms);
    l.source_rate = s_.source_rate;
    l.source_burst = s_.source_burst;
    std::random_device rd;
    for (uint32_t i = 0; i < shard_count_; ++i) {
        const uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
        shards_.push_back(std::make_unique<shard_state>(l, m_, seed));
    }
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        entries_[i].self = this;
        entries_[i].which = static_cast<entry>(i);
    }
    const std::string base = sdk::cat("/", s_.prefix, "/");
    paths_text_ = sdk::cat(base, s_.measurements_path, ", ", base, s_.device_info_path, ", ", base,
                           s_.configuration_path, " or ", base, s_.time_path);
}

resource::~resource() { stop(); }

// ---- lifecycle [start-stop] ---------------------------------------------------------------------

void resource::start() {
    stopping_.store(false, std::memory_order_release);
    if (const tern_status st = w_.core.events->subscribe(this, &events_handle_); st != TERN_OK)
        throw sdk::error(st, sdk::cat("the core refused efento's subscription to its events: ", sdk::status_name(st)));
    struct reg {
        std::string pattern;
        uint32_t methods;
        entry which;
        const char* key;
    };
    const uint32_t post = TERN_COAP_METHOD_BIT(TERN_COAP_POST);
    std::vector<reg> list{{sdk::cat(s_.prefix, "/**"), TERN_COAP_METHOD_BIT(TERN_COAP_GET) | post, entry::prefix, "prefix"}};
    for (const std::string& a : s_.measurements_aliases) list.push_back({a, post, entry::measurements, "measurements_aliases"});
    for (const std::string& a : s_.device_info_aliases) list.push_back({a, post, entry::device_info, "device_info_aliases"});
    for (const std::string& a : s_.configuration_aliases)
        list.push_back({a, post, entry::configuration, "configuration_aliases"});
    for (const reg& r : list) {
        tern_coap_resource d{};
        d.struct_size = sizeof d;
        d.methods = r.methods;
        d.pattern = r.pattern.c_str();
        d.link_attrs = "ct=42";
        uint64_t id = 0;
        const tern_status st = w_.engine->add_resource(&d, &entries_[static_cast<std::size_t>(r.which)], &id);
        if (st != TERN_OK) {
            stop();
            throw sdk::error(st, sdk::cat("cannot register /", r.pattern, " (", r.key, ") with the CoAP engine: ",
                                          sdk::status_name(st)));
        }
        registered_.push_back(id);
    }
}

void resource::stop() noexcept {
    for (uint64_t r : registered_) w_.engine->remove_resource(r);
    registered_.clear();
    if (events_handle_ != 0) {
        w_.core.events->close(events_handle_);
        events_handle_ = 0;
    }
    // What is in the core still completes (its answers are dropped); bounded as a whole, below
    // the kernel's stop_timeout.
    stopping_.store(true, std::memory_order_release);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(4);
    while (in_flight_.load(std::memory_order_acquire) > 0 && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (const int64_t left = in_flight_.load(std::memory_order_acquire); left > 0)
        log_.warn("stopped with ", left, " core call(s) unanswered");
}

std::string resource::describe() const {
    std::string aliases;
    for (const auto* list : {&s_.measurements_aliases, &s_.device_info_aliases, &s_.configuration_aliases})
        for (const std::string& a : *list) aliases += sdk::cat(aliases.empty() ? "" : ", ", "/", a);
    return sdk::cat("/", s_.prefix, "/{", s_.measurements_path, ",", s_.device_info_path, ",", s_.configuration_path,
                    ",", s_.time_path, "} (aliases: ", aliases.empty() ? std::string("none") : aliases, ")");
}

// ---- requests [shard] --------------------------------------------------------------------------

void resource::entry_point::on_request(const tern_coap_request* req) noexcept {
    if (req != nullptr) self->on_request(*req, which);
}

void resource::on_request(const tern_coap_request& req, entry which) noexcept {
    try {
        switch (which) {
            case entry::prefix: route(req); break;
            case entry::measurements: uplink(req, message_kind::measurements); break;
            case entry::device_info: uplink(req, message_kind::device_info); break;
            case entry::configuration: uplink(req, message_kind::configuration); break;
            case entry::count_: break;
        }
    } catch (const std::exception& e) {
        log_.error("request failed: ", e.what());
        respond(req.exchange, code_internal, "internal error");
    } catch (...) {
        respond(req.exchange, code_internal, "internal error");
    }
}

// /<prefix>/<name>: exactly two segments, a known name, GET for time and POST for the rest.
void resource::route(const tern_coap_request& req) {
    if (req.path_count != 2) {
        bad_request(req.exchange, "an Efento path has two segments");
        return;
    }
    const std::string_view name = sdk::to_sv(req.path[1]);
    const bool get = req.code == TERN_COAP_GET;
    if (name == s_.time_path) {
        if (get) time(req.exchange);
        else bad_request(req.exchange, "time takes GET only");
        return;
    }
    message_kind kind;
    if (name == s_.measurements_path) kind = message_kind::measurements;
    else if (name == s_.device_info_path) kind = message_kind::device_info;
    else if (name == s_.configuration_path) kind = message_kind::configuration;
    else {
        bad_request(req.exchange, "unknown Efento resource");
        return;
    }
    if (get) {
        bad_request(req.exchange, "Efento uplinks take POST only");
        return;
    }
    uplink(req, kind);
}

void resource::time(uint64_t exchange) noexcept {
    // A signed 32-bit count of seconds, big-endian, as ThingsBoard answers it.
    const auto secs = static_cast<uint32_t>(static_cast<int32_t>(wall_ms() / 1000));
    const uint8_t b[4] = {static_cast<uint8_t>(secs >> 24), static_cast<uint8_t>(secs >> 16),
                          static_cast<uint8_t>(secs >> 8), static_cast<uint8_t>(secs)};
    if (stopping()) return;
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = code_content;
    r.content_format = -1;
    r.max_age = -1;
    r.payload = tern_bytes{b, sizeof b};
    w_.engine->respond(exchange, &r, nullptr);
    m_.time_requests.inc();
}

// The text stays short: the engine trims answers to unverified addresses to a few times the
// request's size (amplification), and a GET is small. The full list goes to the debug log.
void resource::bad_request(uint64_t exchange, std::string_view text) noexcept {
    m_.bad_requests.inc();
    if (log_.enabled(TERN_LOG_DEBUG)) log_.debug("4.00 ", text, " (expected ", paths_text_, ")");
    respond(exchange, code_bad_request, text);
}

// ---- answers [any-thread] ------------------------------------------------------------------------

void resource::respond(uint64_t exchange, uint8_t code, std::string_view text, int64_t max_age,
                       uint32_t flags) noexcept {
    if (stopping()) return;
    tern_coap_response r{};
    r.struct_size = sizeof r;
    r.code = code;
    r.flags = flags;
    r.content_format = -1;
    r.max_age = max_age;
    r.payload = sdk::to_bytes(text);
    w_.engine->respond(exchange, &r, nullptr);
}

void resource::refuse(const uplink_ref& u, const refusal& r) noexcept {
    m_.message(u.kind, r.what);
    if (log_.enabled(TERN_LOG_DEBUG)) {
        char c[5];
        log_.debug(outcome_name(r.what), " ", sdk::coap::code_text(r.code, c), " ", r.text);
    }
    respond(u.exchange, r.code, r.text, r.max_age);
}

void resource::core_failed(const uplink_ref& u, tern_status status, std::string_view what,
                           std::string_view message) noexcept {
    char text[160];
    const std::string_view why = message.empty() ? std::string_view(sdk::status_name(status)) : message;
    const int n = std::snprintf(text, sizeof text, "%.*s: %.*s", static_cast<int>(what.size()), what.data(),
                                static_cast<int>(why.size()), why.data());
    const std::string_view t(text, n > 0 ? std::min<std::size_t>(static_cast<std::size_t>(n), sizeof text - 1) : 0);
    if (status == TERN_BUSY) {
        refuse(u, {outcome::busy, code_unavailable, t, s_.busy_max_age_s});
        return;
    }
    // A key or value the core refused as sent is the sensor's: 4.00, no warning.
    if (status != TERN_INVALID_ARGUMENT) warn_core(what, status, message);
    refuse(u, {outcome::backend_error, status == TERN_INVALID_ARGUMENT ? code_bad_request : code_internal, t});
}

// Core trouble is logged at most once a second (a failing core would otherwise write a line
// per message); the rest is counted.
void resource::warn_core(std::string_view what, tern_status status, std::string_view message) noexcept {
    const uint64_t now = w_.reactor->now_ns();
    uint64_t last = last_warn_ns_.load(std::memory_order_relaxed);
    if ((last != 0 && now - last < 1'000'000'000u) ||
        !last_warn_ns_.compare_exchange_strong(last, now == 0 ? 1 : now, std::memory_order_relaxed)) {
        m_.warnings_suppressed.inc();
        return;
    }
    try {
        log_.warn(what, ": core ", sdk::status_name(status), message.empty() ? "" : " (", message,
                  message.empty() ? "" : ")");
    } catch (...) {
    }
}

int64_t resource::wall_ms() const noexcept {
    if (w_.wall_ms != nullptr) return w_.wall_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// ---- device events [any-thread] -> every shard ---------------------------------------------------

namespace {
struct forget_task {
    token_cache* cache;
    uint64_t device_id;
    bool credentials;
    std::atomic<int64_t>* in_flight;
};
}  // namespace

void resource::on_device_event(uint64_t device_id, tern_device_event event) noexcept {
    if (event != TERN_DEVICE_UPDATED && event != TERN_DEVICE_CREDENTIALS_CHANGED && event != TERN_DEVICE_DELETED) return;
    for (uint32_t s = 0; s < shard_count_; ++s) {
        auto* t = new (std::nothrow)
            forget_task{&shards_[s]->cache, device_id, event == TERN_DEVICE_CREDENTIALS_CHANGED, &in_flight_};
        if (t == nullptr) {
            log_.error("device event for ", device_id, " lost: out of memory");
            continue;
        }
        in_flight_.fetch_add(1, std::memory_order_acq_rel);
        const tern_status st = w_.reactor->post(
            s,
            [](void* ctx) noexcept {
                std::unique_ptr<forget_task> f(static_cast<forget_task*>(ctx));
                f->cache->forget(f->device_id, f->credentials);
                f->in_flight->fetch_sub(1, std::memory_order_acq_rel);
            },
            t);
        if (st != TERN_OK) {
            delete t;
            in_flight_.fetch_sub(1, std::memory_order_acq_rel);
        }
    }
}

}  // namespace tern::efento
