// Client-side RPC (a device asks the server): built-in answers (getCurrentTime, ping,
// getDeviceInfo) when client_rpc_builtin is on, else a bounded queue an operator answers
// through the admin API before the call's timeout.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string_view>
#include <vector>

#include "core_parts.hpp"

namespace tern::core_embedded {

class client_rpc_broker {
public:
    explicit client_rpc_broker(core_parts& parts) : p_(parts) {}

    // Takes client_rpc_builtin and client_rpc_queue from the settings.
    void configure(const core_settings& s);
    // core_v1::client_rpc (the caller checked that the core runs).
    void call(uint64_t device_id, tern_str method, tern_str params, int64_t timeout_ms, tern_core_text_fn done,
              void* ctx) noexcept;
    // TERN_NOT_FOUND when the call is unknown or already answered / timed out.
    tern_status reply(uint64_t id, std::string_view json);
    // Waiting calls, oldest first, with device names.
    void list(callback<std::vector<client_rpc_entry>> cb);
    client_rpc_config config();
    void set_config(client_rpc_config c);
    size_t waiting();
    // Answers every waiting call with TERN_UNAVAILABLE (stopping).
    void stop();

private:
    struct pending_call {
        client_rpc_entry entry;
        tern_core_text_fn done = nullptr;
        void* ctx = nullptr;
        uint64_t timer = 0;
    };
    bool builtin(uint64_t device_id, std::string_view method, std::string_view params, tern_core_text_fn done,
                 void* ctx);
    void expire(uint64_t id);  // its timeout: TERN_TIMEOUT

    core_parts& p_;
    std::mutex mutex_;
    std::map<uint64_t, pending_call> calls_;
    uint64_t next_id_ = 1;
    client_rpc_config config_;
};

}  // namespace tern::core_embedded
