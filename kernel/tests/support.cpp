#include "support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace kt {

std::string plugin_path_set() { return std::string("kernel.plugin_path=[\"") + KT_PLUGIN_DIR + "\"]"; }
std::string manifest(const std::string& name) { return std::string(KT_MANIFEST_DIR) + "/" + name; }
std::string fixture(const std::string& plugin) { return std::string(KT_PLUGIN_DIR) + "/libtern-" + plugin + ".so"; }
std::string refused(const std::string& plugin) { return std::string(KT_REFUSED_DIR) + "/libtern-" + plugin + ".so"; }

temp_dir::temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tern-kernel-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

temp_dir::~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string temp_dir::write(const std::string& name, const std::string& content) const {
    const std::string p = file(name);
    std::ofstream(p, std::ios::binary) << content;
    return p;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> read_lines(const std::string& path) {
    std::vector<std::string> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

child::child(const std::vector<std::string>& args) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    ::close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
    if (rc != 0) throw std::runtime_error("posix_spawn " + args[0] + " failed");
}

child::~child() {
    if (!exited_ && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status_, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
}

void child::pump(std::chrono::milliseconds timeout) {
    pollfd fds[2];
    int n = 0;
    if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
    if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
    if (n == 0) {
        std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(10)));
        return;
    }
    if (::poll(fds, static_cast<nfds_t>(n), static_cast<int>(timeout.count())) <= 0) return;
    for (int i = 0; i < n; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        char buf[4096];
        const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
        std::string& sink = fds[i].fd == out_fd_ ? out_ : err_;
        if (got > 0) {
            sink.append(buf, static_cast<std::size_t>(got));
        } else {
            int& fd = fds[i].fd == out_fd_ ? out_fd_ : err_fd_;
            ::close(fd);
            fd = -1;
        }
    }
}

bool child::wait_for_stdout(const std::string& text, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_.find(text) == std::string::npos) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left <= 0ms) return false;
        if (out_fd_ < 0 && err_fd_ < 0) return false;
        pump(std::min(left, std::chrono::milliseconds(100)));
    }
    return true;
}

void child::signal(int sig) {
    if (!exited_) ::kill(pid_, sig);
}

int child::wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!exited_) {
        if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
            exited_ = true;
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status_, 0);
            exited_ = true;
            return -1000;
        }
        pump(10ms);
    }
    // drain what is left
    while (out_fd_ >= 0 || err_fd_ >= 0) pump(100ms);
    if (WIFEXITED(status_)) return WEXITSTATUS(status_);
    if (WIFSIGNALED(status_)) return -WTERMSIG(status_);
    return -999;
}

result run_tern(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    std::vector<std::string> full{KT_TERN_BIN};
    full.insert(full.end(), args.begin(), args.end());
    child c(full);
    result r;
    r.status = c.wait(timeout);
    r.out = c.out();
    r.err = c.err();
    return r;
}

std::string http_raw(uint16_t port, const std::string& request, std::chrono::milliseconds timeout) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return {};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string response;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        std::size_t sent = 0;
        while (sent < request.size()) {
            const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) break;
            sent += static_cast<std::size_t>(n);
        }
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        char buf[4096];
        while (std::chrono::steady_clock::now() < deadline) {
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            response.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return response;
}

std::string http_get(uint16_t port, const std::string& path, std::chrono::milliseconds timeout) {
    return http_raw(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout);
}

log_capture::log_capture(tern::kernel::log_format f) : stream_(std::make_shared<std::ostringstream>()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*stream_);
    logs_ = std::make_unique<tern::kernel::logging>(f, sink);
    logs_->set_kernel_level(TERN_LOG_DEBUG);
}

}  // namespace kt
