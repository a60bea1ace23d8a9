#include "kernel/loader.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <set>

#include "tern/abi/version.h"

namespace tern::kernel {

namespace {

// A descriptor or schema with more entries than this is garbage, not a plugin.
constexpr uint32_t max_list = 4096;
constexpr std::size_t max_string = 4096;

std::string copy_cstr(const char* s) {
    if (s == nullptr) return {};
    return std::string(s, ::strnlen(s, max_string));
}

// Reads a NUL-terminated string whose pointer may be garbage (a descriptor of a different
// ABI major, whose layout after the first four fields we do not know). write() into a
// pipe reports EFAULT for an unreadable address instead of crashing.
std::string probe_cstr(const char* s) {
    if (s == nullptr) return {};
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return {};
    std::string out;
    for (std::size_t i = 0; i < 128; ++i) {
        char c = 0;
        if (::write(fds[1], s + i, 1) != 1 || ::read(fds[0], &c, 1) != 1) {
            out.clear();
            break;
        }
        if (c == '\0') break;
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
            out.clear();
            break;
        }
        out.push_back(c);
    }
    ::close(fds[0]);
    ::close(fds[1]);
    return out;
}

// "libtern-udp.so" -> "udp": a name to show when the descriptor's cannot be trusted.
std::string name_from_file(const std::string& path) {
    std::string f = std::filesystem::path(path).filename().string();
    if (f.rfind("libtern-", 0) == 0) f = f.substr(8);
    if (f.size() > 3 && f.compare(f.size() - 3, 3, ".so") == 0) f = f.substr(0, f.size() - 3);
    return f;
}

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

load_result refuse(std::string msg) { return load_result{nullptr, std::move(msg)}; }

std::string malformed(const std::string& path, const std::string& what) {
    return path + ": malformed descriptor: " + what + "; rebuild it with the Tern SDK";
}

// The refusal of a plugin built for another ABI major. Its name is read only where its own
// header_size says the name pointer lies (probe_cstr survives a garbage pointer).
std::string other_major(const std::string& path, const tern_plugin_descriptor* raw, uint32_t header_size,
                        uint32_t major, uint32_t minor) {
    constexpr uint32_t name_end = offsetof(tern_plugin_descriptor, name) + sizeof(tern_plugin_descriptor::name);
    std::string name = header_size >= name_end ? probe_cstr(raw->name) : std::string();
    if (name.empty()) name = name_from_file(path);
    const std::string theirs = std::to_string(major) + "." + std::to_string(minor);
    std::string fix = "rebuild it against the Tern " + std::to_string(TERN_ABI_MAJOR) + ".x SDK";
    if (major > TERN_ABI_MAJOR) fix += ", or run a Tern kernel of ABI " + std::to_string(major) + ".x";
    return "plugin '" + name + "' (" + path + "): built for Tern ABI " + theirs + ", this kernel provides ABI " +
           std::to_string(TERN_ABI_MAJOR) + "." + std::to_string(TERN_ABI_MINOR) + "; " + fix;
}

// Copies the strings, interface lists and config schema of a descriptor of this major into
// lib, checking that each is plausible. Empty when fine, else the refusal.
std::string read_descriptor(const std::string& path, const tern_plugin_descriptor& d, plugin_library& lib) {
    lib.name = copy_cstr(d.name);
    lib.version = copy_cstr(d.version);
    lib.vendor = copy_cstr(d.vendor);
    lib.description = copy_cstr(d.description);
    lib.build = copy_cstr(d.build);
    if (lib.name.empty()) return malformed(path, "it has no plugin name");

    if (d.provides_count > max_list || (d.provides_count != 0 && d.provides == nullptr))
        return malformed(path, "provides_count is " + std::to_string(d.provides_count) +
                                   " but the provides list is missing or implausible");
    for (uint32_t i = 0; i < d.provides_count; ++i) {
        std::string iid = copy_cstr(d.provides[i]);
        if (iid.empty()) return malformed(path, "provided interface #" + std::to_string(i + 1) + " has no id");
        lib.provides.push_back(std::move(iid));
    }
    if (d.requirement_count > max_list || (d.requirement_count != 0 && d.requirements == nullptr))
        return malformed(path, "requirement_count is " + std::to_string(d.requirement_count) +
                                   " but the requirements list is missing or implausible");
    for (uint32_t i = 0; i < d.requirement_count; ++i) {
        const tern_requirement& r = d.requirements[i];
        std::string iid = copy_cstr(r.iid);
        if (iid.empty()) return malformed(path, "required interface #" + std::to_string(i + 1) + " has no id");
        lib.requirements.push_back({std::move(iid), (r.flags & TERN_REQUIRE_OPTIONAL) != 0});
    }
    if (d.config_count > max_list || (d.config_count != 0 && d.config == nullptr))
        return malformed(path, "config_count is " + std::to_string(d.config_count) +
                                   " but the config schema is missing or implausible");
    if (d.config_count != 0) {
        // The array's stride is the plugin's sizeof(tern_config_key), which every element
        // records; a newer 1.x SDK may have appended fields.
        const uint32_t stride = d.config[0].struct_size;
        constexpr uint32_t abi10_key = sizeof(tern_config_key);
        if (stride < abi10_key)
            return malformed(path, "config key #1 has struct_size " + std::to_string(stride) +
                                       ", ABI 1.0 needs " + std::to_string(abi10_key));
        const auto* base = reinterpret_cast<const unsigned char*>(d.config);
        for (uint32_t i = 0; i < d.config_count; ++i) {
            tern_config_key k{};
            std::memcpy(&k, base + std::size_t{i} * stride, sizeof k);
            if (k.struct_size != stride)
                return malformed(path, "config key #" + std::to_string(i + 1) + " has struct_size " +
                                           std::to_string(k.struct_size) + ", key #1 has " +
                                           std::to_string(stride));
            lib.config.push_back(k);
        }
    }
    return {};
}

}  // namespace

bool plugin_library::provides_iid(std::string_view iid) const {
    return std::find(provides.begin(), provides.end(), iid) != provides.end();
}

load_result open_plugin(const std::string& path) {
    auto lib = std::make_shared<plugin_library>();
    lib->path = path;

    // 1. open. Absolute, so that dlopen never searches the system's library path for a
    // bare file name.
    std::error_code fec;
    std::filesystem::path abs = std::filesystem::absolute(path, fec);
    if (fec) abs = path;
    std::error_code ec;
    ::dlerror();
    lib->lib.load(abs, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
    if (ec || !lib->lib.is_loaded()) {
        const char* why = ::dlerror();
        return refuse("cannot load plugin library " + path + ": " + (why != nullptr ? why : ec.message()) +
                      "; check that the file exists and that its dependencies resolve (ldd " + path + ")");
    }

    // 2. the one entry symbol
    if (!lib->lib.has(TERN_PLUGIN_ENTRY_SYMBOL))
        return refuse(path + " is not a Tern plugin: it exports no " TERN_PLUGIN_ENTRY_SYMBOL
                             "; build it with TERN_PLUGIN() from the Tern SDK");
    tern_plugin_entry_fn entry = nullptr;
    try {
        entry = &lib->lib.get<const tern_plugin_descriptor*()>(TERN_PLUGIN_ENTRY_SYMBOL);
    } catch (const std::exception&) {
        entry = nullptr;
    }
    const tern_plugin_descriptor* raw = entry != nullptr ? entry() : nullptr;

    // 3. magic: the first four fields never move, whatever the ABI.
    struct header {
        uint32_t magic, header_size, abi_major, abi_minor;
    } hdr{};
    if (raw != nullptr) std::memcpy(&hdr, raw, sizeof hdr);
    if (raw == nullptr || hdr.magic != TERN_PLUGIN_MAGIC)
        return refuse(path + " is not a Tern plugin: its descriptor has a bad magic number (" +
                      hex32(hdr.magic) + ", expected " + hex32(TERN_PLUGIN_MAGIC) +
                      "); rebuild it with the Tern SDK");

    // 4. major, before the size: a plugin of another major has a descriptor of another
    // layout (perhaps smaller than 1.0's), and what it needs is the version mismatch.
    if (hdr.abi_major != TERN_ABI_MAJOR)
        return refuse(other_major(path, raw, hdr.header_size, hdr.abi_major, hdr.abi_minor));

    // 5. size of the ABI 1.0 descriptor
    constexpr uint32_t abi10_size = sizeof(tern_plugin_descriptor);
    if (hdr.header_size < abi10_size)
        return refuse(path + ": descriptor too small (" + std::to_string(hdr.header_size) +
                      " bytes, ABI 1.0 needs " + std::to_string(abi10_size) +
                      "); rebuild it with the Tern SDK");

    // Copy what this kernel knows of the descriptor; a newer minor's extra fields are
    // beyond sizeof and ignored.
    tern_plugin_descriptor d{};
    std::memcpy(&d, raw, std::min<std::size_t>(hdr.header_size, sizeof d));
    lib->header_size = hdr.header_size;
    lib->abi_major = hdr.abi_major;
    lib->abi_minor = hdr.abi_minor;
    if (std::string why = read_descriptor(path, d, *lib); !why.empty()) return refuse(std::move(why));
    lib->create = d.create;
    if (lib->create == nullptr) return refuse(malformed(path, "it has no create function"));
    return load_result{std::move(lib), {}};
}

std::string plugin_file_name(std::string_view plugin) { return "libtern-" + std::string(plugin) + ".so"; }

std::vector<std::string> plugin_search_dirs(const std::vector<std::string>& plugin_path) {
    std::vector<std::string> dirs;
    std::set<std::string> seen;
    auto add = [&](const std::string& dir) {
        std::error_code ec;
        const auto canon = std::filesystem::weakly_canonical(dir, ec);
        const std::string key = ec ? dir : canon.string();
        if (seen.insert(key).second) dirs.push_back(dir);
    };
    for (const auto& d : plugin_path) add(d);
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) add((exe.parent_path() / ".." / "plugins").lexically_normal().string());
    add(TERN_INSTALL_PLUGIN_DIR);
    return dirs;
}

std::optional<std::string> find_plugin_file(std::string_view plugin, const std::vector<std::string>& dirs) {
    const std::string file = plugin_file_name(plugin);
    for (const auto& dir : dirs) {
        const std::string candidate = (std::filesystem::path(dir) / file).string();
        std::error_code ec;
        if (std::filesystem::exists(candidate, ec)) return candidate;
    }
    return std::nullopt;
}

std::string newer_minor_note(const plugin_library& lib) {
    return "plugin " + lib.name + " built with SDK " + std::to_string(lib.abi_major) + "." +
           std::to_string(lib.abi_minor) + ", newer than this kernel's " + std::to_string(TERN_ABI_MAJOR) +
           "." + std::to_string(TERN_ABI_MINOR) + "; loading because every interface it requires is present";
}

}  // namespace tern::kernel
