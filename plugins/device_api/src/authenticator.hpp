// Who the device is (credential resolution): the DTLS session's identity when the
// transport vouches for one (each certificate of an X.509 chain, leaf first, or a PSK
// identity), else the access token in the path; answers cached per shard (token -> device,
// session -> device, tokens the core did not know), concurrent lookups of one token joined,
// unauthenticated work limited per source address. A request that needs the core waits in
// a pending_auth, which owns a copy of it. Found: uplinks::serve. [shard S]
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "auth_cache.hpp"
#include "device.hpp"
#include "request.hpp"
#include "route.hpp"
#include "tern/abi/core.h"

namespace tern::device_api {

// The most certificates of a client's chain that are looked up, leaf first: what the dtls
// transport hands over; a longer chain from another transport is cut there, so one
// session's identity costs at most this many core lookups.
constexpr uint32_t max_client_chain = 16;

class responder;
class runtime;
class uplinks;
struct shard_tables;

// An authentication waiting for the core: the request it is for (owned) and where the
// lookup stands.
struct pending_auth {
    enum stage_t { x509 = 0, psk = 1, token = 2 };
    pending_auth(class authenticator* a, const request& v) : self(a), req(v) {}

    class authenticator* self;
    owned_request req;
    int stage = token;
    credential cred;
    // X.509: the client's chain as Base64 texts, leaf first (docs/device-api.md §7); chain_next is the
    // certificate to look up when the current one is not a device's. Filled once per
    // session, when its identity is first needed.
    std::vector<std::string> chain;
    uint32_t chain_next = 0;
    uint64_t epoch = 0;
    bool source_charged = false;  // the token lookup took from the source's bucket
    tern_status status = TERN_OK;
    std::shared_ptr<device_entry> result;
};

class authenticator {
public:
    authenticator(runtime& rt, responder& out, uplinks& up) : rt_(rt), out_(out), up_(up) {}

    // Finds the device of request v (route r needs one) and hands it to uplinks::serve, now
    // or when the core has answered; or answers the refusal.
    void resolve(shard_tables& sd, const request& v, const route& r);
    // Takes one unit of unauthenticated work from the source address's bucket: 0, or how
    // long (ns) until it would pass.
    uint64_t take_source(shard_tables& sd, const tern_peer& peer) noexcept;
    // The core reported a device event: what this shard remembers about the device goes,
    // and on a credential change the unknown tokens and sessions without a device too.
    void forget(shard_tables& sd, uint64_t device_id, int32_t event) noexcept;
    // Shares the profile block (device_profile) of an equal one already known on the shard, so
    // the devices of a profile keep one copy per shard.
    void share_profile(shard_tables& sd, device_entry& e);

private:
    // The DTLS transport's identity of a session not in the cache: true when a lookup in
    // the core started for it.
    bool ask_transport(shard_tables& sd, const request& v, const route& r, uint32_t transport);
    enum class token_step { answered, join, ask };
    token_step check_token(shard_tables& sd, const request& v, const route& r);
    // The access token decides: a fresh request, or one whose transport identity failed.
    void resolve_token(shard_tables& sd, const request& v, const route& r);
    void resolve_token(shard_tables& sd, std::unique_ptr<pending_auth> p);
    // Joins the lookup of token already on its way, or starts one.
    void wait_for_token(shard_tables& sd, std::unique_ptr<pending_auth> p, std::string token, token_step step);
    void start(shard_tables& sd, std::unique_ptr<pending_auth> p, credential cred, int stage);
    // Asks the core for p->cred; the answer comes to auth_done.
    void ask_core(std::unique_ptr<pending_auth> p);
    // Looks up the next certificate of p's chain, keeping the walk's epoch.
    void next_in_chain(std::unique_ptr<pending_auth> p);
    static void auth_done(void* ctx, tern_status status, const tern_device_record* record) noexcept;
    void resume(std::unique_ptr<pending_auth> p);
    void finish(shard_tables& sd, std::unique_ptr<pending_auth> p);
    void found(shard_tables& sd, pending_auth& p);
    void not_found(shard_tables& sd, std::unique_ptr<pending_auth> p);
    // Answers requests that waited for the same token's lookup with its outcome.
    void resume_waiters(shard_tables& sd, std::vector<std::unique_ptr<pending_auth>> waiters, tern_status status,
                        const std::shared_ptr<const device_entry>& dev);
    void remember_no_identity(shard_tables& sd, const session_key& key, uint64_t now);
    void refund_source(shard_tables& sd, const tern_peer& peer) noexcept;

    runtime& rt_;
    responder& out_;
    uplinks& up_;
};

}  // namespace tern::device_api
