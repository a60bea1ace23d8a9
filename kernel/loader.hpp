// Loading plugin libraries (Boost.DLL, RTLD_NOW | RTLD_LOCAL) and reading their
// descriptors defensively. Every refusal is one line that names the file and says what to do.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "tern/abi/plugin.h"

namespace tern::kernel {

struct requirement {
    std::string iid;
    bool optional = false;
};

// A loaded plugin library and a copy of its descriptor. The library stays loaded as long
// as this object lives: descriptor strings, the schema's strings and the factory point
// into it. Never unloaded while any instance of it exists.
class plugin_library {
public:
    std::string path;  // as shown to the operator
    boost::dll::shared_library lib;

    uint32_t header_size = 0;
    uint32_t abi_major = 0;
    uint32_t abi_minor = 0;
    std::string name;
    std::string version;
    std::string vendor;
    std::string description;
    std::string build;
    std::vector<std::string> provides;
    std::vector<requirement> requirements;
    std::vector<tern_config_key> config;  // copies; their strings point into the library
    tern_create_fn create = nullptr;

    bool provides_iid(std::string_view iid) const;
};

struct load_result {
    std::shared_ptr<plugin_library> library;  // null on refusal
    std::string error;                        // the one-line refusal
};

// Opens path and checks, in order: the library opens; it exports tern_plugin_entry; the
// descriptor's magic; abi_major (before the size, so a plugin of another major hears about
// the version whatever its descriptor's size); header_size. Requirements and the schema
// are checked by the caller, who knows the other instances and the manifest.
load_result open_plugin(const std::string& path);

// "libtern-<plugin>.so"
std::string plugin_file_name(std::string_view plugin);

// Directories searched for plugin libraries: plugin_path (relative to the working
// directory), then <dir of the tern executable>/../plugins, then
// <install prefix>/lib/tern/plugins.
std::vector<std::string> plugin_search_dirs(const std::vector<std::string>& plugin_path);

// The first dir/libtern-<plugin>.so that exists, as dir/name.
std::optional<std::string> find_plugin_file(std::string_view plugin, const std::vector<std::string>& dirs);

// The newer-minor note logged when a plugin built with a newer 1.x SDK is loaded.
std::string newer_minor_note(const plugin_library& lib);

}  // namespace tern::kernel
