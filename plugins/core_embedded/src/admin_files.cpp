// The admin key and address files beside the database, and URL coding (admin_api.hpp).
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "admin_api.hpp"
#include "crypto.hpp"

namespace tern::core_embedded {

// ---- key and address files ------------------------------------------------------------------

std::string admin_key_path(const std::string& database) { return database + ".admin-key"; }
std::string admin_addr_path(const std::string& database) { return database + ".admin-addr"; }

std::string read_admin_key(const std::string& path) {
    std::ifstream f(path);
    if (!f) {
        if (errno == ENOENT) return {};
        throw sdk::error(TERN_IO, "cannot read " + path + ": " + std::strerror(errno));
    }
    std::string key;
    std::getline(f, key);
    while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
    return key;
}

std::string load_or_create_admin_key(const std::string& path, bool& created) {
    created = false;
    if (std::string k = read_admin_key(path); !k.empty()) return k;
    const std::string key = random_hex(16);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return read_admin_key(path);  // another process was quicker
        throw sdk::error(TERN_IO, "cannot create " + path + ": " + std::strerror(errno));
    }
    const std::string line = key + "\n";
    const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) throw sdk::error(TERN_IO, "cannot write " + path);
    created = true;
    return key;
}

std::string url_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '%' && i + 2 < s.size()) {
            std::string byte;
            if (from_hex(s.substr(i + 1, 2), byte)) {
                out += byte;
                i += 2;
                continue;
            }
        }
        out.push_back(plus_is_space && c == '+' ? ' ' : c);
    }
    return out;
}

std::string url_encode(std::string_view s) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}


}  // namespace tern::core_embedded
