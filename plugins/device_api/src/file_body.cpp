#include "file_body.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <sys/stat.h>
#include <unistd.h>

namespace tern::device_api {

file_body* file_body::open(const std::string& path, std::string& err) noexcept {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = std::strerror(errno);
        return nullptr;
    }
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
        err = std::strerror(errno);
        ::close(fd);
        return nullptr;
    }
    const uint64_t total = st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
    auto* b = new (std::nothrow) file_body(fd, 0, total);
    if (b == nullptr) {
        err = "out of memory";
        ::close(fd);
    }
    return b;
}

void file_body::narrow(uint64_t offset, uint64_t length) noexcept {
    const uint64_t total = base_ + length_;
    offset += base_;
    if (offset > total) offset = total;
    if (length > total - offset) length = total - offset;
    base_ = offset;
    length_ = length;
}

tern_status file_body::read(uint64_t offset, uint8_t* buf, size_t len, size_t* out_len) noexcept {
    *out_len = 0;
    if (offset >= length_) return TERN_OK;
    if (len > length_ - offset) len = static_cast<size_t>(length_ - offset);
    size_t done = 0;
    while (done < len) {
        const ssize_t n = ::pread(fd_, buf + done, len - done, static_cast<off_t>(base_ + offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return TERN_IO;
        }
        if (n == 0) break;  // the file shrank: serve what is there
        done += static_cast<size_t>(n);
    }
    *out_len = done;
    return TERN_OK;
}

void file_body::release() noexcept {
    ::close(fd_);
    delete this;
}

}  // namespace tern::device_api
