// Pieces shared by the api's translation units.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "api.hpp"

namespace tern::device_api {

namespace code {
constexpr uint8_t created = TERN_COAP_CODE(2, 1);
constexpr uint8_t deleted = TERN_COAP_CODE(2, 2);
constexpr uint8_t valid = TERN_COAP_CODE(2, 3);
constexpr uint8_t content = TERN_COAP_CODE(2, 5);
constexpr uint8_t bad_request = TERN_COAP_CODE(4, 0);
constexpr uint8_t unauthorized = TERN_COAP_CODE(4, 1);
constexpr uint8_t not_found = TERN_COAP_CODE(4, 4);
constexpr uint8_t too_large = TERN_COAP_CODE(4, 13);
constexpr uint8_t too_many = TERN_COAP_CODE(4, 29);  // RFC 8516
constexpr uint8_t internal = TERN_COAP_CODE(5, 0);
constexpr uint8_t unavailable = TERN_COAP_CODE(5, 3);
}  // namespace code

// A posted unit of work.
struct task_base {
    api* self = nullptr;
    virtual void run() = 0;
    virtual ~task_base() = default;
};

template <class F>
struct task_impl final : task_base {
    explicit task_impl(F&& fn) : f(std::move(fn)) {}
    void run() override { f(); }
    F f;
};

// An authentication waiting for the core: the request copied (the engine's views die
// with on_request) and where the lookup stands.
struct pending_auth {
    enum stage_t { x509 = 0, psk = 1, token = 2 };
    api* self = nullptr;
    uint64_t exchange = 0;
    uint32_t shard = 0;
    uint8_t type = 0;
    uint8_t method = 0;
    int32_t observe = -1;
    int32_t content_format = -1;
    std::string coap_token;
    tern_peer peer{};
    std::string transport;
    std::vector<std::string> path_s, query_s;
    std::vector<tern_str> path, query;
    std::string payload;
    // progress
    int stage = token;
    credential cred;
    // X.509: the client's chain as Base64 texts, leaf first (spec §7); chain_next is the
    // certificate to look up when the current one is not a device's. Filled once per
    // session, when its identity is first needed.
    std::vector<std::string> chain;
    uint32_t chain_next = 0;
    uint64_t epoch = 0;
    bool source_charged = false;  // the token lookup took from the source's bucket
    tern_status status = TERN_OK;
    std::shared_ptr<device_entry> result;

    static std::unique_ptr<pending_auth> copy(api* self, const request& v);
    request view() const noexcept;
};

std::string_view status_text(tern_status s) noexcept;

}  // namespace tern::device_api

namespace tern::device_api {

template <class F>
bool api::post(uint32_t s, F&& f) {
    posts_in_flight_.fetch_add(1, std::memory_order_acq_rel);
    if (stopping_.load(std::memory_order_acquire)) {
        posts_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
        return false;
    }
    auto* t = new task_impl<std::decay_t<F>>(std::forward<F>(f));
    t->self = this;
    if (w_.reactor->post(s, &api::run_task, static_cast<task_base*>(t)) != TERN_OK) {
        delete t;
        posts_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
        return false;
    }
    return true;
}

}  // namespace tern::device_api

namespace tern::device_api {

// An Observe registration on its way from the request's shard to the device's home.
struct api::reg_request {
    api* self = nullptr;
    bool rpc = false;
    std::shared_ptr<const device_entry> dev;
    uint64_t exchange = 0;
    uint32_t gen = 0;  // set at home
    observation o;     // id 0 until the engine made it
};

}  // namespace tern::device_api
