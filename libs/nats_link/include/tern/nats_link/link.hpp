// tern::nats_link: a small asynchronous C++ client over nats.c (core NATS + JetStream) for
// the plugins that connect Tern nodes through a NATS server.
//
// Threading rule: no call here waits for the network. Every operation either returns at once
// (publish, request, publish_durable, subscribe, kv_put once its bucket is known) or is queued
// to the link's worker thread (ensure_stream, consume, kv_get, a bucket's first kv_put). Completion callbacks and handlers run on a nats.c
// or link thread, never on the caller's; a shard reactor posts what it receives to itself and
// must not block inside a callback. Callbacks may call back into the link.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct __natsMsg;

namespace tern::nats_link {

enum class status : uint8_t {
  ok,
  timeout,      // no answer / acknowledgement within the bound
  unavailable,  // not connected to a server (or nobody serves the subject)
  busy,         // a bound (in-flight requests, pending publishes, queued jobs) is reached
  not_found,    // kv_get: no such key
  error,        // anything else (a bad subject, a payload past the server's max_payload);
                // the link's log callback says what
  refused,      // publish_durable: JetStream will not store it (no stream for the subject,
                // a full stream that discards new messages, ...); the log line says which
};
const char* to_string(status s);

enum class link_state : uint8_t { connected, disconnected, reconnected, closed };
const char* to_string(link_state s);

// A server URL fit for a log line: the password of "nats://user:password@host:port" (or a lone
// token, "nats://token@host") replaced by "***". Anything else comes back unchanged.
std::string redacted(std::string_view url);

struct link_settings {
  std::vector<std::string> servers{"nats://127.0.0.1:4222"};
  std::string name = "tern";
  uint32_t connect_timeout_ms = 2000;
  uint32_t reconnect_wait_ms = 100;       // first retry delay; doubles per attempt ...
  uint32_t reconnect_wait_max_ms = 5000;  // ... up to this cap (plus up to 10% jitter)
  uint32_t request_timeout_ms = 2000;     // default for request() and the JetStream API calls
  uint32_t publish_ack_timeout_ms = 5000; // publish_durable: wait for the JetStream ack
  uint32_t max_pending_publishes = 4096;  // publish_durable not yet acknowledged
  uint32_t max_requests_in_flight = 1024; // request() not yet answered
  uint32_t max_queued_jobs = 256;         // worker jobs (streams, consumers, kv)
  uint32_t subscription_pending_msgs = 65536;  // per subscription, before nats.c drops
  uint32_t rtt_interval_ms = 1000;        // how often the round trip is sampled
  // Log lines (errors, state changes); runs on any thread. Empty: stderr.
  std::function<void(std::string_view)> log;
};

// Plain numbers for the owner to export as metrics.
struct link_metrics {
  uint64_t connected = 0;  // 0/1
  uint64_t reconnects = 0;
  uint64_t disconnects = 0;
  uint64_t pending_publishes = 0;
  uint64_t requests_in_flight = 0;
  uint64_t last_rtt_us = 0;
  uint64_t timeouts = 0;         // requests + durable publishes that timed out
  uint64_t publishes_acked = 0;
  uint64_t publish_errors = 0;   // JetStream refused or failed a durable publish
  uint64_t rejected_busy = 0;
  uint64_t rejected_unavailable = 0;
  uint64_t queued_jobs = 0;
  uint64_t dropped_messages = 0; // nats.c slow-consumer drops on our subscriptions
};

// A message delivered to a subscribe() handler. Views are valid during the handler only.
struct message {
  std::string_view subject;
  std::string_view data;
  std::string_view reply;  // empty when the sender expects no answer
};

// One message from a durable pull consumer. Exactly one of ack()/nak() counts; a delivery
// dropped without either is redelivered by JetStream after the consumer's ack wait.
// Movable, may be acked from any thread.
class delivery {
public:
  delivery() = default;
  explicit delivery(__natsMsg* msg);
  delivery(delivery&& o) noexcept;
  delivery& operator=(delivery&& o) noexcept;
  delivery(const delivery&) = delete;
  delivery& operator=(const delivery&) = delete;
  ~delivery();

  std::string_view subject() const;
  std::string_view data() const;
  uint64_t stream_seq() const { return stream_seq_; }
  uint64_t delivered() const { return delivered_; }  // 1 on first delivery
  status ack();
  status nak(uint32_t delay_ms = 0);

private:
  __natsMsg* msg_ = nullptr;
  uint64_t stream_seq_ = 0;
  uint64_t delivered_ = 0;
};

struct stream_settings {
  std::string name;
  std::vector<std::string> subjects;
  int64_t max_bytes = -1;  // -1: unlimited
  int64_t max_msgs = -1;   // -1: unlimited
  uint32_t duplicate_window_ms = 120000;
  bool memory = false;     // file storage unless set
  // Retention WorkQueue: a message is deleted once a consumer acked it (else Limits: kept
  // until a limit removes it). The server does not change the retention of an existing stream.
  bool work_queue = false;
  // Discard New: a full stream (max_bytes / max_msgs) refuses new messages, and
  // publish_durable completes `refused` (else Old: the oldest messages make room).
  bool discard_new = false;
};

struct consumer_settings {
  std::string stream;
  std::string durable;
  std::string filter;          // empty: every subject of the stream
  uint32_t batch = 64;         // messages per fetch
  uint32_t fetch_wait_ms = 500;
  uint32_t ack_wait_ms = 30000;  // unacked deliveries come back after this
  uint32_t max_ack_pending = 1024;
};

class link {
public:
  using state_fn = std::function<void(link_state)>;
  using request_fn = std::function<void(status, std::string_view reply)>;
  using publish_fn = std::function<void(status, uint64_t stream_seq)>;
  using done_fn = std::function<void(status)>;
  using message_fn = std::function<void(const message&)>;
  using delivery_fn = std::function<void(delivery&&)>;
  using kv_get_fn = std::function<void(status, std::string_view value)>;

  // Starts connecting and returns at once, also when no server is up yet (it keeps retrying,
  // and reconnects by itself later). nullptr + error text on bad settings.
  static std::unique_ptr<link> open(const link_settings& settings, state_fn on_state,
                                    std::string& error);
  virtual ~link() = default;

  virtual bool connected() const = 0;
  virtual link_metrics metrics() const = 0;
  // The largest payload the connected server accepts (its max_payload); 0 before the first
  // connection. A publish or request above it fails with `error`.
  virtual uint64_t max_payload() const = 0;

  // Core publish, fire and forget (no delivery guarantee).
  virtual status publish(std::string_view subject, std::string_view payload) = 0;
  // Request/reply; cb runs exactly once (answer, timeout, or failure). timeout_ms 0: default.
  virtual void request(std::string_view subject, std::string_view payload, uint32_t timeout_ms,
                       request_fn cb) = 0;
  // JetStream publish; cb(ok, seq) only once the stream stored it. msg_id goes into the
  // Nats-Msg-Id header so a retried publish is stored once within the duplicate window.
  // Failures: unavailable (not connected), busy (max_pending_publishes), timeout (no ack
  // within publish_ack_timeout_ms: stored or not, unknown; retry with the same msg_id),
  // refused (JetStream answered that it will not store it), error (bad subject, too large).
  virtual void publish_durable(std::string_view subject, std::string_view payload,
                               std::string_view msg_id, publish_fn cb) = 0;
  // Services: handler per message; a queue group shares the messages among its members.
  virtual status subscribe(std::string_view subject, std::string_view queue_group,
                           message_fn handler) = 0;

  // Worker-thread operations, except kv_put once the worker has found its bucket: then it is a
  // durable publish to "$KV.<bucket>.<key>" (statuses as publish_durable's; key
  // [-/_=.a-zA-Z0-9]+). The kv calls create the bucket (history 1) when it is missing.
  // Every kv_put is also a plain message on "$KV.<bucket>.<key>": subscribe("$KV.<bucket>.>",
  // "", h) sees each put live (the key is the subject after "$KV.<bucket>.", the value the
  // data), with no need for the bucket to exist when subscribing.
  virtual void ensure_stream(const stream_settings& s, done_fn cb) = 0;
  virtual void consume(const consumer_settings& c, delivery_fn handler, done_fn cb) = 0;
  virtual void kv_put(std::string_view bucket, std::string_view key, std::string_view value,
                      done_fn cb) = 0;
  virtual void kv_get(std::string_view bucket, std::string_view key, kv_get_fn cb) = 0;
};

}  // namespace tern::nats_link
