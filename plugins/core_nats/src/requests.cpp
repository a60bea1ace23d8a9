#include <algorithm>
#include <climits>
#include <memory>

#include "requests_impl.hpp"

namespace tern::core_nats {

thread_codec& codec() noexcept {
    thread_local thread_codec c;
    return c;
}

requests::requests(node& n) : n_(n), up_prefix_(n.subject("up.")) {
    auto set = [this](request_op op, std::string_view tail) { subjects_[static_cast<std::size_t>(op)] = n_.subject(tail); };
    set(request_op::authenticate, "core.v1.auth.authenticate");
    set(request_op::psk_key, "core.v1.auth.psk_key");
    set(request_op::get_attributes, "core.v1.attributes.get");
    set(request_op::client_rpc, "core.v1.rpc.client");
    set(request_op::claim, "core.v1.provisioning.claim");
    set(request_op::provision, "core.v1.provisioning.provision");
    set(request_op::ota_package, "core.v1.ota.package");
    set(request_op::ota_chunk, "core.v1.ota.chunk");
    set(request_op::subscribe_device, "core.v1.events.subscribe");
    set(request_op::session_event, "core.v1.sessions.event");
    set(request_op::resend_pending_rpcs, "core.v1.rpc.resend");
}

void* requests::query(std::string_view iid) noexcept {
    if (iid == TERN_IID_CORE_AUTH_V1) return static_cast<core_auth_v1*>(this);
    if (iid == TERN_IID_CORE_TELEMETRY_V1) return static_cast<core_telemetry_v1*>(this);
    if (iid == TERN_IID_CORE_ATTRIBUTES_V1) return static_cast<core_attributes_v1*>(this);
    if (iid == TERN_IID_CORE_RPC_V1) return static_cast<core_rpc_v1*>(this);
    if (iid == TERN_IID_CORE_PROVISIONING_V1) return static_cast<core_provisioning_v1*>(this);
    if (iid == TERN_IID_CORE_OTA_V1) return static_cast<core_ota_v1*>(this);
    if (iid == TERN_IID_CORE_SESSIONS_V1) return static_cast<core_sessions_v1*>(this);
    return nullptr;
}

tern_status requests::counted(request_op op, tern_status s) const noexcept {
    if (s != TERN_OK) n_.metrics().request_failed(op, s);
    return s;
}

tern_status requests::map_request(nats_link::status st, tern_str& message) const noexcept {
    switch (st) {
        case nats_link::status::ok: return TERN_OK;
        case nats_link::status::timeout:
            message = str_of("no core node answered in time");
            return TERN_TIMEOUT;
        case nats_link::status::busy:
            message = str_of("max_requests_in_flight requests are waiting for core nodes");
            return TERN_BUSY;
        case nats_link::status::unavailable:
            // Not connected, or connected and nobody serves the subject (no responders).
            message = str_of(n_.connected() ? "no core node serves this call (is a core node's bridge running?)"
                                            : link_down);
            return TERN_UNAVAILABLE;
        case nats_link::status::not_found:
        case nats_link::status::refused:
        case nats_link::status::error: break;
    }
    message = str_of("the NATS link failed the request (see the log)");
    return TERN_INTERNAL;
}

void requests::bad_reply(request_op op, const char* detail) noexcept {
    n_.metrics().request_failed(op, TERN_INTERNAL);
    const uint64_t seen = bad_replies_.fetch_add(1) + 1;
    if ((seen & (seen - 1)) != 0) return;
    try {
        n_.log().error("a core node's reply to ", to_string(op), " does not decode (", detail,
                       "); the call completes INTERNAL [occurrence ", seen, "]");
    } catch (...) {
    }
}

namespace {

tern_bytes bytes_of(std::string_view s) noexcept {
    return tern_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string_view view_of(tern_str s) noexcept {
    return s.data != nullptr ? std::string_view(s.data, s.size) : std::string_view();
}

constexpr const char* undecodable = "the core node's reply does not decode";

// A client-side RPC's request waits the RPC's own timeout plus this.
constexpr int64_t client_rpc_margin_ms = 1000;

}  // namespace

void requests::authenticate(tern_credential_kind kind, tern_str value, tern_core_record_fn done, void* ctx) noexcept {
    n_.metrics().request(request_op::authenticate);
    auth_cache& cache = n_.auth_cache();
    const std::string_view v = view_of(value);
    try {
        if (auto hit = cache.find(kind, v)) {
            done(ctx, TERN_OK, &hit->record());
            return;
        }
        if (refusal r = encode(core_wire::authenticate_request{kind, value}); r.status != TERN_OK) {
            n_.metrics().request_failed(request_op::authenticate, r.status);
            done(ctx, r.status, nullptr);
            return;
        }
        const uint64_t epoch = cache.epoch();
        auto key = std::make_shared<std::string>(v);
        send(
            request_op::authenticate, 0,
            [this, done, ctx, kind, key, epoch](std::string_view bytes) {
                core_wire::authenticate_reply rep;
                if (auto e = codec().dec.decode(bytes_of(bytes), rep);
                    !e || (rep.status == TERN_OK && rep.device == nullptr)) {
                    bad_reply(request_op::authenticate, e ? "an OK reply without a device" : e.detail);
                    done(ctx, TERN_INTERNAL, nullptr);
                    return;
                }
                if (rep.status == TERN_OK) n_.auth_cache().put(kind, *key, *rep.device, epoch);
                done(ctx, counted(request_op::authenticate, rep.status), rep.status == TERN_OK ? rep.device : nullptr);
            },
            [done, ctx](tern_status s, tern_str) { done(ctx, s, nullptr); });
    } catch (...) {  // an allocation failed: nothing was sent
        n_.metrics().request_failed(request_op::authenticate, TERN_INTERNAL);
        done(ctx, TERN_INTERNAL, nullptr);
    }
}

void requests::psk_key(tern_str identity, tern_core_psk_key_fn done, void* ctx) noexcept {
    n_.metrics().request(request_op::psk_key);
    auth_cache& cache = n_.auth_cache();
    try {
        if (auto hit = cache.find_psk(view_of(identity))) {
            done(ctx, TERN_OK, hit->device_id, bytes_of(hit->key));
            return;
        }
        if (refusal r = encode(core_wire::psk_key_request{identity}); r.status != TERN_OK) {
            n_.metrics().request_failed(request_op::psk_key, r.status);
            done(ctx, r.status, 0, tern_bytes{});
            return;
        }
        const uint64_t epoch = cache.epoch();
        auto key = std::make_shared<std::string>(view_of(identity));
        send(
            request_op::psk_key, 0,
            [this, done, ctx, key, epoch](std::string_view bytes) {
                core_wire::psk_key_reply rep;
                if (auto e = codec().dec.decode(bytes_of(bytes), rep); !e) {
                    bad_reply(request_op::psk_key, e.detail);
                    done(ctx, TERN_INTERNAL, 0, tern_bytes{});
                    return;
                }
                if (rep.status != TERN_OK) {
                    done(ctx, counted(request_op::psk_key, rep.status), 0, tern_bytes{});
                    return;
                }
                n_.auth_cache().put_psk(*key, rep.device_id, rep.key, epoch);
                done(ctx, TERN_OK, rep.device_id, rep.key);
            },
            [done, ctx](tern_status s, tern_str) { done(ctx, s, 0, tern_bytes{}); });
    } catch (...) {
        n_.metrics().request_failed(request_op::psk_key, TERN_INTERNAL);
        done(ctx, TERN_INTERNAL, 0, tern_bytes{});
    }
}

void requests::get_attributes(uint64_t device_id, const tern_key_filter* client, const tern_key_filter* shared,
                              tern_core_attributes_fn done, void* ctx) noexcept {
    n_.metrics().request(request_op::get_attributes);
    try {
        if (refusal r = encode(core_wire::get_attributes_request{device_id, client, shared}); r.status != TERN_OK) {
            n_.metrics().request_failed(request_op::get_attributes, r.status);
            done(ctx, r.status, nullptr, 0, nullptr, 0);
            return;
        }
        send(
            request_op::get_attributes, 0,
            [this, done, ctx](std::string_view bytes) {
                core_wire::get_attributes_reply rep;
                if (auto e = codec().dec.decode(bytes_of(bytes), rep); !e) {
                    bad_reply(request_op::get_attributes, e.detail);
                    done(ctx, TERN_INTERNAL, nullptr, 0, nullptr, 0);
                    return;
                }
                if (rep.status != TERN_OK) done(ctx, counted(request_op::get_attributes, rep.status), nullptr, 0, nullptr, 0);
                else done(ctx, TERN_OK, rep.client, rep.client_count, rep.shared, rep.shared_count);
            },
            [done, ctx](tern_status s, tern_str) { done(ctx, s, nullptr, 0, nullptr, 0); });
    } catch (...) {
        n_.metrics().request_failed(request_op::get_attributes, TERN_INTERNAL);
        done(ctx, TERN_INTERNAL, nullptr, 0, nullptr, 0);
    }
}

void requests::client_rpc(uint64_t device_id, tern_str method, tern_str params, int64_t timeout_ms,
                          tern_core_text_fn done, void* ctx) noexcept {
    n_.metrics().request(request_op::client_rpc);
    n_.heard(device_id);
    try {
        if (refusal r = encode(core_wire::client_rpc_request{device_id, method, params, timeout_ms}); r.status != TERN_OK) {
            n_.metrics().request_failed(request_op::client_rpc, r.status);
            done(ctx, r.status, r.str());
            return;
        }
        const int64_t rpc_ms = timeout_ms > 0 ? timeout_ms : n_.config().client_rpc_timeout.count();
        const int64_t wait_ms = std::min<int64_t>(rpc_ms, UINT32_MAX - client_rpc_margin_ms) + client_rpc_margin_ms;
        send(
            request_op::client_rpc, static_cast<uint32_t>(wait_ms),
            [this, done, ctx](std::string_view bytes) {
                core_wire::client_rpc_reply rep;
                if (auto e = codec().dec.decode(bytes_of(bytes), rep); !e) {
                    bad_reply(request_op::client_rpc, e.detail);
                    done(ctx, TERN_INTERNAL, str_of(undecodable));
                    return;
                }
                // The text on success, the core's message otherwise.
                done(ctx, counted(request_op::client_rpc, rep.status), rep.status == TERN_OK ? rep.text : rep.message);
            },
            [done, ctx](tern_status s, tern_str message) { done(ctx, s, message); });
    } catch (...) {
        n_.metrics().request_failed(request_op::client_rpc, TERN_INTERNAL);
        done(ctx, TERN_INTERNAL, str_of("out of memory"));
    }
}

void requests::claim(uint64_t device_id, tern_str secret_key, int64_t duration_ms, tern_core_done_fn done,
                     void* ctx) noexcept {
    n_.metrics().request(request_op::claim);
    try {
        if (refusal r = encode(core_wire::claim_request{device_id, secret_key, duration_ms}); r.status != TERN_OK) {
            n_.metrics().request_failed(request_op::claim, r.status);
            done(ctx, r.status, r.str());
            return;
        }
        send(
            request_op::claim, 0,
            [this, done, ctx](std::string_view bytes) {
                core_wire::status_reply rep;
                rep.op = core_wire::status_op::claim;
                if (auto e = codec().dec.decode(bytes_of(bytes), rep); !e) {
                    bad_reply(request_op::claim, e.detail);
                    done(ctx, TERN_INTERNAL, str_of(undecodable));
                    return;
                }
                done(ctx, counted(request_op::claim, rep.status), rep.message);
            },
            [done, ctx](tern_status s, tern_str message) { done(ctx, s, message); });
    } catch (...) {
        n_.metrics().request_failed(request_op::claim, TERN_INTERNAL);
        done(ctx, TERN_INTERNAL, str_of("out of memory"));
    }
}

void requests::provision(const tern_provision_request* request, tern_core_provision_fn done, void* ctx) noexcept {
    n_.metrics().request(request_op::provision);
    try {
        if (request == nullptr) {
            n_.metrics().request_failed(request_op::provision, TERN_INVALID_ARGUMENT);
            done(ctx, TERN_INVALID_ARGUMENT, nullptr);
            return;
        }
        if (refusal r = encode(core_wire::provision_request{request}); r.status != TERN_OK) {
            n_.metrics().request_failed(request_op::provision, r.status);
            done(ctx, r.status, nullptr);
            return;
        }
        send(
            request_op::provision, 0,
            [this, done, ctx](std::string_view bytes) {
                core_wire::provision_reply rep;
                if (auto e = codec().dec.decode(bytes_of(bytes), rep);
                    !e || (rep.status == TERN_OK && rep.result == nullptr)) {
                    bad_reply(request_op::provision, e ? "an OK reply without a result" : e.detail);
                    done(ctx, TERN_INTERNAL, nullptr);
                    return;
                }
                done(ctx, counted(request_op::provision, rep.status), rep.status == TERN_OK ? rep.result : nullptr);
            },
            [done, ctx](tern_status s, tern_str) { done(ctx, s, nullptr); });
    } catch (...) {
        n_.metrics().request_failed(request_op::provision, TERN_INTERNAL);
        done(ctx, TERN_INTERNAL, nullptr);
    }
}

void requests::ota_package(uint64_t device_id, tern_ota_type type, tern_core_ota_fn done, void* ctx) noexcept {
    n_.metrics().request(request_op::ota_package);
    try {
        if (refusal r = encode(core_wire::ota_package_request{device_id, type}); r.status != TERN_OK) {
            n_.metrics().request_failed(request_op::ota_package, r.status);
            done(ctx, r.status, nullptr);
            return;
        }
        send(
            request_op::ota_package, 0,
            [this, device_id, done, ctx](std::string_view bytes) {
                core_wire::ota_package_reply rep;
                if (auto e = codec().dec.decode(bytes_of(bytes), rep);
                    !e || (rep.status == TERN_OK && rep.package == nullptr)) {
                    bad_reply(request_op::ota_package, e ? "an OK reply without a package" : e.detail);
                    done(ctx, TERN_INTERNAL, nullptr);
                    return;
                }
                if (rep.status != TERN_OK) {
                    done(ctx, counted(request_op::ota_package, rep.status), nullptr);
                    return;
                }
                localize(device_id, *rep.package, done, ctx);
            },
            [done, ctx](tern_status s, tern_str) { done(ctx, s, nullptr); });
    } catch (...) {
        n_.metrics().request_failed(request_op::ota_package, TERN_INTERNAL);
        done(ctx, TERN_INTERNAL, nullptr);
    }
}

void requests::localize(uint64_t device_id, const tern_ota_package& package, tern_core_ota_fn done,
                        void* ctx) noexcept {
    // A package with only a URL needs no bytes from the core node.
    if (package.path.data == nullptr || package.path.size == 0) {
        done(ctx, TERN_OK, &package);
        return;
    }
    ota_hook* ota = n_.ota();
    if (ota == nullptr) {
        try {
            n_.log().error("OTA package ", package.package_id, " of device ", device_id,
                           " is a file on the core node and this node has no OTA cache to fetch it into");
        } catch (...) {
        }
        done(ctx, counted(request_op::ota_package, TERN_UNAVAILABLE), nullptr);
        return;
    }
    // The OTA cache's outcome is counted there; the request itself was answered.
    ota_hook::done_fn fn;
    try {
        fn = [done, ctx](tern_status s, const tern_ota_package* local) { done(ctx, s, s == TERN_OK ? local : nullptr); };
    } catch (...) {
        done(ctx, counted(request_op::ota_package, TERN_INTERNAL), nullptr);
        return;
    }
    ota->localize(device_id, package, std::move(fn));
}

}  // namespace tern::core_nats
