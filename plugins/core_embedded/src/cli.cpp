#include "cli.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "admin_api.hpp"
#include "admin_server.hpp"
#include "http_client.hpp"
#include "json.hpp"

namespace tern::core_embedded {

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

struct usage_error {
    std::string message;
};
struct fail_error {
    std::string message;
};

// ---- output ---------------------------------------------------------------------------------

struct sinks {
    tern_text_sink out_fn, err_fn;
    void* ctx;
    std::string out_buf, err_buf;
    void out(std::string_view s) { out_buf.append(s); }
    void err(std::string_view s) { err_buf.append(s); }
    void flush() {
        if (!out_buf.empty()) out_fn(ctx, tern_str{out_buf.data(), out_buf.size()});
        if (!err_buf.empty()) err_fn(ctx, tern_str{err_buf.data(), err_buf.size()});
        out_buf.clear();
        err_buf.clear();
    }
};

std::string fmt_time(int64_t ms) {
    if (ms <= 0) return "-";
    const std::time_t s = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&s, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
    return out;
}

// A table with columns sized to their content.
class table {
public:
    explicit table(std::vector<std::string> head) : rows_{std::move(head)} {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    std::string render() const {
        std::vector<size_t> w;
        for (const auto& r : rows_)
            for (size_t i = 0; i < r.size(); ++i) {
                if (w.size() <= i) w.push_back(0);
                w[i] = std::max(w[i], r[i].size());
            }
        std::string s;
        for (const auto& r : rows_) {
            for (size_t i = 0; i < r.size(); ++i) {
                s += r[i];
                if (i + 1 < r.size()) s.append(w[i] - r[i].size() + 2, ' ');
            }
            s += '\n';
        }
        return s;
    }

private:
    std::vector<std::vector<std::string>> rows_;
};

std::string text_of(const rapidjson::Value& v) {
    if (v.IsNull()) return "-";
    if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
    return json::compact(v);
}

std::string field(const rapidjson::Value& o, const char* name) {
    const rapidjson::Value* v = json::member(o, name);
    return v == nullptr ? "-" : text_of(*v);
}

int64_t int_field(const rapidjson::Value& o, const char* name) {
    const rapidjson::Value* v = json::member(o, name);
    return v != nullptr && v->IsInt64() ? v->GetInt64() : 0;
}

// ---- arguments ---------------------------------------------------------------------------

struct args {
    std::vector<std::string> pos;
    std::multimap<std::string, std::string> opt;
    std::set<std::string> flags;

    bool has(const std::string& f) const { return flags.count(f) != 0; }
    std::optional<std::string> get(const std::string& o) const {
        auto it = opt.find(o);
        if (it == opt.end()) return std::nullopt;
        return it->second;
    }
    std::vector<std::string> all(const std::string& o) const {
        std::vector<std::string> v;
        for (auto [it, end] = opt.equal_range(o); it != end; ++it) v.push_back(it->second);
        return v;
    }
};

args parse_args(const std::vector<std::string>& in, size_t from, std::initializer_list<const char*> value_opts,
                std::initializer_list<const char*> flag_opts) {
    args a;
    auto is = [](std::initializer_list<const char*> l, std::string_view s) {
        return std::any_of(l.begin(), l.end(), [&](const char* x) { return s == x; });
    };
    for (size_t i = from; i < in.size(); ++i) {
        std::string s = in[i];
        if (s == "--") {
            for (++i; i < in.size(); ++i) a.pos.push_back(in[i]);
            break;
        }
        if (s.size() > 2 && s.rfind("--", 0) == 0) {
            std::string name = s, val;
            bool inline_val = false;
            if (auto eq = s.find('='); eq != std::string::npos) {
                name = s.substr(0, eq);
                val = s.substr(eq + 1);
                inline_val = true;
            }
            if (name == "--json") {
                a.flags.insert(name);
            } else if (is(value_opts, name)) {
                if (!inline_val) {
                    if (i + 1 >= in.size()) throw usage_error{name + " needs a value"};
                    val = in[++i];
                }
                a.opt.emplace(name, val);
            } else if (is(flag_opts, name) && !inline_val) {
                a.flags.insert(name);
            } else {
                throw usage_error{"unknown option " + name};
            }
            continue;
        }
        a.pos.push_back(s);
    }
    return a;
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

// ---- the connection ---------------------------------------------------------------------

class client {
public:
    explicit client(const cli_settings& s) {
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

    // The parsed JSON answer; throws fail_error on transport errors and error statuses
    // (unless the status is in ok_statuses).
    rapidjson::Document call(const std::string& method, const std::string& target, const std::string& body = {},
                             int64_t timeout_ms = 30000, std::initializer_list<int> also_ok = {},
                             const std::string& body_file = {}, int* status = nullptr, std::string* raw = nullptr) {
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

private:
    std::string host_;
    uint16_t port_ = 0;
    std::string key_;
};

std::string enc(const std::string& s) { return url_encode(s); }

// ---- commands ------------------------------------------------------------------------------

const char* usage_text(const std::string& word) {
    if (word == "device")
        return "usage:\n"
               "  tern device add NAME [--token T | --x509 PEM_FILE | --psk-identity I --psk-key HEX]\n"
               "                       [--profile P] [--label L]\n"
               "  tern device list [--profile P]\n"
               "  tern device show NAME\n"
               "  tern device update NAME [--name NEW] [--profile P] [--label L] [--power-mode DRX|PSM|E_DRX]\n"
               "                          [--psm-activity-timer MS] [--edrx-cycle MS] [--paging-window MS]\n"
               "  tern device credentials NAME [--token T | --x509 PEM_FILE | --psk-identity I --psk-key HEX]\n"
               "  tern device delete NAME\n"
               "  tern device claim NAME --secret KEY [--owner O]\n"
               "  tern device unclaim NAME\n"
               "  tern device sessions\n"
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
               "                        [--power-mode DRX|PSM|E_DRX] [--psm-activity-timer MS] [--edrx-cycle MS]\n"
               "                        [--paging-window MS] [--telemetry-schema FILE] [--attributes-schema FILE]\n"
               "                        [--rpc-request-schema FILE] [--rpc-response-schema FILE]\n"
               "                        [--options KEY=N,...]  (e.g. device_message_rate=10; \"\" removes them)\n"
               "  tern profile update NAME [--name NEW] [the options of add]\n"
               "  tern profile list\n"
               "  tern profile show NAME\n"
               "  tern profile delete NAME\n";
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

struct context {
    sinks& io;
    const cli_settings& settings;
    std::vector<std::string> argv;  // argv[0] is the word
    bool json = false;
    std::unique_ptr<client> conn;
    client& api() {
        if (!conn) conn = std::make_unique<client>(settings);
        return *conn;
    }
    void print_json(const rapidjson::Value& v) { io.out(json::compact(v) + "\n"); }
};

void print_device(context& c, const rapidjson::Value& d) {
    // The server stored a weak credential (a short token or PSK key): say so on stderr.
    if (auto w = json::get_string(d, "warning")) c.io.err("tern: warning: " + *w + "\n");
    std::string s;
    auto line = [&](const char* k, const std::string& v) { s += std::string(k) + ": " + v + "\n"; };
    line("name", field(d, "name"));
    line("id", field(d, "id"));
    line("profile", field(d, "profile"));
    if (std::string l = field(d, "label"); !l.empty() && l != "-") line("label", l);
    if (const rapidjson::Value* cr = json::member(d, "credentials"); cr != nullptr && cr->IsObject()) {
        const std::string type = field(*cr, "type");
        if (type == "ACCESS_TOKEN") line("credentials", "ACCESS_TOKEN " + field(*cr, "token"));
        else if (type == "X509_CERTIFICATE") line("credentials", "X509_CERTIFICATE sha3 " + field(*cr, "sha3"));
        else if (type == "PSK") line("credentials", "PSK identity " + field(*cr, "identity"));
        else line("credentials", type);
    }
    if (const rapidjson::Value* p = json::member(d, "power"); p != nullptr && p->IsObject()) {
        std::string mode = field(*p, "mode");
        if (mode != "NONE")
            line("power", mode + " psmActivityTimer=" + field(*p, "psmActivityTimer") + " edrxCycle=" +
                              field(*p, "edrxCycle") + " pagingTransmissionWindow=" + field(*p, "pagingTransmissionWindow"));
    }
    if (field(d, "firmware") != "-") line("firmware", "package " + field(d, "firmware"));
    if (field(d, "software") != "-") line("software", "package " + field(d, "software"));
    if (const rapidjson::Value* cl = json::member(d, "claim"); cl != nullptr && cl->IsObject()) {
        if (field(*cl, "claimedBy") != "-")
            line("claim", "claimed by " + field(*cl, "claimedBy") + " at " + fmt_time(int_field(*cl, "claimedTime")));
        else
            line("claim", "registered, expires " + fmt_time(int_field(*cl, "expirationTime")));
    }
    line("created", fmt_time(int_field(d, "createdTime")));
    c.io.out(s);
}

void print_profile(context& c, const rapidjson::Value& p) {
    std::string s;
    auto line = [&](const char* k, const std::string& v) { s += std::string(k) + ": " + v + "\n"; };
    line("name", field(p, "name"));
    line("id", field(p, "id"));
    line("transport", field(p, "transport") + " (CoAP device type " + field(p, "coapDeviceType") + ")");
    line("payload", field(p, "payload"));
    if (const rapidjson::Value* pr = json::member(p, "provision"); pr != nullptr && pr->IsObject())
        line("provisioning", field(*pr, "strategy") +
                                 (field(*pr, "key") != "-" ? " key " + field(*pr, "key") + " secret " + field(*pr, "secret") : ""));
    if (const rapidjson::Value* pw = json::member(p, "power"); pw != nullptr && pw->IsObject())
        line("power", field(*pw, "mode") + " psmActivityTimer=" + field(*pw, "psmActivityTimer") + " edrxCycle=" +
                          field(*pw, "edrxCycle") + " pagingTransmissionWindow=" + field(*pw, "pagingTransmissionWindow"));
    if (const rapidjson::Value* sc = json::member(p, "schemas"); sc != nullptr && sc->IsObject())
        for (auto it = sc->MemberBegin(); it != sc->MemberEnd(); ++it)
            line("schema", std::string(it->name.GetString()) + " (" + std::to_string(it->value.GetStringLength()) + " bytes)");
    if (const rapidjson::Value* op = json::member(p, "options"); op != nullptr && op->IsObject())
        for (auto it = op->MemberBegin(); it != op->MemberEnd(); ++it)
            if (it->value.IsInt64())
                line("option", std::string(it->name.GetString()) + " = " + std::to_string(it->value.GetInt64()));
    if (field(p, "firmware") != "-") line("firmware", "package " + field(p, "firmware"));
    if (field(p, "software") != "-") line("software", "package " + field(p, "software"));
    line("devices", field(p, "devices"));
    c.io.out(s);
}

void credential_body(json::out& o, const args& a) {
    const auto token = a.get("--token");
    const auto x509 = a.get("--x509");
    const auto psk_id = a.get("--psk-identity");
    const auto psk_key = a.get("--psk-key");
    if ((token ? 1 : 0) + (x509 ? 1 : 0) + ((psk_id || psk_key) ? 1 : 0) > 1)
        throw usage_error{"give one of --token, --x509, --psk-identity/--psk-key"};
    if (token) o.kv("token", *token);
    if (x509) o.kv("x509", read_file(*x509));
    if (psk_id || psk_key) {
        if (!psk_id || !psk_key) throw usage_error{"PSK credentials need --psk-identity and --psk-key"};
        o.kv("pskIdentity", *psk_id).kv("pskKey", *psk_key);
    }
}

void power_body(json::out& o, const args& a) {
    const auto mode = a.get("--power-mode");
    const auto psm = a.get("--psm-activity-timer");
    const auto edrx = a.get("--edrx-cycle");
    const auto paging = a.get("--paging-window");
    if (!mode && !psm && !edrx && !paging) return;
    o.key("power").begin_object();
    if (mode) o.kv("mode", *mode);
    if (psm) o.kv("psmActivityTimer", parse_int(*psm, "--psm-activity-timer"));
    if (edrx) o.kv("edrxCycle", parse_int(*edrx, "--edrx-cycle"));
    if (paging) o.kv("pagingTransmissionWindow", parse_int(*paging, "--paging-window"));
    o.end_object();
}

int cmd_device(context& c) {
    const auto& v = c.argv;
    if (v.size() < 2) throw usage_error{"missing subcommand"};
    const std::string sub = v[1];
    if (sub == "add") {
        args a = parse_args(v, 2, {"--token", "--x509", "--psk-identity", "--psk-key", "--profile", "--label",
                                   "--power-mode", "--psm-activity-timer", "--edrx-cycle", "--paging-window"}, {});
        if (a.pos.size() != 1) throw usage_error{"device add takes one NAME"};
        json::out o;
        o.begin_object().kv("name", a.pos[0]);
        if (auto p = a.get("--profile")) o.kv("profile", *p);
        if (auto l = a.get("--label")) o.kv("label", *l);
        credential_body(o, a);
        power_body(o, a);
        o.end_object();
        auto d = c.api().call("POST", "/api/devices", o.take());
        if (c.json) c.print_json(d);
        else print_device(c, d);
        return 0;
    }
    if (sub == "list") {
        args a = parse_args(v, 2, {"--profile", "--limit"}, {});
        if (!a.pos.empty()) throw usage_error{"device list takes no arguments"};
        std::string target = "/api/devices";
        std::string q;
        if (auto p = a.get("--profile")) q += "profile=" + enc(*p);
        if (auto l = a.get("--limit")) q += (q.empty() ? "" : "&") + std::string("limit=") + enc(*l);
        if (!q.empty()) target += "?" + q;
        auto d = c.api().call("GET", target);
        if (c.json) {
            c.print_json(d);
            return 0;
        }
        table t({"NAME", "PROFILE", "CREDENTIALS", "CREATED"});
        for (const auto& x : d["devices"].GetArray()) {
            std::string cred = "-";
            if (const rapidjson::Value* cr = json::member(x, "credentials"); cr != nullptr && cr->IsObject()) {
                const std::string type = field(*cr, "type");
                cred = type == "ACCESS_TOKEN" ? "token " + field(*cr, "token")
                       : type == "X509_CERTIFICATE" ? "x509 " + field(*cr, "sha3").substr(0, 16) + "..."
                       : type == "PSK" ? "psk " + field(*cr, "identity") : type;
            }
            t.add({field(x, "name"), field(x, "profile"), cred, fmt_time(int_field(x, "createdTime"))});
        }
        c.io.out(t.render());
        return 0;
    }
    if (sub == "show" || sub == "delete" || sub == "unclaim") {
        args a = parse_args(v, 2, {}, {});
        if (a.pos.size() != 1) throw usage_error{"device " + sub + " takes one NAME"};
        if (sub == "show") {
            auto d = c.api().call("GET", "/api/devices/" + enc(a.pos[0]));
            if (c.json) c.print_json(d);
            else print_device(c, d);
            return 0;
        }
        auto d = c.api().call("DELETE", "/api/devices/" + enc(a.pos[0]) + (sub == "unclaim" ? "/claim" : ""));
        if (c.json) c.print_json(d);
        else c.io.out((sub == "delete" ? "deleted device " : "unclaimed device ") + a.pos[0] + "\n");
        return 0;
    }
    if (sub == "update" || sub == "credentials") {
        args a = sub == "update"
                     ? parse_args(v, 2, {"--name", "--profile", "--label", "--power-mode", "--psm-activity-timer",
                                         "--edrx-cycle", "--paging-window", "--token", "--x509", "--psk-identity", "--psk-key"}, {})
                     : parse_args(v, 2, {"--token", "--x509", "--psk-identity", "--psk-key"}, {});
        if (a.pos.size() != 1) throw usage_error{"device " + sub + " takes one NAME"};
        json::out o;
        o.begin_object();
        if (auto n = a.get("--name")) o.kv("name", *n);
        if (auto p = a.get("--profile")) o.kv("profile", *p);
        if (auto l = a.get("--label")) o.kv("label", *l);
        credential_body(o, a);
        power_body(o, a);
        o.end_object();
        auto d = c.api().call(sub == "update" ? "PATCH" : "PUT",
                              "/api/devices/" + enc(a.pos[0]) + (sub == "credentials" ? "/credentials" : ""), o.take());
        if (c.json) c.print_json(d);
        else print_device(c, d);
        return 0;
    }
    if (sub == "claim") {
        args a = parse_args(v, 2, {"--secret", "--owner"}, {});
        if (a.pos.size() != 1) throw usage_error{"device claim takes one NAME"};
        json::out o;
        o.begin_object().kv("secretKey", a.get("--secret").value_or(""));
        if (auto ow = a.get("--owner")) o.kv("owner", *ow);
        o.end_object();
        auto d = c.api().call("POST", "/api/devices/" + enc(a.pos[0]) + "/claim", o.take());
        if (c.json) c.print_json(d);
        else c.io.out("claimed device " + a.pos[0] + "\n");
        return 0;
    }
    if (sub == "sessions") {
        args a = parse_args(v, 2, {}, {});
        auto d = c.api().call("GET", "/api/sessions");
        if (c.json) {
            c.print_json(d);
            return 0;
        }
        table t({"DEVICE", "TRANSPORT", "ADDRESS", "OPENED", "LAST ACTIVITY"});
        for (const auto& x : d["sessions"].GetArray())
            t.add({field(x, "device"), field(x, "transport"), field(x, "address"), fmt_time(int_field(x, "openedTime")),
                   fmt_time(int_field(x, "lastActivityTime"))});
        c.io.out(t.render());
        return 0;
    }
    throw usage_error{"unknown subcommand '" + sub + "'"};
}

int cmd_attr(context& c) {
    const auto& v = c.argv;
    if (v.size() < 2) throw usage_error{"missing subcommand"};
    const std::string sub = v[1];
    if (sub == "set") {
        args a = parse_args(v, 2, {"--shared", "--server"}, {});
        if (a.pos.size() != 1) throw usage_error{"attr set takes one NAME"};
        const auto shared = a.all("--shared"), server = a.all("--server");
        if (shared.empty() && server.empty()) throw usage_error{"give --shared KEY=VALUE or --server KEY=VALUE"};
        for (const auto& [scope, list] : {std::pair{"shared", shared}, std::pair{"server", server}}) {
            if (list.empty()) continue;
            json::out o;
            o.begin_object();
            for (const std::string& s : list) {
                const auto eq = s.find('=');
                if (eq == std::string::npos || eq == 0) throw usage_error{"expected KEY=VALUE, got '" + s + "'"};
                o.key(s.substr(0, eq)).val(json::value_from_text(s.substr(eq + 1)));
            }
            o.end_object();
            c.api().call("POST", "/api/devices/" + enc(a.pos[0]) + "/attributes/" + scope, o.take());
        }
        if (c.json) {
            json::out o;
            c.io.out(o.begin_object().kv("shared", static_cast<uint64_t>(shared.size()))
                         .kv("server", static_cast<uint64_t>(server.size())).end_object().take() + "\n");
        } else {
            c.io.out("set " + std::to_string(shared.size()) + " shared and " + std::to_string(server.size()) +
                     " server attribute(s) of " + a.pos[0] + "\n");
        }
        return 0;
    }
    if (sub == "get") {
        args a = parse_args(v, 2, {"--scope", "--keys"}, {});
        if (a.pos.size() != 1) throw usage_error{"attr get takes one NAME"};
        std::string target = "/api/devices/" + enc(a.pos[0]) + "/attributes";
        std::string q;
        for (const std::string& s : a.all("--scope")) q += (q.empty() ? "" : "&") + std::string("scope=") + enc(s);
        if (auto k = a.get("--keys")) q += (q.empty() ? "" : "&") + std::string("keys=") + enc(*k);
        if (!q.empty()) target += "?" + q;
        auto d = c.api().call("GET", target);
        if (c.json) {
            c.print_json(d);
            return 0;
        }
        table t({"SCOPE", "KEY", "VALUE", "UPDATED"});
        for (const char* scope : {"client", "shared", "server"}) {
            const rapidjson::Value* list = json::member(d, scope);
            if (list == nullptr || !list->IsArray()) continue;
            for (const auto& x : list->GetArray())
                t.add({scope, field(x, "key"), json::compact(x["value"]), fmt_time(int_field(x, "lastUpdateTs"))});
        }
        c.io.out(t.render());
        return 0;
    }
    if (sub == "delete") {
        args a = parse_args(v, 2, {"--shared", "--server"}, {});
        if (a.pos.size() != 1) throw usage_error{"attr delete takes one NAME"};
        const auto shared = a.all("--shared"), server = a.all("--server");
        if (shared.empty() && server.empty()) throw usage_error{"give --shared KEY or --server KEY"};
        for (const auto& [scope, list] : {std::pair{"shared", shared}, std::pair{"server", server}}) {
            if (list.empty()) continue;
            std::string keys;
            for (const std::string& k : list) keys += (keys.empty() ? "" : ",") + k;
            c.api().call("DELETE", "/api/devices/" + enc(a.pos[0]) + "/attributes/" + scope + "?keys=" + enc(keys));
        }
        if (!c.json) c.io.out("deleted " + std::to_string(shared.size() + server.size()) + " attribute(s) of " + a.pos[0] + "\n");
        else c.io.out("{\"deleted\":" + std::to_string(shared.size() + server.size()) + "}\n");
        return 0;
    }
    throw usage_error{"unknown subcommand '" + sub + "'"};
}

int cmd_telemetry(context& c) {
    args a = parse_args(c.argv, 1, {"--key", "--since", "--until", "--limit"}, {"--latest", "--asc"});
    if (a.pos.size() != 1) throw usage_error{"telemetry takes one NAME"};
    std::string keys;
    for (const std::string& k : a.all("--key")) keys += (keys.empty() ? "" : ",") + k;
    const std::string base = "/api/devices/" + enc(a.pos[0]) + "/telemetry";
    const int64_t now = static_cast<int64_t>(std::time(nullptr)) * 1000;
    if (a.has("--latest") || (!a.get("--since") && !a.get("--until"))) {
        if (a.get("--since") || a.get("--until")) throw usage_error{"--latest takes no time range"};
        auto d = c.api().call("GET", base + "/latest" + (keys.empty() ? "" : "?keys=" + enc(keys)));
        if (c.json) {
            c.print_json(d);
            return 0;
        }
        table t({"KEY", "TS", "VALUE"});
        for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it)
            t.add({it->name.GetString(), fmt_time(int_field(it->value, "ts")), json::compact(it->value["value"])});
        c.io.out(t.render());
        return 0;
    }
    std::string q = "startTs=" + std::to_string(a.get("--since") ? parse_time(*a.get("--since"), now) : 0);
    if (auto u = a.get("--until")) q += "&endTs=" + std::to_string(parse_time(*u, now));
    if (auto l = a.get("--limit")) q += "&limit=" + std::to_string(parse_int(*l, "--limit"));
    if (a.has("--asc")) q += "&order=asc";
    if (!keys.empty()) q += "&keys=" + enc(keys);
    auto d = c.api().call("GET", base + "?" + q);
    if (c.json) {
        c.print_json(d);
        return 0;
    }
    table t({"KEY", "TS", "VALUE"});
    for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it)
        for (const auto& p : it->value.GetArray())
            t.add({it->name.GetString(), fmt_time(int_field(p, "ts")), json::compact(p["value"])});
    c.io.out(t.render());
    return 0;
}

void print_rpc(context& c, const rapidjson::Value& r) {
    std::string s = "rpc " + field(r, "id") + " " + field(r, "method") + ": " + field(r, "status");
    if (const rapidjson::Value* res = json::member(r, "result"); res != nullptr && !res->IsNull())
        s += "\nresult: " + json::compact(*res);
    if (const rapidjson::Value* e = json::member(r, "error"); e != nullptr && !e->IsNull()) s += "\nerror: " + text_of(*e);
    c.io.out(s + "\n");
}

int cmd_rpc(context& c) {
    args a = parse_args(c.argv, 1, {"--timeout", "--get"}, {"--oneway", "--persistent", "--list"});
    if (a.pos.empty()) throw usage_error{"rpc needs a device NAME"};
    const std::string base = "/api/devices/" + enc(a.pos[0]) + "/rpc";
    if (auto id = a.get("--get")) {
        if (a.pos.size() != 1) throw usage_error{"rpc NAME --get ID takes no METHOD"};
        auto d = c.api().call("GET", base + "/" + std::to_string(parse_int(*id, "--get")));
        if (c.json) c.print_json(d);
        else print_rpc(c, d);
        return 0;
    }
    if (a.has("--list")) {
        if (a.pos.size() != 1) throw usage_error{"rpc NAME --list takes no METHOD"};
        auto d = c.api().call("GET", base);
        if (c.json) {
            c.print_json(d);
            return 0;
        }
        table t({"ID", "METHOD", "STATUS", "CREATED", "RESULT"});
        for (const auto& x : d["rpcs"].GetArray())
            t.add({field(x, "id"), field(x, "method"), field(x, "status"), fmt_time(int_field(x, "createdTime")),
                   field(x, "result")});
        c.io.out(t.render());
        return 0;
    }
    if (a.pos.size() < 2 || a.pos.size() > 3) throw usage_error{"rpc takes NAME METHOD [PARAMS_JSON]"};
    json::out o;
    o.begin_object().kv("method", a.pos[1]);
    if (a.pos.size() == 3) {
        rapidjson::Document p;
        if (std::string e = json::parse(a.pos[2], p); !e.empty()) throw usage_error{"PARAMS_JSON: " + e};
        o.key("params").raw(json::compact(p));
    }
    if (a.has("--oneway")) o.kv("oneway", true);
    if (a.has("--persistent")) o.kv("persistent", true);
    int64_t timeout = 10000;
    if (auto t = a.get("--timeout")) {
        timeout = parse_int(*t, "--timeout");
        if (timeout <= 0) throw usage_error{"--timeout must be positive"};
    }
    o.kv("timeout", timeout);
    o.end_object();
    int status = 0;
    std::string raw;
    auto d = c.api().call("POST", base, o.take(), timeout + 15000, {502, 504}, {}, &status, &raw);
    if (c.json) c.print_json(d);
    else if (status == 202) c.io.out("queued as rpc " + field(d, "id") + " (" + field(d, "status") + ")\n");
    else print_rpc(c, d);
    return status == 200 || status == 202 ? 0 : 1;
}

void profile_body(json::out& o, const args& a) {
    if (auto t = a.get("--transport")) o.kv("transport", *t);
    if (auto t = a.get("--coap-device-type")) o.kv("coapDeviceType", *t);
    if (auto p = a.get("--payload")) o.kv("payload", *p);
    const auto key = a.get("--provision-key"), secret = a.get("--provision-secret");
    auto strategy = a.get("--strategy");
    if (key || secret || strategy) {
        if ((key || secret) && !strategy) strategy = "allow-create";
        o.key("provision").begin_object();
        if (strategy) o.kv("strategy", *strategy);
        if (key) o.kv("key", *key);
        if (secret) o.kv("secret", *secret);
        o.end_object();
    }
    power_body(o, a);
    const char* files[4][2] = {{"--telemetry-schema", "telemetry"}, {"--attributes-schema", "attributes"},
                               {"--rpc-request-schema", "rpcRequest"}, {"--rpc-response-schema", "rpcResponse"}};
    bool any = false;
    for (auto& f : files)
        if (a.get(f[0])) any = true;
    if (any) {
        o.key("schemas").begin_object();
        for (auto& f : files)
            if (auto path = a.get(f[0])) o.kv(f[1], read_file(*path));
        o.end_object();
    }
    // --options KEY=N[,KEY=N...]: integer options for transports (the device API's rate
    // limits); they replace the profile's options, "" removes them.
    if (auto opts = a.get("--options")) {
        o.key("options").begin_object();
        std::string_view rest = *opts;
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            const std::string item(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
            const auto eq = item.find('=');
            if (eq == std::string::npos || eq == 0) throw usage_error{"--options takes KEY=N[,KEY=N...]"};
            o.kv(item.substr(0, eq), parse_int(item.substr(eq + 1), "--options"));
        }
        o.end_object();
    }
}

int cmd_profile(context& c) {
    const auto& v = c.argv;
    if (v.size() < 2) throw usage_error{"missing subcommand"};
    const std::string sub = v[1];
    const std::initializer_list<const char*> opts = {
        "--provision-key", "--provision-secret", "--strategy", "--transport", "--payload", "--coap-device-type",
        "--power-mode", "--psm-activity-timer", "--edrx-cycle", "--paging-window", "--telemetry-schema",
        "--attributes-schema", "--rpc-request-schema", "--rpc-response-schema", "--options", "--name"};
    if (sub == "add" || sub == "update") {
        args a = parse_args(v, 2, opts, {});
        if (a.pos.size() != 1) throw usage_error{"profile " + sub + " takes one NAME"};
        json::out o;
        o.begin_object();
        if (sub == "add") {
            if (a.get("--name")) throw usage_error{"--name is for update"};
            o.kv("name", a.pos[0]);
        } else if (auto n = a.get("--name")) {
            o.kv("name", *n);
        }
        profile_body(o, a);
        o.end_object();
        auto d = sub == "add" ? c.api().call("POST", "/api/profiles", o.take())
                              : c.api().call("PATCH", "/api/profiles/" + enc(a.pos[0]), o.take());
        if (c.json) c.print_json(d);
        else print_profile(c, d);
        return 0;
    }
    if (sub == "list") {
        parse_args(v, 2, {}, {});
        auto d = c.api().call("GET", "/api/profiles");
        if (c.json) {
            c.print_json(d);
            return 0;
        }
        table t({"NAME", "TRANSPORT", "PAYLOAD", "PROVISIONING", "POWER", "DEVICES"});
        for (const auto& x : d["profiles"].GetArray())
            t.add({field(x, "name"), field(x, "transport"), field(x, "payload"), field(x["provision"], "strategy"),
                   field(x["power"], "mode"), field(x, "devices")});
        c.io.out(t.render());
        return 0;
    }
    if (sub == "show" || sub == "delete") {
        args a = parse_args(v, 2, {}, {});
        if (a.pos.size() != 1) throw usage_error{"profile " + sub + " takes one NAME"};
        auto d = c.api().call(sub == "show" ? "GET" : "DELETE", "/api/profiles/" + enc(a.pos[0]));
        if (c.json) c.print_json(d);
        else if (sub == "show") print_profile(c, d);
        else c.io.out("deleted profile " + a.pos[0] + "\n");
        return 0;
    }
    throw usage_error{"unknown subcommand '" + sub + "'"};
}

void print_package(context& c, const rapidjson::Value& p) {
    std::string s;
    auto line = [&](const char* k, const std::string& v) { s += std::string(k) + ": " + v + "\n"; };
    line("id", field(p, "id"));
    line("type", field(p, "type"));
    line("title", field(p, "title"));
    line("version", field(p, "version"));
    if (field(p, "tag") != "-") line("tag", field(p, "tag"));
    line("size", field(p, "size"));
    line("checksum", field(p, "checksumAlgorithm") + " " + field(p, "checksum"));
    if (field(p, "url") != "-") line("url", field(p, "url"));
    c.io.out(s);
}

int cmd_ota(context& c) {
    const auto& v = c.argv;
    if (v.size() < 2) throw usage_error{"missing subcommand"};
    const std::string sub = v[1];
    if (sub == "upload") {
        args a = parse_args(v, 2, {"--title", "--version", "--type", "--tag", "--checksum-algorithm"}, {});
        if (a.pos.size() != 1) throw usage_error{"ota upload takes one FILE"};
        const auto title = a.get("--title"), version = a.get("--version");
        if (!title || !version) throw usage_error{"--title and --version are required"};
        std::string q = "title=" + enc(*title) + "&version=" + enc(*version) + "&type=" + enc(a.get("--type").value_or("firmware"));
        if (auto t = a.get("--tag")) q += "&tag=" + enc(*t);
        if (auto al = a.get("--checksum-algorithm")) q += "&checksumAlgorithm=" + enc(*al);
        std::string fname = a.pos[0];
        if (auto slash = fname.rfind('/'); slash != std::string::npos) fname = fname.substr(slash + 1);
        q += "&fileName=" + enc(fname);
        {
            std::ifstream f(a.pos[0], std::ios::binary);
            if (!f) throw fail_error{"cannot read " + a.pos[0] + ": " + std::strerror(errno)};
        }
        auto d = c.api().call("POST", "/api/ota?" + q, {}, 600000, {}, a.pos[0]);
        if (c.json) c.print_json(d);
        else print_package(c, d);
        return 0;
    }
    if (sub == "list") {
        parse_args(v, 2, {}, {});
        auto d = c.api().call("GET", "/api/ota");
        if (c.json) {
            c.print_json(d);
            return 0;
        }
        table t({"ID", "TYPE", "TITLE", "VERSION", "SIZE", "CHECKSUM"});
        for (const auto& x : d["packages"].GetArray())
            t.add({field(x, "id"), field(x, "type"), field(x, "title"), field(x, "version"), field(x, "size"),
                   field(x, "checksumAlgorithm") + " " + field(x, "checksum")});
        c.io.out(t.render());
        return 0;
    }
    if (sub == "show" || sub == "delete") {
        args a = parse_args(v, 2, {}, {});
        if (a.pos.size() != 1) throw usage_error{"ota " + sub + " takes one ID"};
        const int64_t id = parse_int(a.pos[0], "ID");
        auto d = c.api().call(sub == "show" ? "GET" : "DELETE", "/api/ota/" + std::to_string(id));
        if (c.json) c.print_json(d);
        else if (sub == "show") print_package(c, d);
        else c.io.out("deleted OTA package " + std::to_string(id) + "\n");
        return 0;
    }
    if (sub == "assign" || sub == "unassign") {
        args a = parse_args(v, 2, {"--profile", "--type"}, {});
        const auto profile = a.get("--profile");
        const size_t want = (sub == "assign" ? 1 : 0) + (profile ? 0 : 1);
        if (a.pos.size() != want)
            throw usage_error{sub == "assign" ? "ota assign takes NAME PACKAGE_ID or --profile P PACKAGE_ID"
                                              : "ota unassign takes NAME or --profile P"};
        const std::string owner = profile ? "/api/profiles/" + enc(*profile) : "/api/devices/" + enc(a.pos[0]);
        std::string type = a.get("--type").value_or("firmware");
        if (sub == "assign") {
            const int64_t id = parse_int(a.pos.back(), "PACKAGE_ID");
            // The package knows its type; assigning needs it for the route.
            auto p = c.api().call("GET", "/api/ota/" + std::to_string(id));
            type = field(p, "type");
            json::out o;
            auto d = c.api().call("PUT", owner + "/ota/" + type, o.begin_object().kv("package", id).end_object().take());
            if (c.json) c.print_json(d);
            else c.io.out("assigned " + type + " package " + std::to_string(id) + " to " +
                          (profile ? "profile " + *profile : "device " + a.pos[0]) + "\n");
        } else {
            auto d = c.api().call("DELETE", owner + "/ota/" + enc(type));
            if (c.json) c.print_json(d);
            else c.io.out("unassigned " + type + " of " + (profile ? "profile " + *profile : "device " + a.pos[0]) + "\n");
        }
        return 0;
    }
    throw usage_error{"unknown subcommand '" + sub + "'"};
}

int cmd_client_rpc(context& c) {
    const auto& v = c.argv;
    if (v.size() < 2) throw usage_error{"missing subcommand"};
    const std::string sub = v[1];
    if (sub == "list") {
        parse_args(v, 2, {}, {});
        auto d = c.api().call("GET", "/api/client-rpc");
        if (c.json) {
            c.print_json(d);
            return 0;
        }
        table t({"ID", "DEVICE", "METHOD", "PARAMS", "DEADLINE"});
        for (const auto& x : d["calls"].GetArray())
            t.add({field(x, "id"), field(x, "device"), field(x, "method"), json::compact(x["params"]),
                   fmt_time(int_field(x, "deadline"))});
        c.io.out(t.render());
        return 0;
    }
    if (sub == "reply") {
        args a = parse_args(v, 2, {}, {});
        if (a.pos.size() != 2) throw usage_error{"client-rpc reply takes ID JSON"};
        rapidjson::Document j;
        if (std::string e = json::parse(a.pos[1], j); !e.empty()) throw usage_error{"JSON: " + e};
        auto d = c.api().call("POST", "/api/client-rpc/" + std::to_string(parse_int(a.pos[0], "ID")) + "/reply",
                              json::compact(j));
        if (c.json) c.print_json(d);
        else c.io.out("answered client RPC " + a.pos[0] + "\n");
        return 0;
    }
    if (sub == "config") {
        args a = parse_args(v, 2, {"--builtin", "--queue"}, {});
        auto onoff = [](const std::string& s, const char* what) {
            if (s == "on" || s == "true") return true;
            if (s == "off" || s == "false") return false;
            throw usage_error{std::string(what) + " takes on or off"};
        };
        rapidjson::Document d;
        if (a.get("--builtin") || a.get("--queue")) {
            json::out o;
            o.begin_object();
            if (auto b = a.get("--builtin")) o.kv("builtin", onoff(*b, "--builtin"));
            if (auto q = a.get("--queue")) o.kv("queue", onoff(*q, "--queue"));
            o.end_object();
            d = c.api().call("PUT", "/api/client-rpc/config", o.take());
        } else {
            d = c.api().call("GET", "/api/client-rpc/config");
        }
        if (c.json) c.print_json(d);
        else c.io.out(std::string("built-in answers: ") + (d["builtin"].GetBool() ? "on" : "off") +
                      "\noperator queue: " + (d["queue"].GetBool() ? "on" : "off") + "\n");
        return 0;
    }
    throw usage_error{"unknown subcommand '" + sub + "'"};
}

}  // namespace

tern_str cli::commands() noexcept { return tern_str{command_words, std::strlen(command_words)}; }
tern_str cli::summaries() noexcept { return tern_str{command_summaries, std::strlen(command_summaries)}; }

int32_t cli::run(uint32_t argc, const tern_str* argv, tern_text_sink out, tern_text_sink err, void* sink_ctx) noexcept {
    sinks io{out, err, sink_ctx, {}, {}};
    int rc = 1;
    std::string word;
    try {
        std::vector<std::string> v;
        for (uint32_t i = 0; i < argc; ++i) {
            std::string a = argv[i].size == 0 ? std::string() : std::string(argv[i].data, argv[i].size);
            // The kernel's own options, should they be passed on
            if ((a == "--config" || a == "--set") && i + 1 < argc) {
                ++i;
                continue;
            }
            if (a.rfind("--config=", 0) == 0 || a.rfind("--set=", 0) == 0) continue;
            v.push_back(std::move(a));
        }
        if (v.empty()) throw usage_error{"no command"};
        word = v[0];
        bool json = false;
        for (auto it = v.begin() + 1; it != v.end();) {
            if (*it == "--json") {
                json = true;
                it = v.erase(it);
            } else if (*it == "--help" || *it == "-h") {
                io.out(usage_text(word));
                io.flush();
                return 0;
            } else {
                ++it;
            }
        }
        const cli_settings settings = load_();
        context c{io, settings, v, json, nullptr};
        if (word == "device") rc = cmd_device(c);
        else if (word == "attr") rc = cmd_attr(c);
        else if (word == "telemetry") rc = cmd_telemetry(c);
        else if (word == "rpc") rc = cmd_rpc(c);
        else if (word == "profile") rc = cmd_profile(c);
        else if (word == "ota") rc = cmd_ota(c);
        else if (word == "client-rpc") rc = cmd_client_rpc(c);
        else throw usage_error{"unknown command '" + word + "'"};
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
