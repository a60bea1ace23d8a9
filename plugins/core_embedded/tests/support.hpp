// Shared pieces of the core_embedded tests: a temporary folder, a started core, waiting
// for completions with a deadline, and a listener that records what it hears.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core.hpp"
#include "tern/abi/core_capabilities.h"
#include "tern/credential_id/credential_id.hpp"
#include "tern/sdk/views.hpp"

namespace tern::core_embedded::test {

// The X.509 credential id (and ThingsBoard's MQTT one) as the core computes it.
using tern::credential_id::sha3_256_hex;

using namespace std::chrono_literals;
inline constexpr auto deadline = 10s;

class temp_dir {
public:
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "tern-core-XXXXXX").string();
        if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

inline core_settings settings_for(const temp_dir& d) {
    core_settings s;
    s.database = d.file("var/tern.db");
    s.read_threads = 2;
    s.writer.max_delay_us = 500;
    return s;
}

// Runs an admin operation and waits for its callback.
template <class T>
result<T> await(const std::function<void(callback<T>)>& op) {
    auto p = std::make_shared<std::promise<result<T>>>();
    auto f = p->get_future();
    op([p](result<T> r) { p->set_value(std::move(r)); });
    REQUIRE(f.wait_for(deadline) == std::future_status::ready);
    return f.get();
}

// C-style completion catchers for core_v1 calls.
struct done_wait {
    std::promise<std::pair<tern_status, std::string>> p;
    static void fn(void* ctx, tern_status s, tern_str msg) {
        static_cast<done_wait*>(ctx)->p.set_value({s, std::string(sdk::to_sv(msg))});
    }
    std::pair<tern_status, std::string> get() {
        auto f = p.get_future();
        REQUIRE(f.wait_for(deadline) == std::future_status::ready);
        return f.get();
    }
};

struct device_wait {
    struct out {
        tern_status status = TERN_OK;
        uint64_t id = 0, profile_id = 0, revision = 0;
        std::string name, profile, credential;
        tern_device_info info{};
        std::vector<std::pair<std::string, std::string>> options;  // the text options (schemas)
        std::map<std::string, int64_t> ints;                        // the integer options
    };
    std::promise<out> p;
    static void fn(void* ctx, tern_status s, const tern_device_info* d) {
        out o;
        o.status = s;
        if (d != nullptr) {
            o.info = *d;
            o.id = d->device_id;
            o.profile_id = d->profile_id;
            o.revision = d->revision;
            o.name = sdk::to_sv(d->device_name);
            o.profile = sdk::to_sv(d->profile_name);
            o.credential = sdk::as_text(d->credential_value);
            for (uint32_t i = 0; i < d->profile_option_count; ++i) {
                const tern_kv& kv = d->profile_options[i];
                if (kv.value.type == TERN_VALUE_STR) o.options.emplace_back(sdk::to_sv(kv.key), sdk::to_sv(kv.value.u.s));
                else if (kv.value.type == TERN_VALUE_INT) o.ints.emplace(std::string(sdk::to_sv(kv.key)), kv.value.u.i);
            }
        }
        static_cast<device_wait*>(ctx)->p.set_value(std::move(o));
    }
    out get() {
        auto f = p.get_future();
        REQUIRE(f.wait_for(deadline) == std::future_status::ready);
        return f.get();
    }
};

inline device_wait::out authenticate(embedded_core& c, tern_credential_kind kind, std::string_view value) {
    device_wait w;
    c.authenticate(kind, sdk::to_str(value), &device_wait::fn, &w);
    return w.get();
}

struct text_wait {
    std::promise<std::pair<tern_status, std::string>> p;
    static void fn(void* ctx, tern_status s, tern_str t) {
        static_cast<text_wait*>(ctx)->p.set_value({s, std::string(sdk::to_sv(t))});
    }
    std::future<std::pair<tern_status, std::string>> future() { return p.get_future(); }
};

// Records every listener call; wait_for() blocks until a predicate holds.
class recording_listener final : public core_listener_v1 {
public:
    struct attr_update {
        uint64_t device;
        std::vector<kv> updated;
        std::vector<std::string> deleted;
    };
    struct rpc_call {
        uint64_t device;
        int64_t id;
        std::string method, params;
        uint32_t flags;
        int64_t expiration;
    };

    void on_attributes_updated(uint64_t device_id, const tern_kv* updated, uint32_t updated_count,
                               const tern_str* deleted, uint32_t deleted_count) noexcept override {
        attr_update u{device_id, {}, {}};
        for (uint32_t i = 0; i < updated_count; ++i)
            u.updated.push_back(kv{std::string(sdk::to_sv(updated[i].key)), value::from(updated[i].value)});
        for (uint32_t i = 0; i < deleted_count; ++i) u.deleted.emplace_back(sdk::to_sv(deleted[i]));
        std::lock_guard lk(m_);
        attrs.push_back(std::move(u));
        cv_.notify_all();
    }
    void on_rpc_request(uint64_t device_id, const tern_rpc_request* rpc) noexcept override {
        rpc_call c{device_id, rpc->id, std::string(sdk::to_sv(rpc->method)), std::string(sdk::to_sv(rpc->params)),
                   rpc->flags, rpc->expiration_ms};
        std::function<void(const rpc_call&)> hook;
        {
            std::lock_guard lk(m_);
            rpcs.push_back(c);
            hook = on_rpc;
            cv_.notify_all();
        }
        if (hook) hook(c);
    }
    void on_device_event(uint64_t device_id, int32_t event) noexcept override {
        std::lock_guard lk(m_);
        events.emplace_back(device_id, event);
        cv_.notify_all();
    }

    bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds d = deadline) {
        std::unique_lock lk(m_);
        return cv_.wait_for(lk, d, pred);
    }
    template <class F>
    auto locked(F f) {
        std::lock_guard lk(m_);
        return f();
    }

    std::vector<attr_update> attrs;
    std::vector<rpc_call> rpcs;
    std::vector<std::pair<uint64_t, int32_t>> events;
    std::function<void(const rpc_call&)> on_rpc;  // runs outside the lock

private:
    std::mutex m_;
    std::condition_variable cv_;
};

// Waits until everything submitted so far is committed and completed.
inline void flush_wait(embedded_core& c) {
    auto p = std::make_shared<std::promise<void>>();
    auto f = p->get_future();
    c.flush([p] { p->set_value(); });
    REQUIRE(f.wait_for(deadline) == std::future_status::ready);
}

inline kv make_kv(std::string key, value v) { return kv{std::move(key), std::move(v)}; }

// Creates a device and returns it (REQUIREs success).
inline device add_device(embedded_core& c, const std::string& name, std::optional<credential_input> cred = {},
                         std::optional<std::string> profile = {}) {
    device_spec s;
    s.name = name;
    s.cred = std::move(cred);
    s.profile = std::move(profile);
    auto r = await<device>([&](callback<device> cb) { c.create_device(s, cb); });
    INFO(r.message);
    REQUIRE(r.ok());
    return r.value;
}

inline credential_input token(const std::string& t) {
    credential_input c;
    c.kind = TERN_CREDENTIAL_ACCESS_TOKEN;
    c.token = t;
    return c;
}

}  // namespace tern::core_embedded::test
