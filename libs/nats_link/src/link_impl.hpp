// The link's internals, shared by link.cpp (connection, core publish, request/reply,
// subscriptions, worker) and jetstream.cpp (durable publish, streams, consumers, kv).
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tern/nats_link/link.hpp"

namespace tern::nats_link {

struct options_deleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};

// A request in flight: its slot is addressed by the reply subject "<inbox>.<slot>.<gen>".
struct request_slot {
  uint32_t gen = 0;
  bool busy = false;
  int64_t deadline_ms = 0;
  link::request_fn cb;
};

struct subscription_entry {
  class link_impl* owner = nullptr;
  link::message_fn handler;
  natsSubscription* sub = nullptr;
};

struct consumer_entry {
  class link_impl* owner = nullptr;
  consumer_settings settings;
  link::delivery_fn handler;
  natsSubscription* sub = nullptr;
  std::thread thread;
};

class link_impl final : public link {
public:
  link_impl(const link_settings& s, state_fn on_state);
  ~link_impl() override;
  bool start(std::string& error);

  bool connected() const override;
  link_metrics metrics() const override;
  uint64_t max_payload() const override;
  status publish(std::string_view subject, std::string_view payload) override;
  void request(std::string_view subject, std::string_view payload, uint32_t timeout_ms,
               request_fn cb) override;
  void publish_durable(std::string_view subject, std::string_view payload,
                       std::string_view msg_id, publish_fn cb) override;
  status subscribe(std::string_view subject, std::string_view queue_group,
                   message_fn handler) override;
  void ensure_stream(const stream_settings& s, done_fn cb) override;
  void consume(const consumer_settings& c, delivery_fn handler, done_fn cb) override;
  void kv_put(std::string_view bucket, std::string_view key, std::string_view value,
              done_fn cb) override;
  void kv_get(std::string_view bucket, std::string_view key, kv_get_fn cb) override;

  void log(const std::string& line) const;
  bool stopping() const { return stopping_.load(); }
  void on_state(link_state st);
  void on_reply(natsMsg* msg);
  void on_publish_ack(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae);
  void consumer_loop(consumer_entry* c);
  int64_t reconnect_delay(int attempts) const;
  bool complete_request(uint32_t idx, uint32_t gen, status st, std::string_view reply);
  void sweep_loop();
  void sample_rtt();
  void fail_all_pending();

  // Shutdown: the closed event and the end of every async subscription thread.
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  bool closed_ = false;
  int live_subs_ = 0;

  link_settings settings_;
  state_fn state_cb_;
  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
  std::string inbox_;
  natsSubscription* inbox_sub_ = nullptr;
  std::atomic<bool> stopping_{false};

  // Requests in flight.
  std::mutex req_mu_;
  std::vector<request_slot> slots_;
  std::vector<uint32_t> free_slots_;
  std::thread sweeper_;
  std::condition_variable sweep_cv_;

  // Durable publishes waiting for their JetStream ack, keyed by the message nats.c holds.
  std::mutex pub_mu_;
  std::unordered_map<natsMsg*, publish_fn> pending_pub_;

  // Worker: bounded queue of blocking JetStream API calls.
  bool enqueue(std::function<void()> job);
  void worker_loop();
  std::mutex job_mu_;
  std::condition_variable job_cv_;
  std::deque<std::function<void()>> jobs_;
  std::thread worker_;
  bool rtt_queued_ = false;

  // Worker-thread-only state.
  std::map<std::string, kvStore*, std::less<>> kv_;
  kvStore* bucket(std::string_view name, status& st);

  // Buckets known to exist: a kv_put to one of them is a durable publish to
  // "$KV.<bucket>.<key>" straight from the caller's thread, without the worker.
  std::mutex kv_mu_;
  std::set<std::string, std::less<>> kv_ready_;
  bool kv_known(std::string_view name);
  void kv_forget(std::string_view name);
  void kv_publish(const std::string& bucket, std::string_view key, std::string_view value, done_fn cb);

  mutable std::mutex sub_mu_;
  std::vector<std::unique_ptr<subscription_entry>> subs_;
  std::vector<std::unique_ptr<consumer_entry>> consumers_;

  struct counters {
    std::atomic<uint64_t> connected{0}, reconnects{0}, disconnects{0}, pending_publishes{0},
        requests_in_flight{0}, last_rtt_us{0}, timeouts{0}, publishes_acked{0},
        publish_errors{0}, rejected_busy{0}, rejected_unavailable{0}, queued_jobs{0};
  };
  mutable counters m_;
};

int64_t now_ms();
std::string nats_error(const char* what, natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0));

}  // namespace tern::nats_link
