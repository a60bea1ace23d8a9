// The connection (retrying connect, back-off reconnects, state events), core publish,
// request/reply over one wildcard inbox subscription with a bounded slot table, service
// subscriptions, the timeout sweeper and the worker thread.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include "link_impl.hpp"

namespace tern::nats_link {

const char* to_string(status s) {
  switch (s) {
    case status::ok: return "ok";
    case status::timeout: return "timeout";
    case status::unavailable: return "unavailable";
    case status::busy: return "busy";
    case status::not_found: return "not_found";
    case status::error: return "error";
    case status::refused: return "refused";
  }
  return "?";
}

const char* to_string(link_state s) {
  switch (s) {
    case link_state::connected: return "connected";
    case link_state::disconnected: return "disconnected";
    case link_state::reconnected: return "reconnected";
    case link_state::closed: return "closed";
  }
  return "?";
}

std::string redacted(std::string_view url) {
  const std::size_t scheme = url.find("://");
  const std::size_t from = scheme == std::string_view::npos ? 0 : scheme + 3;
  const std::size_t at = url.find('@', from);
  if (at == std::string_view::npos) return std::string(url);
  const std::size_t colon = url.find(':', from);
  std::string out(url.substr(0, from));
  if (colon != std::string_view::npos && colon < at) out.append(url.substr(from, colon - from)).append(":***");
  else out.append("***");  // a token alone
  out.append(url.substr(at));
  return out;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string nats_error(const char* what, natsStatus s, jsErrCode jerr) {
  std::string out = std::string("nats_link: ") + what + ": " + natsStatus_GetText(s);
  if (jerr != 0) out += " (JetStream error " + std::to_string(static_cast<int>(jerr)) + ")";
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0' && std::strcmp(last, natsStatus_GetText(s)) != 0)
    out += std::string(": ") + last;
  return out;
}

namespace {

// Copies a subject into a NUL-terminated stack buffer; false when it does not fit or is empty.
template <size_t N>
bool c_subject(std::string_view in, char (&out)[N]) {
  if (in.empty() || in.size() >= N) return false;
  std::memcpy(out, in.data(), in.size());
  out[in.size()] = '\0';
  return true;
}

link_impl* self(void* closure) { return static_cast<link_impl*>(closure); }

void on_connected_cb(natsConnection*, void* c) { self(c)->on_state(link_state::connected); }
void on_disconnected_cb(natsConnection*, void* c) { self(c)->on_state(link_state::disconnected); }
void on_reconnected_cb(natsConnection*, void* c) { self(c)->on_state(link_state::reconnected); }
void on_closed_cb(natsConnection* nc, void* c) {
  // Closed while the owner did not ask for it: the server refused us for good (nats.c gives up
  // on an authorization error), and nothing will reconnect. Say why, so the operator can act.
  const char* why = nullptr;
  if (nc != nullptr && natsConnection_GetLastError(nc, &why) != NATS_OK && why != nullptr && *why != '\0' &&
      !self(c)->stopping())
    self(c)->log(std::string("nats_link: error: the connection is closed and will not be retried: ") + why +
                 " (check the user and password in the server URL; restart after fixing them)");
  self(c)->on_state(link_state::closed);
}
int64_t reconnect_delay_cb(natsConnection*, int attempts, void* c) {
  return self(c)->reconnect_delay(attempts);
}
void on_inbox_cb(natsConnection*, natsSubscription*, natsMsg* msg, void* c) { self(c)->on_reply(msg); }
void on_async_error_cb(natsConnection*, natsSubscription*, natsStatus s, void* c) {
  self(c)->log(nats_error("asynchronous error", s));
}

void on_sub_msg_cb(natsConnection*, natsSubscription*, natsMsg* msg, void* c) {
  auto* e = static_cast<subscription_entry*>(c);
  const char* reply = natsMsg_GetReply(msg);
  message m{natsMsg_GetSubject(msg),
            std::string_view(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))),
            reply != nullptr ? std::string_view(reply) : std::string_view()};
  if (!e->owner->stopping_.load(std::memory_order_relaxed)) e->handler(m);
  natsMsg_Destroy(msg);
}

void on_sub_complete_cb(void* c) {
  auto* owner = static_cast<link_impl*>(c);
  std::lock_guard lk(owner->done_mu_);
  --owner->live_subs_;
  owner->done_cv_.notify_all();
}

}  // namespace

std::unique_ptr<link> link::open(const link_settings& s, state_fn on_state, std::string& error) {
  if (s.servers.empty()) { error = "nats_link: no servers configured"; return nullptr; }
  if (s.max_pending_publishes == 0 || s.max_requests_in_flight == 0 || s.max_queued_jobs == 0 ||
      s.request_timeout_ms == 0 || s.publish_ack_timeout_ms == 0 || s.reconnect_wait_ms == 0 ||
      s.reconnect_wait_max_ms < s.reconnect_wait_ms || s.subscription_pending_msgs == 0) {
    error = "nats_link: every bound must be > 0 and reconnect_wait_max_ms >= reconnect_wait_ms";
    return nullptr;
  }
  auto l = std::make_unique<link_impl>(s, std::move(on_state));
  if (!l->start(error)) return nullptr;
  return l;
}

link_impl::link_impl(const link_settings& s, state_fn on_state)
    : settings_(s), state_cb_(std::move(on_state)) {
  slots_.resize(s.max_requests_in_flight);
  free_slots_.reserve(s.max_requests_in_flight);
  for (uint32_t i = s.max_requests_in_flight; i > 0; --i) free_slots_.push_back(i - 1);
}

void link_impl::log(const std::string& line) const {
  if (settings_.log) settings_.log(line);
  else std::fprintf(stderr, "%s\n", line.c_str());
}

int64_t link_impl::reconnect_delay(int attempts) const {
  int64_t d = settings_.reconnect_wait_ms;
  for (int i = 1; i < attempts && d < settings_.reconnect_wait_max_ms; ++i) d *= 2;
  if (d > settings_.reconnect_wait_max_ms) d = settings_.reconnect_wait_max_ms;
  thread_local std::minstd_rand rng{std::random_device{}()};
  return d + static_cast<int64_t>(rng() % static_cast<uint32_t>(d / 10 + 1));
}

void link_impl::on_state(link_state st) {
  switch (st) {
    case link_state::connected: m_.connected = 1; break;
    case link_state::reconnected: m_.connected = 1; ++m_.reconnects; break;
    case link_state::disconnected: m_.connected = 0; ++m_.disconnects; break;
    case link_state::closed: m_.connected = 0; break;
  }
  if (!stopping_) {
    log(std::string("nats_link: ") + to_string(st));
    if (state_cb_) state_cb_(st);
  }
  if (st == link_state::closed) {
    // The destructor waits for this: nothing after it may touch the link.
    std::lock_guard lk(done_mu_);
    closed_ = true;
    done_cv_.notify_all();
  }
}

bool link_impl::start(std::string& error) {
  natsOptions* raw = nullptr;
  if (natsOptions_Create(&raw) != NATS_OK) { error = "nats_link: cannot create options"; return false; }
  std::unique_ptr<natsOptions, options_deleter> opts(raw);
  std::vector<const char*> urls;
  for (const auto& u : settings_.servers) urls.push_back(u.c_str());
  natsStatus s = natsOptions_SetServers(raw, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetName(raw, settings_.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(raw, settings_.connect_timeout_ms);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(raw, -1);
  if (s == NATS_OK) s = natsOptions_SetCustomReconnectDelay(raw, reconnect_delay_cb, this);
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(raw, true, on_connected_cb, this);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(raw, on_disconnected_cb, this);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(raw, on_reconnected_cb, this);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(raw, on_closed_cb, this);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(raw, on_async_error_cb, this);
  if (s == NATS_OK) s = natsOptions_SetPingInterval(raw, 5000);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(raw, 2);
  if (s != NATS_OK) { error = nats_error("bad connection settings (servers?)", s); return false; }

  s = natsConnection_Connect(&conn_, raw);
  if (s == NATS_OK) on_state(link_state::connected);
  else if (s != NATS_NOT_YET_CONNECTED) { error = nats_error("connect", s); return false; }

  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = settings_.request_timeout_ms;
  jo.PublishAsync.MaxPending = settings_.max_pending_publishes + 16;
  jo.PublishAsync.StallWait = 1;
  jo.PublishAsync.AckHandler = [](jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* c) {
    self(c)->on_publish_ack(msg, pa, pae);
  };
  jo.PublishAsync.AckHandlerClosure = this;
  s = natsConnection_JetStream(&js_, conn_, &jo);
  if (s != NATS_OK) { error = nats_error("JetStream context", s); return false; }

  natsInbox* inbox = nullptr;
  s = natsInbox_Create(&inbox);
  if (s != NATS_OK) { error = nats_error("inbox", s); return false; }
  inbox_ = inbox;
  natsInbox_Destroy(inbox);
  const std::string wildcard = inbox_ + ".*.*";
  s = natsConnection_Subscribe(&inbox_sub_, conn_, wildcard.c_str(), on_inbox_cb, this);
  if (s == NATS_OK) s = natsSubscription_SetPendingLimits(inbox_sub_, settings_.subscription_pending_msgs, -1);
  if (s == NATS_OK) s = natsSubscription_SetOnCompleteCB(inbox_sub_, on_sub_complete_cb, this);
  if (s != NATS_OK) { error = nats_error("reply inbox subscription", s); return false; }
  {
    std::lock_guard lk(done_mu_);
    ++live_subs_;
  }

  sweeper_ = std::thread([this] { sweep_loop(); });
  worker_ = std::thread([this] { worker_loop(); });
  return true;
}

link_impl::~link_impl() {
  stopping_ = true;
  sweep_cv_.notify_all();
  {
    std::lock_guard lk(job_mu_);  // so that the worker cannot miss the wake-up
  }
  job_cv_.notify_all();
  // The worker first: a consume job still running may add a consumer thread.
  if (worker_.joinable()) worker_.join();
  for (auto& c : consumers_)
    if (c->thread.joinable()) c->thread.join();
  if (sweeper_.joinable()) sweeper_.join();
  if (conn_ != nullptr) {
    natsConnection_Close(conn_);
    std::unique_lock lk(done_mu_);
    done_cv_.wait_for(lk, std::chrono::seconds(2), [&] { return closed_ && live_subs_ == 0; });
  }
  fail_all_pending();
  for (auto& c : consumers_) natsSubscription_Destroy(c->sub);
  for (auto& e : subs_) natsSubscription_Destroy(e->sub);
  if (inbox_sub_ != nullptr) natsSubscription_Destroy(inbox_sub_);
  for (auto& [name, kv] : kv_) kvStore_Destroy(kv);
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (conn_ != nullptr) natsConnection_Destroy(conn_);
}

void link_impl::fail_all_pending() {
  std::vector<request_fn> reqs;
  {
    std::lock_guard lk(req_mu_);
    for (auto& sl : slots_)
      if (sl.busy) { sl.busy = false; reqs.push_back(std::move(sl.cb)); }
  }
  for (auto& cb : reqs) cb(status::unavailable, {});
  std::unordered_map<natsMsg*, publish_fn> pubs;
  {
    std::lock_guard lk(pub_mu_);
    pubs.swap(pending_pub_);
  }
  for (auto& [msg, cb] : pubs) cb(status::unavailable, 0);
}

bool link_impl::connected() const {
  return natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
}

link_metrics link_impl::metrics() const {
  link_metrics out;
  out.connected = connected() ? 1 : 0;
  out.reconnects = m_.reconnects;
  out.disconnects = m_.disconnects;
  out.pending_publishes = m_.pending_publishes;
  out.requests_in_flight = m_.requests_in_flight;
  out.last_rtt_us = m_.last_rtt_us;
  out.timeouts = m_.timeouts;
  out.publishes_acked = m_.publishes_acked;
  out.publish_errors = m_.publish_errors;
  out.rejected_busy = m_.rejected_busy;
  out.rejected_unavailable = m_.rejected_unavailable;
  out.queued_jobs = m_.queued_jobs;
  std::lock_guard lk(sub_mu_);
  int64_t dropped = 0;
  for (const auto& e : subs_)
    if (natsSubscription_GetDropped(e->sub, &dropped) == NATS_OK) out.dropped_messages += dropped;
  return out;
}

uint64_t link_impl::max_payload() const {
  const int64_t n = natsConnection_GetMaxPayload(conn_);
  return n > 0 ? static_cast<uint64_t>(n) : 0;
}

status link_impl::publish(std::string_view subject, std::string_view payload) {
  char subj[512];
  if (!c_subject(subject, subj)) return status::error;
  if (!connected()) { ++m_.rejected_unavailable; return status::unavailable; }
  natsStatus s = natsConnection_Publish(conn_, subj, payload.data(), static_cast<int>(payload.size()));
  if (s == NATS_MAX_PAYLOAD) { log(nats_error("publish", s)); return status::error; }
  return s == NATS_OK ? status::ok : status::unavailable;
}

void link_impl::request(std::string_view subject, std::string_view payload, uint32_t timeout_ms,
                        request_fn cb) {
  char subj[512];
  if (!c_subject(subject, subj)) { cb(status::error, {}); return; }
  if (stopping_ || !connected()) { ++m_.rejected_unavailable; cb(status::unavailable, {}); return; }
  uint32_t idx = 0, gen = 0;
  {
    std::lock_guard lk(req_mu_);
    if (free_slots_.empty()) {
      ++m_.rejected_busy;
      // cb runs outside the lock below.
      idx = UINT32_MAX;
    } else {
      idx = free_slots_.back();
      free_slots_.pop_back();
      request_slot& sl = slots_[idx];
      sl.busy = true;
      gen = ++sl.gen;
      sl.deadline_ms = now_ms() + (timeout_ms != 0 ? timeout_ms : settings_.request_timeout_ms);
      sl.cb = std::move(cb);
      ++m_.requests_in_flight;
    }
  }
  if (idx == UINT32_MAX) { cb(status::busy, {}); return; }
  char reply[160];
  std::snprintf(reply, sizeof reply, "%s.%u.%u", inbox_.c_str(), idx, gen);
  natsStatus s = natsConnection_PublishRequest(conn_, subj, reply, payload.data(),
                                               static_cast<int>(payload.size()));
  if (s == NATS_MAX_PAYLOAD) log(nats_error("request", s));
  if (s != NATS_OK) complete_request(idx, gen, s == NATS_MAX_PAYLOAD ? status::error : status::unavailable, {});
}

bool link_impl::complete_request(uint32_t idx, uint32_t gen, status st, std::string_view reply) {
  request_fn cb;
  {
    std::lock_guard lk(req_mu_);
    if (idx >= slots_.size()) return false;
    request_slot& sl = slots_[idx];
    if (!sl.busy || sl.gen != gen) return false;  // already timed out, or a stale reply
    sl.busy = false;
    cb = std::move(sl.cb);
    sl.cb = nullptr;
    free_slots_.push_back(idx);
    --m_.requests_in_flight;
  }
  if (st == status::timeout) ++m_.timeouts;
  cb(st, reply);
  return true;
}

void link_impl::on_reply(natsMsg* msg) {
  const char* subj = natsMsg_GetSubject(msg);
  unsigned idx = 0, gen = 0;
  const size_t n = inbox_.size();
  if (std::strncmp(subj, inbox_.c_str(), n) == 0 &&
      std::sscanf(subj + n, ".%u.%u", &idx, &gen) == 2) {
    if (natsMsg_IsNoResponders(msg)) {
      complete_request(idx, gen, status::unavailable, {});
    } else {
      complete_request(idx, gen, status::ok,
                       std::string_view(natsMsg_GetData(msg),
                                        static_cast<size_t>(natsMsg_GetDataLength(msg))));
    }
  }
  natsMsg_Destroy(msg);
}

void link_impl::sweep_loop() {
  int64_t next_rtt = now_ms();
  std::unique_lock lk(req_mu_);
  while (!stopping_) {
    sweep_cv_.wait_for(lk, std::chrono::milliseconds(10));
    const int64_t now = now_ms();
    std::vector<std::pair<uint32_t, uint32_t>> expired;
    for (uint32_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].busy && slots_[i].deadline_ms <= now) expired.emplace_back(i, slots_[i].gen);
    if (!expired.empty()) {
      lk.unlock();
      for (auto [i, g] : expired) complete_request(i, g, status::timeout, {});
      lk.lock();
    }
    if (now >= next_rtt && settings_.rtt_interval_ms != 0) {
      next_rtt = now + settings_.rtt_interval_ms;
      lk.unlock();
      sample_rtt();
      lk.lock();
    }
  }
}

void link_impl::sample_rtt() {
  {
    std::lock_guard jl(job_mu_);
    if (rtt_queued_) return;
    rtt_queued_ = true;
  }
  // The round trip waits for a PONG, so it runs on the worker, never on the sweeper.
  const bool queued = enqueue([this] {
    {
      std::lock_guard jl(job_mu_);
      rtt_queued_ = false;
    }
    if (stopping_ || !connected()) return;
    int64_t rtt_ns = 0;
    if (natsConnection_GetRTT(conn_, &rtt_ns) == NATS_OK) m_.last_rtt_us = static_cast<uint64_t>(rtt_ns / 1000);
  });
  if (!queued) {
    std::lock_guard jl(job_mu_);
    rtt_queued_ = false;
  }
}

status link_impl::subscribe(std::string_view subject, std::string_view queue_group,
                            message_fn handler) {
  char subj[512], queue[256];
  if (!c_subject(subject, subj)) return status::error;
  const bool grouped = !queue_group.empty();
  if (grouped && !c_subject(queue_group, queue)) return status::error;
  if (stopping_) return status::unavailable;
  auto e = std::make_unique<subscription_entry>();
  e->owner = this;
  e->handler = std::move(handler);
  natsStatus s = grouped
                     ? natsConnection_QueueSubscribe(&e->sub, conn_, subj, queue, on_sub_msg_cb, e.get())
                     : natsConnection_Subscribe(&e->sub, conn_, subj, on_sub_msg_cb, e.get());
  if (s != NATS_OK) { log(nats_error("subscribe", s)); return status::error; }
  natsSubscription_SetPendingLimits(e->sub, settings_.subscription_pending_msgs, -1);
  if (natsSubscription_SetOnCompleteCB(e->sub, on_sub_complete_cb, this) == NATS_OK) {
    std::lock_guard lk(done_mu_);
    ++live_subs_;
  }
  std::lock_guard lk(sub_mu_);
  subs_.push_back(std::move(e));
  return status::ok;
}

bool link_impl::enqueue(std::function<void()> job) {
  std::lock_guard lk(job_mu_);
  if (stopping_ || jobs_.size() >= settings_.max_queued_jobs) { ++m_.rejected_busy; return false; }
  jobs_.push_back(std::move(job));
  m_.queued_jobs = jobs_.size();
  job_cv_.notify_one();
  return true;
}

void link_impl::worker_loop() {
  std::unique_lock lk(job_mu_);
  for (;;) {
    job_cv_.wait(lk, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping and drained
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    m_.queued_jobs = jobs_.size();
    lk.unlock();
    job();  // a job sees stopping_ and fails fast
    lk.lock();
  }
}

}  // namespace tern::nats_link
