#include <catch2/catch.hpp>

#include "kernel/text.hpp"

using namespace tern::kernel;

TEST_CASE("edit distance counts a swapped pair of letters as one edit", "[text]") {
    CHECK(text::edit_distance("bind_prot", "bind_port") == 1);
    CHECK(text::edit_distance("", "abc") == 3);
    CHECK(text::edit_distance("kitten", "sitting") == 3);
    CHECK(text::edit_distance("same", "same") == 0);
}

TEST_CASE("suggest offers the closest key only when it is a plausible typo", "[text]") {
    const std::vector<std::string> keys{"bind_address", "bind_port", "timeout"};
    CHECK(text::suggest("bind_prot", keys) == "bind_port");
    CHECK(text::suggest("timout", keys) == "timeout");
    CHECK_FALSE(text::suggest("completely_different", keys).has_value());
}

TEST_CASE("JSON escaping yields valid JSON for any bytes", "[text]") {
    CHECK(text::json_string("a\"b\\c\nd\t") == R"("a\"b\\c\nd\t")");
    CHECK(text::json_string(std::string("\x01", 1)) == R"("\u0001")");
    CHECK(text::json_string("grüße") == "\"grüße\"");
    // a lone continuation byte and a truncated sequence become U+FFFD
    CHECK(text::json_string("\x80z\xc3") == "\"\xef\xbf\xbdz\xef\xbf\xbd\"");
}

TEST_CASE("numbers print the shortest way that reads back", "[text]") {
    CHECK(text::format_number(65535) == "65535");
    CHECK(text::format_number(0.1) == "0.1");
    CHECK(text::format_number(1.0 / 0.0) == "+Inf");
    CHECK(text::toml_float(1) == "1.0");
    CHECK(text::toml_float(0.25) == "0.25");
    CHECK(text::toml_string("a\"b") == R"("a\"b")");
}
