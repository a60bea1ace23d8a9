// Telemetry history keyed by time bucket first: reads that walk many buckets (compared with a
// plain model of every point), late and out-of-order points, the background removal of a
// deleted device's history, and the migration of a version-1 database.
#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <thread>
#include <tuple>

#include "schema.hpp"
#include "store.hpp"
#include "support.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;
using tern::sdk::to_str;

namespace {
core_metrics metrics;

using history = std::map<std::string, std::vector<ts_point>>;
// (device, key) -> ts -> value: what the store must answer
using model = std::map<std::pair<std::string, std::string>, std::map<int64_t, int64_t>>;

// Posts (ts, key, value) points of one device in one op (one record per point).
tern_status post_points(embedded_core& core, uint64_t device, const std::vector<std::tuple<int64_t, std::string, int64_t>>& pts) {
    std::vector<tern_kv> kvs(pts.size());
    std::vector<tern_ts_record> recs(pts.size());
    for (size_t i = 0; i < pts.size(); ++i) {
        kvs[i].key = to_str(std::get<1>(pts[i]));
        kvs[i].value.type = TERN_VALUE_INT;
        kvs[i].value.u.i = std::get<2>(pts[i]);
        recs[i] = tern_ts_record{std::get<0>(pts[i]), &kvs[i], 1, 0};
    }
    done_wait w;
    core.post_telemetry(device, recs.data(), static_cast<uint32_t>(recs.size()), &done_wait::fn, &w);
    return w.get().first;
}

history range(embedded_core& core, const std::string& dev, std::vector<std::string> keys, int64_t from, int64_t to,
              int64_t limit, bool desc) {
    auto r = await<history>([&](auto cb) { core.telemetry_range(dev, keys, from, to, limit, desc, cb); });
    REQUIRE(r.ok());
    return r.value;
}

// What the model says for one key: ts order, limit.
std::vector<std::pair<int64_t, int64_t>> expect(const std::map<int64_t, int64_t>& m, int64_t from, int64_t to,
                                                int64_t limit, bool desc) {
    std::vector<std::pair<int64_t, int64_t>> out;
    if (from > to) return out;
    auto lo = m.lower_bound(from);
    auto hi = m.upper_bound(to);
    if (desc) {
        for (auto it = std::make_reverse_iterator(hi); it != std::make_reverse_iterator(lo) && (int64_t)out.size() < limit; ++it)
            out.push_back(*it);
    } else {
        for (auto it = lo; it != hi && (int64_t)out.size() < limit; ++it) out.push_back(*it);
    }
    return out;
}

std::vector<std::pair<int64_t, int64_t>> got(const std::vector<ts_point>& pts) {
    std::vector<std::pair<int64_t, int64_t>> out;
    for (const ts_point& p : pts) {
        CHECK(p.v.type == TERN_VALUE_INT);
        out.emplace_back(p.ts, p.v.i);
    }
    return out;
}

int64_t rows_of(db::connection& c, uint64_t device) {
    auto q = c.query("SELECT count(*) FROM ts_kv WHERE device_id = ?");
    q->bind_id(1, device);
    REQUIRE(q->step());
    return q->get_int(0);
}

// Waits until no deleted device's history is left to remove.
void wait_purged(embedded_core& core) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (core.stats().purge_devices > 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(5ms);
    REQUIRE(core.stats().purge_devices == 0);
    flush_wait(core);
}

constexpr int64_t B = ts_bucket_ms;
}  // namespace

TEST_CASE("telemetry history: reads across many buckets match every point written", "[telemetry]") {
    temp_dir dir;
    embedded_core core(metrics, {});
    core.start(settings_for(dir));
    std::map<std::string, uint64_t> ids;
    for (const char* n : {"a", "b", "c"}) ids[n] = add_device(core, n).id;

    // a: sparse, with gaps of many buckets, one negative ts and one far in the future;
    // b and c: dense, so the buckets a walks through are not empty.
    std::mt19937_64 rng(42);
    model m;
    int64_t next_value = 1;
    auto add = [&](std::vector<std::tuple<int64_t, std::string, int64_t>>& batch, const std::string& dev,
                   const std::string& key, int64_t ts) {
        batch.emplace_back(ts, key, next_value);
        m[{dev, key}][ts] = next_value++;
    };
    for (const auto& [name, id] : ids) {
        std::vector<std::tuple<int64_t, std::string, int64_t>> batch;
        for (int64_t b = 100; b < 160; ++b) {
            const bool sparse = name == "a";
            if (sparse && (b % 7 != 0 && b != 131 && b != 132)) continue;  // a: every 7th bucket, and 131, 132
            for (const char* key : {"x", "y"}) {
                const int n = sparse ? 1 + int(rng() % 3) : 2;
                for (int i = 0; i < n; ++i) add(batch, name, key, b * B + int64_t(rng() % B));
            }
        }
        if (name == "b") add(batch, name, "x", 500000 * B);  // another device's point inside a's gap
        if (name == "a") {
            add(batch, name, "x", -2500);                  // before the epoch
            add(batch, name, "x", 1000000 * B + 17);       // far beyond the rest
            add(batch, name, "x", 131 * B);                // first ms of a bucket
            add(batch, name, "x", 132 * B - 1);            // last ms of the one before
        }
        REQUIRE(post_points(core, id, batch) == TERN_OK);
    }
    // Late writes: an old ts before everything, one into an old bucket, and a repeated ts
    // that replaces its value.
    {
        std::vector<std::tuple<int64_t, std::string, int64_t>> late;
        add(late, "a", "x", -90 * B);
        add(late, "a", "x", 121 * B + 5);
        const int64_t again = m[{"a", "y"}].begin()->first;
        add(late, "a", "y", again);
        REQUIRE(post_points(core, ids["a"], late) == TERN_OK);
    }

    // The latest point is the newest, not the last written; a new value at its ts replaces it.
    auto latest = await<std::vector<ts_latest>>([&](auto cb) { core.latest_telemetry("a", {"x"}, cb); });
    REQUIRE(latest.value.size() == 1);
    CHECK(latest.value[0].ts == 1000000 * B + 17);
    {
        std::vector<std::tuple<int64_t, std::string, int64_t>> again;
        add(again, "a", "x", 1000000 * B + 17);
        REQUIRE(post_points(core, ids["a"], again) == TERN_OK);
    }
    latest = await<std::vector<ts_latest>>([&](auto cb) { core.latest_telemetry("a", {"x"}, cb); });
    REQUIRE(latest.value.size() == 1);
    CHECK(latest.value[0].ts == 1000000 * B + 17);
    CHECK(latest.value[0].v == value::of_int(m[{"a", "x"}][1000000 * B + 17]));

    const int64_t far = 1000000 * B + 17;
    const std::vector<std::pair<int64_t, int64_t>> ranges = {
        {INT64_MIN, INT64_MAX}, {0, INT64_MAX},          {-100 * B, 0},       {100 * B, 160 * B},
        {131 * B - 1, 132 * B}, {132 * B - 1, 131 * B},  // empty: start after end
        {135 * B, 139 * B},     // a has nothing here
        {161 * B, far - 1},     // a gap of a million buckets with nothing
        {far, far},             {far + 1, INT64_MAX},    {121 * B + 5, 121 * B + 5},
        {107 * B + 1, 150 * B - 1},
    };
    for (const auto& [dev, key] : std::vector<std::pair<std::string, std::string>>{{"a", "x"}, {"a", "y"}, {"b", "x"}}) {
        for (const auto& [from, to] : ranges)
            for (int64_t limit : {1, 2, 5, 100, 100000})
                for (bool desc : {false, true}) {
                    INFO(dev << "/" << key << " [" << from << ", " << to << "] limit " << limit << (desc ? " desc" : " asc"));
                    auto r = range(core, dev, {key}, from, to, limit, desc);
                    CHECK(got(r[key]) == expect(m[{dev, key}], from, to, limit, desc));
                }
    }

    // Every key at once; unknown keys are absent, keys without points in range are empty.
    auto all = range(core, "a", {}, 100 * B, 200 * B, 100000, false);
    CHECK(all.size() == 2);
    CHECK(got(all["x"]) == expect(m[{"a", "x"}], 100 * B, 200 * B, 100000, false));
    CHECK(got(all["y"]) == expect(m[{"a", "y"}], 100 * B, 200 * B, 100000, false));
    auto none = range(core, "a", {"x", "nope"}, 136 * B, 138 * B, 100, true);
    CHECK(none.size() == 1);
    CHECK(none["x"].empty());
}

TEST_CASE("telemetry history: a walk seeks once per bucket with points, and jumps over empty ones", "[telemetry]") {
    temp_dir dir;
    const core_settings s = settings_for(dir);
    std::filesystem::create_directories(std::filesystem::path(s.database).parent_path());
    auto c = db::connection::open(s.database, true, false);
    migrate(c);
    auto put = [&](int64_t dev, int64_t ts) {
        auto q = c.query("INSERT INTO ts_kv(bucket, device_id, key_id, ts, type, v) VALUES (?, ?, 1, ?, 2, 0)");
        q->bind(1, ts_bucket(ts)).bind(2, dev).bind(3, ts);
        q->run();
    };
    // Device 1: buckets 10 (twice) and 20, then nothing until 10^9; device 2 in every bucket from
    // 10 to 29, then at 5 * 10^8.
    put(1, 10 * B + 1);
    put(1, 10 * B + 2);
    put(1, 20 * B);
    put(1, 1000000000 * B);
    for (int64_t b = 10; b < 30; ++b) put(2, b * B);
    put(2, 500000000 * B);
    for (bool desc : {false, true}) {
        INFO((desc ? "desc" : "asc"));
        uint64_t seeks = 0;
        auto pts = store::ts_history(c, 1, 1, INT64_MIN, INT64_MAX, 100, desc, &seeks);
        REQUIRE(pts.size() == 4);
        CHECK(pts[desc ? 0 : 3].ts == 1000000000 * B);
        // 20 buckets with points, and the two far ones: not a billion.
        CHECK(seeks <= 24);
        seeks = 0;
        pts = store::ts_history(c, 1, 1, 10 * B + 2, 20 * B, 1, desc, &seeks);
        REQUIRE(pts.size() == 1);
        CHECK(pts[0].ts == (desc ? 20 * B : 10 * B + 2));
        CHECK(seeks == 1);
        seeks = 0;
        CHECK(store::ts_history(c, 1, 1, 21 * B, 999999999 * B, 100, desc, &seeks).empty());
        CHECK(seeks <= 12);  // buckets 21-29, then 30, 5 * 10^8 and the one after it
    }
}

TEST_CASE("telemetry history: a deleted device's points are removed in the background", "[telemetry][delete]") {
    temp_dir dir;
    const core_settings s = settings_for(dir);
    embedded_core core(metrics, {});
    core.start(s);
    const uint64_t gone = add_device(core, "gone").id;
    const uint64_t kept = add_device(core, "kept").id;
    std::vector<std::tuple<int64_t, std::string, int64_t>> pts;
    for (int64_t b = 0; b < 3000; b += 3) pts.emplace_back(1700000000000 + b * B, "t", b);
    pts.emplace_back(5, "t", 1);  // a lone point far before the rest
    REQUIRE(post_points(core, gone, pts) == TERN_OK);
    REQUIRE(post_points(core, kept, pts) == TERN_OK);
    auto check = db::connection::open(s.database, false, true);
    REQUIRE(rows_of(check, gone) == int64_t(pts.size()));

    const uint64_t before = core.stats().purged_points;
    REQUIRE(await<none>([&](auto cb) { core.delete_device("gone", cb); }).ok());
    // Gone at once for every reader: the device is.
    CHECK(await<history>([&](auto cb) { core.telemetry_range("gone", {}, 0, INT64_MAX, 10, false, cb); }).status ==
          TERN_NOT_FOUND);
    wait_purged(core);
    CHECK(rows_of(check, gone) == 0);
    CHECK(rows_of(check, kept) == int64_t(pts.size()));
    CHECK(core.stats().purged_points - before == pts.size());
    CHECK(range(core, "kept", {"t"}, 0, INT64_MAX, 100000, false)["t"].size() == pts.size());

    // A device without telemetry leaves nothing to remove.
    add_device(core, "empty");
    REQUIRE(await<none>([&](auto cb) { core.delete_device("empty", cb); }).ok());
    CHECK(core.stats().purge_devices == 0);
}

TEST_CASE("telemetry history: removal goes in bounded steps and resumes after a restart", "[telemetry][delete]") {
    temp_dir dir;
    const core_settings s = settings_for(dir);
    uint64_t gone = 0, kept = 0;
    {
        embedded_core core(metrics, {});
        core.start(s);
        gone = add_device(core, "gone").id;
        kept = add_device(core, "kept").id;
        std::vector<std::tuple<int64_t, std::string, int64_t>> pts;
        for (int64_t b = 0; b < 50; ++b)
            for (const char* k : {"t", "u"}) pts.emplace_back(b * B + b, k, b);
        REQUIRE(post_points(core, gone, pts) == TERN_OK);
        REQUIRE(post_points(core, kept, pts) == TERN_OK);
    }
    {
        // What delete_device does, without its purge step: one step at a time, here.
        auto c = db::connection::open(s.database, false, false);
        db::transaction t(c);
        REQUIRE(store::ts_purge_queue(c, gone));
        c.exec(("DELETE FROM ts_latest WHERE device_id = " + std::to_string(gone)).c_str());
        c.exec(("DELETE FROM devices WHERE id = " + std::to_string(gone)).c_str());
        const auto p = store::ts_purge_step(c, 10);  // a step stops at its budget
        CHECK(p.points > 0);
        CHECK(p.points <= 10);
        CHECK(p.devices == 1);
        CHECK(rows_of(c, gone) == 100 - int64_t(p.points));
        t.commit();
    }
    // The next start finishes the job.
    embedded_core core(metrics, {});
    core.start(s);
    wait_purged(core);
    auto check = db::connection::open(s.database, false, true);
    CHECK(rows_of(check, gone) == 0);
    CHECK(rows_of(check, kept) == 100);
    auto q = check.query("SELECT count(*) FROM ts_purge");
    REQUIRE(q->step());
    CHECK(q->get_int(0) == 0);
}

TEST_CASE("telemetry history: a version-1 database is migrated with every point", "[telemetry][migration]") {
    temp_dir dir;
    const core_settings s = settings_for(dir);
    std::filesystem::create_directories(std::filesystem::path(s.database).parent_path());
    model m;
    {
        // The layout of version 1, written as that build wrote it.
        auto c = db::connection::open(s.database, true, false);
        c.exec("PRAGMA journal_mode = WAL");
        REQUIRE(migrate(c, 1) == 0);
        db::transaction t(c);
        c.exec("INSERT INTO devices(id, name, profile_id, revision, created_ts) VALUES (7, 'old', 1, 2, 0), (9, 'other', 1, 3, 0)");
        c.exec("INSERT INTO credentials(device_id, kind, id) VALUES (7, 0, 'old-token')");
        c.exec("INSERT INTO ts_keys(id, name) VALUES (1, 'temp'), (2, 'name')");
        auto ins = [&](int64_t dev, int64_t key, int64_t ts, int64_t v) {
            auto q = c.query("INSERT INTO ts_kv(device_id, key_id, ts, type, v) VALUES (?, ?, ?, 2, ?)");
            q->bind(1, dev).bind(2, key).bind(3, ts).bind(4, v);
            q->run();
            m[{dev == 7 ? "old" : "other", key == 1 ? "temp" : "name"}][ts] = v;
        };
        for (int64_t i = 0; i < 200; ++i) {
            ins(7, 1, 1700000000000 + i * 1700, i);
            ins(9, 1, 1700000000000 + i * 900, -i);
        }
        ins(7, 1, 12, 99);     // an early outlier
        ins(7, 1, -1500, 98);  // and one before the epoch (bucket -1 here and in SQL)
        {
            auto q = c.query("INSERT INTO ts_kv(device_id, key_id, ts, type, v) VALUES (7, 2, 1700000000000, 4, 'text')");
            q->run();
        }
        t.commit();
    }

    embedded_core core(metrics, {});
    core.start(s);
    {
        auto c = db::connection::open(s.database, false, true);
        auto q = c.query("PRAGMA user_version");
        REQUIRE(q->step());
        CHECK(q->get_int(0) == schema_version);
        auto n = c.query("SELECT bucket, ts FROM ts_kv");
        int rows = 0, right = 0;
        for (; n->step(); ++rows) right += n->get_int(0) == ts_bucket(n->get_int(1));
        CHECK(rows == 403);
        CHECK(right == rows);
    }
    for (bool desc : {false, true})
        for (int64_t limit : {1, 50, 100000}) {
            auto r = range(core, "old", {"temp"}, INT64_MIN, INT64_MAX, limit, desc);
            CHECK(got(r["temp"]) == expect(m[{"old", "temp"}], INT64_MIN, INT64_MAX, limit, desc));
            auto o = range(core, "other", {"temp"}, 1700000050000, 1700000100000, limit, desc);
            CHECK(got(o["temp"]) == expect(m[{"other", "temp"}], 1700000050000, 1700000100000, limit, desc));
        }
    auto text = range(core, "old", {"name"}, 0, INT64_MAX, 10, false);
    REQUIRE(text["name"].size() == 1);
    CHECK(text["name"][0].v == value::of_str("text"));
    auto latest = await<std::vector<ts_latest>>([&](auto cb) { core.latest_telemetry("old", {}, cb); });
    REQUIRE(latest.value.size() == 2);
    CHECK(latest.value[1].key == "temp");
    CHECK(latest.value[1].ts == 1700000000000 + 199 * 1700);

    // Writes and deletion work on the migrated data.
    REQUIRE(post_points(core, 7, {{-5000, "temp", 1000}, {1800000000000, "temp", 1001}}) == TERN_OK);
    auto ends = range(core, "old", {"temp"}, INT64_MIN, INT64_MAX, 1, false);
    CHECK(got(ends["temp"]) == std::vector<std::pair<int64_t, int64_t>>{{-5000, 1000}});
    ends = range(core, "old", {"temp"}, INT64_MIN, INT64_MAX, 1, true);
    CHECK(got(ends["temp"]) == std::vector<std::pair<int64_t, int64_t>>{{1800000000000, 1001}});
    CHECK(authenticate(core, TERN_CREDENTIAL_ACCESS_TOKEN, "old-token").name == "old");
    REQUIRE(await<none>([&](auto cb) { core.delete_device("old", cb); }).ok());
    wait_purged(core);
    auto c = db::connection::open(s.database, false, true);
    CHECK(rows_of(c, 7) == 0);
    CHECK(rows_of(c, 9) == 200);
}
