// Claiming and provisioning (provisioner.hpp). Provisioning follows ThingsBoard's
// DeviceProvisionServiceImpl step by step; the comments name the steps.
#include "rapidjson_config.hpp"
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "provisioner.hpp"
#include "crypto.hpp"
#include "tern/credential_id/credential_id.hpp"
#include "store.hpp"
#include "tern/sdk/views.hpp"
#include "tern/x509_der/certificate.hpp"

namespace tern::core_embedded {

using sdk::to_str;
using sdk::to_sv;

namespace {

bool attribute_true(const std::optional<attribute>& a) {
    if (!a) return false;
    if (a->v.type == TERN_VALUE_BOOL || a->v.type == TERN_VALUE_INT) return a->v.i != 0;
    if (a->v.type == TERN_VALUE_STR) return a->v.s == "true";
    return false;
}

std::string trim(std::string_view s) {
    // Java's String.trim(): strips every char <= U+0020 at both ends
    size_t b = 0, e = s.size();
    while (b < e && static_cast<unsigned char>(s[b]) <= ' ') ++b;
    while (e > b && static_cast<unsigned char>(s[e - 1]) <= ' ') --e;
    return std::string(s.substr(b, e - b));
}

std::string mqtt_json(const std::string& client_id, const std::string& user, const std::string& pass) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("clientId");
    client_id.empty() ? w.Null() : w.String(client_id.c_str(), static_cast<rapidjson::SizeType>(client_id.size()));
    w.Key("userName");
    user.empty() ? w.Null() : w.String(user.c_str(), static_cast<rapidjson::SizeType>(user.size()));
    w.Key("password");
    pass.empty() ? w.Null() : w.String(pass.c_str(), static_cast<rapidjson::SizeType>(pass.size()));
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

struct provision_input {
    tern_credential_kind credentials_type = TERN_CREDENTIAL_ACCESS_TOKEN;
    std::string device_name, key, secret, token, client_id, username, password, hash;
    bool gateway = false;
};

struct provision_output {
    tern_provision_status status = TERN_PROVISION_UNKNOWN;
    bool created = false;  // a new device (with new credentials)
    tern_credential_kind credentials_type = TERN_CREDENTIAL_ACCESS_TOKEN;
    std::string value, client_id, username, password;
    uint64_t device_id = 0;
    std::string device_name;
};

// The credentials a provisioned device answers with (the fields of the provisioning answer).
void answer_with(const credential& cr, provision_output& out) {
    out.credentials_type = cr.kind;
    switch (cr.kind) {
        case TERN_CREDENTIAL_ACCESS_TOKEN: out.value = cr.id; break;
        case TERN_CREDENTIAL_X509: out.value = cr.value; break;
        case TERN_CREDENTIAL_MQTT_BASIC: {
            rapidjson::Document d;
            d.Parse(cr.value.data(), cr.value.size());
            auto get = [&](const char* k) -> std::string {
                if (!d.IsObject()) return {};
                auto it = d.FindMember(k);
                return it != d.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
            };
            out.client_id = get("clientId");
            out.username = get("userName");
            out.password = get("password");
            break;
        }
        default: out.value = cr.id; break;
    }
}

// processCreateDevice + DeviceServiceImpl.saveDevice(ProvisionRequest, profile). Returns
// false (FAILURE) when the credentials are unusable or taken; nothing is written then.
bool create_provisioned(write_txn& t, const provision_input& in, const profile& p,
                        provision_output& out) {
    device d;
    d.name = in.device_name;
    if (d.name.empty()) {
        do {
            d.name = random_alphanumeric(20);
        } while (store::device_id(t.conn(), d.name));
    }
    d.profile_id = p.id;
    if (in.gateway) d.additional_info = "{\"gateway\":true}";

    credential cr;
    const bool given = !in.token.empty() || !in.hash.empty() || !in.username.empty() ||
                       !in.password.empty() || !in.client_id.empty();
    if (!given) {
        cr.kind = TERN_CREDENTIAL_ACCESS_TOKEN;
        do {
            cr.id = random_alphanumeric(20);
        } while (store::credential_owner(t.conn(), cr.kind, cr.id));
    } else {
        cr.kind = in.credentials_type;
        switch (in.credentials_type) {
            case TERN_CREDENTIAL_ACCESS_TOKEN:
                if (in.token.empty()) return false;  // ThingsBoard: "credentials id should be specified"
                cr.id = in.token;
                break;
            case TERN_CREDENTIAL_X509:
                cr.value = credential_id::certificate_text(in.hash);
                if (cr.value.empty()) return false;
                cr.id = credential_id::x509_id(cr.value);
                break;
            case TERN_CREDENTIAL_MQTT_BASIC:
                if (in.client_id.empty() && in.username.empty()) return false;
                if (!in.password.empty() && in.username.empty()) return false;
                // ThingsBoard's credentials id of MQTT basic credentials
                cr.id = in.client_id.empty()   ? credential_id::sha3_256_hex(in.username)
                        : in.username.empty() ? credential_id::sha3_256_hex(in.client_id)
                                              : credential_id::sha3_256_hex(in.client_id + "|" + in.username);
                cr.value = mqtt_json(in.client_id, in.username, in.password);
                break;
            default: return false;  // LwM2M credentials cannot be provisioned here
        }
        if (store::credential_owner(t.conn(), cr.kind, cr.id)) return false;
    }
    d.cred = cr;
    out.device_id = store::insert_device(t.conn(), d, t.next_revision(), t.now());
    out.device_name = d.name;
    store::upsert_attribute(t.conn(), out.device_id, TERN_SCOPE_SERVER, "provisionState",
                            value::of_str("provisioned"), t.now());
    answer_with(cr, out);
    return true;
}

// Step 3 of DeviceProvisionServiceImpl: the profile that owns the key, and whether the
// secret and the strategy let the request go on. Shared by the read path (every request)
// and the writer (the requests that passed it), so both decide alike.
enum class gate { not_found, go };

gate check_profile(db::connection& c, const provision_input& req, std::optional<profile>& p) {
    p.reset();
    {
        auto q = c.query("SELECT id FROM profiles WHERE provision_key = ?");
        q->bind(1, std::string_view(req.key));
        if (q->step()) p = store::load_profile(c, q->get_id(0));
    }
    if (!p || p->provision_secret.empty()) return gate::not_found;
    if (p->strategy == provision_strategy::disabled) return gate::not_found;
    // Constant time: the comparison's duration says nothing about how much of the secret
    // was right.
    if (!equal_secret(p->provision_secret, req.secret)) return gate::not_found;
    return gate::go;
}

bool x509_requested(const provision_input& in) {
    const bool given = !in.token.empty() || !in.hash.empty() || !in.username.empty() ||
                       !in.password.empty() || !in.client_id.empty();
    return given && in.credentials_type == TERN_CREDENTIAL_X509;
}

// A certificate a device may be identified by: a well-formed certificate that is not a CA
// (basicConstraints cA TRUE), not registered already, and not the issuer (by name) of a
// certificate registered for another device. A device API that walks the client's chain
// would otherwise give every device whose chain holds such a certificate to this one.
// `scan_issuers`: also look through the registered certificates (the read path does; the
// writer repeats only the cheap checks). Returns an empty string when usable, else why not.
std::string certificate_refusal(db::connection& c, const std::string& b64, bool scan_issuers) {
    std::vector<uint8_t> der;
    if (b64.empty() || !x509_der::decode_base64(b64, der)) return "the certificate is not Base64 or PEM";
    x509_der::certificate_info cert;
    std::string why;
    if (!x509_der::parse(der, cert, &why)) return "the certificate cannot be read: " + why;
    if (cert.ca) return "the certificate is a CA certificate (basicConstraints CA:TRUE)";
    if (store::credential_owner(c, TERN_CREDENTIAL_X509, credential_id::x509_id(b64)))
        return "the certificate is already registered";
    if (!scan_issuers) return {};
    auto q = c.query("SELECT value FROM credentials WHERE kind = ?");
    q->bind(1, static_cast<int64_t>(TERN_CREDENTIAL_X509));
    std::vector<uint8_t> other_der;
    while (q->step()) {
        const std::string other = q->get_string(0);
        x509_der::certificate_info o;
        if (!x509_der::decode_base64(other, other_der) || !x509_der::parse(other_der, o)) continue;
        // A registered self-issued certificate with the same name is the same kind of
        // conflict: whoever holds this one would be taken for its issuer.
        if (x509_der::same_name(o.issuer, cert.subject))
            return "the certificate is the issuer of a certificate registered for another device";
    }
    return {};
}

// The writer's part of a provisioning request (req: name trimmed, key and secret present):
// steps 3 to 5 again inside the transaction. A refusal returns an error, which rolls the op
// back; out.status says what the device hears.
tern_status apply_provision(write_txn& t, const provision_input& req, provision_output& out, std::string& msg) {
    out = provision_output{};
    auto decide = [&](tern_provision_status s) {
        out.status = s;
        // Refusals must leave nothing behind: a non-OK return rolls the op back.
        return s == TERN_PROVISION_SUCCESS ? TERN_OK : TERN_EXISTS;
    };
        std::optional<profile> p;
    if (check_profile(t.conn(), req, p) == gate::not_found) return decide(TERN_PROVISION_NOT_FOUND);
    // 4. The device of that name, if any.
    std::optional<device> target;
    if (!req.device_name.empty()) target = store::load_device(t.conn(), std::string_view(req.device_name));
    // 5. The strategy.
    switch (p->strategy) {
        case provision_strategy::allow_create:
            if (target) {
                msg = "device '" + req.device_name + "' exists and cannot be provisioned once more";
                return decide(TERN_PROVISION_FAILURE);
            }
            if (x509_requested(req)) {
                // The cheap checks again, inside the transaction (the read path also
                // looked for certificates this one issued).
                msg = certificate_refusal(t.conn(), credential_id::certificate_text(req.hash), false);
                if (!msg.empty()) return decide(TERN_PROVISION_FAILURE);
            }
            if (!create_provisioned(t, req, *p, out)) {
                msg = "the credentials are unusable or taken";
                return decide(TERN_PROVISION_FAILURE);
            }
            out.created = true;
            return decide(TERN_PROVISION_SUCCESS);
        case provision_strategy::pre_provisioned: {
            if (!target || target->profile_id != p->id) {
                msg = "no pre-provisioned device '" + req.device_name + "' in profile '" + p->name + "'";
                return decide(TERN_PROVISION_FAILURE);
            }
            // Re-provisioning is refused by design (as ThingsBoard does).
            if (store::load_attribute(t.conn(), target->id, TERN_SCOPE_SERVER, "provisionState")) {
                msg = "device '" + req.device_name + "' is already provisioned";
                return decide(TERN_PROVISION_FAILURE);
            }
            store::upsert_attribute(t.conn(), target->id, TERN_SCOPE_SERVER, "provisionState",
                                    value::of_str("provisioned"), t.now());
            out.device_id = target->id;
            out.device_name = target->name;
            if (target->cred) answer_with(*target->cred, out);
            return decide(TERN_PROVISION_SUCCESS);
        }
        case provision_strategy::disabled: break;
    }
    return decide(TERN_PROVISION_NOT_FOUND);
}

// Queues the write and answers the device when it finished.
void write_provision(core_parts& p, std::shared_ptr<provision_input> in, tern_core_provision_fn done, void* ctx) {
    auto out = std::make_shared<provision_output>();
    auto answer = [&p, out, done, ctx](tern_status s, const std::string& msg) {
        if (out->status == TERN_PROVISION_UNKNOWN) {  // backend trouble, or refused at the door
            done(ctx, s == TERN_OK ? TERN_INTERNAL : s, nullptr);
            return;
        }
        if (out->status == TERN_PROVISION_SUCCESS)
            p.log.info("provisioned device '", out->device_name, "' (id ", out->device_id, ")");
        else if (out->status == TERN_PROVISION_FAILURE && msg.find("certificate") != std::string::npos)
            p.log.warn("provisioning refused: ", msg);
        else
            p.log.debug("provisioning refused: ", msg);
        // New credentials: a device API that remembers unknown tokens forgets them.
        if (out->created) p.listener.device_event(out->device_id, TERN_DEVICE_CREDENTIALS_CHANGED);
        tern_provision_result r{};
        r.struct_size = sizeof r;
        r.status = out->status;
        r.credentials_type = out->credentials_type;
        r.credentials_value = to_str(out->value);
        r.client_id = to_str(out->client_id);
        r.username = to_str(out->username);
        r.password = to_str(out->password);
        done(ctx, TERN_OK, &r);
    };
    p.submit([in, out](write_txn& t, std::string& msg) { return apply_provision(t, *in, *out, msg); },
             std::move(answer));
}

}  // namespace

void provisioner::provision(const tern_provision_request* request, tern_core_provision_fn done,
                            void* ctx) noexcept {
    if (request == nullptr) {
        done(ctx, TERN_INVALID_ARGUMENT, nullptr);
        return;
    }
    auto in = std::make_shared<provision_input>();
    try {
        in->credentials_type = request->credentials_type;
        in->device_name = to_sv(request->device_name);
        in->key = to_sv(request->provision_key);
        in->secret = to_sv(request->provision_secret);
        in->token = to_sv(request->token);
        in->client_id = to_sv(request->client_id);
        in->username = to_sv(request->username);
        in->password = to_sv(request->password);
        in->hash = to_sv(request->hash);
        in->gateway = request->gateway != 0;
    } catch (...) {
        done(ctx, TERN_INTERNAL, nullptr);
        return;
    }
    // The answer to a request refused before the writer.
    auto refuse = [done, ctx](tern_provision_status s) {
        tern_provision_result r{};
        r.struct_size = sizeof r;
        r.status = s;
        done(ctx, TERN_OK, &r);
    };
    // Steps 1 and 2 need nothing stored: a device name that is present but blank is refused
    // before anything else; key and secret are required.
    if (!in->device_name.empty()) {
        in->device_name = trim(in->device_name);
        if (in->device_name.empty()) {
            p_.log.debug("provisioning refused: blank device name");
            refuse(TERN_PROVISION_FAILURE);
            return;
        }
    }
    if (in->key.empty() || in->secret.empty()) {
        refuse(TERN_PROVISION_NOT_FOUND);
        return;
    }
    // The write: only for requests that passed the read path.
    auto write = [this, in, done, ctx]() { write_provision(p_, in, done, ctx); };
    // Step 3 and the certificate checks on a reader: a wrong key or secret (anyone may send
    // one, provisioning needs no credentials) costs one indexed read and never reaches the
    // single writer. Only a request that would change something goes on to the writer,
    // which decides again inside its transaction.
    try {
        const bool queued = p_.reads.submit(
            [this, in, done, ctx, refuse, write](db::connection& c) {
                try {
                    std::optional<profile> p;
                    if (check_profile(c, *in, p) == gate::not_found) {
                        refuse(TERN_PROVISION_NOT_FOUND);
                        return;
                    }
                    if (p->strategy == provision_strategy::allow_create && x509_requested(*in)) {
                        const std::string why = certificate_refusal(c, credential_id::certificate_text(in->hash), true);
                        if (!why.empty()) {
                            p_.log.warn("provisioning refused in profile '", p->name, "': ", why);
                            refuse(TERN_PROVISION_FAILURE);
                            return;
                        }
                    }
                } catch (const std::exception& e) {
                    p_.log.error("provisioning lookup failed: ", e.what());
                    done(ctx, TERN_UNAVAILABLE, nullptr);
                    return;
                }
                write();
            },
            [done, ctx](tern_status s) { done(ctx, s, nullptr); },
            sizeof(provision_input) + in->device_name.size() + in->key.size() + in->secret.size() + in->token.size() +
                in->client_id.size() + in->username.size() + in->password.size() + in->hash.size());
        (void)queued;
    } catch (const std::bad_alloc&) {  // nothing was queued
        done(ctx, TERN_INTERNAL, nullptr);
    }
}

// ---- claiming ---------------------------------------------------------------------------

void provisioner::claim(uint64_t device_id, tern_str secret_key, int64_t duration_ms, tern_core_done_fn done,
                        void* ctx) noexcept {
    const int64_t duration = duration_ms > 0 ? duration_ms : p_.settings.claim_duration_ms;
    const bool by_default = p_.settings.claim_allowed_by_default;
    std::shared_ptr<std::string> secret;
    try {
        secret = std::make_shared<std::string>(to_sv(secret_key));
    } catch (...) {
        done(ctx, TERN_INTERNAL, to_str("out of memory"));
        return;
    }
    p_.submit(
        [device_id, secret, duration, by_default](write_txn& t, std::string& msg) -> tern_status {
            {
                auto q = t.query("SELECT 1 FROM devices WHERE id = ?");
                q->bind_id(1, device_id);
                if (t.deleted(device_id) || !q->step()) {
                    msg = "no such device";
                    return TERN_NOT_FOUND;
                }
            }
            if (!by_default &&
                !attribute_true(store::load_attribute(t.conn(), device_id, TERN_SCOPE_SERVER, "claimingAllowed"))) {
                msg = "claiming is not allowed for this device";
                return TERN_PERMISSION;
            }
            {
                auto q = t.query("SELECT claimed_by FROM claims WHERE device_id = ?");
                q->bind_id(1, device_id);
                if (q->step() && !q->is_null(0)) {
                    msg = "the device is already claimed";
                    return TERN_EXISTS;
                }
            }
            auto q = t.query(
                "INSERT INTO claims(device_id, secret_key, expires_ts, registered_ts) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(device_id) DO UPDATE SET secret_key = excluded.secret_key, "
                "expires_ts = excluded.expires_ts, registered_ts = excluded.registered_ts, "
                "claimed_by = NULL, claimed_ts = NULL");
            q->bind_id(1, device_id).bind(2, std::string_view(*secret)).bind(3, t.now() + duration).bind(4, t.now());
            q->run();
            return TERN_OK;
        },
        [done, ctx](tern_status s, const std::string& msg) { done(ctx, s, to_str(msg)); });
}

void provisioner::complete_claim(std::string name, std::string secret_key, std::string owner,
                                   callback<device> cb) {
    if (owner.empty()) owner = "admin";
    auto out = std::make_shared<device>();
    p_.submit(
        [name, secret_key, owner, out](write_txn& t, std::string& msg) -> tern_status {
            auto id = store::device_id(t.conn(), name);
            if (!id) {
                msg = "no device named '" + name + "'";
                return TERN_NOT_FOUND;
            }
            auto q = t.query("SELECT secret_key, expires_ts, claimed_by FROM claims WHERE device_id = ?");
            q->bind_id(1, *id);
            if (!q->step()) {
                msg = "device '" + name + "' has no claim registered";
                return TERN_NOT_FOUND;
            }
            if (!q->is_null(2)) {
                msg = "device '" + name + "' is already claimed by '" + q->get_string(2) + "'";
                return TERN_EXISTS;
            }
            if (q->get_int(1) < t.now()) {
                msg = "the claim of device '" + name + "' has expired";
                return TERN_TIMEOUT;
            }
            if (!equal_secret(q->get_text(0), secret_key)) {
                msg = "wrong secret key";
                return TERN_PERMISSION;
            }
            auto u = t.query("UPDATE claims SET claimed_by = ?, claimed_ts = ? WHERE device_id = ?");
            u->bind(1, std::string_view(owner)).bind(2, t.now()).bind_id(3, *id);
            u->run();
            *out = *store::load_device(t.conn(), *id);
            return TERN_OK;
        },
        [out, cb](tern_status s, const std::string& msg) { cb({s, msg, s == TERN_OK ? *out : device{}}); });
}

void provisioner::remove_claim(std::string name, callback<none> cb) {
    p_.submit(
        [name](write_txn& t, std::string& msg) -> tern_status {
            auto id = store::device_id(t.conn(), name);
            if (!id) {
                msg = "no device named '" + name + "'";
                return TERN_NOT_FOUND;
            }
            auto q = t.query("DELETE FROM claims WHERE device_id = ?");
            q->bind_id(1, *id);
            q->run();
            if (t.conn().changes() == 0) {
                msg = "device '" + name + "' has no claim";
                return TERN_NOT_FOUND;
            }
            return TERN_OK;
        },
        [cb](tern_status s, const std::string& msg) { cb({s, msg, {}}); });
}

}  // namespace tern::core_embedded
