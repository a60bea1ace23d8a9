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
