// What the NATS tests share besides the server (nats_server.hpp): the skip when nats-server is
// not installed, bounded waits, a test link, and a responder (a stub core node) that serves
// subjects. Used by nats_link's own tests and by the scale-out plugins' tests (their CMake puts
// this directory on the include path).
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "nats_server.hpp"
#include "tern/nats_link/link.hpp"

// Returns from the test (with a warning) where nats-server is not installed.
#define NATS_OR_SKIP()                                                     \
  if (!::tern::nats_link::test::nats_server::available()) {                \
    WARN("SKIP: nats-server is not installed (tools/dev.sh installs it)"); \
    return;                                                                \
  }

namespace tern::nats_link::test {

// Polls p every 5 ms until it holds (true) or bound has passed (false).
template <class Pred>
bool wait_until(Pred p, std::chrono::milliseconds bound) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (!p()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Runs op with a completion that takes a T, and returns the T it was given; the test fails if
// it was not called within bound. (The promise is shared, so a late call after a failed wait
// does not touch a dead stack frame.)
template <class T, class Op>
T wait_result(Op&& op, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
  auto p = std::make_shared<std::promise<T>>();
  auto f = p->get_future();
  op([p](T v) { p->set_value(std::move(v)); });
  REQUIRE(f.wait_for(bound) == std::future_status::ready);
  return f.get();
}

// The status a done_fn completion was given (see wait_result).
inline status wait_done(const std::function<void(link::done_fn)>& op) {
  return wait_result<status>([&](std::function<void(status)> set) { op(std::move(set)); });
}

// Settings of a test link to srv: quick reconnects, no log.
inline link_settings test_link_settings(const nats_server& srv, std::string name) {
  link_settings s;
  s.servers = {srv.url()};
  s.name = std::move(name);
  s.reconnect_wait_ms = 50;
  s.reconnect_wait_max_ms = 200;
  s.log = [](std::string_view) {};
  return s;
}

// Opens a link and returns it once connected (the test fails after 5 s).
inline std::unique_ptr<link> open_test_link(const link_settings& s, link::state_fn on_state = {}) {
  std::string err;
  auto l = link::open(s, std::move(on_state), err);
  INFO(err);
  REQUIRE(l);
  REQUIRE(wait_until([&] { return l->connected(); }, std::chrono::seconds(5)));
  return l;
}
inline std::unique_ptr<link> open_test_link(const nats_server& srv, std::string name) {
  return open_test_link(test_link_settings(srv, std::move(name)));
}

// A stub core node (or any service) on a link of its own. serve() answers a subject with a
// handler (request bytes -> reply bytes, or nullopt to stay silent), one handler at a time
// under mu, and counts the calls. A class that adds members its handlers use calls close()
// first in its destructor, so that no handler runs on members already destroyed.
class responder {
public:
  using handler = std::function<std::optional<std::string>(std::string_view request)>;

  explicit responder(const nats_server& srv, std::string name = "test-core")
      : link_(open_test_link(srv, std::move(name))) {
    nats_link::link* l = link_.get();
    REQUIRE(link_->subscribe(probe_, "", [l](const message& m) {
      if (!m.reply.empty()) l->publish(m.reply, "");
    }) == status::ok);
  }
  ~responder() { close(); }
  responder(const responder&) = delete;
  responder& operator=(const responder&) = delete;

  // Closes the link: no handler runs after it returns.
  void close() { link_.reset(); }

  // Returns once the server has every subscription made so far on this link: a request sent
  // after them on the same connection came back. (A subscription on one connection is not
  // ordered with a publish from another, so without it a node's first request to a subject
  // just served may meet "no responders".)
  void sync() {
    const status st = wait_result<status>([&](std::function<void(status)> set) {
      link_->request(probe_, "", 5000, [set](status s, std::string_view) { set(s); });
    });
    REQUIRE(st == status::ok);
  }

  nats_link::link& link() { return *link_; }

  // Serves subject in queue group queue with h, then sync()s.
  void serve(const std::string& subject, const std::string& queue, handler h) {
    auto shared = std::make_shared<handler>(std::move(h));
    nats_link::link* l = link_.get();
    std::atomic<uint64_t>* calls = &calls_[subject];
    REQUIRE(link_->subscribe(subject, queue, [this, l, shared, calls](const message& m) {
      calls->fetch_add(1);
      std::optional<std::string> reply;
      {
        std::lock_guard lk(mu);
        reply = (*shared)(m.data);
      }
      if (reply && !m.reply.empty()) l->publish(m.reply, *reply);
    }) == status::ok);
    sync();
  }
  // How many requests the handler of subject was called for.
  uint64_t calls(const std::string& subject) { return calls_[subject].load(); }

  std::mutex mu;  // handlers run under it

private:
  const std::string probe_ = "test-responder.probe." + std::to_string(reinterpret_cast<uintptr_t>(this));
  std::map<std::string, std::atomic<uint64_t>> calls_;
  std::unique_ptr<nats_link::link> link_;
};

}  // namespace tern::nats_link::test
