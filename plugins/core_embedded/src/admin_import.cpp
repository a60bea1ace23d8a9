// POST /api/devices/import: CSV rows `name,token` in the body, stored in one transaction
// (device_import.hpp). The query's `line` is the body's first line in the caller's file,
// so a refusal names the line there; `profile` puts every device of the batch in it.
#include "admin_api.hpp"
#include "admin_request.hpp"
#include "device_import.hpp"

namespace tern::core_embedded {

namespace {

http_response refusal(int status, const std::string& message, int64_t line) {
    json::out o;
    o.begin_object().kv("error", message);
    if (line > 0) o.kv("line", line);
    return http_response{status, o.end_object().take()};
}

}  // namespace

void admin_api::import_devices(const http_request& req, const request_view& v, const respond_fn& respond) {
    const int64_t first_line = v.q_int("line", 1);
    if (first_line < 1) throw api_error{400, "query parameter line must be 1 or more"};
    device_import batch;
    if (auto p = v.q("profile"); p && !p->empty()) batch.profile = *p;
    if (auto bad = parse_import_csv(req.body, first_line, batch.rows))
        return respond(refusal(400, "line " + std::to_string(bad->line) + ": " + bad->why, bad->line));
    if (batch.rows.size() > max_import_rows)
        throw api_error{413, std::to_string(batch.rows.size()) + " rows: at most " + std::to_string(max_import_rows) +
                                 " a request"};
    // The credential rules of `device add`, with one warning for all the short tokens.
    uint64_t weak = 0;
    for (const import_row& r : batch.rows) {
        if (r.token.size() < rules_.min_token_length && !r.token.empty())
            return respond(refusal(400, "line " + std::to_string(r.line) + ": the token must be at least " +
                                            std::to_string(rules_.min_token_length) + " characters (min_token_length)",
                                   r.line));
        if (r.token.size() < rules_.recommended_token_length) ++weak;
    }
    std::string warning;
    if (weak > 0) {
        warning = std::to_string(weak) + " access token(s) shorter than " +
                  std::to_string(rules_.recommended_token_length) + " characters: a short token can be guessed";
        rules_.weak.inc(weak);
    }
    core_.import_devices(std::move(batch), [respond, warning, weak, log = log_](result<import_outcome> r) {
        if (!r.ok()) return respond(refusal(http_status(r.status), r.message, r.value.line));
        if (!warning.empty()) log.warn("device import: ", warning);
        json::out o;
        o.begin_object().kv("imported", static_cast<uint64_t>(r.value.imported));
        if (!warning.empty()) o.kv("warning", warning).kv("weakTokens", weak);
        send(respond, 200, o.end_object().take());
    });
}

}  // namespace tern::core_embedded
