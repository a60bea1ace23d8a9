#include "requests.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::nats_bridge {

// One request waiting for the core: where the answer goes, and what ota.chunk must check.
struct requests::call {
    requests* self = nullptr;
    request_op op{};
    std::string reply;
    std::shared_ptr<requests> keep;  // the completion may come after the bridge stopped
    // ota.chunk
    uint64_t package_id = 0;
    uint64_t offset = 0;
    uint32_t length = 0;
};

namespace {

tern_bytes bytes_of(std::string_view s) {
    return tern_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

requests::call* as_call(void* ctx) { return static_cast<requests::call*>(ctx); }

// Reads [offset, offset + length) of the file at path into out; the file's size in total.
tern_status read_range(const std::string& path, uint64_t offset, uint32_t length, std::string& out, uint64_t& total,
                       std::string& message) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        message = "the package file cannot be opened on the core node";
        return TERN_IO;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        message = "the package file cannot be read on the core node";
        return TERN_IO;
    }
    total = static_cast<uint64_t>(st.st_size);
    const uint64_t n = offset >= total ? 0 : std::min<uint64_t>(length, total - offset);
    out.resize(n);
    size_t done = 0;
    while (done < n) {
        const ssize_t r = ::pread(fd, out.data() + done, n - done, static_cast<off_t>(offset + done));
        if (r <= 0) break;
        done += static_cast<size_t>(r);
    }
    ::close(fd);
    if (done != n) {
        message = "the package file is shorter than it was";
        return TERN_IO;
    }
    return TERN_OK;
}

// ---- completions: encode the core's answer and publish it ---------------------------------

void on_record(void* ctx, tern_status status, const tern_device_record* device) {
    auto* c = as_call(ctx);
    c->self->send(c->reply, core_wire::authenticate_reply{status, {}, status == TERN_OK ? device : nullptr});
    c->self->finish(c);
}

void on_psk(void* ctx, tern_status status, uint64_t device_id, tern_bytes key) {
    auto* c = as_call(ctx);
    c->self->send(c->reply, core_wire::psk_key_reply{status, {}, device_id, key});
    c->self->finish(c);
}

void on_attributes(void* ctx, tern_status status, const tern_kv* client, uint32_t client_count,
                   const tern_kv* shared, uint32_t shared_count) {
    auto* c = as_call(ctx);
    c->self->send(c->reply, core_wire::get_attributes_reply{status, {}, client, client_count, shared, shared_count});
    c->self->finish(c);
}

void on_text(void* ctx, tern_status status, tern_str text) {
    auto* c = as_call(ctx);
    c->self->send(c->reply, core_wire::client_rpc_reply{status, {}, text});
    c->self->finish(c);
}

void on_claim(void* ctx, tern_status status, tern_str message) {
    auto* c = as_call(ctx);
    c->self->send(c->reply, core_wire::status_reply{core_wire::status_op::claim, status, message});
    c->self->finish(c);
}

void on_provision(void* ctx, tern_status status, const tern_provision_result* result) {
    auto* c = as_call(ctx);
    c->self->send(c->reply, core_wire::provision_reply{status, {}, status == TERN_OK ? result : nullptr});
    c->self->finish(c);
}

void on_package(void* ctx, tern_status status, const tern_ota_package* package) {
    auto* c = as_call(ctx);
    c->self->send(c->reply, core_wire::ota_package_reply{status, {}, status == TERN_OK ? package : nullptr});
    c->self->finish(c);
}

// ota.chunk: the package assigned to the device now, which must be the one asked for.
void on_chunk_package(void* ctx, tern_status status, const tern_ota_package* package) {
    auto* c = as_call(ctx);
    core_wire::ota_chunk_reply r;
    std::string message, data;
    if (status != TERN_OK || package == nullptr) {
        r.status = status == TERN_OK ? TERN_INTERNAL : status;
    } else if (package->package_id != c->package_id) {
        r.status = TERN_NOT_FOUND;
        message = "the device is assigned another package now";
    } else if (package->path.size == 0) {
        r.status = TERN_NOT_FOUND;
        message = "the package has no file on the core node (it is a URL)";
    } else {
        r.status = read_range(std::string(sdk::to_sv(package->path)), c->offset, c->length, data, r.total_size, message);
        r.data = bytes_of(data);
    }
    r.message = sdk::to_str(message);
    c->self->send(c->reply, r);
    c->self->finish(c);
}

}  // namespace

requests::requests(const core_caps& core, bridge_metrics& metrics, sdk::logger log, downlinks& down)
    : core_(core), metrics_(metrics), log_(log), down_(down) {}

template <class R>
void requests::send(std::string_view reply, const R& r) {
    nats_link::link* l = link_.load();
    if (reply.empty() || l == nullptr) return;
    thread_local core_wire::encoder enc;
    thread_local std::string buf;
    auto res = enc.encode(r, buf);
    const uint64_t max_payload = l->max_payload();
    if (res && max_payload != 0 && buf.size() > max_payload)
        res = core_wire::result{core_wire::wire_error::too_large, "the answer is larger than the NATS server's max_payload"};
    if (!res) {
        log_.warn("an answer to a transport node cannot be sent: ", res.detail);
        R refused{};
        if constexpr (requires { refused.op; }) refused.op = r.op;
        refused.status = TERN_INTERNAL;
        refused.message = sdk::to_str(res.detail);
        if (!enc.encode(refused, buf)) return;
    }
    if (l->publish(reply, buf) != nats_link::status::ok)
        log_.debug("an answer to a transport node was not sent: NATS link is down");
}

void requests::finish(call* c) {
    in_flight_.fetch_sub(1);
    delete c;  // may release the last owner of *this: nothing after it
}

void requests::answer_status(request_op op, std::string_view reply, tern_status status, std::string_view message) {
    const tern_str m = sdk::to_str(message);
    switch (op) {
        case request_op::authenticate: send(reply, core_wire::authenticate_reply{status, m, nullptr}); return;
        case request_op::psk_key: send(reply, core_wire::psk_key_reply{status, m, 0, {}}); return;
        case request_op::get_attributes: send(reply, core_wire::get_attributes_reply{status, m, nullptr, 0, nullptr, 0}); return;
        case request_op::client_rpc: send(reply, core_wire::client_rpc_reply{status, m, {}}); return;
        case request_op::claim: send(reply, core_wire::status_reply{core_wire::status_op::claim, status, m}); return;
        case request_op::provision: send(reply, core_wire::provision_reply{status, m, nullptr}); return;
        case request_op::ota_package: send(reply, core_wire::ota_package_reply{status, m, nullptr}); return;
        case request_op::ota_chunk: send(reply, core_wire::ota_chunk_reply{status, m, 0, {}}); return;
        case request_op::subscribe:
            send(reply, core_wire::status_reply{core_wire::status_op::subscribe_device, status, m});
            return;
        case request_op::session_event:
            send(reply, core_wire::status_reply{core_wire::status_op::session_event, status, m});
            return;
        case request_op::rpc_resend:
            send(reply, core_wire::status_reply{core_wire::status_op::resend_pending_rpcs, status, m});
            return;
    }
}

void requests::handle(request_op op, const nats_link::message& m, core_wire::decoder& dec) {
    metrics_.requests[static_cast<size_t>(op)].inc();
    if (stopping_.load()) {
        answer_status(op, m.reply, TERN_UNAVAILABLE, "the core node is stopping");
        return;
    }
    const tern_bytes in = bytes_of(m.data);
    core_wire::result r;
    switch (op) {
        case request_op::subscribe: {
            core_wire::subscribe_device_request req;
            if (!(r = dec.decode(in, req))) break;
            std::string message;
            const tern_status st = down_.on_subscribe(req, message);
            answer_status(op, m.reply, st, message);
            return;
        }
        case request_op::session_event: {
            core_wire::session_event_request req;
            if (!(r = dec.decode(in, req))) break;
            core_.sessions->session_event(req.device_id, req.event, req.transport, req.address);
            answer_status(op, m.reply, TERN_OK, {});
            return;
        }
        case request_op::rpc_resend: {
            core_wire::resend_pending_rpcs_request req;
            if (!(r = dec.decode(in, req))) break;
            core_.rpc->resend_pending_rpcs(req.device_id);
            answer_status(op, m.reply, TERN_OK, {});
            return;
        }
        default:
            start_call(op, m, dec);
            return;
    }
    log_.warn("a ", request_ops[static_cast<size_t>(op)].name, " message does not decode: ", r.detail);
    answer_status(op, m.reply, TERN_INVALID_ARGUMENT, r.detail);
}

// The calls with a completion: bounded by max_requests_in_flight.
void requests::start_call(request_op op, const nats_link::message& m, core_wire::decoder& dec) {
    if (in_flight_.fetch_add(1) >= max_in_flight_) {
        in_flight_.fetch_sub(1);
        metrics_.requests_busy.inc();
        answer_status(op, m.reply, TERN_BUSY, "max_requests_in_flight reached on the core node");
        return;
    }
    auto* c = new call{this, op, std::string(m.reply), shared_from_this()};
    const tern_bytes in = bytes_of(m.data);
    core_wire::result r;
    switch (op) {
        case request_op::authenticate: {
            core_wire::authenticate_request q;
            if (!(r = dec.decode(in, q))) break;
            core_.auth->authenticate(q.kind, q.value, &on_record, c);
            return;
        }
        case request_op::psk_key: {
            core_wire::psk_key_request q;
            if (!(r = dec.decode(in, q))) break;
            core_.auth->psk_key(q.identity, &on_psk, c);
            return;
        }
        case request_op::get_attributes: {
            core_wire::get_attributes_request q;
            if (!(r = dec.decode(in, q))) break;
            core_.attributes->get_attributes(q.device_id, q.client, q.shared, &on_attributes, c);
            return;
        }
        case request_op::client_rpc: {
            core_wire::client_rpc_request q;
            if (!(r = dec.decode(in, q))) break;
            core_.rpc->client_rpc(q.device_id, q.method, q.params, q.timeout_ms, &on_text, c);
            return;
        }
        case request_op::claim: {
            core_wire::claim_request q;
            if (!(r = dec.decode(in, q))) break;
            core_.provisioning->claim(q.device_id, q.secret_key, q.duration_ms, &on_claim, c);
            return;
        }
        case request_op::provision: {
            core_wire::provision_request q;
            if (!(r = dec.decode(in, q))) break;
            core_.provisioning->provision(q.request, &on_provision, c);
            return;
        }
        case request_op::ota_package: {
            core_wire::ota_package_request q;
            if (!(r = dec.decode(in, q))) break;
            core_.ota->ota_package(q.device_id, q.type, &on_package, c);
            return;
        }
        case request_op::ota_chunk: {
            core_wire::ota_chunk_request q;
            if (!(r = dec.decode(in, q))) break;
            if (q.length > core_wire::max_ota_chunk_bytes) {
                r = core_wire::result{core_wire::wire_error::too_many, "length is past 512 KiB"};
                break;
            }
            c->package_id = q.package_id;
            c->offset = q.offset;
            c->length = q.length;
            core_.ota->ota_package(q.device_id, q.type, &on_chunk_package, c);
            return;
        }
        default:
            r = core_wire::result{core_wire::wire_error::malformed, "not a call with a completion"};
            break;
    }
    log_.warn("a ", request_ops[static_cast<size_t>(op)].name, " request does not decode: ", r.detail);
    answer_status(op, m.reply, TERN_INVALID_ARGUMENT, r.detail);
    finish(c);
}

bool requests::stop(std::chrono::milliseconds wait) {
    stopping_.store(true);
    const auto until = std::chrono::steady_clock::now() + wait;
    while (in_flight_.load() != 0) {
        if (std::chrono::steady_clock::now() > until) {
            log_.info(in_flight_.load(), " requests still wait for the core after ", wait.count(),
                      " ms (a client RPC waits for its operator); they end without an answer");
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

}  // namespace tern::nats_bridge
