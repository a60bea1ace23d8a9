// A schema of 36 keys, the size of the biggest plugin's: it compiles quickly (a few seconds
// at most with the whole SDK), and its keys array is constant-initialized (constinit), so the
// descriptor pointing at it is built by the compiler.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tern/sdk/config.hpp"
#include "tern/sdk/testing.hpp"

namespace cfg = tern::sdk::cfg;

namespace {

struct many {
    uint32_t m0{};
    uint64_t m1{};
    bool m2{};
    double m3{};
    std::string m4{};
    std::chrono::milliseconds m5{};
    uint16_t m6{};
    std::vector<std::string> m7{};
    int32_t m8{};
    uint32_t m9{};
    uint64_t m10{};
    bool m11{};
    double m12{};
    std::string m13{};
    std::chrono::milliseconds m14{};
    uint16_t m15{};
    std::vector<std::string> m16{};
    int32_t m17{};
    uint32_t m18{};
    uint64_t m19{};
    bool m20{};
    double m21{};
    std::string m22{};
    std::chrono::milliseconds m23{};
    uint16_t m24{};
    std::vector<std::string> m25{};
    int32_t m26{};
    uint32_t m27{};
    uint64_t m28{};
    bool m29{};
    double m30{};
    std::string m31{};
    std::chrono::milliseconds m32{};
    uint16_t m33{};
    std::vector<std::string> m34{};
    int32_t m35{};
};

constinit const auto many_schema = cfg::bind<many>(
    cfg::integer("k0", &many::m0, 0, "Key 0").range(0, 60000),
    cfg::integer("k1", &many::m1, 1, "Key 1").range(0, 60000),
    cfg::boolean("k2", &many::m2, true, "Key 2"),
    cfg::number("k3", &many::m3, 0.5, "Key 3"),
    cfg::string("k4", &many::m4, "v4", "Key 4"),
    cfg::integer("k5", &many::m5, 5, "Key 5").range(0, 60000),
    cfg::integer("k6", &many::m6, 6, "Key 6").range(0, 60000),
    cfg::strings("k7", &many::m7, R"(["a7"])", "Key 7"),
    cfg::integer("k8", &many::m8, 8, "Key 8").range(0, 60000),
    cfg::integer("k9", &many::m9, 9, "Key 9").range(0, 60000),
    cfg::integer("k10", &many::m10, 10, "Key 10").range(0, 60000),
    cfg::boolean("k11", &many::m11, true, "Key 11"),
    cfg::number("k12", &many::m12, 0.5, "Key 12"),
    cfg::string("k13", &many::m13, "v13", "Key 13"),
    cfg::integer("k14", &many::m14, 14, "Key 14").range(0, 60000),
    cfg::integer("k15", &many::m15, 15, "Key 15").range(0, 60000),
    cfg::strings("k16", &many::m16, R"(["a16"])", "Key 16"),
    cfg::integer("k17", &many::m17, 17, "Key 17").range(0, 60000),
    cfg::integer("k18", &many::m18, 18, "Key 18").range(0, 60000),
    cfg::integer("k19", &many::m19, 19, "Key 19").range(0, 60000),
    cfg::boolean("k20", &many::m20, true, "Key 20"),
    cfg::number("k21", &many::m21, 0.5, "Key 21"),
    cfg::string("k22", &many::m22, "v22", "Key 22"),
    cfg::integer("k23", &many::m23, 23, "Key 23").range(0, 60000),
    cfg::integer("k24", &many::m24, 24, "Key 24").range(0, 60000),
    cfg::strings("k25", &many::m25, R"(["a25"])", "Key 25"),
    cfg::integer("k26", &many::m26, 26, "Key 26").range(0, 60000),
    cfg::integer("k27", &many::m27, 27, "Key 27").range(0, 60000),
    cfg::integer("k28", &many::m28, 28, "Key 28").range(0, 60000),
    cfg::boolean("k29", &many::m29, true, "Key 29"),
    cfg::number("k30", &many::m30, 0.5, "Key 30"),
    cfg::string("k31", &many::m31, "v31", "Key 31"),
    cfg::integer("k32", &many::m32, 32, "Key 32").range(0, 60000),
    cfg::integer("k33", &many::m33, 33, "Key 33").range(0, 60000),
    cfg::strings("k34", &many::m34, R"(["a34"])", "Key 34"),
    cfg::integer("k35", &many::m35, 35, "Key 35").range(0, 60000));

static_assert(many_schema.keys().size() == 36);

}  // namespace

TEST_CASE("config binding: 36 keys load into their members", "[config]") {
    tern::sdk::testing::map_config c(many_schema.keys());
    c.set("k0", 60000);
    c.set_strings("k7", {"x", "y"});
    const many m = many_schema.load(tern::sdk::config{&c});
    CHECK(m.m0 == 60000);
    CHECK(m.m1 == 1);
    CHECK(m.m2);
    CHECK(m.m3 == 0.5);
    CHECK(m.m4 == "v4");
    CHECK(m.m5 == std::chrono::milliseconds(5));
    CHECK(m.m6 == 6);
    CHECK(m.m7 == std::vector<std::string>{"x", "y"});
    CHECK(m.m8 == 8);
    CHECK(m.m35 == 35);
    CHECK(m.m34 == std::vector<std::string>{"a34"});
}
