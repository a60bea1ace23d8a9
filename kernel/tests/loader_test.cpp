// The loader's refusals, in check order, each one line naming the file and what to do.
#include <catch2/catch.hpp>

#include "kernel/loader.hpp"
#include "support.hpp"

using namespace tern::kernel;

TEST_CASE("a good plugin's descriptor is read completely", "[loader]") {
    const auto r = open_plugin(kt::fixture("kt_consumer"));
    REQUIRE(r.error.empty());
    const plugin_library& lib = *r.library;
    CHECK(lib.name == "kt_consumer");
    CHECK(lib.version == "0.0.1");
    CHECK(lib.vendor == "Tern kernel tests");
    CHECK(lib.description == "Uses test.greeter/1");
    CHECK(lib.build.find("libstdc++") != std::string::npos);
    CHECK(lib.abi_major == 1);
    CHECK(lib.abi_minor == TERN_ABI_MINOR);
    CHECK(lib.header_size == sizeof(tern_plugin_descriptor));
    CHECK(lib.provides.empty());
    REQUIRE(lib.requirements.size() == 2);
    CHECK(lib.requirements[0].iid == "test.greeter/1");
    CHECK_FALSE(lib.requirements[0].optional);
    CHECK(lib.requirements[1].iid == "test.optional/1");
    CHECK(lib.requirements[1].optional);
    REQUIRE(lib.config.size() == 1);
    CHECK(std::string(lib.config[0].name) == "record_file");
    CHECK(lib.create != nullptr);
}

TEST_CASE("1: a file that does not open passes on dlerror and suggests ldd", "[loader]") {
    const std::string path = "/nonexistent/libtern-x.so";
    const auto r = open_plugin(path);
    CHECK_FALSE(r.library);
    CHECK(r.error.rfind("cannot load plugin library " + path + ": ", 0) == 0);
    CHECK(r.error.find("No such file or directory") != std::string::npos);
    CHECK(r.error.find("; check that the file exists and that its dependencies resolve (ldd " + path + ")") !=
          std::string::npos);

    kt::temp_dir tmp;
    const auto text = tmp.write("libtern-text.so", "this is not an ELF file\n");
    const auto t = open_plugin(text);
    CHECK(t.error.rfind("cannot load plugin library " + text + ": ", 0) == 0);
    CHECK((t.error.find("invalid ELF header") != std::string::npos || t.error.find("file too short") != std::string::npos));
}

TEST_CASE("1: a relative path is the file in the working directory, not a system library", "[loader]") {
    // dlopen("libtern-x.so") would search LD_LIBRARY_PATH and the system; the loader must not.
    const auto r = open_plugin("libtern-kt_consumer.so");
    CHECK_FALSE(r.library);
    CHECK(r.error.rfind("cannot load plugin library libtern-kt_consumer.so: ", 0) == 0);
}

TEST_CASE("2: a library without the entry symbol is not a Tern plugin", "[loader]") {
    const auto path = kt::refused("kt_no_entry");
    const auto r = open_plugin(path);
    CHECK(r.error == path + " is not a Tern plugin: it exports no tern_plugin_entry; build it with TERN_PLUGIN() from the Tern SDK");
}

TEST_CASE("3: a null descriptor or a bad magic number is not a Tern plugin", "[loader]") {
    CHECK(open_plugin(kt::refused("kt_bad_magic")).error ==
          kt::refused("kt_bad_magic") + " is not a Tern plugin: its descriptor has a bad magic number (0xdeadbeef, "
                                        "expected 0x4e524554); rebuild it with the Tern SDK");
    CHECK(open_plugin(kt::refused("kt_null_entry")).error ==
          kt::refused("kt_null_entry") + " is not a Tern plugin: its descriptor has a bad magic number (0x00000000, "
                                         "expected 0x4e524554); rebuild it with the Tern SDK");
}

TEST_CASE("4: a descriptor smaller than ABI 1.0's is refused", "[loader]") {
    CHECK(open_plugin(kt::refused("kt_small_header")).error ==
          kt::refused("kt_small_header") + ": descriptor too small (16 bytes, ABI 1.0 needs " +
              std::to_string(sizeof(tern_plugin_descriptor)) + "); rebuild it with the Tern SDK");
}

TEST_CASE("5: another ABI major is refused with both versions and the fix", "[loader]") {
    CHECK(open_plugin(kt::refused("kt_major_next")).error ==
          "plugin 'kt_major_next' (" + kt::refused("kt_major_next") +
              "): built for Tern ABI 2.3, this kernel provides ABI 1.2; rebuild it against the Tern 1.x SDK, or "
              "run a Tern kernel of ABI 2.x");
    CHECK(open_plugin(kt::refused("kt_major_prev")).error ==
          "plugin 'kt_major_prev' (" + kt::refused("kt_major_prev") +
              "): built for Tern ABI 0.9, this kernel provides ABI 1.2; rebuild it against the Tern 1.x SDK");
}

TEST_CASE("a newer minor of the same major loads", "[loader]") {
    const auto r = open_plugin(kt::fixture("kt_newer_minor"));
    REQUIRE(r.library);
    CHECK(r.library->abi_minor == TERN_ABI_MINOR + 1);
    CHECK(newer_minor_note(*r.library) == "plugin kt_newer_minor built with SDK 1." + std::to_string(TERN_ABI_MINOR + 1) +
                                              ", newer than this kernel's 1." + std::to_string(TERN_ABI_MINOR) +
                                              "; loading because every interface it requires is present");
}

TEST_CASE("the plugin search path: plugin_path, then next to tern, then the install prefix", "[loader]") {
    const auto dirs = plugin_search_dirs({KT_PLUGIN_DIR, "relative/dir", KT_PLUGIN_DIR});
    REQUIRE(dirs.size() == 4);  // the duplicate is searched once
    CHECK(dirs[0] == KT_PLUGIN_DIR);
    CHECK(dirs[1] == "relative/dir");
    CHECK(dirs[2].ends_with("/plugins"));
    CHECK(dirs[3] == TERN_INSTALL_PLUGIN_DIR);
    CHECK(find_plugin_file("kt_rich", dirs) == kt::fixture("kt_rich"));
    CHECK_FALSE(find_plugin_file("kt_nothing", dirs));
}
