// tern device import FILE|- [--profile P]: CSV rows `name,token` (an optional header
// `name,token`) sent to POST /api/devices/import in batches of at most max_import_rows
// rows and max_request_size bytes, each batch one transaction. A refused batch stops the
// import with FILE:LINE and why; the batches before it stay stored.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>

#include "cli_common.hpp"
#include "device_import.hpp"

namespace tern::core_embedded::cli_words {

namespace {

struct batch_text {
    std::string text;
    int64_t first_line = 0;
    size_t rows = 0;
};

std::string read_input(const std::string& file) {
    if (file != "-") return read_file(file);
    std::string s{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    if (std::cin.bad()) throw fail_error{"cannot read the standard input"};
    return s;
}

// Sends one batch; returns the devices imported (and adds the short tokens to weak), or
// throws fail_error naming FILE:LINE.
uint64_t send_batch(context& c, const std::string& file, const std::string& profile, const batch_text& b,
                    uint64_t before, uint64_t& weak) {
    std::string target = "/api/devices/import?line=" + std::to_string(b.first_line);
    if (!profile.empty()) target += "&profile=" + enc(profile);
    int status = 0;
    auto d = c.api().call("POST", target, b.text, 120000, {400, 404, 409, 413, 503}, {}, &status);
    if (status >= 200 && status < 300) {
        weak += static_cast<uint64_t>(std::max<int64_t>(0, int_field(d, "weakTokens")));
        return static_cast<uint64_t>(int_field(d, "imported"));
    }
    std::string why = json::get_string(d, "error").value_or("HTTP " + std::to_string(status));
    const int64_t line = int_field(d, "line");
    const std::string prefix = "line " + std::to_string(line) + ": ";
    if (line > 0 && why.rfind(prefix, 0) == 0) why.erase(0, prefix.size());
    const std::string where = file == "-" ? "<stdin>" : file;
    throw fail_error{(line > 0 ? where + ":" + std::to_string(line) : where) + ": " + why + " (HTTP " +
                     std::to_string(status) + "); " + std::to_string(before) +
                     " devices were imported before this batch, nothing of it was stored"};
}

}  // namespace

void define_import(CLI::App& word, context& c) {
    struct options {
        std::string file;
        std::optional<std::string> profile;
    };
    auto o = std::make_shared<options>();
    CLI::App* sub = word.add_subcommand("import", "add many devices with access tokens from CSV lines name,token");
    sub->add_option("FILE", o->file, "CSV file, or - for the standard input")->required();
    value_option(*sub, "--profile", o->profile, "profile of every imported device (default: default)");
    sub->callback([&c, o] {
        const auto t0 = std::chrono::steady_clock::now();
        const std::string text = read_input(o->file);
        // Leave room for the request line and headers under the server's body limit.
        const size_t max_bytes = c.settings.max_request_size > 4096 ? c.settings.max_request_size - 1024 : 4096;
        uint64_t imported = 0, weak = 0;
        batch_text b;
        int64_t line_no = 0;
        std::string_view rest = text;
        auto flush = [&] {
            if (b.rows > 0) imported += send_batch(c, o->file, o->profile.value_or(""), b, imported, weak);
            b = batch_text{};
        };
        while (!rest.empty()) {
            const size_t nl = rest.find('\n');
            const std::string_view line = rest.substr(0, nl == std::string_view::npos ? rest.size() : nl + 1);
            rest.remove_prefix(line.size());
            ++line_no;
            if (b.rows > 0 && (b.rows >= max_import_rows || b.text.size() + line.size() > max_bytes)) flush();
            if (b.text.empty()) b.first_line = line_no;
            b.text.append(line);
            // Blank lines and the header travel (to keep the numbering) but are not rows.
            const bool blank = line.find_first_not_of("\r\n") == std::string_view::npos;
            if (!blank && !(line_no == 1 && is_import_header(line.substr(0, line.find('\n'))))) ++b.rows;
        }
        flush();
        if (weak > 0 && !c.json)
            c.io.err("warning: " + std::to_string(weak) + " access token(s) shorter than 16 characters: a short token "
                     "can be guessed\n");
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (c.json) {
            json::out j;
            j.begin_object().kv("imported", imported).kv("weakTokens", weak);
            c.io.out(j.key("seconds").dbl(static_cast<int64_t>(s * 1000) / 1000.0).end_object().take() + "\n");
            return;
        }
        char secs[32];
        std::snprintf(secs, sizeof secs, "%.1f", s);
        c.io.out("imported " + std::to_string(imported) + " devices in " + secs + " s\n");
    });
}

}  // namespace tern::core_embedded::cli_words
