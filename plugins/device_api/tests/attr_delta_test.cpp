// Spec §0.2: attribute deltas merge per key, newer wins, deletions are kept.
#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <string>

#include "attr_delta.hpp"

using namespace tern::device_api;

namespace {

tern_value int_value(int64_t i) {
    tern_value v{};
    v.type = TERN_VALUE_INT;
    v.u.i = i;
    return v;
}

tern_value str_value(const char* s) {
    tern_value v{};
    v.type = TERN_VALUE_STR;
    v.u.s = tern_str{s, std::strlen(s)};
    return v;
}

// key -> "int:N" / "str:S" / "deleted"
std::map<std::string, std::string> pending(const attr_delta& d) {
    std::vector<tern_kv> up;
    std::vector<tern_str> del;
    d.view(up, del);
    std::map<std::string, std::string> m;
    for (const tern_kv& kv : up) {
        const std::string k(kv.key.data, kv.key.size);
        if (kv.value.type == TERN_VALUE_INT) m[k] = "int:" + std::to_string(kv.value.u.i);
        else if (kv.value.type == TERN_VALUE_STR) m[k] = "str:" + std::string(kv.value.u.s.data, kv.value.u.s.size);
        else m[k] = "other";
    }
    for (const tern_str& s : del) m[std::string(s.data, s.size)] = "deleted";
    return m;
}

}  // namespace

TEST_CASE("attribute delta: newer value wins per key", "[delta]") {
    attr_delta d;
    d.set("a", int_value(1), 1);
    d.set("b", str_value("x"), 1);
    d.set("a", int_value(2), 2);
    CHECK(pending(d) == std::map<std::string, std::string>{{"a", "int:2"}, {"b", "str:x"}});
    CHECK(d.newest() == 2);
}

TEST_CASE("attribute delta: deletions are kept, a set after a delete wins, a delete after a set wins", "[delta]") {
    attr_delta d;
    d.set("a", int_value(1), 1);
    d.remove("a", 2);  // set then delete: deleted
    d.remove("b", 3);
    d.set("b", int_value(5), 4);  // delete then set: set
    d.remove("c", 5);
    CHECK(pending(d) == std::map<std::string, std::string>{{"a", "deleted"}, {"b", "int:5"}, {"c", "deleted"}});
}

TEST_CASE("attribute delta: a change set from the core", "[delta]") {
    attr_delta d;
    const tern_kv up[] = {{tern_str{"x", 1}, int_value(1)}, {tern_str{"y", 1}, tern_value{}}};
    const tern_str del[] = {{"z", 1}};
    d.apply(up, 2, del, 1, 7);
    // a null value carries nothing storable: it is a deletion
    CHECK(pending(d) == std::map<std::string, std::string>{{"x", "int:1"}, {"y", "deleted"}, {"z", "deleted"}});
    attr_delta later;
    later.set("x", int_value(2), 0);
    later.remove("w", 0);
    d.merge_from(later, 8);
    CHECK(pending(d) ==
          std::map<std::string, std::string>{{"w", "deleted"}, {"x", "int:2"}, {"y", "deleted"}, {"z", "deleted"}});
}

TEST_CASE("attribute delta: delivery drops what that notification carried and nothing newer", "[delta]") {
    attr_delta d;
    d.set("a", int_value(1), 1);
    d.set("b", int_value(1), 1);
    // notification 1 carries {a, b}; then a changes again (change 2) before its ACK
    d.set("a", int_value(2), 2);
    d.delivered(1);
    CHECK(pending(d) == std::map<std::string, std::string>{{"a", "int:2"}});
    // a MERGED notification delivers nothing; the next delivery covers everything
    d.remove("c", 3);
    d.delivered(3);
    CHECK(d.empty());
    CHECK(d.newest() == 0);
}

TEST_CASE("attribute delta: values own their text", "[delta]") {
    attr_delta d;
    {
        std::string tmp = "volatile";
        tern_value v{};
        v.type = TERN_VALUE_JSON;
        v.u.s = tern_str{tmp.data(), tmp.size()};
        d.set(std::string("k"), v, 1);
        tmp.assign("XXXXXXXX");
    }
    std::vector<tern_kv> up;
    std::vector<tern_str> del;
    d.view(up, del);
    REQUIRE(up.size() == 1);
    CHECK(up[0].value.type == TERN_VALUE_JSON);
    CHECK(std::string(up[0].value.u.s.data, up[0].value.u.s.size) == "volatile");
}

TEST_CASE("attribute delta: every deletion of many change sets is kept (not only the newest set's)", "[delta]") {
    // What a sleeping device's held update is made of: change sets merged one by one.
    attr_delta held;
    uint64_t seq = 0;
    auto change = [&](std::vector<std::pair<const char*, int64_t>> up, std::vector<const char*> del) {
        attr_delta c;
        std::vector<tern_kv> kv;
        for (auto& [k, v] : up) kv.push_back(tern_kv{tern_str{k, std::strlen(k)}, int_value(v)});
        std::vector<tern_str> ds;
        for (const char* k : del) ds.push_back(tern_str{k, std::strlen(k)});
        c.apply(kv.data(), static_cast<uint32_t>(kv.size()), ds.data(), static_cast<uint32_t>(ds.size()), 0);
        held.merge_from(c, ++seq);
    };
    change({{"a", 1}, {"b", 1}}, {});
    change({}, {"x"});
    change({{"c", 1}}, {"y"});
    change({}, {"b"});           // a pending value deleted: delivered as a deletion
    change({{"y", 2}}, {"z"});   // a set after a delete: a set
    change({{"a", 3}}, {});
    CHECK(pending(held) == std::map<std::string, std::string>{
                               {"a", "int:3"}, {"b", "deleted"}, {"c", "int:1"},
                               {"x", "deleted"}, {"y", "int:2"}, {"z", "deleted"}});
    CHECK(held.newest() == 6);
}

TEST_CASE("attribute delta: its size in bytes, and past a bound keeping only deletions until a read", "[delta]") {
    attr_delta d;
    d.set("ab", int_value(1), 1);                 // 2 + 8
    d.set("text", str_value("hello"), 1);         // 4 + 5
    d.remove("gone", 2);                          // 4
    CHECK(d.bytes() == 23);
    d.set("ab", str_value("x"), 3);               // 2 + 1 now
    CHECK(d.bytes() == 16);
    d.drop_values();
    CHECK(pending(d) == std::map<std::string, std::string>{{"gone", "deleted"}});
    CHECK(d.bytes() == 4);
    // while the values are dropped: deletions kept, a set forgets the key's pending deletion
    attr_delta c;
    c.remove("old", 0);
    c.set("gone", int_value(9), 0);
    d.merge_deletions_from(c, 4);
    CHECK(pending(d) == std::map<std::string, std::string>{{"old", "deleted"}});
    // the read (change 5 started it): its values, except keys changed after it began
    const uint64_t read_started = 5;
    d.remove("late", 6);
    attr_delta read;
    read.set("late", int_value(1), 0);  // the read saw it before its deletion
    read.set("v", int_value(2), 0);
    d.merge_read(read, 7, read_started);
    CHECK(pending(d) ==
          std::map<std::string, std::string>{{"late", "deleted"}, {"old", "deleted"}, {"v", "int:2"}});
    d.delivered(7);
    CHECK(d.empty());
    CHECK(d.bytes() == 0);
}
