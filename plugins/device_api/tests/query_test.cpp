// Spec §2.4: Uri-Query elements as ThingsBoard splits them.
#include <catch2/catch.hpp>

#include "query.hpp"
#include "support.hpp"

using namespace tern::device_api;
using tern::device_api::test::segments;

TEST_CASE("query parameters: split on '=' like Java's String.split", "[query]") {
    const segments q{"clientKeys=a,b", "sharedKeys=c", "junk", "x=1=2", "y=", "z=3==", "=v"};
    CHECK(query_param(q.views, "clientKeys") == "a,b");
    CHECK(query_param(q.views, "sharedKeys") == "c");
    CHECK_FALSE(query_param(q.views, "junk"));  // one part: ignored
    CHECK_FALSE(query_param(q.views, "x"));     // three parts: ignored
    CHECK_FALSE(query_param(q.views, "y"));     // empty value: absent
    CHECK(query_param(q.views, "z") == "3");    // trailing empty parts dropped
    CHECK_FALSE(query_param(q.views, "v"));
}

TEST_CASE("query parameters: the last occurrence wins", "[query]") {
    const segments q{"title=a", "title=b", "title=", "title=c=d"};
    CHECK(query_param(q.views, "title") == "b");
}

TEST_CASE("key lists", "[query]") {
    std::vector<tern_str> out;
    split_keys("a,b,,c,", out);
    REQUIRE(out.size() == 3);
    CHECK(std::string_view(out[0].data, out[0].size) == "a");
    CHECK(std::string_view(out[2].data, out[2].size) == "c");
    out.clear();
    split_keys(",", out);
    CHECK(out.empty());
}
