// The compiled-profile cache: one compile per (profile, revision), a new revision compiled
// again, the old one freed once no thread holds it, the bound and its eviction counter, and
// threads racing on one entry.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <thread>

#include "support.hpp"
#include "tern/sdk/testing.hpp"

using namespace protobuf_test;
namespace testing = tern::sdk::testing;

namespace {

const std::string schema_v1 = "syntax = \"proto3\";\nmessage A { int32 x = 1; }\n";
const std::string schema_v2 = "syntax = \"proto3\";\nmessage B { int32 y = 1; }\n";

struct counted {
    testing::fake_host fh;
    tern::sdk::host h{&fh};
    cache_metrics m{h.counter("compiles", "c"), h.counter("evictions", "e"), h.counter("refusals", "r")};
    int64_t compiles() const { return fh.metrics.value("compiles"); }
    int64_t evictions() const { return fh.metrics.value("evictions"); }
    int64_t refusals() const { return fh.metrics.value("refusals"); }
};

}  // namespace

TEST_CASE("cache: one compile per profile revision, the same object every time", "[cache]") {
    counted c;
    profile_cache cache({}, 16, c.m);
    profile p(1, 5, {{"telemetry_schema", schema_v1}});
    auto a = cache.get(p.ctx).share();
    auto b = cache.get(p.ctx).share();
    CHECK(a == b);
    CHECK(a->schema(schema_kind::telemetry)->root_name == "telemetry.A");
    CHECK(a->schema(schema_kind::attributes) == default_schema(schema_kind::attributes).get());  // shared default
    CHECK(c.compiles() == 1);
    CHECK(cache.size() == 1);

    // another thread finds it in the shared table
    std::shared_ptr<const compiled_profile> other;
    std::thread([&] { other = cache.get(p.ctx).share(); }).join();
    CHECK(other == a);
    CHECK(c.compiles() == 1);
}

TEST_CASE("cache: a new revision is compiled again and the old one freed once released", "[cache]") {
    counted c;
    profile_cache cache({}, 16, c.m);
    profile v1(1, 5, {{"telemetry_schema", schema_v1}});
    profile v2(1, 6, {{"telemetry_schema", schema_v2}});
    std::weak_ptr<const compiled_profile> old = cache.get(v1.ctx).share();
    CHECK_FALSE(old.expired());  // this thread's entry and the table hold it

    // A second thread holds v1 in its own entries until its next lookup.
    std::barrier step(2);
    std::thread t([&] {
        cache.get(v1.ctx).share();
        step.arrive_and_wait();  // 1: main moves to v2
        step.arrive_and_wait();  // 2: main checked v1 is still held
        profile unrelated(99, 1);
        cache.get(unrelated.ctx).share();  // any lookup drops the stale entries
        step.arrive_and_wait();  // 3
        step.arrive_and_wait();  // 4: main checked, the thread may end
    });
    step.arrive_and_wait();  // 1
    const uint64_t g = cache.generation();
    auto now = cache.get(v2.ctx).share();
    CHECK(cache.generation() != g);
    CHECK(now->schema(schema_kind::telemetry)->root_name == "telemetry.B");
    CHECK(c.compiles() == 2);
    CHECK_FALSE(old.expired());  // the other thread still has it
    step.arrive_and_wait();      // 2
    step.arrive_and_wait();      // 3
    CHECK(old.expired());
    step.arrive_and_wait();  // 4
    t.join();

    // An older revision still in flight is served but does not replace the newer one.
    auto stale = cache.get(v1.ctx).share();
    CHECK(stale->schema(schema_kind::telemetry)->root_name == "telemetry.A");
    CHECK(cache.get(v2.ctx).share() == now);
}

TEST_CASE("cache: a lease keeps its profile alive through a nested call that drops it", "[cache]") {
    profile_cache cache({}, 16);
    profile v1(1, 1, {{"telemetry_schema", schema_v1}});
    profile v2(1, 2, {{"telemetry_schema", schema_v2}});
    std::weak_ptr<const compiled_profile> held;
    {
        const auto outer = cache.get(v1.ctx);  // as a decode holds it while its sink runs
        held = outer.share();
        {
            const auto inner = cache.get(v2.ctx);  // the sink's call: v1 leaves the table and the thread
            CHECK(inner->schema(schema_kind::telemetry)->root_name == "telemetry.B");
        }
        CHECK_FALSE(held.expired());
        CHECK(outer->schema(schema_kind::telemetry)->root_name == "telemetry.A");
    }
    CHECK(held.expired());
}

TEST_CASE("cache: bounded by max_cached_profiles, least recently looked up evicted and counted", "[cache]") {
    counted c;
    profile_cache cache({}, 2, c.m);
    profile p1(1, 1, {{"telemetry_schema", schema_v1}});
    profile p2(2, 1, {{"telemetry_schema", schema_v1}});
    profile p3(3, 1, {{"telemetry_schema", schema_v2}});
    std::weak_ptr<const compiled_profile> first = cache.get(p1.ctx).share();
    cache.get(p2.ctx).share();
    cache.get(p3.ctx).share();
    CHECK(cache.size() == 2);
    CHECK(c.evictions() == 1);
    cache.get(p3.ctx).share();  // the new generation drops this thread's entries
    CHECK(first.expired());
    cache.get(p1.ctx).share();  // compiled again
    CHECK(c.compiles() == 4);
    CHECK(c.evictions() == 2);
}

TEST_CASE("cache: profile 0 or revision 0 compiles without caching, no texts is the shared default", "[cache]") {
    counted c;
    profile_cache cache({}, 16, c.m);
    profile unsaved(0, 0, {{"telemetry_schema", schema_v1}});
    auto a = cache.get(unsaved.ctx).share();
    auto b = cache.get(unsaved.ctx).share();
    CHECK(a != b);
    CHECK(cache.size() == 0);
    CHECK(c.compiles() == 2);

    profile none(0, 0);
    CHECK(cache.get(none.ctx).share() == cache.get(none.ctx).share());

    profile broken(5, 1, {{"rpc_request_schema", "syntax = \"proto2\";"}});
    auto p = cache.get(broken.ctx).share();
    CHECK(p->schema(schema_kind::rpc_request) == nullptr);
    CHECK(p->refusal(schema_kind::rpc_request) ==
          "RPC request schema, line 1, column 10: only proto3 is accepted, not \"proto2\"");
    CHECK(cache.get(broken.ctx).share() == p);  // a refusal is cached as well: never compiled per message
    CHECK(c.refusals() == 1);
}

TEST_CASE("cache: threads missing one entry at once all get one complete object", "[cache]") {
    counted c;
    profile_cache cache({}, 16, c.m);
    profile p(7, 1, {{"telemetry_schema", schema_v1}, {"attributes_schema", schema_v2}});
    constexpr int n = 4;
    std::barrier start(n);
    std::vector<std::shared_ptr<const compiled_profile>> got(n);
    std::vector<std::thread> ts;
    for (int i = 0; i < n; ++i)
        ts.emplace_back([&, i] {
            start.arrive_and_wait();
            got[i] = cache.get(p.ctx).share();
        });
    for (auto& t : ts) t.join();
    for (const auto& g : got) {
        REQUIRE(g != nullptr);
        CHECK(g->schema(schema_kind::telemetry)->root_name == "telemetry.A");
        CHECK(g->schema(schema_kind::attributes)->root_name == "attributes.B");
    }
    CHECK(c.compiles() <= n);
    CHECK(cache.size() == 1);
    // after the race, every thread's next lookup finds the one the table kept
    const auto kept = cache.get(p.ctx).share();
    CHECK(std::count(got.begin(), got.end(), kept) >= 1);
}

TEST_CASE("cache: threads decoding while the profile's revision moves see one schema or the other, whole", "[cache]") {
    adaptor a(options{});
    // The same bytes (field 1 = 5) are x under the odd revisions' schema and y under the even ones'.
    constexpr int revisions = 40;
    std::vector<std::unique_ptr<profile>> profiles;
    for (int r = 1; r <= revisions; ++r)
        profiles.push_back(std::make_unique<profile>(
            3, r, std::map<std::string, std::string>{{"attributes_schema", r % 2 ? schema_v1 : schema_v2}}));
    const std::string body("\x08\x05", 2);
    std::atomic<int> current{0};
    std::atomic<int> wrong{0};
    std::atomic<int> decoded{0};
    std::atomic<bool> done{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < 3; ++t)
        ts.emplace_back([&] {
            while (!done.load()) {
                const int i = current.load();
                received r;
                tern_error err{};
                if (a.decode_attributes(&profiles[i]->ctx, bytes_of(body), &received::on_kvs, &r, &err) != TERN_OK ||
                    r.values.size() != 1 || r.values.count((i + 1) % 2 ? "x" : "y") != 1)
                    ++wrong;
                ++decoded;
            }
        });
    for (int i = 0; i < revisions; ++i) {
        current.store(i);
        const int seen = decoded.load();
        while (decoded.load() < seen + 20) std::this_thread::yield();
    }
    done.store(true);
    for (auto& t : ts) t.join();
    CHECK(wrong.load() == 0);
    CHECK(decoded.load() >= revisions * 20);
    CHECK(a.cache().size() == 1);
}
