#include "device_import.hpp"

#include <memory>

#include "admin_service.hpp"
#include "store.hpp"

namespace tern::core_embedded {

namespace {

// Splits one CSV line into fields; empty optional and why when it is malformed.
std::optional<std::vector<std::string>> csv_fields(std::string_view line, std::string& why) {
    std::vector<std::string> fields(1);
    size_t i = 0;
    while (i <= line.size()) {
        std::string& f = fields.back();
        if (i < line.size() && line[i] == '"') {
            ++i;
            for (;;) {
                if (i >= line.size()) {
                    why = "a quoted field is not closed";
                    return std::nullopt;
                }
                if (line[i] == '"') {
                    if (i + 1 < line.size() && line[i + 1] == '"') {
                        f.push_back('"');
                        i += 2;
                        continue;
                    }
                    ++i;
                    break;
                }
                f.push_back(line[i++]);
            }
            if (i < line.size() && line[i] != ',') {
                why = "text after a quoted field";
                return std::nullopt;
            }
        } else {
            const size_t comma = line.find(',', i);
            const std::string_view part = line.substr(i, comma == std::string_view::npos ? line.size() - i : comma - i);
            if (part.find('"') != std::string_view::npos) {
                why = "a quote inside an unquoted field (quote the whole field, and double the quote)";
                return std::nullopt;
            }
            f.assign(part);
            i += part.size();
        }
        if (i >= line.size()) break;
        ++i;  // the comma
        fields.emplace_back();
    }
    return fields;
}

}  // namespace

bool is_import_header(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line == "name,token";
}

std::optional<csv_refusal> parse_import_csv(std::string_view text, int64_t first_line, std::vector<import_row>& out) {
    int64_t line_no = first_line;
    while (!text.empty()) {
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        const int64_t at = line_no++;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || (at == 1 && is_import_header(line))) continue;
        std::string why;
        auto fields = csv_fields(line, why);
        if (!fields) return csv_refusal{at, why};
        if (fields->size() != 2)
            return csv_refusal{at, "expected 2 fields (name,token), found " + std::to_string(fields->size())};
        out.push_back(import_row{std::move((*fields)[0]), std::move((*fields)[1]), at});
    }
    return std::nullopt;
}

void import_devices(core_parts& p, device_import batch, callback<import_outcome> cb) {
    struct state {
        device_import batch;
        import_outcome outcome;
        uint64_t first_id = 0;
    };
    auto st = std::make_shared<state>();
    st->batch = std::move(batch);
    uint64_t bytes = 0;
    for (const import_row& r : st->batch.rows) bytes += sizeof r + r.name.size() + r.token.size();
    auto apply = [st](write_txn& t, std::string& msg) -> tern_status {
        st->outcome = {};
        st->first_id = 0;
        auto refuse = [&](const import_row& r, tern_status s, const std::string& why) {
            st->outcome.line = r.line;
            msg = "line " + std::to_string(r.line) + ": " + why;
            return s;
        };
        auto pid = store::profile_id(t.conn(), st->batch.profile);
        if (!pid) {
            msg = no_profile(st->batch.profile);
            return TERN_NOT_FOUND;
        }
        // One revision for the batch: the devices are new, none had an earlier one.
        const uint64_t revision = st->batch.rows.empty() ? 0 : t.next_revision();
        for (const import_row& r : st->batch.rows) {
            std::string why;
            if (check_name(r.name, "device", why) != TERN_OK) return refuse(r, TERN_INVALID_ARGUMENT, why);
            if (r.token.empty()) return refuse(r, TERN_INVALID_ARGUMENT, "the access token is empty");
            device d;
            d.name = r.name;
            d.profile_id = *pid;
            credential_input in;
            in.token = r.token;
            credential cr;
            if (why = store::make_credential(in, cr); !why.empty()) return refuse(r, TERN_INVALID_ARGUMENT, why);
            // Taken by a stored device or by an earlier row of this batch (same transaction).
            if (store::device_id(t.conn(), r.name))
                return refuse(r, TERN_EXISTS, "a device named '" + r.name + "' exists");
            if (auto owner = store::credential_owner(t.conn(), TERN_CREDENTIAL_ACCESS_TOKEN, cr.id)) {
                auto q = t.query("SELECT name FROM devices WHERE id = ?");
                q->bind_id(1, *owner);
                return refuse(r, TERN_EXISTS, "this access token belongs to device '" +
                                                  (q->step() ? q->get_string(0) : std::string("?")) + "'");
            }
            d.cred = std::move(cr);
            const uint64_t id = store::insert_device(t.conn(), d, revision, t.now());
            if (st->first_id == 0) st->first_id = id;
            ++st->outcome.imported;
        }
        return TERN_OK;
    };
    auto finish = [&p, st, cb](tern_status s, const std::string& msg) {
        if (s == TERN_OK && st->first_id != 0)
            p.listener.device_event(st->first_id, TERN_DEVICE_CREDENTIALS_CHANGED);
        import_outcome o = st->outcome;
        if (s != TERN_OK) o.imported = 0;
        cb({s, msg, o});
    };
    auto op = std::make_unique<fn_op>(std::move(apply), std::move(finish));
    op->bytes = bytes;
    p.submit(std::move(op));
}

}  // namespace tern::core_embedded
