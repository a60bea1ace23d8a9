// How the core's command words print the admin API's answers (cli_common.hpp).
#include <algorithm>
#include <cstdio>
#include <ctime>

#include "cli_common.hpp"

namespace tern::core_embedded::cli_words {

void sinks::flush() {
    if (!out_buf.empty()) out_fn(ctx, tern_str{out_buf.data(), out_buf.size()});
    if (!err_buf.empty()) err_fn(ctx, tern_str{err_buf.data(), err_buf.size()});
    out_buf.clear();
    err_buf.clear();
}

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

std::string table::render() const {
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

std::string fmt_duration(int64_t ms) {
    if (ms != 0 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
    if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
    if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

namespace {

// "20s (device)", "10s (profile)", "default (the power plugin's)"
std::string resolved_timer(const rapidjson::Value& resolved, const char* name) {
    const rapidjson::Value* t = json::member(resolved, name);
    if (t == nullptr || !t->IsObject()) return "-";
    const std::string from = field(*t, "from");
    if (from == "default") return "default (the power plugin's)";
    return fmt_duration(int_field(*t, "value")) + " (" + from + ")";
}

// A device's power saving: each setting and where it came from, then (one device read) its
// state, its last activity and the RPCs waiting for it in the core.
void print_power(const rapidjson::Value& p, std::string& s) {
    auto line = [&](const char* k, const std::string& v) { s += std::string(k) + ": " + v + "\n"; };
    if (const rapidjson::Value* r = json::member(p, "resolved"); r != nullptr && r->IsObject()) {
        const rapidjson::Value* m = json::member(*r, "mode");
        const std::string from = m != nullptr && m->IsObject() ? field(*m, "from") : "none";
        if (from == "none") {
            line("power mode", "none (neither the device nor its profile sets one: downlinks are never held)");
        } else {
            line("power mode", field(*m, "value") + " (" + from + ")");
            line("  psm activity timer", resolved_timer(*r, "psmActivityTimer"));
            line("  edrx cycle", resolved_timer(*r, "edrxCycle"));
            line("  paging window", resolved_timer(*r, "pagingTransmissionWindow"));
        }
    }
    if (const rapidjson::Value* st = json::member(p, "state"); st != nullptr && st->IsString()) {
        const std::string state = st->GetString();
        line("power state", state == "asleep" ? "asleep since " + fmt_time(int_field(p, "asleepSince")) : state);
        const int64_t last = int_field(p, "lastActivityTime");
        line("last activity", last == 0 ? "-" : fmt_time(last) + " (an uplink or an acknowledged notification)");
    }
    if (const rapidjson::Value* r = json::member(p, "pendingRpcs"); r != nullptr && r->IsObject()) {
        const int64_t n = int_field(*r, "count");
        std::string v = std::to_string(n);
        if (n > 0)
            v += " (" + field(*r, "queued") + " queued, " + field(*r, "sent") + " sent, " + field(*r, "delivered") +
                 " delivered and waiting for the reply; " + field(*r, "persistent") + " persistent), oldest expires " +
                 fmt_time(int_field(*r, "oldestExpiration"));
        line("pending rpcs", v);
    }
}

}  // namespace

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
    if (const rapidjson::Value* p = json::member(d, "power"); p != nullptr && p->IsObject()) print_power(*p, s);
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
    if (const rapidjson::Value* pw = json::member(p, "power"); pw != nullptr && pw->IsObject()) {
        auto timer = [&](const char* k) {
            const int64_t ms = int_field(*pw, k);
            return ms == 0 ? std::string("default") : fmt_duration(ms);
        };
        line("power", field(*pw, "mode") + ", psm activity timer " + timer("psmActivityTimer") + ", edrx cycle " +
                          timer("edrxCycle") + ", paging window " + timer("pagingTransmissionWindow"));
    }
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

void print_rpc(context& c, const rapidjson::Value& r) {
    const std::string status = field(r, "status");
    std::string s = "rpc " + field(r, "id") + " " + field(r, "method") + ": " + status;
    // When it ends or ended without an answer: that time matters.
    if (const int64_t exp = int_field(r, "expirationTime"); exp != 0 && status != "SUCCESSFUL")
        s += "\nexpires: " + fmt_time(exp);
    if (const rapidjson::Value* res = json::member(r, "result"); res != nullptr && !res->IsNull())
        s += "\nresult: " + json::compact(*res);
    if (const rapidjson::Value* e = json::member(r, "error"); e != nullptr && !e->IsNull()) s += "\nerror: " + text_of(*e);
    c.io.out(s + "\n");
}

}  // namespace tern::core_embedded::cli_words
