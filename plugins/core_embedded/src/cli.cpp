// The core's command words on CLI11: `tern device|attr|telemetry|rpc|profile|ota|client-rpc`.
// This file picks the word, runs its CLI11 app (cli_<word>.cpp defines it) and turns what
// went wrong into the exit status: 0 done, 1 failed, 64 bad arguments (with the synopsis).
#include "cli.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cli_common.hpp"

namespace tern::core_embedded {

using namespace cli_words;

namespace {

constexpr const char* command_words = "device|attr|telemetry|rpc|profile|ota|client-rpc";
constexpr const char* command_summaries =
    "device: add, list, show, update, delete devices; set credentials; complete claims; list sessions\n"
    "attr: set, get and delete a device's shared and server attributes\n"
    "telemetry: read a device's latest or ranged telemetry\n"
    "rpc: send a server-side RPC to a device (one-way or two-way), or read RPC status\n"
    "profile: add, list, show, update, delete device profiles (provisioning, power saving, payload)\n"
    "ota: upload, list, delete OTA packages; assign them to devices or profiles\n"
    "client-rpc: list and answer devices' client-side RPCs; switch built-in answers and the queue";

// The synopsis of a word: the footer of its --help, and what a usage error prints.
const char* usage_text(const std::string& word) {
    if (word == "device")
        return "usage:\n"
               "  tern device add NAME [--token T | --x509 PEM_FILE | --psk-identity I --psk-key HEX]\n"
               "                       [--profile P] [--label L] [power options of update]\n"
               "  tern device list [--profile P]\n"
               "  tern device show NAME\n"
               "  tern device update NAME [--name NEW] [--profile P] [--label L] [--power-mode DRX|PSM|E_DRX]\n"
               "                          [--psm-activity-timer D] [--edrx-cycle D] [--paging-window D]\n"
               "  tern device credentials NAME [--token T | --x509 PEM_FILE | --psk-identity I --psk-key HEX]\n"
               "  tern device delete NAME\n"
               "  tern device claim NAME --secret KEY [--owner O]\n"
               "  tern device unclaim NAME\n"
               "  tern device sessions [--limit N]\n"
               "  tern device import FILE|- [--profile P]   (CSV lines name,token; optional header name,token)\n"
               "D: a duration, 10s, 500ms, 2m, 1h or plain ms (0: the power plugin's default);\n"
               "--paging-window is also --paging-transmission-window.\n"
               "options: --json (print the API's JSON)\n";
    if (word == "attr")
        return "usage:\n"
               "  tern attr set NAME [--shared KEY=VALUE]... [--server KEY=VALUE]...\n"
               "  tern attr get NAME [--scope client|shared|server] [--keys K1,K2]\n"
               "  tern attr delete NAME [--shared KEY]... [--server KEY]...\n"
               "VALUE is JSON when it parses (42, true, {\"a\":1}, \"text\"), else text.\n";
    if (word == "telemetry")
        return "usage:\n"
               "  tern telemetry NAME [--key K]... [--latest] [--since TIME] [--until TIME] [--limit N] [--asc]\n"
               "TIME: ms since the epoch, 2024-05-01T12:00:00Z, or an age: 90s, 15m, 2h, 7d.\n";
    if (word == "rpc")
        return "usage:\n"
               "  tern rpc NAME METHOD [PARAMS_JSON] [--oneway] [--persistent] [--timeout MS]\n"
               "  tern rpc NAME --get ID\n"
               "  tern rpc NAME --list\n";
    if (word == "profile")
        return "usage:\n"
               "  tern profile add NAME [--provision-key K --provision-secret S --strategy allow-create|pre-provisioned]\n"
               "                        [--transport DEFAULT|COAP] [--payload JSON|PROTOBUF] [--coap-device-type DEFAULT|EFENTO]\n"
               "                        [--power-mode DRX|PSM|E_DRX] [--psm-activity-timer D] [--edrx-cycle D]\n"
               "                        [--paging-window D] [--telemetry-schema FILE] [--attributes-schema FILE]\n"
               "                        [--rpc-request-schema FILE] [--rpc-response-schema FILE]\n"
               "                        [--options KEY=N,...]  (e.g. device_message_rate=10; \"\" removes them)\n"
               "  tern profile update NAME [--name NEW] [the options of add]\n"
               "  tern profile list\n"
               "  tern profile show NAME\n"
               "  tern profile delete NAME\n"
               "D: a duration, 10s, 500ms, 2m, 1h or plain ms (0: the power plugin's default).\n";
    if (word == "ota")
        return "usage:\n"
               "  tern ota upload FILE --title T --version V [--type firmware|software] [--tag TAG]\n"
               "                       [--checksum-algorithm SHA256|SHA384|SHA512|MD5|CRC32]\n"
               "  tern ota list\n"
               "  tern ota show ID\n"
               "  tern ota delete ID\n"
               "  tern ota assign NAME|--profile P PACKAGE_ID\n"
               "  tern ota unassign NAME|--profile P [--type firmware|software]\n";
    if (word == "client-rpc")
        return "usage:\n"
               "  tern client-rpc list\n"
               "  tern client-rpc reply ID JSON\n"
               "  tern client-rpc config [--builtin on|off] [--queue on|off]\n";
    return "";
}

// The word's one-line summary (command_summaries without "word: ").
std::string summary_of(const std::string& word) {
    std::string_view all = command_summaries;
    while (!all.empty()) {
        const auto nl = all.find('\n');
        const std::string_view line = all.substr(0, nl);
        if (line.substr(0, line.find(':')) == word) return std::string(line.substr(line.find(':') + 2));
        all = nl == std::string_view::npos ? std::string_view() : all.substr(nl + 1);
    }
    return {};
}

using define_fn = void (*)(CLI::App&, context&);

define_fn definition_of(const std::string& word) {
    if (word == "device") return define_device;
    if (word == "attr") return define_attr;
    if (word == "telemetry") return define_telemetry;
    if (word == "rpc") return define_rpc;
    if (word == "profile") return define_profile;
    if (word == "ota") return define_ota;
    if (word == "client-rpc") return define_client_rpc;
    return nullptr;
}

// The arguments after the word, without the kernel's own options (should they be passed
// on) and without --json, which every word takes.
std::vector<std::string> word_arguments(uint32_t argc, const tern_str* argv, std::string& word, bool& json) {
    std::vector<std::string> v;
    for (uint32_t i = 0; i < argc; ++i) {
        std::string a = argv[i].size == 0 ? std::string() : std::string(argv[i].data, argv[i].size);
        if ((a == "--config" || a == "--set") && i + 1 < argc) {
            ++i;
            continue;
        }
        if (a.rfind("--config=", 0) == 0 || a.rfind("--set=", 0) == 0) continue;
        if (a == "--json" && !v.empty()) {
            json = true;
            continue;
        }
        v.push_back(std::move(a));
    }
    if (v.empty()) throw usage_error{"no command"};
    word = v.front();
    v.erase(v.begin());
    return v;
}

// Parses and runs one word; returns its exit status.
int run_word(const std::string& word, std::vector<std::string> args, bool json, sinks& io,
             const std::function<cli_settings()>& load) {
    const define_fn define = definition_of(word);
    if (define == nullptr) throw usage_error{"unknown command '" + word + "'"};
    const bool help = std::any_of(args.begin(), args.end(), [](const std::string& a) { return a == "--help" || a == "-h"; });
    // Settings are read only for real work: --help works with a broken configuration.
    const cli_settings settings = help ? cli_settings{} : load();
    context c{io, settings, json, 0, nullptr};
    CLI::App app{summary_of(word), "tern " + word};
    app.footer(usage_text(word));
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeFirst);
    if (word != "telemetry" && word != "rpc") app.require_subcommand(1);
    define(app, c);
    std::reverse(args.begin(), args.end());  // CLI11 takes them last first
    try {
        app.parse(args);
    } catch (const CLI::CallForHelp&) {
        io.out(app.help());
        return 0;
    } catch (const CLI::CallForAllHelp&) {
        io.out(app.help("", CLI::AppFormatMode::All));
        return 0;
    } catch (const CLI::ParseError& e) {
        throw usage_error{e.what()};
    }
    return c.rc;
}

}  // namespace

tern_str cli::commands() noexcept { return tern_str{command_words, std::strlen(command_words)}; }
tern_str cli::summaries() noexcept { return tern_str{command_summaries, std::strlen(command_summaries)}; }

int32_t cli::run(uint32_t argc, const tern_str* argv, tern_text_sink out, tern_text_sink err, void* sink_ctx) noexcept {
    sinks io{out, err, sink_ctx, {}, {}};
    int rc = 1;
    std::string word;
    try {
        bool json = false;
        std::vector<std::string> args = word_arguments(argc, argv, word, json);
        rc = run_word(word, std::move(args), json, io, load_);
    } catch (const usage_error& e) {
        io.err("tern " + word + ": " + e.message + "\n" + usage_text(word));
        rc = 64;
    } catch (const fail_error& e) {
        io.err("tern " + word + ": " + e.message + "\n");
        rc = 1;
    } catch (const std::exception& e) {
        io.err("tern " + word + ": " + e.what() + "\n");
        rc = 1;
    } catch (...) {
        io.err("tern " + word + ": unknown error\n");
        rc = 1;
    }
    io.flush();
    return rc;
}

}  // namespace tern::core_embedded
