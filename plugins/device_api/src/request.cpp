#include "request.hpp"

#include "tern/sdk/views.hpp"

namespace tern::device_api {

request view_of(const tern_coap_request& req, uint32_t shard_count) noexcept {
    request v;
    v.exchange = req.exchange;
    v.shard = req.shard < shard_count ? req.shard : 0;
    v.type = req.type;
    v.method = req.code;
    v.observe = req.observe;
    v.content_format = req.content_format;
    v.coap_token = req.token;
    v.peer = req.peer;
    v.transport = sdk::to_sv(req.transport);
    v.path = std::span<const tern_str>(req.path, req.path_count);
    v.query = std::span<const tern_str>(req.query, req.query_count);
    v.payload = req.payload;
    return v;
}

owned_request::owned_request(const request& v)
    : coap_token_(sdk::as_text(v.coap_token)), transport_(v.transport), payload_(sdk::as_text(v.payload)) {
    path_text_.reserve(v.path.size());
    for (const tern_str& s : v.path) path_text_.emplace_back(sdk::to_sv(s));
    query_text_.reserve(v.query.size());
    for (const tern_str& s : v.query) query_text_.emplace_back(sdk::to_sv(s));
    for (const std::string& s : path_text_) path_.push_back(sdk::to_str(s));
    for (const std::string& s : query_text_) query_.push_back(sdk::to_str(s));
    view_ = v;
    view_.coap_token = sdk::to_bytes(coap_token_);
    view_.transport = transport_;
    view_.path = path_;
    view_.query = query_;
    view_.payload = sdk::to_bytes(payload_);
}

}  // namespace tern::device_api
