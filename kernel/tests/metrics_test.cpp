// Metrics: lock-free per-shard cells summed at scrape, Prometheus text, the HTTP endpoint.
#include <catch2/catch.hpp>

#include <thread>

#include "kernel/metrics/http_server.hpp"
#include "kernel/metrics/prometheus.hpp"
#include "kernel/metrics/store.hpp"
#include "kernel/reactor/shard_pool.hpp"
#include "support.hpp"

using namespace tern::kernel;
using namespace std::chrono_literals;

namespace {

tern_metric_desc desc(tern_metric_kind kind, const char* name, const char* labels = nullptr,
                      const double* buckets = nullptr, uint32_t n = 0) {
    tern_metric_desc d{};
    d.struct_size = sizeof d;
    d.kind = kind;
    d.name = name;
    d.help = "Help for " "it";
    d.labels = labels;
    d.buckets = buckets;
    d.bucket_count = n;
    return d;
}

uint64_t add(metrics::store& s, const tern_metric_desc& d, std::string_view instance) {
    uint64_t id = 0;
    std::string err;
    REQUIRE(s.add(d, instance, id, err) == TERN_OK);
    return id;
}

struct bump {
    metrics::store* store;
    uint64_t id;
    std::atomic<int>* done;
};

void bump_on_shard(void* p) {
    auto* b = static_cast<bump*>(p);
    for (int i = 0; i < 1000; ++i) b->store->count(b->id, 1);
    b->done->fetch_add(1);
}

}  // namespace

TEST_CASE("updates from every shard and from other threads add up", "[metrics]") {
    reactor::shard_pool pool(2);
    metrics::store store(2, &pool);
    pool.start();
    const uint64_t id = add(store, desc(TERN_METRIC_COUNTER, "kt_things_total"), "x");
    std::atomic<int> done{0};
    bump b{&store, id, &done};
    REQUIRE(pool.post(0, &bump_on_shard, &b) == TERN_OK);
    REQUIRE(pool.post(1, &bump_on_shard, &b) == TERN_OK);
    std::thread other([&] {
        for (int i = 0; i < 1000; ++i) store.count(id, 1);
    });
    other.join();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (done < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    REQUIRE(done == 2);
    const auto snap = store.snapshot();
    REQUIRE(snap.size() == 1);
    CHECK(snap[0].series[0].counter == 3000);
    pool.stop();
}

TEST_CASE("gauges go up, down and can be set, and ignore updates of the wrong kind", "[metrics]") {
    metrics::store store(1, nullptr);
    const uint64_t g = add(store, desc(TERN_METRIC_GAUGE, "kt_level"), "x");
    const uint64_t other = add(store, desc(TERN_METRIC_GAUGE, "kt_set"), "x");
    store.gauge_add(g, 5);
    store.gauge_add(g, -7);
    store.gauge_set(other, 42);
    store.count(g, 100);         // not a counter
    store.observe(g, 1.0);       // not a histogram
    store.count(12345, 1);       // no such metric
    const auto snap = store.snapshot();
    CHECK(snap[0].series[0].gauge == -2);
    CHECK(snap[1].series[0].gauge == 42);
}

TEST_CASE("registration refuses bad names, labels, buckets, duplicates and kind changes", "[metrics]") {
    metrics::store store(1, nullptr);
    uint64_t id = 0;
    std::string err;
    CHECK(store.add(desc(TERN_METRIC_COUNTER, "9bad"), "x", id, err) == TERN_INVALID_ARGUMENT);
    CHECK(store.add(desc(TERN_METRIC_COUNTER, "ok_total", "instance=\"y\""), "x", id, err) == TERN_INVALID_ARGUMENT);
    CHECK(err == "metric 'ok_total': label name 'instance' is reserved");
    CHECK(store.add(desc(TERN_METRIC_COUNTER, "ok_total", "method=GET"), "x", id, err) == TERN_INVALID_ARGUMENT);
    const double backwards[] = {1, 0.5};
    CHECK(store.add(desc(TERN_METRIC_HISTOGRAM, "h", nullptr, backwards, 2), "x", id, err) == TERN_INVALID_ARGUMENT);
    CHECK(store.add(desc(TERN_METRIC_COUNTER, "ok_total", "method=\"GET\""), "x", id, err) == TERN_OK);
    CHECK(store.add(desc(TERN_METRIC_COUNTER, "ok_total", "method=\"GET\""), "x", id, err) == TERN_EXISTS);
    CHECK(store.add(desc(TERN_METRIC_COUNTER, "ok_total", "method=\"GET\""), "y", id, err) == TERN_OK);
    CHECK(store.add(desc(TERN_METRIC_GAUGE, "ok_total"), "z", id, err) == TERN_INVALID_ARGUMENT);
    tern_metric_desc tiny = desc(TERN_METRIC_COUNTER, "tiny_total");
    tiny.struct_size = 4;
    CHECK(store.add(tiny, "x", id, err) == TERN_INVALID_ARGUMENT);
}

TEST_CASE("the text format has one HELP/TYPE per family and cumulative histogram buckets", "[metrics]") {
    metrics::store store(1, nullptr);
    const uint64_t a = add(store, desc(TERN_METRIC_COUNTER, "coap_requests_total", "method=\"GET\""), "coap");
    const uint64_t b = add(store, desc(TERN_METRIC_COUNTER, "coap_requests_total", "method=\"PUT\""), "coap");
    const double bounds[] = {0.25, 1, 10};
    const uint64_t h = add(store, desc(TERN_METRIC_HISTOGRAM, "coap_latency_seconds", nullptr, bounds, 3), "coap");
    const uint64_t k = add(store, desc(TERN_METRIC_GAUGE, "tern_reactor_shards"), "");
    store.count(a, 2);
    store.count(b, 1);
    store.gauge_set(k, 4);
    for (double v : {0.125, 0.25, 0.5, 50.0}) store.observe(h, v);
    const std::string text = metrics::render(store.snapshot());
    CHECK(text ==
          "# HELP coap_requests_total Help for it\n"
          "# TYPE coap_requests_total counter\n"
          "coap_requests_total{instance=\"coap\",method=\"GET\"} 2\n"
          "coap_requests_total{instance=\"coap\",method=\"PUT\"} 1\n"
          "# HELP coap_latency_seconds Help for it\n"
          "# TYPE coap_latency_seconds histogram\n"
          "coap_latency_seconds_bucket{instance=\"coap\",le=\"0.25\"} 2\n"
          "coap_latency_seconds_bucket{instance=\"coap\",le=\"1\"} 3\n"
          "coap_latency_seconds_bucket{instance=\"coap\",le=\"10\"} 3\n"
          "coap_latency_seconds_bucket{instance=\"coap\",le=\"+Inf\"} 4\n"
          "coap_latency_seconds_sum{instance=\"coap\"} 50.875\n"
          "coap_latency_seconds_count{instance=\"coap\"} 4\n"
          "# HELP tern_reactor_shards Help for it\n"
          "# TYPE tern_reactor_shards gauge\n"
          "tern_reactor_shards 4\n");
}

TEST_CASE("label values are escaped", "[metrics]") {
    std::string err;
    CHECK(metrics::canonical_labels(R"( a = "x\"y" , b="line\nbreak")", err) == R"(a="x\"y",b="line\nbreak")");
    CHECK(metrics::label_pair("instance", "we\"ird\\") == R"(instance="we\"ird\\")");
    CHECK_FALSE(metrics::canonical_labels(R"(a="unterminated)", err));
}

TEST_CASE("the HTTP endpoint serves /metrics and nothing else", "[metrics][http]") {
    metrics::http_server server([] { return std::string("kt_metric 1\n"); });
    std::string err;
    REQUIRE(server.listen("127.0.0.1", 0, err));
    REQUIRE(server.port() != 0);
    CHECK(server.url() == "http://127.0.0.1:" + std::to_string(server.port()) + "/metrics");
    server.start();

    const std::string ok = kt::http_get(server.port(), "/metrics");
    CHECK(ok.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(ok.find("Content-Type: text/plain; version=0.0.4\r\n") != std::string::npos);
    CHECK(ok.ends_with("\r\n\r\nkt_metric 1\n"));

    CHECK(kt::http_get(server.port(), "/").rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
    CHECK(kt::http_raw(server.port(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
              .rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0) == 0);
    const std::string huge = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(9000, 'a') + "\r\n\r\n";
    CHECK(kt::http_raw(server.port(), huge).rfind("HTTP/1.1 413 Payload Too Large\r\n", 0) == 0);
    CHECK(kt::http_raw(server.port(), "garbage\r\n\r\n").rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);

    // keep-alive: two requests on one connection
    const std::string two = kt::http_raw(
        server.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(std::count(two.begin(), two.end(), '\n') >= 2);
    CHECK(two.find("HTTP/1.1 200 OK", 10) != std::string::npos);
    server.stop();
}

TEST_CASE("the HTTP endpoint closes an idle connection after 5 s", "[metrics][http]") {
    metrics::http_server server([] { return std::string("x\n"); });
    std::string err;
    REQUIRE(server.listen("127.0.0.1", 0, err));
    server.start();
    const auto t0 = std::chrono::steady_clock::now();
    const std::string reply = kt::http_raw(server.port(), "", 9s);  // send nothing
    const auto waited = std::chrono::steady_clock::now() - t0;
    CHECK(reply.empty());
    CHECK(waited >= 4s);
    CHECK(waited < 8s);
    server.stop();
}

TEST_CASE("a port in use is a clear error", "[metrics][http]") {
    metrics::http_server first([] { return std::string(); });
    std::string err;
    REQUIRE(first.listen("127.0.0.1", 0, err));
    metrics::http_server second([] { return std::string(); });
    CHECK_FALSE(second.listen("127.0.0.1", first.port(), err));
    CHECK(err == "cannot listen on 127.0.0.1:" + std::to_string(first.port()) + ": Address already in use");
}
