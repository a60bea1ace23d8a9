// Errors inside a plugin are exceptions; at the ABI boundary they become a tern_status and
// a message in the caller's tern_error. guard() is that boundary.
#pragma once

#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "tern/abi/status.h"

namespace tern::sdk {

// An error with the status it should cross the boundary as.
class error : public std::runtime_error {
public:
    error(tern_status status, const std::string& what) : std::runtime_error(what), status_(status) {}
    tern_status status() const noexcept { return status_; }

private:
    tern_status status_;
};

// Writes msg into err (truncated, NUL-terminated); err may be null.
inline void set_error(tern_error* err, std::string_view msg) noexcept {
    if (err == nullptr) return;
    const std::size_t n = msg.size() < sizeof(err->msg) - 1 ? msg.size() : sizeof(err->msg) - 1;
    if (n != 0) std::memcpy(err->msg, msg.data(), n);
    err->msg[n] = '\0';
    err->len = static_cast<uint32_t>(n);
}

inline std::string_view error_text(const tern_error& err) noexcept {
    return std::string_view{err.msg, err.len < sizeof(err.msg) ? err.len : sizeof(err.msg) - 1};
}

// Runs f and converts whatever it throws into a status plus text in err. f returns void
// (TERN_OK on return) or tern_status.
template <class F>
tern_status guard(tern_error* err, F&& f) noexcept {
    try {
        if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
            f();
            return TERN_OK;
        } else {
            return f();
        }
    } catch (const error& e) {
        set_error(err, e.what());
        return e.status();
    } catch (const std::bad_alloc&) {
        set_error(err, "out of memory");
        return TERN_INTERNAL;
    } catch (const std::exception& e) {
        set_error(err, e.what());
        return TERN_INTERNAL;
    } catch (...) {
        set_error(err, "unknown exception");
        return TERN_INTERNAL;
    }
}

constexpr const char* status_name(tern_status s) noexcept {
    switch (s) {
        case TERN_OK: return "ok";
        case TERN_INVALID_ARGUMENT: return "invalid argument";
        case TERN_NOT_FOUND: return "not found";
        case TERN_UNSUPPORTED: return "unsupported";
        case TERN_BUSY: return "busy";
        case TERN_IO: return "i/o error";
        case TERN_TIMEOUT: return "timeout";
        case TERN_INTERNAL: return "internal error";
        case TERN_PERMISSION: return "permission denied";
        case TERN_EXISTS: return "already exists";
        case TERN_UNAVAILABLE: return "unavailable";
        case TERN_CONFIG: return "configuration error";
        default: return "unknown status";
    }
}

}  // namespace tern::sdk
