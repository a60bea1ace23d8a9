// An OTA image range served to the engine without copying it: the engine reads only the
// Block2 block a request asks for (pread), so a 256 MiB image costs one open file per
// request, never its bytes in memory.
#pragma once

#include <cstdint>
#include <string>

#include "tern/abi/coap.h"

namespace tern::device_api {

class file_body final : public coap_body_v1 {
public:
    // Opens path and serves all of it; nullptr with the reason in err when the file
    // cannot be opened.
    static file_body* open(const std::string& path, std::string& err) noexcept;
    // Serves only [offset, offset + length) of the file, clipped to its size.
    void narrow(uint64_t offset, uint64_t length) noexcept;

    uint64_t size() noexcept override { return length_; }
    tern_status read(uint64_t offset, uint8_t* buf, size_t len, size_t* out_len) noexcept override;
    void release() noexcept override;

private:
    file_body(int fd, uint64_t base, uint64_t length) noexcept
        : fd_(fd), base_(base), length_(length) {}
    ~file_body() = default;

    int fd_;
    uint64_t base_;
    uint64_t length_;
};

}  // namespace tern::device_api
