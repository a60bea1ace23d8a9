// encoder: ABI views -> bytes. One reused message object per kind (see codec.hpp).
#include "wire_values.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <utility>

namespace tern::core_wire {

using namespace detail;

struct encoder::state {
    pb::AuthenticateRequest authenticate_request;
    pb::AuthenticateReply authenticate_reply;
    pb::PskKeyRequest psk_key_request;
    pb::PskKeyReply psk_key_reply;
    pb::PostTelemetryRequest post_telemetry_request;
    pb::PostAttributesRequest post_attributes_request;
    pb::GetAttributesRequest get_attributes_request;
    pb::GetAttributesReply get_attributes_reply;
    pb::RpcStatusRequest rpc_status_request;
    pb::RpcReplyRequest rpc_reply_request;
    pb::ResendPendingRpcsRequest resend_pending_rpcs_request;
    pb::ClientRpcRequest client_rpc_request;
    pb::ClientRpcReply client_rpc_reply;
    pb::SessionEventRequest session_event_request;
    pb::PostTelemetryReply post_telemetry_reply;
    pb::PostAttributesReply post_attributes_reply;
    pb::RpcStatusReply rpc_status_reply;
    pb::RpcReplyReply rpc_reply_reply;
    pb::ResendPendingRpcsReply resend_pending_rpcs_reply;
    pb::SessionEventReply session_event_reply;
    pb::DeviceEvent device_event;
    pb::AttributesUpdatedEvent attributes_updated_event;
    pb::RpcRequestEvent rpc_request_event;
    pb::ClaimRequest claim_request;
    pb::ClaimReply claim_reply;
    pb::ProvisionRequest provision_request;
    pb::ProvisionReply provision_reply;
    pb::OtaPackageRequest ota_package_request;
    pb::OtaPackageReply ota_package_reply;
    pb::OtaChunkRequest ota_chunk_request;
    pb::OtaChunkReply ota_chunk_reply;
    pb::SubscribeDeviceRequest subscribe_device_request;
    pb::SubscribeDeviceReply subscribe_device_reply;
};

encoder::encoder() : state_(std::make_unique<state>()) {}
encoder::~encoder() = default;

namespace {

// Runs fill(msg); on success serializes msg into out, on failure leaves out empty.
template <typename Msg, typename Fill>
result encode_with(Msg& msg, std::string& out, Fill&& fill) {
    if (auto r = fill(msg); !r) {
        out.clear();
        return r;
    }
    return serialize(msg, out);
}

result put_record(pb::DeviceRecord* dst, const tern_device_record& in) {
    // A growable record: read only the fields its struct_size covers.
    tern_device_record rec{};
    std::memcpy(&rec, &in, std::min<std::size_t>(in.struct_size, sizeof rec));
    dst->set_payload_type(rec.payload_type);
    dst->set_device_id(rec.device_id);
    if (auto r = put_text(dst->mutable_device_name(), rec.device_name); !r) return r;
    dst->set_profile_id(rec.profile_id);
    if (auto r = put_text(dst->mutable_profile_name(), rec.profile_name); !r) return r;
    dst->set_revision(rec.revision);
    if (auto r = put_text(dst->mutable_credential_value(), rec.credential_value); !r) return r;
    const bool has_options = in.struct_size >= offsetof(tern_device_record, reserved);
    return put_kvs(dst->mutable_profile_options(), has_options ? rec.profile_options : nullptr,
                   has_options ? rec.profile_option_count : 0);
}

result put_filter(pb::KeyFilter* dst, const tern_key_filter& in) {
    dst->set_selection(in.selection);
    dst->clear_keys();
    if (in.count == 0) return {};
    if (in.keys == nullptr) return fail(wire_error::bad_value, "a null key array with a count");
    if (auto r = check_count(in.count, max_keys, "more filter keys than max_keys"); !r) return r;
    for (std::uint32_t i = 0; i < in.count; ++i) {
        if (auto r = put_text(dst->add_keys(), in.keys[i]); !r) return r;
    }
    return {};
}

template <typename Reply>
result encode_status(Reply& msg, const status_reply& in, std::string& out) {
    return encode_with(msg, out, [&](Reply& m) {
        m.set_status(in.status);
        return put_text(m.mutable_message(), in.message);
    });
}

}  // namespace

result encoder::encode(const authenticate_request& in, std::string& out) {
    return encode_with(state_->authenticate_request, out, [&](pb::AuthenticateRequest& m) {
        m.set_kind(in.kind);
        return put_text(m.mutable_value(), in.value);
    });
}

result encoder::encode(const authenticate_reply& in, std::string& out) {
    return encode_with(state_->authenticate_reply, out, [&](pb::AuthenticateReply& m) {
        m.set_status(in.status);
        if (auto r = put_text(m.mutable_message(), in.message); !r) return r;
        if (in.device == nullptr) {
            m.clear_device();
            return result{};
        }
        return put_record(m.mutable_device(), *in.device);
    });
}

result encoder::encode(const psk_key_request& in, std::string& out) {
    return encode_with(state_->psk_key_request, out, [&](pb::PskKeyRequest& m) {
        return put_text(m.mutable_identity(), in.identity);
    });
}

result encoder::encode(const psk_key_reply& in, std::string& out) {
    return encode_with(state_->psk_key_reply, out, [&](pb::PskKeyReply& m) {
        m.set_status(in.status);
        if (auto r = put_text(m.mutable_message(), in.message); !r) return r;
        m.set_device_id(in.device_id);
        return put_text(m.mutable_key(), in.key);
    });
}

result encoder::encode(const post_telemetry_request& in, std::string& out) {
    return encode_with(state_->post_telemetry_request, out, [&](pb::PostTelemetryRequest& m) {
        m.set_device_id(in.device_id);
        m.clear_records();
        if (in.count == 0) return result{};
        if (in.records == nullptr) return fail(wire_error::bad_value, "a null record array with a count");
        if (auto r = check_count(in.count, max_records, "more records than max_records"); !r) return r;
        std::size_t total = 0;
        for (std::uint32_t i = 0; i < in.count; ++i) {
            total += in.records[i].count;
            if (auto r = check_count(total, max_key_values, "more key/values than max_key_values"); !r) {
                return r;
            }
        }
        for (std::uint32_t i = 0; i < in.count; ++i) {
            pb::TsRecord* rec = m.add_records();
            rec->set_ts(in.records[i].ts);
            if (auto r = put_kvs(rec->mutable_values(), in.records[i].values, in.records[i].count); !r) {
                return r;
            }
        }
        return result{};
    });
}

result encoder::encode(const post_attributes_request& in, std::string& out) {
    return encode_with(state_->post_attributes_request, out, [&](pb::PostAttributesRequest& m) {
        m.set_device_id(in.device_id);
        m.set_scope(in.scope);
        return put_kvs(m.mutable_values(), in.values, in.count);
    });
}

result encoder::encode(const get_attributes_request& in, std::string& out) {
    return encode_with(state_->get_attributes_request, out, [&](pb::GetAttributesRequest& m) {
        m.set_device_id(in.device_id);
        if (in.client == nullptr) {
            m.clear_client();
        } else if (auto r = put_filter(m.mutable_client(), *in.client); !r) {
            return r;
        }
        if (in.shared == nullptr) {
            m.clear_shared();
            return result{};
        }
        return put_filter(m.mutable_shared(), *in.shared);
    });
}

result encoder::encode(const get_attributes_reply& in, std::string& out) {
    return encode_with(state_->get_attributes_reply, out, [&](pb::GetAttributesReply& m) {
        m.set_status(in.status);
        if (auto r = put_text(m.mutable_message(), in.message); !r) return r;
        const std::size_t total = std::size_t{in.client_count} + in.shared_count;
        if (auto r = check_count(total, max_key_values, "more key/values than max_key_values"); !r) {
            return r;
        }
        if (auto r = put_kvs(m.mutable_client(), in.client, in.client_count); !r) return r;
        return put_kvs(m.mutable_shared(), in.shared, in.shared_count);
    });
}

result encoder::encode(const rpc_status_request& in, std::string& out) {
    return encode_with(state_->rpc_status_request, out, [&](pb::RpcStatusRequest& m) {
        m.set_device_id(in.device_id);
        m.set_rpc_id(in.rpc_id);
        m.set_status(in.status);
        return put_text(m.mutable_error(), in.error);
    });
}

result encoder::encode(const rpc_reply_request& in, std::string& out) {
    return encode_with(state_->rpc_reply_request, out, [&](pb::RpcReplyRequest& m) {
        m.set_device_id(in.device_id);
        m.set_rpc_id(in.rpc_id);
        return put_text(m.mutable_result(), in.result);
    });
}

result encoder::encode(const resend_pending_rpcs_request& in, std::string& out) {
    return encode_with(state_->resend_pending_rpcs_request, out, [&](pb::ResendPendingRpcsRequest& m) {
        m.set_device_id(in.device_id);
        return result{};
    });
}

result encoder::encode(const client_rpc_request& in, std::string& out) {
    return encode_with(state_->client_rpc_request, out, [&](pb::ClientRpcRequest& m) {
        m.set_device_id(in.device_id);
        if (auto r = put_text(m.mutable_method(), in.method); !r) return r;
        if (auto r = put_text(m.mutable_params(), in.params); !r) return r;
        m.set_timeout_ms(in.timeout_ms);
        return result{};
    });
}

result encoder::encode(const client_rpc_reply& in, std::string& out) {
    return encode_with(state_->client_rpc_reply, out, [&](pb::ClientRpcReply& m) {
        m.set_status(in.status);
        if (auto r = put_text(m.mutable_message(), in.message); !r) return r;
        return put_text(m.mutable_text(), in.text);
    });
}

result encoder::encode(const session_event_request& in, std::string& out) {
    return encode_with(state_->session_event_request, out, [&](pb::SessionEventRequest& m) {
        m.set_device_id(in.device_id);
        m.set_event(in.event);
        if (auto r = put_text(m.mutable_transport(), in.transport); !r) return r;
        return put_text(m.mutable_address(), in.address);
    });
}

result encoder::encode(const status_reply& in, std::string& out) {
    switch (in.op) {
    case status_op::post_telemetry: return encode_status(state_->post_telemetry_reply, in, out);
    case status_op::post_attributes: return encode_status(state_->post_attributes_reply, in, out);
    case status_op::rpc_status: return encode_status(state_->rpc_status_reply, in, out);
    case status_op::rpc_reply: return encode_status(state_->rpc_reply_reply, in, out);
    case status_op::resend_pending_rpcs:
        return encode_status(state_->resend_pending_rpcs_reply, in, out);
    case status_op::session_event: return encode_status(state_->session_event_reply, in, out);
    case status_op::claim: return encode_status(state_->claim_reply, in, out);
    case status_op::subscribe_device: return encode_status(state_->subscribe_device_reply, in, out);
    }
    out.clear();
    return fail(wire_error::bad_value, "an unknown status_op");
}

result encoder::encode(const device_event& in, std::string& out) {
    return encode_with(state_->device_event, out, [&](pb::DeviceEvent& m) {
        m.set_device_id(in.device_id);
        m.set_event(in.event);
        return result{};
    });
}

result encoder::encode(const attributes_updated_event& in, std::string& out) {
    return encode_with(state_->attributes_updated_event, out, [&](pb::AttributesUpdatedEvent& m) {
        m.set_device_id(in.device_id);
        if (auto r = put_kvs(m.mutable_updated(), in.updated, in.updated_count); !r) return r;
        m.clear_deleted();
        if (in.deleted_count == 0) return result{};
        if (in.deleted == nullptr) return fail(wire_error::bad_value, "a null key array with a count");
        if (auto r = check_count(in.deleted_count, max_keys, "more deleted keys than max_keys"); !r) {
            return r;
        }
        for (std::uint32_t i = 0; i < in.deleted_count; ++i) {
            if (auto r = put_text(m.add_deleted(), in.deleted[i]); !r) return r;
        }
        return result{};
    });
}

result encoder::encode(const rpc_request_event& in, std::string& out) {
    return encode_with(state_->rpc_request_event, out, [&](pb::RpcRequestEvent& m) {
        if (in.rpc == nullptr) return fail(wire_error::bad_value, "a null RPC request");
        tern_rpc_request rpc{};
        std::memcpy(&rpc, in.rpc, std::min<std::size_t>(in.rpc->struct_size, sizeof rpc));
        m.set_device_id(in.device_id);
        m.set_flags(rpc.flags);
        m.set_id(rpc.id);
        if (auto r = put_text(m.mutable_method(), rpc.method); !r) return r;
        if (auto r = put_text(m.mutable_params(), rpc.params); !r) return r;
        m.set_expiration_ms(rpc.expiration_ms);
        return result{};
    });
}

result encoder::encode(const claim_request& in, std::string& out) {
    return encode_with(state_->claim_request, out, [&](pb::ClaimRequest& m) {
        m.set_device_id(in.device_id);
        m.set_duration_ms(in.duration_ms);
        return put_text(m.mutable_secret_key(), in.secret_key);
    });
}

result encoder::encode(const provision_request& in, std::string& out) {
    return encode_with(state_->provision_request, out, [&](pb::ProvisionRequest& m) {
        if (in.request == nullptr) return fail(wire_error::bad_value, "a null provision request");
        tern_provision_request req{};
        std::memcpy(&req, in.request, std::min<std::size_t>(in.request->struct_size, sizeof req));
        m.set_credentials_type(req.credentials_type);
        m.set_gateway(req.gateway != 0);
        const std::pair<std::string*, tern_str> texts[] = {
            {m.mutable_device_name(), req.device_name}, {m.mutable_provision_key(), req.provision_key},
            {m.mutable_provision_secret(), req.provision_secret}, {m.mutable_token(), req.token},
            {m.mutable_client_id(), req.client_id}, {m.mutable_username(), req.username},
            {m.mutable_password(), req.password}, {m.mutable_hash(), req.hash}};
        for (const auto& [dst, text] : texts) {
            if (auto r = put_text(dst, text); !r) return r;
        }
        return result{};
    });
}

result encoder::encode(const provision_reply& in, std::string& out) {
    return encode_with(state_->provision_reply, out, [&](pb::ProvisionReply& m) {
        m.set_status(in.status);
        if (auto r = put_text(m.mutable_message(), in.message); !r) return r;
        if (in.result == nullptr) {
            m.clear_result();
            return result{};
        }
        tern_provision_result res{};
        std::memcpy(&res, in.result, std::min<std::size_t>(in.result->struct_size, sizeof res));
        pb::ProvisionResult* dst = m.mutable_result();
        dst->set_status(res.status);
        dst->set_credentials_type(res.credentials_type);
        const std::pair<std::string*, tern_str> texts[] = {
            {dst->mutable_credentials_value(), res.credentials_value},
            {dst->mutable_client_id(), res.client_id},
            {dst->mutable_username(), res.username}, {dst->mutable_password(), res.password}};
        for (const auto& [text_dst, text] : texts) {
            if (auto r = put_text(text_dst, text); !r) return r;
        }
        return result{};
    });
}

result encoder::encode(const ota_package_request& in, std::string& out) {
    return encode_with(state_->ota_package_request, out, [&](pb::OtaPackageRequest& m) {
        m.set_device_id(in.device_id);
        m.set_type(in.type);
        return result{};
    });
}

result encoder::encode(const ota_package_reply& in, std::string& out) {
    return encode_with(state_->ota_package_reply, out, [&](pb::OtaPackageReply& m) {
        m.set_status(in.status);
        if (auto r = put_text(m.mutable_message(), in.message); !r) return r;
        if (in.package == nullptr) {
            m.clear_package();
            return result{};
        }
        tern_ota_package pkg{};
        std::memcpy(&pkg, in.package, std::min<std::size_t>(in.package->struct_size, sizeof pkg));
        pb::OtaPackage* dst = m.mutable_package();
        dst->set_type(pkg.type);
        dst->set_package_id(pkg.package_id);
        dst->set_size(pkg.size);
        const std::pair<std::string*, tern_str> texts[] = {
            {dst->mutable_title(), pkg.title}, {dst->mutable_version(), pkg.version},
            {dst->mutable_tag(), pkg.tag}, {dst->mutable_checksum(), pkg.checksum},
            {dst->mutable_checksum_algorithm(), pkg.checksum_algorithm}, {dst->mutable_path(), pkg.path},
            {dst->mutable_url(), pkg.url}};
        for (const auto& [text_dst, text] : texts) {
            if (auto r = put_text(text_dst, text); !r) return r;
        }
        return result{};
    });
}

result encoder::encode(const ota_chunk_request& in, std::string& out) {
    return encode_with(state_->ota_chunk_request, out, [&](pb::OtaChunkRequest& m) {
        if (auto r = check_count(in.length, max_ota_chunk_bytes, "an OTA chunk longer than max_ota_chunk_bytes");
            !r) {
            return r;
        }
        m.set_device_id(in.device_id);
        m.set_type(in.type);
        m.set_package_id(in.package_id);
        m.set_offset(in.offset);
        m.set_length(in.length);
        return result{};
    });
}

result encoder::encode(const ota_chunk_reply& in, std::string& out) {
    return encode_with(state_->ota_chunk_reply, out, [&](pb::OtaChunkReply& m) {
        if (auto r = check_count(in.data.size, max_ota_chunk_bytes, "an OTA chunk longer than max_ota_chunk_bytes");
            !r) {
            return r;
        }
        m.set_status(in.status);
        if (auto r = put_text(m.mutable_message(), in.message); !r) return r;
        m.set_total_size(in.total_size);
        return put_text(m.mutable_data(), in.data);
    });
}

result encoder::encode(const subscribe_device_request& in, std::string& out) {
    return encode_with(state_->subscribe_device_request, out, [&](pb::SubscribeDeviceRequest& m) {
        m.set_device_id(in.device_id);
        m.set_flags(in.flags);
        return put_text(m.mutable_node_id(), in.node_id);
    });
}

const char* to_string(wire_error error) noexcept {
    switch (error) {
    case wire_error::ok: return "ok";
    case wire_error::too_large: return "too_large";
    case wire_error::malformed: return "malformed";
    case wire_error::too_many: return "too_many";
    case wire_error::bad_value: return "bad_value";
    }
    return "unknown";
}

}  // namespace tern::core_wire
