#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "kernel/registry.hpp"

using namespace tern::kernel;

namespace {
tern_str s(const char* t) { return tern_str{t, std::char_traits<char>::length(t)}; }
int a, b, c;
}  // namespace

TEST_CASE("the registry finds interfaces by id, by instance, in manifest order", "[registry]") {
    registry r;
    // added in start order, listed in manifest order
    r.add("tern.transport/1", "udp6", 2, &c);
    r.add("tern.transport/1", "udp", 0, &a);
    r.add("tern.coap.engine/1", "coap", 1, &b);
    CHECK(r.find(s("tern.transport/1"), s("")) == nullptr);  // nothing before publication
    r.publish();

    CHECK(r.find(s("tern.transport/1"), tern_str{nullptr, 0}) == &a);
    CHECK(r.find(s("tern.transport/1"), s("udp6")) == &c);
    CHECK(r.find(s("tern.coap.engine/1"), s("")) == &b);
    CHECK(r.find(s("tern.coap.engine/1"), s("udp")) == nullptr);
    CHECK(r.find(s("tern.nothing/1"), s("")) == nullptr);

    std::vector<std::pair<std::string, void*>> seen;
    r.list(s("tern.transport/1"), [](void* ctx, tern_str inst, void* iface) {
        static_cast<decltype(seen)*>(ctx)->emplace_back(std::string(inst.data, inst.size), iface);
    }, &seen);
    CHECK(seen == decltype(seen){{"udp", &a}, {"udp6", &c}});

    r.clear();
    CHECK(r.find(s("tern.transport/1"), s("")) == nullptr);
}
