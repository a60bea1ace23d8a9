// core_embedded_bench: how many durable telemetry messages per second the embedded core
// takes. T threads post N messages for D devices (K values each), each thread keeping at
// most W messages in flight (devices waiting for their 2.01); a message counts when its
// completion ran, i.e. after COMMIT. Then it times history reads of one device. Not a
// test: it prints numbers.
//
// Timestamps are the clock's when each message is posted, as the device API stamps
// telemetry that carries none; with --span S they are spread evenly over the last S
// seconds instead (a long history written in a short run; still in time order, as a
// fleet's data arrives). A device's messages get increasing timestamps either way.
//
//   core_embedded_bench [-n 500000] [-t 2] [-d 10000] [-k 2] [-w 2000] [--sync full|normal]
//                       [--batch 4096] [--delay-us 2000] [--span SECONDS] [--db PATH]
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <sys/resource.h>
#include <vector>

#include "core.hpp"
#include "tern/sdk/views.hpp"

using namespace tern::core_embedded;
using clk = std::chrono::steady_clock;

namespace {

struct options {
    uint64_t messages = 500000;
    unsigned threads = 2;
    unsigned devices = 10000;
    unsigned keys = 2;
    unsigned window = 2000;
    std::string sync = "full";
    uint32_t batch = 4096;
    int64_t delay_us = 2000;
    int64_t span_s = 0;
    std::string db;
};

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: core_embedded_bench [-n MESSAGES] [-t THREADS] [-d DEVICES] [-k KEYS] [-w WINDOW]\n"
                 "                           [--sync full|normal] [--batch N] [--delay-us US] [--span SECONDS]\n"
                 "                           [--db PATH]\n");
    std::exit(64);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "-n") o.messages = std::stoull(next());
        else if (a == "-t") o.threads = static_cast<unsigned>(std::stoul(next()));
        else if (a == "-d") o.devices = static_cast<unsigned>(std::stoul(next()));
        else if (a == "-k") o.keys = static_cast<unsigned>(std::stoul(next()));
        else if (a == "-w") o.window = static_cast<unsigned>(std::stoul(next()));
        else if (a == "--sync") o.sync = next();
        else if (a == "--batch") o.batch = static_cast<uint32_t>(std::stoul(next()));
        else if (a == "--delay-us") o.delay_us = std::stoll(next());
        else if (a == "--span") o.span_s = std::stoll(next());
        else if (a == "--db") o.db = next();
        else usage();
    }
    if (o.threads == 0 || o.devices == 0 || o.keys == 0 || o.window == 0 || o.span_s < 0) usage();
    return o;
}

// One poster thread's in-flight window.
struct window {
    std::mutex m;
    std::condition_variable cv;
    unsigned in_flight = 0;
    std::atomic<uint64_t>* done = nullptr;
    std::atomic<uint64_t>* failed = nullptr;
};

void on_done(void* ctx, tern_status s, tern_str) {
    auto* w = static_cast<window*>(ctx);
    if (s != TERN_OK) w->failed->fetch_add(1, std::memory_order_relaxed);
    w->done->fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lk(w->m);
    --w->in_flight;
    w->cv.notify_one();
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    std::string dir;
    if (o.db.empty()) {
        std::string tmpl = (std::filesystem::temp_directory_path() / "tern-bench-XXXXXX").string();
        if (mkdtemp(tmpl.data()) == nullptr) return 1;
        dir = tmpl;
    }
    core_settings s;
    s.database = o.db.empty() ? dir + "/tern.db" : o.db;
    s.sync = o.sync;
    s.writer.max_batch = o.batch;
    s.writer.max_delay_us = o.delay_us;
    s.writer.queue_capacity = std::max<uint32_t>(65536, o.threads * o.window * 2);
    core_metrics metrics;
    embedded_core core(metrics, {});
    core.start(s);

    // Devices, created through the admin path (group-committed too).
    std::vector<uint64_t> ids(o.devices);
    {
        std::atomic<unsigned> left{o.devices};
        std::mutex m;
        std::condition_variable cv;
        for (unsigned i = 0; i < o.devices; ++i) {
            device_spec d;
            d.name = "bench-" + std::to_string(i);
            core.create_device(d, [&, i](result<device> r) {
                if (!r.ok()) {
                    std::fprintf(stderr, "create device: %s\n", r.message.c_str());
                    std::exit(1);
                }
                ids[i] = r.value.id;
                if (left.fetch_sub(1) == 1) {
                    std::lock_guard lk(m);
                    cv.notify_all();
                }
            });
        }
        std::unique_lock lk(m);
        cv.wait(lk, [&] { return left.load() == 0; });
    }

    const char* key_names[] = {"temperature", "humidity", "pressure", "battery", "rssi", "co2", "lux", "voltage"};
    std::atomic<uint64_t> done{0}, failed{0};
    std::vector<window> windows(o.threads);
    const auto before = core.stats().writer;
    auto cpu_seconds = [] {
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    };
    const int64_t span_ms = o.span_s * 1000;
    const int64_t span_start = now_ms() - span_ms;
    const double cpu0 = cpu_seconds();
    const auto t0 = clk::now();
    // The rate in each tenth of the run, to see whether it holds as the table grows.
    struct tenth {
        double secs = 0;
        uint64_t writer_ns = 0;
    };
    std::vector<tenth> tenths;
    std::thread monitor([&] {  // every message completes, failed or not: it ends
        uint64_t next = 1;
        while (next <= 10) {
            const uint64_t d = done.load();
            if (d >= o.messages * next / 10) {
                tenths.push_back({std::chrono::duration<double>(clk::now() - t0).count(), core.stats().writer.cpu_ns});
                ++next;
                continue;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < o.threads; ++t) {
        threads.emplace_back([&, t] {
            window& w = windows[t];
            w.done = &done;
            w.failed = &failed;
            std::vector<tern_kv> kvs(o.keys);
            const uint64_t mine = o.messages / o.threads + (t < o.messages % o.threads ? 1 : 0);
            std::vector<int64_t> last_ts(o.devices, 0);  // per device
            for (uint64_t i = 0; i < mine; ++i) {
                {
                    std::unique_lock lk(w.m);
                    w.cv.wait(lk, [&] { return w.in_flight < o.window; });
                    ++w.in_flight;
                }
                const uint64_t n = i * o.threads + t;
                for (unsigned k = 0; k < o.keys; ++k) {
                    kvs[k].key = tern::sdk::to_str(key_names[k % 8]);
                    if (k % 2 == 0) {
                        kvs[k].value.type = TERN_VALUE_DOUBLE;
                        kvs[k].value.u.d = 20.0 + static_cast<double>(n % 100) / 10;
                    } else {
                        kvs[k].value.type = TERN_VALUE_INT;
                        kvs[k].value.u.i = static_cast<int64_t>(n % 1000);
                    }
                }
                int64_t ts = span_ms > 0 ? span_start + static_cast<int64_t>(static_cast<double>(n) / o.messages * span_ms)
                                         : now_ms();
                // A device's messages get increasing timestamps (this thread posts all of a
                // device's messages when threads divide devices; else a repeat replaces).
                ts = std::max(ts, last_ts[n % o.devices] + 1);
                last_ts[n % o.devices] = ts;
                tern_ts_record rec{ts, kvs.data(), o.keys, 0};
                core.post_telemetry(ids[n % o.devices], &rec, 1, &on_done, &w);
            }
            std::unique_lock lk(w.m);
            w.cv.wait(lk, [&] { return w.in_flight == 0; });
        });
    }
    for (auto& th : threads) th.join();
    const double secs = std::chrono::duration<double>(clk::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    const auto after = core.stats().writer;
    monitor.join();

    // History reads of one device: its oldest and newest 100 points of one key, and all of
    // its points of every key, over the whole range. Each read five times: the first pays
    // for pages outside SQLite's cache, the best is what a repeat costs.
    struct read_timing {
        const char* what;
        std::vector<std::string> keys;
        int64_t limit;
        bool desc;
        double first_ms = 0, best_ms = 1e18;
        size_t points = 0;
    };
    std::vector<read_timing> reads = {
        {"newest 100 of one key", {key_names[0]}, 100, true},
        {"oldest 100 of one key", {key_names[0]}, 100, false},
        {"all points, every key", {}, 100000, false},
    };
    for (read_timing& r : reads)
        for (int i = 0; i < 5; ++i) {
            std::promise<result<std::map<std::string, std::vector<ts_point>>>> p;
            auto f = p.get_future();
            const auto q0 = clk::now();
            core.telemetry_range("bench-0", r.keys, 0, INT64_MAX, r.limit, r.desc, [&p](auto res) { p.set_value(std::move(res)); });
            const auto res = f.get();
            const double ms = std::chrono::duration<double, std::milli>(clk::now() - q0).count();
            if (i == 0) r.first_ms = ms;
            r.best_ms = std::min(r.best_ms, ms);
            r.points = 0;
            for (const auto& [k, pts] : res.value) r.points += pts.size();
        }
    core.stop();
    const uint64_t commits = after.commits - before.commits;
    const uint64_t ops = after.ops - before.ops;
    std::printf("messages      %llu (%u values each), %u devices, %u threads, window %u per thread\n",
                static_cast<unsigned long long>(done.load()), o.keys, o.devices, o.threads, o.window);
    std::printf("sync          %s, group_commit_max_batch %u, group_commit_max_delay_us %lld\n", o.sync.c_str(),
                o.batch, static_cast<long long>(o.delay_us));
    std::printf("failed        %llu\n", static_cast<unsigned long long>(failed.load()));
    std::printf("time          %.3f s\n", secs);
    std::printf("durable rate  %.0f messages/s (%.0f values/s)\n", static_cast<double>(done.load()) / secs,
                static_cast<double>(done.load()) * o.keys / secs);
    std::printf("commits       %llu (%.0f/s), mean batch %.1f ops, largest %llu\n",
                static_cast<unsigned long long>(commits), static_cast<double>(commits) / secs,
                commits ? static_cast<double>(ops) / static_cast<double>(commits) : 0.0,
                static_cast<unsigned long long>(after.max_batch));
    // On a busy machine the wall rate says more about the neighbours than about the core;
    // the CPU cost per message does not.
    const double writer_us = static_cast<double>(after.cpu_ns - before.cpu_ns) / 1e3 /
                             static_cast<double>(std::max<uint64_t>(1, done.load()));
    std::printf("writer        %.2f us CPU per message: at most %.0f messages/s on one free core\n", writer_us,
                writer_us > 0 ? 1e6 / writer_us : 0.0);
    std::printf("cpu           %.2f s for the process: %.1f us per message (writer, posters, completions)\n", cpu,
                cpu * 1e6 / static_cast<double>(std::max<uint64_t>(1, done.load())));
    if (tenths.size() == 10) {
        std::printf("by tenth      messages/s and writer us CPU per message in each tenth of the run:\n             ");
        double prev_s = 0;
        uint64_t prev_ns = before.cpu_ns;
        const double per = static_cast<double>(o.messages) / 10;
        for (const tenth& x : tenths) {
            std::printf(" %.0f/%.1f", per / std::max(1e-9, x.secs - prev_s), static_cast<double>(x.writer_ns - prev_ns) / 1e3 / per);
            prev_s = x.secs;
            prev_ns = x.writer_ns;
        }
        std::printf("\n");
    }
    const int64_t span = span_ms > 0 ? span_ms : static_cast<int64_t>(secs * 1000);
    char span_text[32];
    if (span >= 7200000) std::snprintf(span_text, sizeof span_text, "%.1f h", static_cast<double>(span) / 3.6e6);
    else std::snprintf(span_text, sizeof span_text, "%.0f s", static_cast<double>(span) / 1e3);
    for (const read_timing& r : reads)
        std::printf("history read  %-22s %6zu points over %s of data: first %.2f ms, best %.2f ms\n", r.what, r.points,
                    span_text, r.first_ms, r.best_ms);
    if (!dir.empty()) std::filesystem::remove_all(dir);
    return failed.load() == 0 ? 0 : 1;
}
