// What the core's command words share (cli.cpp runs them): the errors they throw, the
// admin API connection, argument helpers and the printing of the API's JSON. Each word
// (cli_<word>.cpp) adds its subcommands and options to a CLI11 app, so every one gets the
// same --help, validation and error wording.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "json.hpp"
#include "tern/abi/cli.h"

namespace tern::core_embedded::cli_words {

// Bad arguments: exit status 64, the message and the word's synopsis on stderr.
struct usage_error {
    std::string message;
};
// The command could not be done (the API refused, a file is unreadable): exit status 1.
struct fail_error {
    std::string message;
};

// stdout and stderr, written to the kernel's sinks at the end.
struct sinks {
    tern_text_sink out_fn, err_fn;
    void* ctx;
    std::string out_buf, err_buf;
    void out(std::string_view s) { out_buf.append(s); }
    void err(std::string_view s) { err_buf.append(s); }
    void flush();
};

// The running server's admin API, as the settings name it.
class client {
public:
    explicit client(const cli_settings& s);
    // The parsed JSON answer; throws fail_error on transport errors and error statuses
    // (unless the status is in also_ok).
    rapidjson::Document call(const std::string& method, const std::string& target, const std::string& body = {},
                             int64_t timeout_ms = 30000, std::initializer_list<int> also_ok = {},
                             const std::string& body_file = {}, int* status = nullptr, std::string* raw = nullptr);

private:
    std::string host_;
    uint16_t port_ = 0;
    std::string key_;
};

// One run of one word.
struct context {
    sinks& io;
    const cli_settings& settings;
    bool json = false;  // --json: print the API's JSON
    int rc = 0;         // the word's exit status
    std::unique_ptr<client> conn;

    client& api() {
        if (!conn) conn = std::make_unique<client>(settings);
        return *conn;
    }
    void print_json(const rapidjson::Value& v) { io.out(json::compact(v) + "\n"); }
};

// ---- arguments (cli_args.cpp) ------------------------------------------------------------

// A value option: `out` is set when the option is given (the first time, if repeated).
CLI::Option* value_option(CLI::App& app, const std::string& name, std::optional<std::string>& out,
                          const std::string& help);
// The same, for a base-10 integer (checked by CLI11; read it with parse_int).
CLI::Option* integer_option(CLI::App& app, const std::string& name, std::optional<std::string>& out,
                            const std::string& help);
// A repeatable option, one value per occurrence.
CLI::Option* list_option(CLI::App& app, const std::string& name, std::vector<std::string>& out,
                         const std::string& help);

// --power-mode, --psm-activity-timer, --edrx-cycle, --paging-window (also
// --paging-transmission-window) for devices and profiles; the timers are durations.
struct power_options {
    std::optional<std::string> mode, psm_activity_timer, edrx_cycle, paging_window;
    void add(CLI::App& app);
    void write(json::out& o) const;  // "power": {...} when any was given
};

int64_t parse_int(const std::string& s, const char* what);
// "10s", "500ms", "2m", "1h" or plain ms, not negative; nullopt when it is none of these (or
// does not fit in 64 bits).
std::optional<int64_t> duration_ms(std::string_view s) noexcept;
int64_t parse_duration(const std::string& s, const char* what);  // usage_error naming `what`
// "1700000000000" (ms since the epoch), "2024-05-01", "2024-05-01T12:00:00Z", or an age
// before now: "90s", "15m", "2h", "7d".
int64_t parse_time(const std::string& s, int64_t now);
std::string read_file(const std::string& path);
std::string enc(const std::string& s);  // URL-encoded path segment or query value

// ---- printing (cli_print.cpp) --------------------------------------------------------------

std::string fmt_time(int64_t ms);  // ISO 8601 UTC with ms; "-" for none
std::string fmt_duration(int64_t ms);  // the largest whole unit: "1h", "90s", "500ms" 
std::string text_of(const rapidjson::Value& v);
std::string field(const rapidjson::Value& o, const char* name);  // "-" when missing or null
int64_t int_field(const rapidjson::Value& o, const char* name);

// A table with columns sized to their content.
class table {
public:
    explicit table(std::vector<std::string> head) : rows_{std::move(head)} {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    std::string render() const;

private:
    std::vector<std::vector<std::string>> rows_;
};

void print_device(context& c, const rapidjson::Value& d);
void print_profile(context& c, const rapidjson::Value& p);
void print_package(context& c, const rapidjson::Value& p);
void print_rpc(context& c, const rapidjson::Value& r);

// ---- the words, one file each ------------------------------------------------------------

void define_device(CLI::App& app, context& c);
void define_import(CLI::App& word, context& c);  // cli_import.cpp: `device import`
void define_attr(CLI::App& app, context& c);
void define_telemetry(CLI::App& app, context& c);
void define_rpc(CLI::App& app, context& c);
void define_profile(CLI::App& app, context& c);
void define_ota(CLI::App& app, context& c);
void define_client_rpc(CLI::App& app, context& c);

}  // namespace tern::core_embedded::cli_words
