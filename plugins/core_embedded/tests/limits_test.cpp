// Bounds on what devices' writes may make the core hold or store: key names
// (max_key_length), distinct telemetry keys per device and over all devices
// (max_telemetry_keys_per_device, max_telemetry_keys), and the bytes of write ops in flight
// (write_queue_max_bytes). A refused message stores nothing of itself.
#include <atomic>
#include <future>
#include <string>
#include <vector>

#include "reader.hpp"
#include "support.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;
using tern::sdk::to_str;

namespace {
core_metrics metrics;

// One record at ts with an integer value per key (keys may repeat).
std::pair<tern_status, std::string> post(embedded_core& core, uint64_t device, const std::vector<std::string>& keys,
                                         int64_t value = 1, int64_t ts = 1000) {
    std::vector<tern_kv> kvs(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
        kvs[i].key = to_str(keys[i]);
        kvs[i].value.type = TERN_VALUE_INT;
        kvs[i].value.u.i = value;
    }
    const tern_ts_record rec{ts, kvs.data(), static_cast<uint32_t>(kvs.size()), 0};
    done_wait w;
    core.post_telemetry(device, &rec, 1, &done_wait::fn, &w);
    return w.get();
}

std::vector<std::string> names(const std::string& prefix, int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) out.push_back(prefix + std::to_string(i));
    return out;
}

std::vector<ts_latest> latest(embedded_core& core, const std::string& device) {
    auto r = await<std::vector<ts_latest>>([&](auto cb) { core.latest_telemetry(device, {}, cb); });
    REQUIRE(r.ok());
    return r.value;
}

int64_t latest_value(embedded_core& core, const std::string& device, const std::string& key) {
    for (const ts_latest& t : latest(core, device))
        if (t.key == key) return t.v.i;
    return -1;
}

}  // namespace

TEST_CASE("limits: a key longer than max_key_length characters is refused", "[limits]") {
    temp_dir dir;
    embedded_core core(metrics, {});
    auto s = settings_for(dir);
    REQUIRE(s.writer.max_key_length == 255);  // ThingsBoard's varchar(255)
    core.start(s);
    const uint64_t dev = add_device(core, "d").id;

    CHECK(post(core, dev, {std::string(255, 'k')}).first == TERN_OK);
    // characters, not bytes: 255 two-byte characters are 510 bytes and fit
    std::string accents;
    for (int i = 0; i < 255; ++i) accents += "\xC3\xA9";
    CHECK(post(core, dev, {accents}).first == TERN_OK);

    const auto [status, message] = post(core, dev, {"ok", std::string(256, 'k')}, 7);
    CHECK(status == TERN_INVALID_ARGUMENT);
    CHECK(message == "telemetry key '" + std::string(32, 'k') +
                         "...' is 256 characters, more than max_key_length 255; nothing stored");
    CHECK(latest_value(core, "d", "ok") == -1);  // nothing of it stored
    CHECK(latest(core, "d").size() == 2);

    // client attributes too
    std::vector<tern_kv> kv(1);
    const std::string long_key(300, 'a');
    kv[0].key = to_str(long_key);
    kv[0].value.type = TERN_VALUE_INT;
    kv[0].value.u.i = 1;
    done_wait w;
    core.post_attributes(dev, TERN_SCOPE_CLIENT, kv.data(), 1, &done_wait::fn, &w);
    const auto r = w.get();
    CHECK(r.first == TERN_INVALID_ARGUMENT);
    CHECK(r.second.rfind("attribute key 'aaaa", 0) == 0);
    core.stop();

    // 0: no limit
    embedded_core unlimited(metrics, {});
    s.writer.max_key_length = 0;
    unlimited.start(s);
    CHECK(post(unlimited, dev, {std::string(5000, 'k')}).first == TERN_OK);
}

TEST_CASE("limits: a device has at most max_telemetry_keys_per_device distinct keys", "[limits]") {
    REQUIRE(core_settings{}.writer.max_keys_per_device == 1000);
    for (const uint64_t cache : {uint64_t{4} << 20, uint64_t{0}}) {  // 0: the device key cache is dropped each time
        INFO("device_key_cache " << cache);
        temp_dir dir;
        auto s = settings_for(dir);
        s.writer.max_keys_per_device = 10;
        s.writer.device_key_cache = cache;
        embedded_core core(metrics, {});
        core.start(s);
        const uint64_t a = add_device(core, "a").id;
        const uint64_t b = add_device(core, "b").id;

        CHECK(post(core, a, names("k", 0, 8)).first == TERN_OK);
        // a name repeated in one message counts once: 8 + 2 = 10
        CHECK(post(core, a, {"k8", "k9", "k8", "k9", "k0"}).first == TERN_OK);
        // an 11th key is refused, and nothing of that message is stored (k0 keeps its value)
        const auto [status, message] = post(core, a, {"k0", "k10"}, 42, 2000);
        CHECK(status == TERN_INVALID_ARGUMENT);
        CHECK(message == "11 distinct telemetry keys for the device (it has 10), more than "
                         "max_telemetry_keys_per_device 10; nothing stored");
        CHECK(latest_value(core, "a", "k0") == 1);
        CHECK(latest(core, "a").size() == 10);
        // the keys it has still take values
        CHECK(post(core, a, names("k", 0, 10), 5, 3000).first == TERN_OK);
        CHECK(latest_value(core, "a", "k9") == 5);
        // another device has its own allowance, also for names a has
        CHECK(post(core, b, names("k", 5, 15)).first == TERN_OK);
        CHECK(post(core, b, {"x"}).first == TERN_INVALID_ARGUMENT);
        // many new keys at once
        CHECK(post(core, b, names("many", 0, 500)).first == TERN_INVALID_ARGUMENT);
        CHECK(latest(core, "b").size() == 10);
        core.stop();

        // the count survives a restart (it is read from the store)
        embedded_core again(metrics, {});
        again.start(s);
        CHECK(post(again, a, {"k10"}).first == TERN_INVALID_ARGUMENT);
        CHECK(post(again, a, {"k3"}, 9, 4000).first == TERN_OK);
        CHECK(latest_value(again, "a", "k3") == 9);
    }
}

TEST_CASE("limits: the key dictionary holds at most max_telemetry_keys names", "[limits]") {
    temp_dir dir;
    auto s = settings_for(dir);
    REQUIRE(s.writer.max_keys == 1000000);
    s.writer.max_keys = 15;
    embedded_core core(metrics, {});
    core.start(s);
    const uint64_t a = add_device(core, "a").id;
    const uint64_t b = add_device(core, "b").id;
    CHECK(post(core, a, names("k", 0, 10)).first == TERN_OK);
    CHECK(post(core, b, names("m", 0, 5)).first == TERN_OK);
    CHECK(core.stats().writer.ts_keys == 15);
    const auto [status, message] = post(core, b, {"m0", "new"}, 3, 2000);
    CHECK(status == TERN_BUSY);
    CHECK(message == "the telemetry key dictionary is full (max_telemetry_keys 15): new key names are refused; "
                     "nothing stored");
    CHECK(latest_value(core, "b", "m0") == 1);
    // names already in the dictionary are fine, for any device
    CHECK(post(core, b, {"k1", "k2"}).first == TERN_OK);
    CHECK(core.stats().writer.ts_keys == 15);
    core.stop();
    embedded_core again(metrics, {});
    again.start(s);
    CHECK(post(again, a, {"other"}).first == TERN_BUSY);
    CHECK(again.stats().writer.ts_keys == 15);
}

TEST_CASE("limits: write ops in flight hold at most write_queue_max_bytes", "[limits]") {
    temp_dir dir;
    auto s = settings_for(dir);
    REQUIRE(s.writer.queue_bytes == 64u << 20);
    s.writer.queue_bytes = 64 * 1024;
    embedded_core core(metrics, {});
    core.start(s);
    const uint64_t dev = add_device(core, "d").id;

    // hold the writer thread in a completion, so that what is submitted next waits
    std::promise<void> release;
    std::promise<void> holding;
    core.flush([&] {
        holding.set_value();
        release.get_future().wait();
    });
    REQUIRE(holding.get_future().wait_for(deadline) == std::future_status::ready);

    const std::string big(20 * 1024, 'x');
    std::vector<tern_kv> kv(1);
    kv[0].key = to_str("s");
    kv[0].value.type = TERN_VALUE_STR;
    kv[0].value.u.s = to_str(big);
    std::vector<std::unique_ptr<done_wait>> waits;
    for (int i = 0; i < 6; ++i) {
        const tern_ts_record rec{1000 + i, kv.data(), 1, 0};
        waits.push_back(std::make_unique<done_wait>());
        core.post_telemetry(dev, &rec, 1, &done_wait::fn, waits.back().get());
    }
    CHECK(core.stats().writer.queued_bytes > 40u * 1024);
    CHECK(core.stats().writer.queued_bytes <= 64u * 1024);
    release.set_value();
    int ok = 0, busy = 0;
    for (auto& w : waits) {
        const auto [status, message] = w->get();
        if (status == TERN_OK) ++ok;
        if (status == TERN_BUSY) {
            ++busy;
            CHECK(message.find("the store's write queue is full (") == 0);
            CHECK(message.find("write_queue_max_bytes 65536") != std::string::npos);
        }
    }
    CHECK(ok == 3);  // 3 x 20 KiB and their records fit in 64 KiB, a fourth does not
    CHECK(busy == 3);
    CHECK(core.stats().writer.rejected_bytes == 3);
    flush_wait(core);
    CHECK(core.stats().writer.queued_bytes == 0);

    // one op bigger than the whole budget is still taken when nothing else waits
    const std::string huge(100 * 1024, 'y');
    kv[0].value.u.s = to_str(huge);
    const tern_ts_record rec{5000, kv.data(), 1, 0};
    done_wait w;
    core.post_telemetry(dev, &rec, 1, &done_wait::fn, &w);
    CHECK(w.get().first == TERN_OK);
}

TEST_CASE("limits: reads waiting hold at most read_queue_max_bytes of request text", "[limits]") {
    temp_dir dir;
    auto s = settings_for(dir);
    REQUIRE(s.read_queue_bytes == 64u << 20);
    {
        embedded_core core(metrics, {});
        core.start(s);  // creates the database the readers open
    }
    reader_pool readers(metrics, {});
    readers.start(s.database, 1, 100, 1000);
    // hold the only reader thread, so that what is submitted next waits
    std::promise<void> release, holding;
    REQUIRE(readers.submit([&](db::connection&) {
        holding.set_value();
        release.get_future().wait();
    }, {}));
    REQUIRE(holding.get_future().wait_for(deadline) == std::future_status::ready);
    std::atomic<int> ran{0};
    std::vector<tern_status> refused;
    auto read = [&] { ++ran; };
    auto refuse = [&](tern_status st) { refused.push_back(st); };
    CHECK(readers.submit([&](db::connection&) { read(); }, refuse, 400));
    CHECK(readers.submit([&](db::connection&) { read(); }, refuse, 400));
    CHECK_FALSE(readers.submit([&](db::connection&) { read(); }, refuse, 400));  // 1200 > 1000
    CHECK(readers.submit([&](db::connection&) { read(); }, refuse, 0));         // nothing held: fits
    REQUIRE(refused.size() == 1);
    CHECK(refused[0] == TERN_BUSY);
    release.set_value();
    readers.stop();  // runs what is queued
    CHECK(ran == 3);
    // a read bigger than the whole budget is taken when nothing else waits
    readers.start(s.database, 1, 100, 1000);
    CHECK(readers.submit([&](db::connection&) { read(); }, refuse, 5000));
    readers.stop();
    CHECK(ran == 4);
}

TEST_CASE("limits: a device has at most max_attributes_per_device client attribute keys", "[limits]") {
    temp_dir dir;
    auto s = settings_for(dir);
    REQUIRE(s.writer.max_attributes_per_device == 1000);
    s.writer.max_attributes_per_device = 5;
    embedded_core core(metrics, {});
    core.start(s);
    const uint64_t dev = add_device(core, "d").id;
    auto post_attrs = [&](const std::vector<std::string>& keys, int64_t v) {
        std::vector<tern_kv> kvs(keys.size());
        for (size_t i = 0; i < keys.size(); ++i) {
            kvs[i].key = to_str(keys[i]);
            kvs[i].value.type = TERN_VALUE_INT;
            kvs[i].value.u.i = v;
        }
        done_wait w;
        core.post_attributes(dev, TERN_SCOPE_CLIENT, kvs.data(), static_cast<uint32_t>(kvs.size()), &done_wait::fn, &w);
        return w.get();
    };
    auto client = [&] {
        auto r = await<attribute_set>([&](auto cb) { core.read_attributes("d", 1u << TERN_SCOPE_CLIENT, {}, cb); });
        REQUIRE(r.ok());
        return r.value.client;
    };
    CHECK(post_attrs(names("a", 0, 4), 1).first == TERN_OK);
    CHECK(post_attrs({"a0", "a4", "a4", "a1"}, 2).first == TERN_OK);  // one new: 5
    const auto [status, message] = post_attrs({"a0", "a5"}, 3);
    CHECK(status == TERN_INVALID_ARGUMENT);
    CHECK(message == "6 attribute keys for the device (it has 5), more than max_attributes_per_device 5; nothing stored");
    const auto now = client();
    CHECK(now.size() == 5);
    for (const attribute& a : now)
        if (a.key == "a0") CHECK(a.v.i == 2);  // the refused message changed nothing
    CHECK(post_attrs(names("a", 0, 5), 4).first == TERN_OK);  // the keys it has still take values
    // the operator's shared attributes are another scope, not limited
    std::vector<kv> shared;
    for (const std::string& k : names("s", 0, 10)) shared.push_back(make_kv(k, value::of_int(1)));
    const auto r = await<none>([&](auto cb) { core.set_attributes("d", TERN_SCOPE_SHARED, shared, cb); });
    CHECK(r.ok());
    CHECK(post_attrs({"a3"}, 5).first == TERN_OK);
}
