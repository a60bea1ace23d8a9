// The `tern device|attr|telemetry|rpc|profile|ota|client-rpc ...` commands: an HTTP client
// of a running server's admin API. Works on an instance that was created but never
// started, so it reads only its own configuration (lazily, at run()).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "tern/abi/cli.h"

namespace tern::core_embedded {

struct cli_settings {
    std::string database = "var/tern.db";
    std::string admin_bind = "127.0.0.1:8080";
    std::string admin_key;  // empty: read <database>.admin-key
    uint64_t max_request_size = 1048576;  // the server's body limit (device import batches)
};

class cli final : public tern::cli_v1 {
public:
    // load is called on each run(); it may throw (a broken configuration).
    explicit cli(std::function<cli_settings()> load) : load_(std::move(load)) {}

    tern_str commands() noexcept override;
    tern_str summaries() noexcept override;
    int32_t run(uint32_t argc, const tern_str* argv, tern_text_sink out, tern_text_sink err,
                void* sink_ctx) noexcept override;

private:
    std::function<cli_settings()> load_;
};

}  // namespace tern::core_embedded
