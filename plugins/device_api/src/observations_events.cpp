// What the core's device events do to a device's observations, on its home shard: deleted
// ends them (final 4.04) and drops the state; updated or credentials changed looks the
// observer up again by the credential it used, and ends its observations with the code a
// new request would get when it no longer finds this device.
#include <memory>

#include "authenticator.hpp"
#include "downlinks.hpp"
#include "observations.hpp"
#include "responder.hpp"
#include "runtime.hpp"
#include "state_table.hpp"
#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::device_api {

namespace {

struct reauth_ctx {
    runtime* rt = nullptr;
    observations* self = nullptr;
    uint64_t device_id = 0;
    uint32_t gen = 0;
    credential cred;
};

}  // namespace

void observations::device_event(uint64_t device_id, int32_t event) {
    shard_tables& sd = rt_.home_tables(device_id);
    device_state* found = rt_.state_of(device_id);
    if (found == nullptr) return;
    device_state& st = *found;
    const uint64_t now = rt_.now_ns();
    if (event == TERN_DEVICE_DELETED) {
        // Its RPCs went with it in the core: nothing to report.
        st.rpcs.clear();
        end(sd, st, false, code::not_found, "the device was deleted");
        end(sd, st, true, code::not_found, "the device was deleted");
        st.attr.registering = st.rpc.registering = false;
        st.attr.grace_until_ns = st.rpc.grace_until_ns = 0;
        settle(sd, st);
        states_.drop(sd, st);
        return;
    }
    if (!st.attr.active(now) && !st.rpc.active(now)) {
        // Nothing observed: forget it; the next request finds the device anew.
        states_.drop(sd, st);
        return;
    }
    // UPDATED / CREDENTIALS_CHANGED: look the device up again by the credential it used.
    auto c = std::make_unique<reauth_ctx>();
    c->rt = &rt_;
    c->self = this;
    c->device_id = device_id;
    c->gen = ++st.reauth_gen;
    c->cred = st.dev->cred;
    reauth_ctx* raw = c.release();
    rt_.w.core.auth->authenticate(raw->cred.kind, sdk::to_str(raw->cred.value), &observations::reauth_done, raw);
}

void observations::reauth_done(void* ctx, tern_status status, const tern_device_record* record) noexcept {
    std::unique_ptr<reauth_ctx> c(static_cast<reauth_ctx*>(ctx));
    runtime& rt = *c->rt;
    if (rt.stopping()) return;
    std::shared_ptr<device_entry> dev;
    try {
        dev = device_found(status, record, c->cred, rt.w.adaptors, &rt.m);
        if (dev) rt.resolve_power(*dev);
    } catch (...) {
        status = TERN_INTERNAL;
    }
    observations* self = c->self;
    const uint64_t device = c->device_id;
    const uint32_t gen = c->gen;
    rt.post(rt.home_of(device), [self, device, gen, status, d = std::move(dev)]() mutable {
        self->home_reauth(device, gen, status, std::move(d));
    });
}

void observations::home_reauth(uint64_t device_id, uint32_t gen, tern_status status,
                               std::shared_ptr<device_entry> dev) {
    shard_tables& sd = rt_.home_tables(device_id);
    device_state* found = rt_.state_of(device_id);
    if (found == nullptr) return;
    device_state& st = *found;
    if (gen != st.reauth_gen) return;
    uint8_t refusal = 0;
    std::string_view why;
    if (status == TERN_OK && dev && dev->device_id == device_id) {
        auth_.share_profile(sd, *dev);
        refusal = profile_refusal(*dev, true, why);
        if (refusal == 0) {
            st.dev = std::move(dev);
            down_.account(st);  // its power mode may have changed
            return;
        }
    } else if (status == TERN_OK || status == TERN_NOT_FOUND) {
        refusal = code::unauthorized;
        why = "the device's credentials changed";
    } else {
        rt_.log.warn("device ", device_id, ": cannot re-check its credentials (core ", sdk::status_name(status),
                     "); keeping its observations");
        return;
    }
    // The observer may no longer act as this device: end its observations with the code a
    // new request would get.
    end(sd, st, false, refusal, why);
    end(sd, st, true, refusal, why);
    st.attr.registering = st.rpc.registering = false;
    st.attr.grace_until_ns = st.rpc.grace_until_ns = 0;
    settle(sd, st);
}

}  // namespace tern::device_api
