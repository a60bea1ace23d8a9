#include "kernel/host/config.hpp"

#include "tern/sdk/views.hpp"

namespace tern::kernel::host {

using sdk::to_str;
using sdk::to_sv;

const config_value* config_service::find(tern_str key, tern_config_type type, tern_status* status) const noexcept {
    const auto it = values_.find(to_sv(key));
    if (it == values_.end()) {
        *status = TERN_NOT_FOUND;
        return nullptr;
    }
    // An integer key reads fine as a double; the reverse would lose information.
    const bool ok = it->second.type == type || (type == TERN_CONFIG_DOUBLE && it->second.type == TERN_CONFIG_INT);
    if (!ok) {
        *status = TERN_INVALID_ARGUMENT;
        return nullptr;
    }
    *status = TERN_OK;
    return &it->second;
}

tern_status config_service::get_bool(tern_str key, int32_t* out) noexcept {
    tern_status st = TERN_INVALID_ARGUMENT;
    if (out == nullptr) return st;
    const config_value* v = find(key, TERN_CONFIG_BOOL, &st);
    if (v != nullptr) *out = v->b ? 1 : 0;
    return st;
}

tern_status config_service::get_int(tern_str key, int64_t* out) noexcept {
    tern_status st = TERN_INVALID_ARGUMENT;
    if (out == nullptr) return st;
    const config_value* v = find(key, TERN_CONFIG_INT, &st);
    if (v != nullptr) *out = v->i;
    return st;
}

tern_status config_service::get_double(tern_str key, double* out) noexcept {
    tern_status st = TERN_INVALID_ARGUMENT;
    if (out == nullptr) return st;
    const config_value* v = find(key, TERN_CONFIG_DOUBLE, &st);
    if (v != nullptr) *out = v->type == TERN_CONFIG_INT ? static_cast<double>(v->i) : v->d;
    return st;
}

tern_status config_service::get_string(tern_str key, tern_str* out) noexcept {
    tern_status st = TERN_INVALID_ARGUMENT;
    if (out == nullptr) return st;
    const config_value* v = find(key, TERN_CONFIG_STRING, &st);
    if (v != nullptr) *out = to_str(v->s);
    return st;
}

tern_status config_service::get_array_size(tern_str key, uint32_t* out) noexcept {
    tern_status st = TERN_INVALID_ARGUMENT;
    if (out == nullptr) return st;
    const config_value* v = find(key, TERN_CONFIG_STRING_ARRAY, &st);
    if (v != nullptr) *out = static_cast<uint32_t>(v->a.size());
    return st;
}

tern_status config_service::get_array_string(tern_str key, uint32_t index, tern_str* out) noexcept {
    tern_status st = TERN_INVALID_ARGUMENT;
    if (out == nullptr) return st;
    const config_value* v = find(key, TERN_CONFIG_STRING_ARRAY, &st);
    if (v == nullptr) return st;
    if (index >= v->a.size()) return TERN_NOT_FOUND;
    *out = to_str(v->a[index]);
    return TERN_OK;
}

tern_str config_service::origin(tern_str key) noexcept {
    const auto it = values_.find(to_sv(key));
    if (it == values_.end()) return tern_str{nullptr, 0};
    return to_str(it->second.origin);
}

}  // namespace tern::kernel::host
