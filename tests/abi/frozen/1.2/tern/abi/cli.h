// Command-line extensions: a plugin can own top-level command words of `tern` (the embedded
// core owns `device`, `attr`, `telemetry`, `rpc`, `profile`, `ota`), so the kernel stays
// free of device knowledge. For `tern WORD ...`, the kernel reads the manifest (--config,
// default config/tern.toml, with --set overrides), creates -- but does not start -- the
// instances whose plugin provides TERN_IID_CLI_V1, and runs the one claiming WORD. The
// reactor shards run while it does (a command may post tasks and use timers); the kernel's
// own log lines go to stderr at warn and above, so stdout is the command's output.
// See host.h for the interface rules and thread tags.
#ifndef TERN_ABI_CLI_H
#define TERN_ABI_CLI_H

#ifndef __cplusplus
#error "tern/abi/cli.h declares C++ interfaces; include it from C++"
#endif

#include <stdint.h>

#include "status.h"
#include "types.h"

#define TERN_IID_CLI_V1 "tern.cli/1"

extern "C" {
typedef void (*tern_text_sink)(void* ctx, tern_str text);
}

namespace tern {

struct cli_v1 {
    // The command words it owns, '|'-separated ("device|attr"), and a one-line summary of
    // each, '\n'-separated as "word: summary". LIFETIME: the instance. [start-stop]
    virtual tern_str commands() noexcept = 0;
    virtual tern_str summaries() noexcept = 0;
    // Runs `tern argv[0] argv[1..]` (argv[0] is the word). Writes to out and err through
    // the sinks; returns the process exit code (0 success, 1 failure, 64 usage). [start-stop]
    virtual int32_t run(uint32_t argc, const tern_str* argv, tern_text_sink out,
                        tern_text_sink err, void* sink_ctx) noexcept = 0;

protected:
    ~cli_v1() = default;
};

}  // namespace tern

#endif
