#include "client_rpc_broker.hpp"

#include "rapidjson_config.hpp"
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "store.hpp"
#include "tern/sdk/views.hpp"

namespace tern::core_embedded {

using sdk::to_str;
using sdk::to_sv;

void client_rpc_broker::configure(const core_settings& s) {
    std::lock_guard lk(mutex_);
    config_.builtin = s.client_rpc_builtin;
    config_.queue = s.client_rpc_queue;
}

bool client_rpc_broker::builtin(uint64_t device_id, std::string_view method, std::string_view params,
                                tern_core_text_fn done, void* ctx) {
    if (method == "getCurrentTime") {
        const std::string reply = "{\"time\":" + std::to_string(now_ms()) + "}";
        done(ctx, TERN_OK, to_str(reply));
        return true;
    }
    if (method == "ping") {
        const std::string reply =
            "{\"pong\":" + std::string(params.empty() ? std::string_view("null") : params) + "}";
        done(ctx, TERN_OK, to_str(reply));
        return true;
    }
    if (method == "getDeviceInfo") {
        p_.reads.submit(
            [device_id, done, ctx](db::connection& c) {
                std::optional<device> d;
                try {
                    d = store::load_device(c, device_id);
                } catch (const std::exception&) {
                    done(ctx, TERN_UNAVAILABLE, tern_str{});
                    return;
                }
                if (!d) {
                    done(ctx, TERN_NOT_FOUND, tern_str{});
                    return;
                }
                rapidjson::StringBuffer sb;
                rapidjson::Writer<rapidjson::StringBuffer> w(sb);
                w.StartObject();
                w.Key("id");
                w.Uint64(d->id);
                w.Key("name");
                w.String(d->name.data(), static_cast<rapidjson::SizeType>(d->name.size()));
                w.Key("profile");
                w.String(d->profile_name.data(), static_cast<rapidjson::SizeType>(d->profile_name.size()));
                w.EndObject();
                done(ctx, TERN_OK, tern_str{sb.GetString(), sb.GetSize()});
            },
            [done, ctx](tern_status s) { done(ctx, s, tern_str{}); });
        return true;
    }
    return false;
}

void client_rpc_broker::call(uint64_t device_id, tern_str method, tern_str params, int64_t timeout_ms,
                             tern_core_text_fn done, void* ctx) noexcept {
    try {
        client_rpc_config cfg;
        {
            std::lock_guard lk(mutex_);
            cfg = config_;
        }
        if (cfg.builtin && builtin(device_id, to_sv(method), to_sv(params), done, ctx)) return;
        if (!cfg.queue) {
            done(ctx, TERN_NOT_FOUND, tern_str{});
            return;
        }
        const int64_t timeout = timeout_ms > 0 ? timeout_ms : p_.settings.client_rpc_default_timeout_ms;
        uint64_t id = 0;
        {
            std::lock_guard lk(mutex_);
            if (calls_.size() >= p_.settings.client_rpc_queue_capacity) {
                id = 0;
            } else {
                id = next_id_++;
                pending_call& c = calls_[id];
                c.entry.id = id;
                c.entry.device_id = device_id;
                c.entry.method = to_sv(method);
                c.entry.params = to_sv(params);
                c.entry.received_ts = now_ms();
                c.entry.deadline_ts = c.entry.received_ts + timeout;
                c.done = done;
                c.ctx = ctx;
            }
        }
        if (id == 0) {
            p_.metrics.client_rpc_rejected.inc();
            done(ctx, TERN_BUSY, tern_str{});
            return;
        }
        p_.metrics.client_rpc_queue_depth.add(1);
        uint64_t timer = 0;
        try {
            timer = p_.timers.schedule(timeout, [this, id] { expire(id); });
        } catch (const std::bad_alloc&) {
            timer = 0;
        }
        if (timer == 0) {  // stopping (or out of memory): it would never time out
            expire(id);
            return;
        }
        std::lock_guard lk(mutex_);
        auto it = calls_.find(id);
        if (it != calls_.end()) it->second.timer = timer;
    } catch (...) {
        // only reachable before the call was queued: the completion has not run
        done(ctx, TERN_INTERNAL, tern_str{});
    }
}

void client_rpc_broker::expire(uint64_t id) {
    pending_call c;
    {
        std::lock_guard lk(mutex_);
        auto it = calls_.find(id);
        if (it == calls_.end()) return;
        c = std::move(it->second);
        calls_.erase(it);
    }
    p_.metrics.client_rpc_queue_depth.add(-1);
    c.done(c.ctx, TERN_TIMEOUT, tern_str{});
}

tern_status client_rpc_broker::reply(uint64_t id, std::string_view json) {
    pending_call c;
    {
        std::lock_guard lk(mutex_);
        auto it = calls_.find(id);
        if (it == calls_.end()) return TERN_NOT_FOUND;
        c = std::move(it->second);
        calls_.erase(it);
    }
    if (c.timer != 0) p_.timers.cancel(c.timer);
    p_.metrics.client_rpc_queue_depth.add(-1);
    c.done(c.ctx, TERN_OK, to_str(json));
    return TERN_OK;
}

void client_rpc_broker::list(callback<std::vector<client_rpc_entry>> cb) {
    auto list = std::make_shared<std::vector<client_rpc_entry>>();
    {
        std::lock_guard lk(mutex_);
        for (const auto& [id, c] : calls_) list->push_back(c.entry);
    }
    p_.read<std::vector<client_rpc_entry>>(
        [list, cb](db::connection& c) {
            result<std::vector<client_rpc_entry>> r;
            try {
                for (client_rpc_entry& e : *list) {
                    auto q = c.query("SELECT name FROM devices WHERE id = ?");
                    q->bind_id(1, e.device_id);
                    if (q->step()) e.device_name = q->get_string(0);
                }
                r.value = std::move(*list);
            } catch (const std::exception& e) {
                r.status = TERN_IO;
                r.message = e.what();
            }
            cb(std::move(r));
        },
        cb);
}

client_rpc_config client_rpc_broker::config() {
    std::lock_guard lk(mutex_);
    return config_;
}

void client_rpc_broker::set_config(client_rpc_config c) {
    std::lock_guard lk(mutex_);
    config_ = c;
}

size_t client_rpc_broker::waiting() {
    std::lock_guard lk(mutex_);
    return calls_.size();
}

void client_rpc_broker::stop() {
    std::map<uint64_t, pending_call> calls;
    {
        std::lock_guard lk(mutex_);
        calls.swap(calls_);
    }
    p_.metrics.client_rpc_queue_depth.add(-static_cast<int64_t>(calls.size()));
    for (auto& [id, c] : calls) c.done(c.ctx, TERN_UNAVAILABLE, tern_str{});
}

}  // namespace tern::core_embedded
