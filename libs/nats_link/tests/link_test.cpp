// nats_link against a real nats-server (JetStream on, loopback, free port, temp store).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nats/nats.h>

#include "nats_server.hpp"
#include "tern/nats_link/link.hpp"
#include "test_support.hpp"

using namespace tern::nats_link;
using tern::nats_link::test::nats_server;
using tern::nats_link::test::wait_result;
using tern::nats_link::test::wait_until;
using namespace std::chrono_literals;
using nl_link = tern::nats_link::link;  // ::link (unistd.h) would be ambiguous

namespace {

struct states {
  std::mutex mu;
  std::vector<link_state> seen;
  void add(link_state s) {
    std::lock_guard lk(mu);
    seen.push_back(s);
  }
  bool saw(link_state s) {
    std::lock_guard lk(mu);
    for (auto x : seen)
      if (x == s) return true;
    return false;
  }
};

link_settings settings_for(const nats_server& srv) {
  link_settings s = tern::nats_link::test::test_link_settings(srv, "nats_link-test");
  s.reconnect_wait_max_ms = 300;
  s.request_timeout_ms = 2000;
  s.publish_ack_timeout_ms = 2000;
  return s;
}

std::unique_ptr<nl_link> open_link(const nats_server& srv, states* st = nullptr) {
  return tern::nats_link::test::open_test_link(settings_for(srv), [st](link_state s) {
    if (st) st->add(s);
  });
}

std::pair<status, std::string> do_request(nl_link& l, std::string_view subj, std::string_view data,
                                          uint32_t timeout_ms) {
  using got = std::pair<status, std::string>;
  return wait_result<got>([&](std::function<void(got)> set) {
    l.request(subj, data, timeout_ms, [set](status s, std::string_view r) { set({s, std::string(r)}); });
  });
}

std::pair<status, uint64_t> do_publish(nl_link& l, std::string_view subj, std::string_view data,
                                       std::string_view id) {
  using got = std::pair<status, uint64_t>;
  return wait_result<got>([&](std::function<void(got)> set) {
    l.publish_durable(subj, data, id, [set](status s, uint64_t seq) { set({s, seq}); });
  });
}

status do_done(const std::function<void(nl_link::done_fn)>& op) { return tern::nats_link::test::wait_done(op); }

status make_stream(nl_link& l, const std::string& name, const std::string& subjects) {
  stream_settings ss;
  ss.name = name;
  ss.subjects = {subjects};
  ss.duplicate_window_ms = 60000;
  return do_done([&](nl_link::done_fn cb) { l.ensure_stream(ss, cb); });
}

// The stream's message count, read with nats.c directly (the link has no stream-info call).
int64_t stream_msgs(const nats_server& srv, const char* stream) {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  jsStreamInfo* si = nullptr;
  int64_t msgs = -1;
  if (natsConnection_ConnectTo(&nc, srv.url().c_str()) == NATS_OK &&
      natsConnection_JetStream(&js, nc, nullptr) == NATS_OK &&
      js_GetStreamInfo(&si, js, stream, nullptr, nullptr) == NATS_OK)
    msgs = static_cast<int64_t>(si->State.Msgs);
  if (si != nullptr) jsStreamInfo_Destroy(si);
  if (js != nullptr) jsCtx_Destroy(js);
  if (nc != nullptr) natsConnection_Destroy(nc);
  return msgs;
}

// Deletes a kv bucket with nats.c directly, as an operator would.
bool delete_bucket(const nats_server& srv, const char* bucket) {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  bool ok = natsConnection_ConnectTo(&nc, srv.url().c_str()) == NATS_OK &&
            natsConnection_JetStream(&js, nc, nullptr) == NATS_OK && js_DeleteKeyValue(js, bucket) == NATS_OK;
  if (js != nullptr) jsCtx_Destroy(js);
  if (nc != nullptr) natsConnection_Destroy(nc);
  return ok;
}

}  // namespace

TEST_CASE("request/reply: a responder answers, silence times out, nobody listening is unavailable") {
  NATS_OR_SKIP();
  nats_server srv;
  REQUIRE(srv.start());
  auto l = open_link(srv);
  nl_link* lp = l.get();
  REQUIRE(l->subscribe("svc.echo", "echoers", [lp](const message& m) {
    lp->publish(m.reply, "echo:" + std::string(m.data));
  }) == status::ok);
  REQUIRE(l->subscribe("svc.silent", "", [](const message&) {}) == status::ok);
  std::this_thread::sleep_for(100ms);  // the SUBs reach the server

  auto [st, reply] = do_request(*l, "svc.echo", "hi", 0);
  CHECK(st == status::ok);
  CHECK(reply == "echo:hi");

  const auto t0 = std::chrono::steady_clock::now();
  auto [st2, reply2] = do_request(*l, "svc.silent", "anyone?", 300);
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(st2 == status::timeout);
  CHECK(took >= 290ms);
  CHECK(took < 1500ms);

  auto [st3, reply3] = do_request(*l, "svc.nobody", "x", 2000);
  CHECK(st3 == status::unavailable);

  const auto m = l->metrics();
  CHECK(m.connected == 1);
  CHECK(m.timeouts == 1);
  CHECK(m.requests_in_flight == 0);
  CHECK(wait_until([&] { return l->metrics().last_rtt_us > 0; }, 3s));
}

TEST_CASE("durable publish: acked in order, a repeated msg id is stored once, unacked is redelivered") {
  NATS_OR_SKIP();
  nats_server srv;
  REQUIRE(srv.start());
  auto l = open_link(srv);
  REQUIRE(make_stream(*l, "UPLINK", "up.>") == status::ok);
  REQUIRE(make_stream(*l, "UPLINK", "up.>") == status::ok);  // idempotent

  auto a = do_publish(*l, "up.dev1", "a", "id-a");
  auto b = do_publish(*l, "up.dev1", "b", "id-b");
  auto c = do_publish(*l, "up.dev2", "c", "id-c");
  REQUIRE(a.first == status::ok);
  REQUIRE(b.first == status::ok);
  REQUIRE(c.first == status::ok);
  CHECK(a.second < b.second);
  CHECK(b.second < c.second);
  auto again = do_publish(*l, "up.dev1", "b-retried", "id-b");  // a retry: same id
  CHECK(again.first == status::ok);
  CHECK(again.second == b.second);
  CHECK(do_publish(*l, "nostream.x", "x", "id-x").first == status::refused);  // no stream

  std::mutex mu;
  std::map<std::string, std::vector<uint64_t>> got;  // payload -> delivery counts
  consumer_settings cs;
  cs.stream = "UPLINK";
  cs.durable = "core";
  cs.filter = "up.>";
  cs.batch = 16;
  cs.fetch_wait_ms = 200;
  cs.ack_wait_ms = 1000;
  REQUIRE(do_done([&](nl_link::done_fn cb) {
    l->consume(cs, [&](delivery&& d) {
      std::lock_guard lk(mu);
      got[std::string(d.data())].push_back(d.delivered());
      if (d.data() == "b" && d.delivered() == 1) return;  // "crash" before the ack
      d.ack();
    }, cb);
  }) == status::ok);

  REQUIRE(wait_until([&] {
    std::lock_guard lk(mu);
    return got["b"].size() >= 2;
  }, 8s));
  std::this_thread::sleep_for(300ms);
  std::lock_guard lk(mu);
  CHECK(got.size() == 3);  // a, b, c: the retried publish was not stored again
  CHECK(got.count("b-retried") == 0);
  CHECK(got["a"] == std::vector<uint64_t>{1});
  CHECK(got["c"] == std::vector<uint64_t>{1});
  CHECK(got["b"] == std::vector<uint64_t>{1, 2});
  CHECK(l->metrics().publishes_acked == 4);
  CHECK(l->metrics().pending_publishes == 0);
}

TEST_CASE("server stopped gives fast unavailable without a hang, and after a restart the link reconnects by itself") {
  NATS_OR_SKIP();
  nats_server srv;
  REQUIRE(srv.start());
  states st;
  auto l = open_link(srv, &st);
  REQUIRE(make_stream(*l, "KEEP", "keep.>") == status::ok);
  auto first = do_publish(*l, "keep.a", "1", "k1");
  REQUIRE(first.first == status::ok);

  srv.stop();
  REQUIRE(wait_until([&] { return !l->connected(); }, 3s));
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(do_publish(*l, "keep.a", "2", "k2").first == status::unavailable);
  CHECK(do_request(*l, "svc.any", "x", 1000).first == status::unavailable);
  CHECK(do_done([&](nl_link::done_fn cb) { l->kv_put("b", "k", "v", cb); }) == status::unavailable);
  CHECK(std::chrono::steady_clock::now() - t0 < 200ms);
  CHECK(l->metrics().connected == 0);
  CHECK(wait_until([&] { return st.saw(link_state::disconnected); }, 2s));

  REQUIRE(srv.start());  // same port, same store
  REQUIRE(wait_until([&] { return l->connected(); }, 5s));
  CHECK(wait_until([&] { return st.saw(link_state::reconnected); }, 2s));
  auto second = do_publish(*l, "keep.a", "2", "k2");
  CHECK(second.first == status::ok);
  CHECK(second.second == first.second + 1);  // the stream survived in the store
  CHECK(l->metrics().reconnects >= 1);
}

TEST_CASE("a link opened before the server is up connects once it starts") {
  NATS_OR_SKIP();
  nats_server srv;
  std::string err;
  auto l = nl_link::open(settings_for(srv), nullptr, err);
  REQUIRE(l);
  CHECK_FALSE(l->connected());
  CHECK(do_request(*l, "svc.any", "x", 500).first == status::unavailable);
  REQUIRE(srv.start());
  CHECK(wait_until([&] { return l->connected(); }, 5s));
}

TEST_CASE("key-value: put then get round trip, a missing key is not_found") {
  NATS_OR_SKIP();
  nats_server srv;
  REQUIRE(srv.start());
  auto l = open_link(srv);
  CHECK(do_done([&](nl_link::done_fn cb) { l->kv_put("device_node", "dev-1", "node-a", cb); }) == status::ok);
  CHECK(do_done([&](nl_link::done_fn cb) { l->kv_put("device_node", "dev-1", "node-b", cb); }) == status::ok);
  std::promise<std::pair<status, std::string>> p;
  auto f = p.get_future();
  l->kv_get("device_node", "dev-1", [&](status s, std::string_view v) { p.set_value({s, std::string(v)}); });
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
  auto got = f.get();
  CHECK(got.first == status::ok);
  CHECK(got.second == "node-b");
  std::promise<status> p2;
  auto f2 = p2.get_future();
  l->kv_get("device_node", "dev-9", [&](status s, std::string_view) { p2.set_value(s); });
  REQUIRE(f2.wait_for(10s) == std::future_status::ready);
  CHECK(f2.get() == status::not_found);
}

TEST_CASE("bad settings are refused with a clear error") {
  link_settings s;
  s.servers.clear();
  std::string err;
  CHECK_FALSE(nl_link::open(s, nullptr, err));
  CHECK(err.find("no servers") != std::string::npos);
  s.servers = {"nats://127.0.0.1:1"};
  s.max_pending_publishes = 0;
  CHECK_FALSE(nl_link::open(s, nullptr, err));
  CHECK(err.find("bound") != std::string::npos);
}

TEST_CASE("a durable publish nobody acknowledges times out and frees its pending slot") {
  NATS_OR_SKIP();
  nats_server srv;
  REQUIRE(srv.start());
  auto s = settings_for(srv);
  s.publish_ack_timeout_ms = 400;
  s.max_pending_publishes = 1;
  std::string err;
  auto l = nl_link::open(s, nullptr, err);
  REQUIRE(l);
  REQUIRE(wait_until([&] { return l->connected(); }, 5s));
  // A plain subscriber and no stream: the message is delivered but never acknowledged.
  REQUIRE(l->subscribe("nostore.x", "", [](const message&) {}) == status::ok);
  std::this_thread::sleep_for(100ms);

  std::promise<std::pair<status, uint64_t>> p;
  auto f = p.get_future();
  const auto t0 = std::chrono::steady_clock::now();
  l->publish_durable("nostore.x", "lost?", "n1", [&p](status st, uint64_t seq) { p.set_value({st, seq}); });
  CHECK(l->metrics().pending_publishes == 1);
  CHECK(do_publish(*l, "nostore.x", "second", "n2").first == status::busy);  // the bound is 1
  REQUIRE(f.wait_for(5s) == std::future_status::ready);
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(f.get().first == status::timeout);
  CHECK(took < 2s);
  CHECK(l->metrics().pending_publishes == 0);
  CHECK(l->metrics().rejected_busy == 1);
}

TEST_CASE("a queue group shares the requests among its members, each answered once") {
  NATS_OR_SKIP();
  nats_server srv;
  REQUIRE(srv.start());
  auto l = open_link(srv);
  nl_link* lp = l.get();
  std::atomic<int> served_a{0}, served_b{0};
  REQUIRE(l->subscribe("svc.q", "workers", [lp, &served_a](const message& m) {
    ++served_a;
    lp->publish(m.reply, "a");
  }) == status::ok);
  REQUIRE(l->subscribe("svc.q", "workers", [lp, &served_b](const message& m) {
    ++served_b;
    lp->publish(m.reply, "b");
  }) == status::ok);
  std::this_thread::sleep_for(100ms);
  std::atomic<int> ok{0}, done{0};
  for (int i = 0; i < 200; ++i)
    l->request("svc.q", "x", 2000, [&](status s, std::string_view r) {
      if (s == status::ok && (r == "a" || r == "b")) ++ok;
      ++done;
    });
  REQUIRE(wait_until([&] { return done == 200; }, 5s));
  CHECK(ok == 200);
  CHECK(served_a + served_b == 200);
  CHECK(served_a > 0);
  CHECK(served_b > 0);
  CHECK(l->metrics().requests_in_flight == 0);
}

TEST_CASE("a full discard-new stream refuses a durable publish as refused, and takes more once acked messages leave its work queue") {
  NATS_OR_SKIP();
  nats_server srv;
  REQUIRE(srv.start());
  std::vector<std::string> logged;
  std::mutex log_mu;
  auto s = settings_for(srv);
  s.log = [&](std::string_view line) {
    std::lock_guard lk(log_mu);
    logged.emplace_back(line);
  };
  std::string err;
  auto l = nl_link::open(s, nullptr, err);
  REQUIRE(l);
  REQUIRE(wait_until([&] { return l->connected(); }, 5s));
  stream_settings ss;
  ss.name = "FULL";
  ss.subjects = {"full.>"};
  ss.max_msgs = 2;
  ss.work_queue = true;
  ss.discard_new = true;
  REQUIRE(do_done([&](nl_link::done_fn cb) { l->ensure_stream(ss, cb); }) == status::ok);
  REQUIRE(do_done([&](nl_link::done_fn cb) { l->ensure_stream(ss, cb); }) == status::ok);  // idempotent

  CHECK(do_publish(*l, "full.p0.telemetry", "1", "f1").first == status::ok);
  CHECK(do_publish(*l, "full.p1.telemetry", "2", "f2").first == status::ok);
  CHECK(do_publish(*l, "full.p0.telemetry", "3", "f3").first == status::refused);
  CHECK(do_publish(*l, "full.p0.telemetry", "3", "f3").first == status::refused);  // still full
  CHECK(stream_msgs(srv, "FULL") == 2);
  CHECK(l->metrics().publish_errors == 2);
  {
    std::lock_guard lk(log_mu);
    bool said = false;
    for (const auto& line : logged) said = said || line.find("full.p0.telemetry refused: maximum messages") != std::string::npos;
    CHECK(said);
  }

  // One consumer per partition (a work queue allows filters that do not overlap); acked
  // messages leave the stream, which then takes new ones.
  std::atomic<int> acked{0};
  for (const char* p : {"p0", "p1"}) {
    consumer_settings cs;
    cs.stream = "FULL";
    cs.durable = std::string("core-") + p;
    cs.filter = std::string("full.") + p + ".>";
    cs.fetch_wait_ms = 100;
    REQUIRE(do_done([&](nl_link::done_fn cb) {
      l->consume(cs, [&acked](delivery&& d) {
        if (d.ack() == status::ok) ++acked;
      }, cb);
    }) == status::ok);
  }
  REQUIRE(wait_until([&] { return acked == 2; }, 5s));
  CHECK(wait_until([&] { return stream_msgs(srv, "FULL") == 0; }, 3s));
  CHECK(do_publish(*l, "full.p0.telemetry", "3", "f3").first == status::ok);
  CHECK(wait_until([&] { return acked == 3 && stream_msgs(srv, "FULL") == 0; }, 5s));
}

TEST_CASE("a stream bounded by bytes with discard new refuses what does not fit, and without discard new the oldest go") {
  NATS_OR_SKIP();
  nats_server srv;
  REQUIRE(srv.start());
  auto l = open_link(srv);
  stream_settings ss;
  ss.name = "BYTES";
  ss.subjects = {"bytes.>"};
  ss.max_bytes = 4096;
  ss.discard_new = true;
  REQUIRE(do_done([&](nl_link::done_fn cb) { l->ensure_stream(ss, cb); }) == status::ok);
  const std::string kib(1024, 'x');
  int stored = 0;
  status last = status::ok;
  for (int i = 0; i < 10 && last == status::ok; ++i) {
    last = do_publish(*l, "bytes.a", kib, "b" + std::to_string(i)).first;
    if (last == status::ok) ++stored;
  }
  CHECK(last == status::refused);
  CHECK(stored >= 1);
  CHECK(stored < 4);
  CHECK(stream_msgs(srv, "BYTES") == stored);

  stream_settings old = ss;
  old.name = "OLD";
  old.subjects = {"old.>"};
  old.discard_new = false;
  REQUIRE(do_done([&](nl_link::done_fn cb) { l->ensure_stream(old, cb); }) == status::ok);
  for (int i = 0; i < 10; ++i) CHECK(do_publish(*l, "old.a", kib, "o" + std::to_string(i)).first == status::ok);
  CHECK(stream_msgs(srv, "OLD") < 10);
}

TEST_CASE("a plain subscription to $KV.<bucket>.> sees every kv_put live, also when it was made before the bucket existed") {
  NATS_OR_SKIP();
  nats_server srv;
  REQUIRE(srv.start());
  auto watcher = open_link(srv);
  auto writer = open_link(srv);  // another node
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> seen;  // key, value
  const std::string prefix = "$KV.tern_device_node.";
  REQUIRE(watcher->subscribe(prefix + ">", "", [&](const message& m) {
    std::lock_guard lk(mu);
    const std::string_view key = m.subject.substr(m.subject.find(prefix) == 0 ? prefix.size() : 0);
    seen.emplace_back(std::string(key), std::string(m.data));
  }) == status::ok);
  std::this_thread::sleep_for(100ms);  // the SUB reaches the server

  for (auto [k, v] : {std::pair{"17", "node-a"}, {"17", "node-b"}, {"18", "node-a"}}) {
    CHECK(do_done([&](nl_link::done_fn cb) { writer->kv_put("tern_device_node", k, v, cb); }) == status::ok);
  }
  REQUIRE(wait_until([&] {
    std::lock_guard lk(mu);
    return seen.size() >= 3;
  }, 3s));
  std::this_thread::sleep_for(100ms);
  std::lock_guard lk(mu);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"17", "node-a"}, {"17", "node-b"}, {"18", "node-a"}};
  CHECK(seen == want);
}

TEST_CASE("a payload past the server's max_payload is an error, not unavailable") {
  NATS_OR_SKIP();
  nats_server srv;
  REQUIRE(srv.start());
  auto l = open_link(srv);
  REQUIRE(make_stream(*l, "BIG", "big.>") == status::ok);
  CHECK(l->max_payload() == 1024 * 1024);  // the server's default
  const std::string big(l->max_payload() + 1, 'x');
  CHECK(do_publish(*l, "big.a", big, "big-1").first == status::error);
  CHECK(do_request(*l, "svc.any", big, 500).first == status::error);
  CHECK(l->publish("big.a", big) == status::error);
  CHECK(l->metrics().pending_publishes == 0);
  CHECK(l->metrics().requests_in_flight == 0);
  const std::string fits(l->max_payload() - 1024, 'y');
  CHECK(do_publish(*l, "big.a", fits, "big-2").first == status::ok);
}

TEST_CASE("kv puts do not queue behind one another: 3000 at once complete, each seen by a watcher, and a bad key is an error") {
  NATS_OR_SKIP();
  nats_server srv;
  REQUIRE(srv.start());
  auto s = settings_for(srv);
  s.max_queued_jobs = 4;  // the worker is not what carries the puts
  std::string err;
  auto l = nl_link::open(s, nullptr, err);
  REQUIRE(l);
  REQUIRE(wait_until([&] { return l->connected(); }, 5s));
  std::atomic<int> seen{0};
  REQUIRE(l->subscribe("$KV.many.>", "", [&seen](const message&) { ++seen; }) == status::ok);
  std::this_thread::sleep_for(100ms);

  // The first put creates the bucket (on the worker); the rest go straight out.
  REQUIRE(do_done([&](nl_link::done_fn cb) { l->kv_put("many", "0", "n0", cb); }) == status::ok);
  std::atomic<int> ok{0}, done{0};
  for (int i = 1; i <= 3000; ++i) {
    l->kv_put("many", std::to_string(i), "node-" + std::to_string(i % 7), [&](status st) {
      if (st == status::ok) ++ok;
      ++done;
    });
  }
  REQUIRE(wait_until([&] { return done == 3000; }, 10s));
  CHECK(ok == 3000);
  CHECK(wait_until([&] { return seen == 3001; }, 5s));
  std::promise<std::pair<status, std::string>> p;
  auto f = p.get_future();
  l->kv_get("many", "2999", [&](status st, std::string_view v) { p.set_value({st, std::string(v)}); });
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
  const auto got = f.get();
  CHECK(got.first == status::ok);
  CHECK(got.second == "node-3");  // 2999 % 7

  CHECK(do_done([&](nl_link::done_fn cb) { l->kv_put("many", "a b", "x", cb); }) == status::error);
  CHECK(do_done([&](nl_link::done_fn cb) { l->kv_put("many", ".a", "x", cb); }) == status::error);
  CHECK(do_done([&](nl_link::done_fn cb) { l->kv_put("many", "", "x", cb); }) == status::error);
  CHECK(l->metrics().pending_publishes == 0);
}

TEST_CASE("a kv bucket deleted under the link makes one put refused and the next one creates it again") {
  NATS_OR_SKIP();
  nats_server srv;
  REQUIRE(srv.start());
  auto l = open_link(srv);
  REQUIRE(do_done([&](nl_link::done_fn cb) { l->kv_put("gone", "1", "a", cb); }) == status::ok);
  REQUIRE(delete_bucket(srv, "gone"));
  CHECK(do_done([&](nl_link::done_fn cb) { l->kv_put("gone", "1", "b", cb); }) == status::refused);
  CHECK(do_done([&](nl_link::done_fn cb) { l->kv_put("gone", "1", "c", cb); }) == status::ok);
  std::promise<std::pair<status, std::string>> p;
  auto f = p.get_future();
  l->kv_get("gone", "1", [&](status st, std::string_view v) { p.set_value({st, std::string(v)}); });
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
  const auto got = f.get();
  CHECK(got.first == status::ok);
  CHECK(got.second == "c");
}

TEST_CASE("a password in a server URL never reaches a log line, and a refused login says so once") {
  CHECK(tern::nats_link::redacted("nats://tern:s3cret@10.0.0.1:4222") == "nats://tern:***@10.0.0.1:4222");
  CHECK(tern::nats_link::redacted("nats://tok3n@10.0.0.1:4222") == "nats://***@10.0.0.1:4222");
  CHECK(tern::nats_link::redacted("nats://10.0.0.1:4222") == "nats://10.0.0.1:4222");
  CHECK(tern::nats_link::redacted("127.0.0.1:4222") == "127.0.0.1:4222");
  if (!nats_server::available()) return;
  nats_server srv;
  REQUIRE(srv.start("tern", "s3cret-pass"));
  const std::string host = srv.url().substr(std::string("nats://").size());
  auto try_login = [&](const std::string& pass, std::vector<std::string>& lines) {
    link_settings s = settings_for(srv);
    s.servers = {"nats://tern:" + pass + "@" + host};
    auto mu = std::make_shared<std::mutex>();
    s.log = [mu, &lines](std::string_view l) {
      std::lock_guard lk(*mu);
      lines.emplace_back(l);
    };
    std::string err;
    states st;
    auto l = nl_link::open(s, [&st](link_state x) { st.add(x); }, err);
    REQUIRE(l);
    REQUIRE(wait_until([&] { return l->connected() || st.saw(link_state::closed); }, 5s));
    const bool ok = l->connected();
    l.reset();
    std::lock_guard lk(*mu);
    return ok;
  };
  std::vector<std::string> good, bad;
  CHECK(try_login("s3cret-pass", good));
  CHECK_FALSE(try_login("wrong-pass", bad));
  bool said = false;
  for (const auto& l : bad) {
    CHECK(l.find("wrong-pass") == std::string::npos);
    if (l.find("will not be retried") != std::string::npos) said = true;
  }
  CHECK(said);
}
