// Helpers for the kernel tests: fixture paths, temp dirs, a bounded child-process runner
// for black-box tests of `tern`, and a raw HTTP GET. Every wait has a timeout.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/sinks/ostream_sink.h>

#include "kernel/log.hpp"

namespace kt {

using namespace std::chrono_literals;

// --set argument that points kernel.plugin_path at the kernel test fixtures.
std::string plugin_path_set();
std::string manifest(const std::string& name);  // kernel/tests/manifests/<name>
std::string fixture(const std::string& plugin);  // loadable fixture library path
std::string refused(const std::string& plugin);  // refused fixture library path

// A fresh directory under /tmp, removed with everything in it.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    // Writes content to name and returns its path.
    std::string write(const std::string& name, const std::string& content) const;

private:
    std::filesystem::path path_;
};

std::string read_file(const std::string& path);
std::vector<std::string> read_lines(const std::string& path);

// A child process with stdout and stderr captured.
class child {
public:
    explicit child(const std::vector<std::string>& args);
    ~child();  // kills it if still running
    child(const child&) = delete;
    child& operator=(const child&) = delete;

    // Reads output until stdout contains text; false on timeout or exit.
    bool wait_for_stdout(const std::string& text, std::chrono::milliseconds timeout);
    void signal(int sig);
    // Exit status (>= 0) or -signal; -1000 on timeout (the child is then killed).
    int wait(std::chrono::milliseconds timeout);
    const std::string& out() const { return out_; }
    const std::string& err() const { return err_; }
    int pid() const { return pid_; }

private:
    void pump(std::chrono::milliseconds timeout);
    int pid_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    bool exited_ = false;
    int status_ = 0;
    std::string out_;
    std::string err_;
};

struct result {
    int status = 0;
    std::string out;
    std::string err;
};

// Runs tern with args to completion (bounded).
result run_tern(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 30s);

// GET path from 127.0.0.1:port with Connection: close; the whole response ("" on failure).
std::string http_get(uint16_t port, const std::string& path, std::chrono::milliseconds timeout = 5s);
// Sends raw bytes, returns whatever comes back until the server closes (bounded).
std::string http_raw(uint16_t port, const std::string& request, std::chrono::milliseconds timeout = 10s);

// A logging set-up writing into a string.
class log_capture {
public:
    explicit log_capture(tern::kernel::log_format f = tern::kernel::log_format::text);
    tern::kernel::logging& logs() { return *logs_; }
    std::string text() const { return stream_->str(); }

private:
    std::shared_ptr<std::ostringstream> stream_;
    std::unique_ptr<tern::kernel::logging> logs_;
};

}  // namespace kt
