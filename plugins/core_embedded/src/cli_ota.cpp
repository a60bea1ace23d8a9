// tern ota upload|list|show|delete|assign|unassign
#include <cerrno>
#include <cstring>
#include <fstream>

#include "cli_common.hpp"

namespace tern::core_embedded::cli_words {

namespace {

void define_upload(CLI::App& word, context& c) {
    struct options {
        std::string file;
        std::optional<std::string> title, version, type, tag, checksum_algorithm;
    };
    auto o = std::make_shared<options>();
    CLI::App* sub = word.add_subcommand("upload", "upload an OTA package");
    sub->add_option("FILE", o->file, "the package's bytes")->required();
    value_option(*sub, "--title", o->title, "package title (required)");
    value_option(*sub, "--version", o->version, "package version (required)");
    value_option(*sub, "--type", o->type, "firmware (default) or software");
    value_option(*sub, "--tag", o->tag, "free text");
    value_option(*sub, "--checksum-algorithm", o->checksum_algorithm, "SHA256 (default), SHA384, SHA512, MD5 or CRC32");
    sub->callback([&c, o] {
        if (!o->title || !o->version) throw usage_error{"--title and --version are required"};
        std::string q = "title=" + enc(*o->title) + "&version=" + enc(*o->version) +
                        "&type=" + enc(o->type.value_or("firmware"));
        if (o->tag) q += "&tag=" + enc(*o->tag);
        if (o->checksum_algorithm) q += "&checksumAlgorithm=" + enc(*o->checksum_algorithm);
        std::string fname = o->file;
        if (auto slash = fname.rfind('/'); slash != std::string::npos) fname = fname.substr(slash + 1);
        q += "&fileName=" + enc(fname);
        {
            std::ifstream f(o->file, std::ios::binary);
            if (!f) throw fail_error{"cannot read " + o->file + ": " + std::strerror(errno)};
        }
        auto d = c.api().call("POST", "/api/ota?" + q, {}, 600000, {}, o->file);
        if (c.json) c.print_json(d);
        else print_package(c, d);
    });
}

void define_list(CLI::App& word, context& c) {
    CLI::App* sub = word.add_subcommand("list", "list OTA packages");
    sub->callback([&c] {
        auto d = c.api().call("GET", "/api/ota");
        if (c.json) return c.print_json(d);
        table t({"ID", "TYPE", "TITLE", "VERSION", "SIZE", "CHECKSUM"});
        for (const auto& x : d["packages"].GetArray())
            t.add({field(x, "id"), field(x, "type"), field(x, "title"), field(x, "version"), field(x, "size"),
                   field(x, "checksumAlgorithm") + " " + field(x, "checksum")});
        c.io.out(t.render());
    });
}

void define_show_delete(CLI::App& word, context& c, bool show) {
    auto id_text = std::make_shared<std::string>();
    CLI::App* sub = show ? word.add_subcommand("show", "show an OTA package")
                         : word.add_subcommand("delete", "delete an OTA package nothing is assigned");
    sub->add_option("ID", *id_text, "package id")->required();
    sub->callback([&c, id_text, show] {
        const int64_t id = parse_int(*id_text, "ID");
        auto d = c.api().call(show ? "GET" : "DELETE", "/api/ota/" + std::to_string(id));
        if (c.json) c.print_json(d);
        else if (show) print_package(c, d);
        else c.io.out("deleted OTA package " + std::to_string(id) + "\n");
    });
}

// assign NAME|--profile P PACKAGE_ID; unassign NAME|--profile P [--type T]
void define_assignment(CLI::App& word, context& c, bool assign) {
    struct options {
        std::vector<std::string> pos;
        std::optional<std::string> profile, type;
    };
    auto o = std::make_shared<options>();
    CLI::App* sub = assign ? word.add_subcommand("assign", "assign a package to a device or a profile")
                           : word.add_subcommand("unassign", "remove a device's or a profile's package");
    sub->add_option("ARGS", o->pos, assign ? "NAME PACKAGE_ID, or PACKAGE_ID with --profile" : "NAME, or none with --profile")
        ->expected(0, 2);
    value_option(*sub, "--profile", o->profile, "a profile instead of a device");
    value_option(*sub, "--type", o->type, "firmware (default) or software");
    sub->callback([&c, o, assign] {
        const size_t want = (assign ? 1 : 0) + (o->profile ? 0 : 1);
        if (o->pos.size() != want)
            throw usage_error{assign ? "ota assign takes NAME PACKAGE_ID or --profile P PACKAGE_ID"
                                     : "ota unassign takes NAME or --profile P"};
        const std::string owner = o->profile ? "/api/profiles/" + enc(*o->profile) : "/api/devices/" + enc(o->pos[0]);
        const std::string whose = o->profile ? "profile " + *o->profile : "device " + o->pos[0];
        std::string type = o->type.value_or("firmware");
        if (!assign) {
            auto d = c.api().call("DELETE", owner + "/ota/" + enc(type));
            if (c.json) c.print_json(d);
            else c.io.out("unassigned " + type + " of " + whose + "\n");
            return;
        }
        const int64_t id = parse_int(o->pos.back(), "PACKAGE_ID");
        // The package knows its type; assigning needs it for the route.
        type = field(c.api().call("GET", "/api/ota/" + std::to_string(id)), "type");
        json::out body;
        auto d = c.api().call("PUT", owner + "/ota/" + type, body.begin_object().kv("package", id).end_object().take());
        if (c.json) c.print_json(d);
        else c.io.out("assigned " + type + " package " + std::to_string(id) + " to " + whose + "\n");
    });
}

}  // namespace

void define_ota(CLI::App& app, context& c) {
    define_upload(app, c);
    define_list(app, c);
    define_show_delete(app, c, true);
    define_show_delete(app, c, false);
    define_assignment(app, c, true);
    define_assignment(app, c, false);
}

}  // namespace tern::core_embedded::cli_words
