// The core's command words' arguments and their connection to the admin API
// (cli_common.hpp).
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <fstream>
#include <limits>
#include <sstream>

#include "admin_api.hpp"
#include "admin_server.hpp"
#include "cli_common.hpp"
#include "http_client.hpp"

namespace tern::core_embedded::cli_words {

namespace {

bool decimal(const std::string& s) {
    int64_t x = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
    return ec == std::errc() && p == s.data() + s.size();
}

// CLI11 reads integers with strtoll's base 0 ("010" is 8): options keep their text, checked
// here as base 10 and read with parse_int.
const CLI::Validator decimal_integer(
    [](std::string& s) { return decimal(s) ? std::string() : "must be an integer: " + s; }, "INT", "integer");

const CLI::Validator duration_value(
    [](std::string& s) {
        return duration_ms(s) ? std::string()
                              : "must be a duration (10s, 500ms, 2m, 1h, or plain ms): " + s;
    },
    "DURATION", "duration");

constexpr const char* duration_help = ": 10s, 500ms, 2m, 1h or plain ms (0: the power plugin's default)";

}  // namespace

CLI::Option* value_option(CLI::App& app, const std::string& name, std::optional<std::string>& out,
                          const std::string& help) {
    return app.add_option_function<std::string>(name, [&out](const std::string& v) { out = v; }, help);
}

CLI::Option* integer_option(CLI::App& app, const std::string& name, std::optional<std::string>& out,
                            const std::string& help) {
    return value_option(app, name, out, help)->check(decimal_integer);
}

CLI::Option* list_option(CLI::App& app, const std::string& name, std::vector<std::string>& out,
                         const std::string& help) {
    return app.add_option(name, out, help)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

std::optional<int64_t> duration_ms(std::string_view s) noexcept {
    size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
    if (digits == 0) return std::nullopt;
    const std::string_view unit = s.substr(digits);
    int64_t scale = 0;
    if (unit.empty() || unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60000;
    else if (unit == "h") scale = 3600000;
    else return std::nullopt;
    int64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + digits, n);
    if (ec != std::errc() || n > std::numeric_limits<int64_t>::max() / scale) return std::nullopt;
    return n * scale;
}

int64_t parse_duration(const std::string& s, const char* what) {
    if (auto ms = duration_ms(s)) return *ms;
    throw usage_error{std::string(what) + " must be a duration (10s, 500ms, 2m, 1h, or plain ms): " + s};
}

void power_options::add(CLI::App& app) {
    value_option(app, "--power-mode", mode, "DRX, PSM or E_DRX (NONE: not set)");
    value_option(app, "--psm-activity-timer", psm_activity_timer,
                 std::string("how long a PSM device stays reachable after its last uplink") + duration_help)
        ->check(duration_value);
    value_option(app, "--edrx-cycle", edrx_cycle, std::string("eDRX cycle (kept, not used by CoAP)") + duration_help)
        ->check(duration_value);
    value_option(app, "--paging-window,--paging-transmission-window", paging_window,
                 std::string("how long an eDRX device stays reachable after its last uplink") + duration_help)
        ->check(duration_value);
}

void power_options::write(json::out& o) const {
    if (!mode && !psm_activity_timer && !edrx_cycle && !paging_window) return;
    o.key("power").begin_object();
    if (mode) o.kv("mode", *mode);
    if (psm_activity_timer) o.kv("psmActivityTimer", parse_duration(*psm_activity_timer, "--psm-activity-timer"));
    if (edrx_cycle) o.kv("edrxCycle", parse_duration(*edrx_cycle, "--edrx-cycle"));
    if (paging_window) o.kv("pagingTransmissionWindow", parse_duration(*paging_window, "--paging-window"));
    o.end_object();
}

int64_t parse_int(const std::string& s, const char* what) {
    int64_t x = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
    if (ec != std::errc() || p != s.data() + s.size()) throw usage_error{std::string(what) + " must be an integer: " + s};
    return x;
}

// "1700000000000" (ms since the epoch), "2024-05-01", "2024-05-01T12:00:00Z", or an age
// before now: "90s", "15m", "2h", "7d".
int64_t parse_time(const std::string& s, int64_t now) {
    if (s.empty()) throw usage_error{"empty time"};
    if (std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        return parse_int(s, "time");
    const char unit = s.back();
    const std::string num = s.substr(0, s.size() - 1);
    if (!num.empty() && std::all_of(num.begin(), num.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        const int64_t n = parse_int(num, "time");
        switch (unit) {
            case 's': return now - n * 1000;
            case 'm': return now - n * 60000;
            case 'h': return now - n * 3600000;
            case 'd': return now - n * 86400000;
            default: break;
        }
    }
    std::tm tm{};
    const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr) {
        tm = std::tm{};
        end = strptime(s.c_str(), "%Y-%m-%d", &tm);
    }
    if (end == nullptr || (*end != '\0' && std::strcmp(end, "Z") != 0))
        throw usage_error{"cannot read time '" + s + "' (ms since epoch, 2024-05-01T12:00:00Z, or 15m/2h/7d)"};
    return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw fail_error{"cannot read " + path + ": " + std::strerror(errno)};
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string enc(const std::string& s) { return url_encode(s); }

client::client(const cli_settings& s) {
    uint16_t port = 0;
    if (!split_host_port(s.admin_bind, host_, port))
        throw fail_error{"admin_bind '" + s.admin_bind + "' is not host:port"};
    if (host_ == "0.0.0.0" || host_.empty()) host_ = "127.0.0.1";
    if (host_ == "::") host_ = "::1";
    if (port == 0) {
        // The server picked a port and wrote it beside the database.
        std::ifstream f(admin_addr_path(s.database));
        std::string addr;
        if (!f || !std::getline(f, addr) || !split_host_port(addr, host_, port))
            throw fail_error{"admin_bind has port 0 and " + admin_addr_path(s.database) +
                             " is missing: is the server running?"};
    }
    port_ = port;
    key_ = s.admin_key;
    if (key_.empty()) key_ = read_admin_key(admin_key_path(s.database));
    if (key_.empty())
        throw fail_error{"no admin key: set admin_key, or start the server once (it writes " +
                         admin_key_path(s.database) + ")"};
}

rapidjson::Document client::call(const std::string& method, const std::string& target, const std::string& body,
                                 int64_t timeout_ms, std::initializer_list<int> also_ok, const std::string& body_file,
                                 int* status, std::string* raw) {
    http_call c;
    c.host = host_;
    c.port = port_;
    c.method = method;
    c.target = target;
    c.bearer = key_;
    c.body = body;
    c.body_file = body_file;
    c.content_type = body_file.empty() ? (body.empty() ? "" : "application/json") : "application/octet-stream";
    c.timeout_ms = timeout_ms;
    http_result r = http_request_sync(c);
    if (r.status == 0) throw fail_error{"admin API at " + host_ + ":" + std::to_string(port_) + ": " + r.error};
    rapidjson::Document d;
    const std::string err = json::parse(r.body, d);
    if (status != nullptr) *status = r.status;
    if (raw != nullptr) *raw = r.body;
    const bool ok = (r.status >= 200 && r.status < 300) ||
                    std::find(also_ok.begin(), also_ok.end(), r.status) != also_ok.end();
    if (!ok) {
        std::string msg = err.empty() ? json::get_string(d, "error").value_or(r.body) : r.body;
        throw fail_error{msg + " (HTTP " + std::to_string(r.status) + ")"};
    }
    if (!err.empty()) throw fail_error{"the admin API answered something that is not JSON: " + err};
    return d;
}

}  // namespace tern::core_embedded::cli_words
