// JetStream: durable publish (js_PublishMsgAsync, completed by the context's ack handler),
// streams, durable pull consumers with explicit acks, and key-value buckets.
#include <chrono>
#include <cstring>

#include "link_impl.hpp"

namespace tern::nats_link {

namespace {

constexpr int64_t ns_per_ms = 1000000;

template <size_t N>
bool c_string(std::string_view in, char (&out)[N]) {
  if (in.empty() || in.size() >= N) return false;
  std::memcpy(out, in.data(), in.size());
  out[in.size()] = '\0';
  return true;
}

}  // namespace

// The async API fits: nats.c matches each ack to its message and times out an unanswered one
// after jsPubOptions.MaxWait, handing us the original natsMsg, which keys our callback table.
void link_impl::publish_durable(std::string_view subject, std::string_view payload,
                                std::string_view msg_id, publish_fn cb) {
  char subj[512], id[256];
  if (!c_string(subject, subj) || (!msg_id.empty() && !c_string(msg_id, id))) {
    cb(status::error, 0);
    return;
  }
  if (stopping_ || !connected()) { ++m_.rejected_unavailable; cb(status::unavailable, 0); return; }
  if (m_.pending_publishes.fetch_add(1) >= settings_.max_pending_publishes) {
    --m_.pending_publishes;
    ++m_.rejected_busy;
    cb(status::busy, 0);
    return;
  }
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subj, nullptr, payload.data(), static_cast<int>(payload.size()));
  if (s != NATS_OK) {
    --m_.pending_publishes;
    cb(status::error, 0);
    return;
  }
  natsMsg* key = msg;
  {
    std::lock_guard lk(pub_mu_);
    pending_pub_.emplace(key, std::move(cb));
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = settings_.publish_ack_timeout_ms;
  if (!msg_id.empty()) po.MsgId = id;
  s = js_PublishMsgAsync(js_, &msg, &po);
  if (s == NATS_OK) return;  // nats.c owns msg now; on_publish_ack completes it
  publish_fn failed;
  {
    std::lock_guard lk(pub_mu_);
    auto it = pending_pub_.find(key);
    if (it != pending_pub_.end()) {
      failed = std::move(it->second);
      pending_pub_.erase(it);
    }
  }
  natsMsg_Destroy(msg);
  --m_.pending_publishes;
  if (!failed) return;
  if (s == NATS_MAX_PAYLOAD) {
    ++m_.publish_errors;
    log(nats_error("durable publish", s));
    failed(status::error, 0);
  } else if (s == NATS_TIMEOUT) {  // nats.c's own pending bound stalled
    ++m_.rejected_busy;
    failed(status::busy, 0);
  } else {
    ++m_.rejected_unavailable;
    failed(status::unavailable, 0);
  }
}

void link_impl::on_publish_ack(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae) {
  publish_fn cb;
  {
    std::lock_guard lk(pub_mu_);
    auto it = pending_pub_.find(msg);
    if (it != pending_pub_.end()) {
      cb = std::move(it->second);
      pending_pub_.erase(it);
    }
  }
  const std::string subject = pa == nullptr && natsMsg_GetSubject(msg) != nullptr ? natsMsg_GetSubject(msg) : "";
  natsMsg_Destroy(msg);
  if (!cb) return;  // already failed at shutdown
  --m_.pending_publishes;
  if (pa != nullptr) {
    ++m_.publishes_acked;
    cb(status::ok, pa->Sequence);
    return;
  }
  // nats.c hands over the outcome as Err: NATS_TIMEOUT (no ack within MaxWait),
  // NATS_NO_RESPONDERS (no stream listens on the subject: the server's 503 notice), or an
  // error JetStream itself answered (ErrCode set, ErrText its description, e.g. "maximum
  // messages exceeded" from a full discard-new stream).
  const natsStatus err = pae != nullptr ? pae->Err : NATS_ERR;
  const jsErrCode code = pae != nullptr ? pae->ErrCode : static_cast<jsErrCode>(0);
  if (err == NATS_TIMEOUT) {
    ++m_.timeouts;
    cb(status::timeout, 0);
    return;
  }
  ++m_.publish_errors;
  std::string line = "nats_link: durable publish to " + subject + " refused: ";
  if (err == NATS_NO_RESPONDERS) {
    line += "no stream listens on the subject";
  } else {
    line += pae != nullptr && pae->ErrText != nullptr ? pae->ErrText : natsStatus_GetText(err);
    if (code != 0) line += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
  }
  log(line);
  cb(err == NATS_NO_RESPONDERS || code != 0 ? status::refused : status::error, 0);
}

void link_impl::ensure_stream(const stream_settings& ss, done_fn cb) {
  if (ss.name.empty() || ss.subjects.empty()) {
    log("nats_link: ensure_stream needs a name and at least one subject");
    cb(status::error);
    return;
  }
  auto job = [this, ss, cb] {
    if (stopping_ || !connected()) { cb(status::unavailable); return; }
    std::vector<const char*> subjects;
    for (const auto& s : ss.subjects) subjects.push_back(s.c_str());
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = ss.name.c_str();
    cfg.Subjects = subjects.data();
    cfg.SubjectsLen = static_cast<int>(subjects.size());
    cfg.MaxBytes = ss.max_bytes;
    cfg.Duplicates = static_cast<int64_t>(ss.duplicate_window_ms) * ns_per_ms;
    cfg.Storage = ss.memory ? js_MemoryStorage : js_FileStorage;
    cfg.MaxMsgs = ss.max_msgs;
    cfg.Retention = ss.work_queue ? js_WorkQueuePolicy : js_LimitsPolicy;
    cfg.Discard = ss.discard_new ? js_DiscardNew : js_DiscardOld;
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si, js_, ss.name.c_str(), nullptr, &jerr);
    const bool exists = s == NATS_OK;
    if (si != nullptr) jsStreamInfo_Destroy(si);
    si = nullptr;
    if (!exists && s != NATS_NOT_FOUND) {
      log(nats_error(("stream " + ss.name + " lookup").c_str(), s, jerr));
      cb(s == NATS_TIMEOUT ? status::timeout : status::error);
      return;
    }
    s = exists ? js_UpdateStream(&si, js_, &cfg, nullptr, &jerr) : js_AddStream(&si, js_, &cfg, nullptr, &jerr);
    if (si != nullptr) jsStreamInfo_Destroy(si);
    if (s != NATS_OK) log(nats_error(("stream " + ss.name + (exists ? " update" : " create")).c_str(), s, jerr));
    cb(s == NATS_OK ? status::ok : s == NATS_TIMEOUT ? status::timeout : status::error);
  };
  if (!enqueue(std::move(job))) cb(status::busy);
}

void link_impl::consume(const consumer_settings& cs, delivery_fn handler, done_fn cb) {
  if (cs.stream.empty() || cs.durable.empty() || cs.filter.empty() || cs.batch == 0 ||
      cs.fetch_wait_ms == 0 || cs.ack_wait_ms == 0 || cs.max_ack_pending == 0) {
    log("nats_link: consume needs stream, durable, filter and bounds > 0");
    cb(status::error);
    return;
  }
  auto job = [this, cs, handler = std::move(handler), cb]() mutable {
    if (stopping_ || !connected()) { cb(status::unavailable); return; }
    auto c = std::make_unique<consumer_entry>();
    c->owner = this;
    c->settings = cs;
    c->handler = std::move(handler);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = cs.stream.c_str();
    so.Config.Durable = cs.durable.c_str();
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = static_cast<int64_t>(cs.ack_wait_ms) * ns_per_ms;
    so.Config.MaxAckPending = cs.max_ack_pending;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_PullSubscribe(&c->sub, js_, cs.filter.c_str(), cs.durable.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK) {
      log(nats_error(("pull consumer " + cs.stream + "/" + cs.durable).c_str(), s, jerr));
      cb(s == NATS_TIMEOUT ? status::timeout : status::error);
      return;
    }
    consumer_entry* raw = c.get();
    {
      std::lock_guard lk(sub_mu_);
      consumers_.push_back(std::move(c));
      raw->thread = std::thread([this, raw] { consumer_loop(raw); });
    }
    cb(status::ok);
  };
  if (!enqueue(std::move(job))) cb(status::busy);
}

// One thread per consumer: fetch a batch (waiting at most fetch_wait_ms), hand each message
// to the handler, which acks when the data is safe.
void link_impl::consumer_loop(consumer_entry* c) {
  const auto& cs = c->settings;
  while (!stopping_) {
    if (!connected()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    natsMsgList list{nullptr, 0};
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = natsSubscription_Fetch(&list, c->sub, static_cast<int>(cs.batch), cs.fetch_wait_ms, &jerr);
    if (s == NATS_OK) {
      for (int i = 0; i < list.Count; ++i) {
        delivery d(list.Msgs[i]);
        list.Msgs[i] = nullptr;
        if (!stopping_) c->handler(std::move(d));
      }
    }
    natsMsgList_Destroy(&list);
    if (s != NATS_OK && s != NATS_TIMEOUT && !stopping_)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

kvStore* link_impl::bucket(std::string_view name, status& st) {
  if (auto it = kv_.find(name); it != kv_.end()) return it->second;
  const std::string n(name);
  kvStore* kv = nullptr;
  natsStatus s = js_KeyValue(&kv, js_, n.c_str());
  if (s == NATS_NOT_FOUND) {
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = n.c_str();
    cfg.History = 1;
    s = js_CreateKeyValue(&kv, js_, &cfg);
  }
  if (s != NATS_OK) {
    log(nats_error(("kv bucket " + n).c_str(), s));
    st = s == NATS_TIMEOUT ? status::timeout : status::error;
    return nullptr;
  }
  kv_.emplace(n, kv);
  return kv;
}

namespace {

// What kvStore_Put accepts as a key: [-/_=.a-zA-Z0-9]+, not starting or ending with '.'.
bool valid_key(std::string_view k) {
  if (k.empty() || k.front() == '.' || k.back() == '.') return false;
  for (char c : k) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '/' || c == '_' || c == '=' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool link_impl::kv_known(std::string_view name) {
  std::lock_guard lk(kv_mu_);
  return kv_ready_.find(name) != kv_ready_.end();
}

void link_impl::kv_forget(std::string_view name) {
  std::lock_guard lk(kv_mu_);
  if (auto it = kv_ready_.find(name); it != kv_ready_.end()) kv_ready_.erase(it);
}

// A put is a JetStream publish to "$KV.<bucket>.<key>" (what kvStore_Put sends, without its
// wait): bounded by max_pending_publishes like publish_durable, completed by the ack thread.
void link_impl::kv_publish(const std::string& b, std::string_view key, std::string_view value, done_fn cb) {
  std::string subject;
  subject.reserve(5 + b.size() + key.size());
  subject.append("$KV.").append(b).push_back('.');
  subject.append(key);
  publish_durable(subject, value, {}, [this, b, cb = std::move(cb)](status st, uint64_t) {
    if (st == status::refused) kv_forget(b);  // the bucket went away: the next put recreates it
    cb(st);
  });
}

void link_impl::kv_put(std::string_view bucket_name, std::string_view key, std::string_view value,
                       done_fn cb) {
  if (!valid_key(key)) {
    log("nats_link: kv put: the key '" + std::string(key) + "' is not [-/_=.a-zA-Z0-9]+");
    cb(status::error);
    return;
  }
  if (stopping_ || !connected()) { ++m_.rejected_unavailable; cb(status::unavailable); return; }
  std::string b(bucket_name);
  if (kv_known(b)) {
    kv_publish(b, key, value, std::move(cb));
    return;
  }
  // The bucket's first put: the worker looks it up (or creates it), then publishes.
  auto job = [this, b, k = std::string(key), v = std::string(value), cb]() mutable {
    if (stopping_ || !connected()) { cb(status::unavailable); return; }
    if (auto it = kv_.find(b); it != kv_.end() && !kv_known(b)) {  // forgotten: look it up again
      kvStore_Destroy(it->second);
      kv_.erase(it);
    }
    status st = status::error;
    if (bucket(b, st) == nullptr) { cb(st); return; }
    {
      std::lock_guard lk(kv_mu_);
      kv_ready_.insert(b);
    }
    kv_publish(b, k, v, std::move(cb));
  };
  if (!enqueue(std::move(job))) cb(status::busy);
}

void link_impl::kv_get(std::string_view bucket_name, std::string_view key, kv_get_fn cb) {
  auto job = [this, b = std::string(bucket_name), k = std::string(key), cb] {
    if (stopping_ || !connected()) { cb(status::unavailable, {}); return; }
    status st = status::error;
    kvStore* kv = bucket(b, st);
    if (kv == nullptr) { cb(st, {}); return; }
    kvEntry* e = nullptr;
    natsStatus s = kvStore_Get(&e, kv, k.c_str());
    if (s == NATS_OK) {
      cb(status::ok, std::string_view(static_cast<const char*>(kvEntry_Value(e)),
                                      static_cast<size_t>(kvEntry_ValueLen(e))));
      kvEntry_Destroy(e);
      return;
    }
    if (s == NATS_NOT_FOUND) { cb(status::not_found, {}); return; }
    log(nats_error(("kv get " + b + "/" + k).c_str(), s));
    cb(s == NATS_TIMEOUT ? status::timeout : status::error, {});
  };
  if (!enqueue(std::move(job))) cb(status::busy, {});
}

delivery::delivery(natsMsg* msg) : msg_(msg) {
  jsMsgMetaData* meta = nullptr;
  if (msg_ != nullptr && natsMsg_GetMetaData(&meta, msg_) == NATS_OK) {
    stream_seq_ = meta->Sequence.Stream;
    delivered_ = meta->NumDelivered;
    jsMsgMetaData_Destroy(meta);
  }
}

delivery::delivery(delivery&& o) noexcept
    : msg_(o.msg_), stream_seq_(o.stream_seq_), delivered_(o.delivered_) {
  o.msg_ = nullptr;
}

delivery& delivery::operator=(delivery&& o) noexcept {
  if (this != &o) {
    if (msg_ != nullptr) natsMsg_Destroy(msg_);
    msg_ = o.msg_;
    stream_seq_ = o.stream_seq_;
    delivered_ = o.delivered_;
    o.msg_ = nullptr;
  }
  return *this;
}

delivery::~delivery() {
  if (msg_ != nullptr) natsMsg_Destroy(msg_);
}

std::string_view delivery::subject() const {
  return msg_ != nullptr ? std::string_view(natsMsg_GetSubject(msg_)) : std::string_view();
}

std::string_view delivery::data() const {
  if (msg_ == nullptr) return {};
  return {natsMsg_GetData(msg_), static_cast<size_t>(natsMsg_GetDataLength(msg_))};
}

status delivery::ack() {
  if (msg_ == nullptr) return status::error;
  natsStatus s = natsMsg_Ack(msg_, nullptr);
  natsMsg_Destroy(msg_);
  msg_ = nullptr;
  return s == NATS_OK ? status::ok : status::unavailable;
}

status delivery::nak(uint32_t delay_ms) {
  if (msg_ == nullptr) return status::error;
  natsStatus s = delay_ms != 0 ? natsMsg_NakWithDelay(msg_, delay_ms, nullptr) : natsMsg_Nak(msg_, nullptr);
  natsMsg_Destroy(msg_);
  msg_ = nullptr;
  return s == NATS_OK ? status::ok : status::unavailable;
}

}  // namespace tern::nats_link
