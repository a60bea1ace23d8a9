// decoder: bytes -> ABI views. One reused message object per kind, and the arrays the views
// point into (see codec.hpp for how long they stay valid).
#include "wire_values.hpp"

namespace tern::core_wire {

using namespace detail;

namespace {

// A message of one kind and the arrays its views use.
template <typename Msg>
struct slot {
    Msg msg;
    std::vector<tern_kv> kvs;
    std::vector<tern_str> strs;
};

template <typename Out>
result refuse(Out& out, result r) {
    out = Out{};
    return r;
}

// Views of a repeated bytes field, bounded by max_keys.
result take_keys(const text_list& src, std::vector<tern_str>& strs, std::size_t at) {
    for (int i = 0; i < src.size(); ++i) strs[at + static_cast<std::size_t>(i)] = view(src.Get(i));
    return {};
}

}  // namespace

struct decoder::state {
    slot<pb::AuthenticateRequest> authenticate_request;
    slot<pb::AuthenticateReply> authenticate_reply;
    tern_device_record record{};
    slot<pb::PskKeyRequest> psk_key_request;
    slot<pb::PskKeyReply> psk_key_reply;
    slot<pb::PostTelemetryRequest> post_telemetry_request;
    std::vector<tern_ts_record> records;
    slot<pb::PostAttributesRequest> post_attributes_request;
    slot<pb::GetAttributesRequest> get_attributes_request;
    tern_key_filter filters[2]{};
    slot<pb::GetAttributesReply> get_attributes_reply;
    slot<pb::RpcStatusRequest> rpc_status_request;
    slot<pb::RpcReplyRequest> rpc_reply_request;
    slot<pb::ResendPendingRpcsRequest> resend_pending_rpcs_request;
    slot<pb::ClientRpcRequest> client_rpc_request;
    slot<pb::ClientRpcReply> client_rpc_reply;
    slot<pb::SessionEventRequest> session_event_request;
    slot<pb::PostTelemetryReply> post_telemetry_reply;
    slot<pb::PostAttributesReply> post_attributes_reply;
    slot<pb::RpcStatusReply> rpc_status_reply;
    slot<pb::RpcReplyReply> rpc_reply_reply;
    slot<pb::ResendPendingRpcsReply> resend_pending_rpcs_reply;
    slot<pb::SessionEventReply> session_event_reply;
    slot<pb::DeviceEvent> device_event;
    slot<pb::AttributesUpdatedEvent> attributes_updated_event;
    slot<pb::RpcRequestEvent> rpc_request_event;
    tern_rpc_request rpc{};
    slot<pb::ClaimRequest> claim_request;
    slot<pb::ClaimReply> claim_reply;
    slot<pb::ProvisionRequest> provision_request;
    tern_provision_request provision{};
    slot<pb::ProvisionReply> provision_reply;
    tern_provision_result provision_result{};
    slot<pb::OtaPackageRequest> ota_package_request;
    slot<pb::OtaPackageReply> ota_package_reply;
    tern_ota_package package{};
    slot<pb::OtaChunkRequest> ota_chunk_request;
    slot<pb::OtaChunkReply> ota_chunk_reply;
    slot<pb::SubscribeDeviceRequest> subscribe_device_request;
    slot<pb::SubscribeDeviceReply> subscribe_device_reply;
};

decoder::decoder() : state_(std::make_unique<state>()) {}
decoder::~decoder() = default;

namespace {

// Views of a kv list into kvs (resized; the count checked against max_key_values).
result take_kv_list(const kv_list& src, std::vector<tern_kv>& kvs) {
    if (auto r = check_count(static_cast<std::size_t>(src.size()), max_key_values,
                             "more key/values than max_key_values");
        !r) {
        return r;
    }
    kvs.resize(static_cast<std::size_t>(src.size()));
    return take_kvs(src, kvs.data());
}

template <typename Reply, typename Slot>
result decode_status(Slot& s, tern_bytes in, status_reply& out) {
    const status_op op = out.op;
    if (auto r = parse(s.msg, in); !r) {
        out = status_reply{op};
        return r;
    }
    out.status = s.msg.status();
    out.message = view(s.msg.message());
    return {};
}

}  // namespace

result decoder::decode(tern_bytes in, authenticate_request& out) {
    auto& m = state_->authenticate_request.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.kind = m.kind();
    out.value = view(m.value());
    return {};
}

result decoder::decode(tern_bytes in, authenticate_reply& out) {
    auto& s = state_->authenticate_reply;
    if (auto r = parse(s.msg, in); !r) return refuse(out, r);
    out.status = s.msg.status();
    out.message = view(s.msg.message());
    out.device = nullptr;
    if (!s.msg.has_device()) return {};
    const pb::DeviceRecord& d = s.msg.device();
    if (auto r = take_kv_list(d.profile_options(), s.kvs); !r) return refuse(out, r);
    tern_device_record& rec = state_->record;
    rec = tern_device_record{};
    rec.struct_size = sizeof rec;
    rec.payload_type = d.payload_type();
    rec.device_id = d.device_id();
    rec.device_name = view(d.device_name());
    rec.profile_id = d.profile_id();
    rec.profile_name = view(d.profile_name());
    rec.revision = d.revision();
    rec.credential_value = view_bytes(d.credential_value());
    rec.profile_options = s.kvs.empty() ? nullptr : s.kvs.data();
    rec.profile_option_count = static_cast<std::uint32_t>(s.kvs.size());
    out.device = &rec;
    return {};
}

result decoder::decode(tern_bytes in, psk_key_request& out) {
    auto& m = state_->psk_key_request.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.identity = view(m.identity());
    return {};
}

result decoder::decode(tern_bytes in, psk_key_reply& out) {
    auto& m = state_->psk_key_reply.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.status = m.status();
    out.message = view(m.message());
    out.device_id = m.device_id();
    out.key = view_bytes(m.key());
    return {};
}

result decoder::decode(tern_bytes in, post_telemetry_request& out) {
    auto& s = state_->post_telemetry_request;
    if (auto r = parse(s.msg, in); !r) return refuse(out, r);
    const auto& recs = s.msg.records();
    if (auto r = check_count(static_cast<std::size_t>(recs.size()), max_records,
                             "more records than max_records");
        !r) {
        return refuse(out, r);
    }
    std::size_t total = 0;
    for (const pb::TsRecord& rec : recs) total += static_cast<std::size_t>(rec.values_size());
    if (auto r = check_count(total, max_key_values, "more key/values than max_key_values"); !r) {
        return refuse(out, r);
    }
    s.kvs.resize(total);
    auto& records = state_->records;
    records.resize(static_cast<std::size_t>(recs.size()));
    std::size_t at = 0;
    for (int i = 0; i < recs.size(); ++i) {
        const pb::TsRecord& rec = recs.Get(i);
        tern_ts_record& dst = records[static_cast<std::size_t>(i)];
        dst = tern_ts_record{};
        dst.ts = rec.ts();
        dst.count = static_cast<std::uint32_t>(rec.values_size());
        dst.values = dst.count == 0 ? nullptr : s.kvs.data() + at;
        if (auto r = take_kvs(rec.values(), s.kvs.data() + at); !r) return refuse(out, r);
        at += dst.count;
    }
    out.device_id = s.msg.device_id();
    out.records = records.empty() ? nullptr : records.data();
    out.count = static_cast<std::uint32_t>(records.size());
    return {};
}

result decoder::decode(tern_bytes in, post_attributes_request& out) {
    auto& s = state_->post_attributes_request;
    if (auto r = parse(s.msg, in); !r) return refuse(out, r);
    if (auto r = take_kv_list(s.msg.values(), s.kvs); !r) return refuse(out, r);
    out.device_id = s.msg.device_id();
    out.scope = s.msg.scope();
    out.values = s.kvs.empty() ? nullptr : s.kvs.data();
    out.count = static_cast<std::uint32_t>(s.kvs.size());
    return {};
}

result decoder::decode(tern_bytes in, get_attributes_request& out) {
    auto& s = state_->get_attributes_request;
    if (auto r = parse(s.msg, in); !r) return refuse(out, r);
    const pb::KeyFilter* filters[2] = {s.msg.has_client() ? &s.msg.client() : nullptr,
                                       s.msg.has_shared() ? &s.msg.shared() : nullptr};
    std::size_t total = 0;
    for (const pb::KeyFilter* f : filters) {
        if (f == nullptr) continue;
        if (auto r = check_count(static_cast<std::size_t>(f->keys_size()), max_keys,
                                 "more filter keys than max_keys");
            !r) {
            return refuse(out, r);
        }
        total += static_cast<std::size_t>(f->keys_size());
    }
    s.strs.resize(total);
    std::size_t at = 0;
    const tern_key_filter* views[2] = {nullptr, nullptr};
    for (int i = 0; i < 2; ++i) {
        if (filters[i] == nullptr) continue;
        tern_key_filter& f = state_->filters[i];
        f.selection = filters[i]->selection();
        f.count = static_cast<std::uint32_t>(filters[i]->keys_size());
        f.keys = f.count == 0 ? nullptr : s.strs.data() + at;
        take_keys(filters[i]->keys(), s.strs, at);
        at += f.count;
        views[i] = &f;
    }
    out.device_id = s.msg.device_id();
    out.client = views[0];
    out.shared = views[1];
    return {};
}

result decoder::decode(tern_bytes in, get_attributes_reply& out) {
    auto& s = state_->get_attributes_reply;
    if (auto r = parse(s.msg, in); !r) return refuse(out, r);
    const std::size_t nc = static_cast<std::size_t>(s.msg.client_size());
    const std::size_t total = nc + static_cast<std::size_t>(s.msg.shared_size());
    if (auto r = check_count(total, max_key_values, "more key/values than max_key_values"); !r) {
        return refuse(out, r);
    }
    s.kvs.resize(total);
    if (auto r = take_kvs(s.msg.client(), s.kvs.data()); !r) return refuse(out, r);
    if (auto r = take_kvs(s.msg.shared(), s.kvs.data() + nc); !r) return refuse(out, r);
    out.status = s.msg.status();
    out.message = view(s.msg.message());
    out.client = nc == 0 ? nullptr : s.kvs.data();
    out.client_count = static_cast<std::uint32_t>(nc);
    out.shared = total == nc ? nullptr : s.kvs.data() + nc;
    out.shared_count = static_cast<std::uint32_t>(total - nc);
    return {};
}

result decoder::decode(tern_bytes in, rpc_status_request& out) {
    auto& m = state_->rpc_status_request.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.device_id = m.device_id();
    out.rpc_id = m.rpc_id();
    out.status = m.status();
    out.error = view(m.error());
    return {};
}

result decoder::decode(tern_bytes in, rpc_reply_request& out) {
    auto& m = state_->rpc_reply_request.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.device_id = m.device_id();
    out.rpc_id = m.rpc_id();
    out.result = view(m.result());
    return {};
}

result decoder::decode(tern_bytes in, resend_pending_rpcs_request& out) {
    auto& m = state_->resend_pending_rpcs_request.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.device_id = m.device_id();
    return {};
}

result decoder::decode(tern_bytes in, client_rpc_request& out) {
    auto& m = state_->client_rpc_request.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.device_id = m.device_id();
    out.method = view(m.method());
    out.params = view(m.params());
    out.timeout_ms = m.timeout_ms();
    return {};
}

result decoder::decode(tern_bytes in, client_rpc_reply& out) {
    auto& m = state_->client_rpc_reply.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.status = m.status();
    out.message = view(m.message());
    out.text = view(m.text());
    return {};
}

result decoder::decode(tern_bytes in, session_event_request& out) {
    auto& m = state_->session_event_request.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.device_id = m.device_id();
    out.event = m.event();
    out.transport = view(m.transport());
    out.address = view(m.address());
    return {};
}

result decoder::decode(tern_bytes in, status_reply& out) {
    switch (out.op) {
    case status_op::post_telemetry:
        return decode_status<pb::PostTelemetryReply>(state_->post_telemetry_reply, in, out);
    case status_op::post_attributes:
        return decode_status<pb::PostAttributesReply>(state_->post_attributes_reply, in, out);
    case status_op::rpc_status:
        return decode_status<pb::RpcStatusReply>(state_->rpc_status_reply, in, out);
    case status_op::rpc_reply:
        return decode_status<pb::RpcReplyReply>(state_->rpc_reply_reply, in, out);
    case status_op::resend_pending_rpcs:
        return decode_status<pb::ResendPendingRpcsReply>(state_->resend_pending_rpcs_reply, in, out);
    case status_op::session_event:
        return decode_status<pb::SessionEventReply>(state_->session_event_reply, in, out);
    case status_op::claim:
        return decode_status<pb::ClaimReply>(state_->claim_reply, in, out);
    case status_op::subscribe_device:
        return decode_status<pb::SubscribeDeviceReply>(state_->subscribe_device_reply, in, out);
    }
    const status_op op = out.op;
    out = status_reply{op};
    return fail(wire_error::bad_value, "an unknown status_op");
}

result decoder::decode(tern_bytes in, device_event& out) {
    auto& m = state_->device_event.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.device_id = m.device_id();
    out.event = m.event();
    return {};
}

result decoder::decode(tern_bytes in, attributes_updated_event& out) {
    auto& s = state_->attributes_updated_event;
    if (auto r = parse(s.msg, in); !r) return refuse(out, r);
    if (auto r = take_kv_list(s.msg.updated(), s.kvs); !r) return refuse(out, r);
    const std::size_t nd = static_cast<std::size_t>(s.msg.deleted_size());
    if (auto r = check_count(nd, max_keys, "more deleted keys than max_keys"); !r) {
        return refuse(out, r);
    }
    s.strs.resize(nd);
    take_keys(s.msg.deleted(), s.strs, 0);
    out.device_id = s.msg.device_id();
    out.updated = s.kvs.empty() ? nullptr : s.kvs.data();
    out.updated_count = static_cast<std::uint32_t>(s.kvs.size());
    out.deleted = nd == 0 ? nullptr : s.strs.data();
    out.deleted_count = static_cast<std::uint32_t>(nd);
    return {};
}

result decoder::decode(tern_bytes in, rpc_request_event& out) {
    auto& m = state_->rpc_request_event.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    tern_rpc_request& rpc = state_->rpc;
    rpc = tern_rpc_request{};
    rpc.struct_size = sizeof rpc;
    rpc.flags = m.flags();
    rpc.id = m.id();
    rpc.method = view(m.method());
    rpc.params = view(m.params());
    rpc.expiration_ms = m.expiration_ms();
    out.device_id = m.device_id();
    out.rpc = &rpc;
    return {};
}

result decoder::decode(tern_bytes in, claim_request& out) {
    auto& m = state_->claim_request.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.device_id = m.device_id();
    out.secret_key = view(m.secret_key());
    out.duration_ms = m.duration_ms();
    return {};
}

result decoder::decode(tern_bytes in, provision_request& out) {
    auto& m = state_->provision_request.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    tern_provision_request& req = state_->provision;
    req = tern_provision_request{};
    req.struct_size = sizeof req;
    req.credentials_type = m.credentials_type();
    req.device_name = view(m.device_name());
    req.provision_key = view(m.provision_key());
    req.provision_secret = view(m.provision_secret());
    req.token = view(m.token());
    req.client_id = view(m.client_id());
    req.username = view(m.username());
    req.password = view(m.password());
    req.hash = view(m.hash());
    req.gateway = m.gateway() ? 1 : 0;
    out.request = &req;
    return {};
}

result decoder::decode(tern_bytes in, provision_reply& out) {
    auto& m = state_->provision_reply.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.status = m.status();
    out.message = view(m.message());
    out.result = nullptr;
    if (!m.has_result()) return {};
    const pb::ProvisionResult& src = m.result();
    tern_provision_result& res = state_->provision_result;
    res = tern_provision_result{};
    res.struct_size = sizeof res;
    res.status = src.status();
    res.credentials_type = src.credentials_type();
    res.credentials_value = view(src.credentials_value());
    res.client_id = view(src.client_id());
    res.username = view(src.username());
    res.password = view(src.password());
    out.result = &res;
    return {};
}

result decoder::decode(tern_bytes in, ota_package_request& out) {
    auto& m = state_->ota_package_request.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.device_id = m.device_id();
    out.type = m.type();
    return {};
}

result decoder::decode(tern_bytes in, ota_package_reply& out) {
    auto& m = state_->ota_package_reply.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.status = m.status();
    out.message = view(m.message());
    out.package = nullptr;
    if (!m.has_package()) return {};
    const pb::OtaPackage& src = m.package();
    tern_ota_package& pkg = state_->package;
    pkg = tern_ota_package{};
    pkg.struct_size = sizeof pkg;
    pkg.type = src.type();
    pkg.package_id = src.package_id();
    pkg.title = view(src.title());
    pkg.version = view(src.version());
    pkg.tag = view(src.tag());
    pkg.size = src.size();
    pkg.checksum = view(src.checksum());
    pkg.checksum_algorithm = view(src.checksum_algorithm());
    pkg.path = view(src.path());
    pkg.url = view(src.url());
    out.package = &pkg;
    return {};
}

result decoder::decode(tern_bytes in, ota_chunk_request& out) {
    auto& m = state_->ota_chunk_request.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    if (auto r = check_count(m.length(), max_ota_chunk_bytes, "an OTA chunk longer than max_ota_chunk_bytes");
        !r) {
        return refuse(out, r);
    }
    out.device_id = m.device_id();
    out.type = m.type();
    out.package_id = m.package_id();
    out.offset = m.offset();
    out.length = m.length();
    return {};
}

result decoder::decode(tern_bytes in, ota_chunk_reply& out) {
    auto& m = state_->ota_chunk_reply.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    if (auto r = check_count(m.data().size(), max_ota_chunk_bytes, "an OTA chunk longer than max_ota_chunk_bytes");
        !r) {
        return refuse(out, r);
    }
    out.status = m.status();
    out.message = view(m.message());
    out.total_size = m.total_size();
    out.data = view_bytes(m.data());
    return {};
}

result decoder::decode(tern_bytes in, subscribe_device_request& out) {
    auto& m = state_->subscribe_device_request.msg;
    if (auto r = parse(m, in); !r) return refuse(out, r);
    out.device_id = m.device_id();
    out.flags = m.flags();
    out.node_id = view(m.node_id());
    return {};
}

}  // namespace tern::core_wire
