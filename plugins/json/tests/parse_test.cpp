// Parsing: strict JSON, Gson's lenient extensions, and what is refused. Each input goes
// through decode_rpc_reply, which re-serialises the parsed object compactly.
#include <catch2/catch.hpp>

#include <string>

#include "document.hpp"
#include "support.hpp"

using namespace tern::json;
using namespace tern::json::test;

namespace {

// The compact text of a parsed object, or "error: <reason>".
std::string reparsed(std::string_view body, bool lenient = true) {
    options o;
    o.lenient = lenient;
    adaptor a(o);
    const text_result r = rpc_reply(a, body);
    return r.ok() ? r.text : "error: " + r.error;
}

std::string nested(int depth, const char* open, const char* inner, const char* close) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += open;
    s += inner;
    for (int i = 0; i < depth; ++i) s += close;
    return s;
}

}  // namespace

TEST_CASE("strict JSON is re-serialised compactly, numbers as written", "[parse]") {
    CHECK(reparsed(R"( { "a" : 1 , "b" : [ 1.50 , -0 , 1E+3 ] , "c" : { } } )") ==
          R"({"a":1,"b":[1.50,-0,1E+3],"c":{}})");
    CHECK(reparsed(R"({"s":"tab\there \"q\" \\ \/ \u00e9 \u0001"})") ==
          "{\"s\":\"tab\\there \\\"q\\\" \\\\ / \xC3\xA9 \\u0001\"}");
    CHECK(reparsed(R"({"a":null,"b":true,"c":false})") == R"({"a":null,"b":true,"c":false})");
    // a byte order mark is skipped, as Gson does
    CHECK(reparsed("\xEF\xBB\xBF{\"a\":1}") == R"({"a":1})");
    CHECK(reparsed("\xEF\xBB\xBF{\"a\":1}", false) == R"({"a":1})");
}

TEST_CASE("repeated keys keep their first position and their last value", "[parse]") {
    CHECK(reparsed(R"({"a":1,"b":2,"a":3})") == R"({"a":3,"b":2})");
    CHECK(reparsed(R"({"x":{"k":1,"k":{"z":1,"z":2}}})") == R"({"x":{"k":{"z":2}}})");
    // beyond 16 members the duplicates are found by sorting: same result
    std::string many = "{";
    std::string want = "{";
    for (int i = 0; i < 40; ++i) {
        many += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
        want += "\"k" + std::to_string(i) + "\":" + std::to_string(i == 7 ? 100 : i == 30 ? 300 : i) + (i == 39 ? "}" : ",");
    }
    many += "\"k7\":100,\"k30\":200,\"k30\":300}";
    CHECK(reparsed(many) == want);
}

TEST_CASE("Gson's lenient syntax is accepted", "[parse][lenient]") {
    // unquoted names and strings
    CHECK(reparsed("{temperature:25, mode:auto}") == R"({"temperature":25,"mode":"auto"})");
    CHECK(reparsed("{fw-version:1.2.3-rc1, on:true}") == R"({"fw-version":"1.2.3-rc1","on":true})");
    // single quotes, with " inside and \' escapes
    CHECK(reparsed(R"({'a':'say "hi"', 'b':'it\'s'})") == R"({"a":"say \"hi\"","b":"it's"})");
    // comments
    CHECK(reparsed("{\"a\":1, // why\n\"b\":2}") == R"({"a":1,"b":2})");
    CHECK(reparsed("{\"a\":1, # why\r\"b\":2}") == R"({"a":1,"b":2})");
    CHECK(reparsed("/* head */ {\"a\" /* in */ : /**/ 1} // tail") == R"({"a":1})");
    // = and => between name and value, ; between members and elements
    CHECK(reparsed("{a=1; b=>2; c:[1;2]}") == R"({"a":1,"b":2,"c":[1,2]})");
    // a trailing comma in an object is ignored
    CHECK(reparsed(R"({"a":1,})") == R"({"a":1})");
    // an omitted array element is null, as in Gson
    CHECK(reparsed(R"({"a":[1,,2,]})") == R"({"a":[1,null,2,null]})");
    CHECK(reparsed(R"({"a":[,]})") == R"({"a":[null,null]})");
    // keywords in any case
    CHECK(reparsed("{a:TRUE, b:False, c:NULL, d:nulls}") == R"({"a":true,"b":false,"c":null,"d":"nulls"})");
    // what is not a JSON number is an unquoted string
    CHECK(reparsed("{a:007, b:+1, c:0x1F, d:NaN, e:1.}") == R"({"a":"007","b":"+1","c":"0x1F","d":"NaN","e":"1."})");
    // control characters in strings, escaped line breaks
    CHECK(reparsed("{\"a\":\"x\x01y\x1f\"}") == R"({"a":"x\u0001y\u001f"})");
    CHECK(reparsed("{\"a\":\"one\\\ntwo\"}") == R"({"a":"one\ntwo"})");
    // the non-execute prefix
    CHECK(reparsed(")]}'\n{\"a\":1}") == R"({"a":1})");
    // names that are not strings in JSON
    CHECK(reparsed("{1:2, true:false}") == R"({"1":2,"true":false})");
}

TEST_CASE("lenient syntax is refused when lenient is off", "[parse][lenient]") {
    const std::pair<const char*, const char*> refused[] = {
        {"{temperature:25}", "expected a name at offset 1"},
        {"{'a':1}", "expected a name at offset 1"},
        {"{\"a\":'x'}", "expected a value at offset 5"},
        {"{\"a\":x}", "expected a value at offset 5"},
        {"{\"a\"=1}", "expected ':' at offset 4"},
        {"{\"a\":1;\"b\":2}", "expected ',' or '}' at offset 6"},
        {"{\"a\":1,}", "expected a name at offset 7"},
        {"{\"a\":[1,,2]}", "expected a value at offset 8"},
        {"{\"a\":[1;2]}", "expected ',' or ']' at offset 7"},
        {"{\"a\":TRUE}", "expected a value at offset 5"},
        {"{\"a\":1} // c", "more than one top-level value at offset 8"},
        {"# c\n{\"a\":1}", "expected a value at offset 0"},
        {"{\"a\":\"x\x01\"}", "control character in string at offset 7"},
        {R"({"a":"it\'s"})", "invalid escape sequence at offset 8"},
        {")]}'\n{\"a\":1}", "expected a value at offset 0"},
    };
    for (const auto& [body, why] : refused) {
        INFO(body);
        CHECK(reparsed(body, false) == std::string("error: invalid JSON: ") + why);
    }
    CHECK(reparsed(R"({"a":1})", false) == R"({"a":1})");
}

TEST_CASE("strict mode accepts valid JSON that RapidJSON cannot store", "[parse]") {
    // numbers beyond a double and lone surrogate escapes are valid JSON: the Gson-rules
    // parser, not RapidJSON, has the last word
    CHECK(reparsed(R"({"a":1e400,"b":-1E+999,"c":1)" + std::string(400, '0') + "}", false) ==
          R"({"a":1e400,"b":-1E+999,"c":1)" + std::string(400, '0') + "}");
    CHECK(reparsed(R"({"a":"\ude00"})", false) == "{\"a\":\"\xEF\xBF\xBD\"}");
    CHECK(reparsed(R"({"a":"\ud800"})", false) == "{\"a\":\"\xEF\xBF\xBD\"}");
    options o;
    o.lenient = false;
    o.max_number_text_length = 401;
    adaptor a(o);
    CHECK(typed(a, "1e400") == "string:1" + std::string(400, '0'));
}

TEST_CASE("malformed JSON is refused with a reason and an offset", "[parse]") {
    CHECK(reparsed(R"({"a":1}{"b":2})") == "error: invalid JSON: more than one top-level value at offset 7");
    CHECK(reparsed(R"({"a":1} x)") == "error: invalid JSON: more than one top-level value at offset 8");
    CHECK(reparsed(R"({"a" 1})") == "error: invalid JSON: expected ':' at offset 5");
    CHECK(reparsed(R"({"a":})") == "error: invalid JSON: expected a value at offset 5");
    CHECK(reparsed(R"({,})") == "error: invalid JSON: expected a name at offset 1");
    CHECK(reparsed(R"({"a":1 "b":2})") == "error: invalid JSON: expected ',' or '}' at offset 7");
    CHECK(reparsed(R"({"a":[1 2]})") == "error: invalid JSON: expected ',' or ']' at offset 8");
    CHECK(reparsed(R"({"a":1)") == "error: invalid JSON: unterminated object at offset 6");
    CHECK(reparsed(R"({"a":"abc)") == "error: invalid JSON: unterminated string at offset 5");
    CHECK(reparsed(R"({"a":"\x"})") == "error: invalid JSON: invalid escape sequence at offset 6");
    CHECK(reparsed(R"({"a":"\u12"})") == "error: invalid JSON: invalid \\u escape at offset 6");
    CHECK(reparsed(R"({"a":"\u12)") == "error: invalid JSON: unterminated escape sequence at offset 8");
    CHECK(reparsed("/* open {\"a\":1}") == "error: invalid JSON: unterminated comment at offset 0");
    CHECK(reparsed(std::string_view("{\"a\":1}\0", 8), false) ==
          "error: invalid JSON: more than one top-level value at offset 7");
    CHECK(reparsed(std::string_view("{\"a\":1}\0", 8)) == "error: invalid JSON: more than one top-level value at offset 7");
    CHECK(reparsed(R"({"a":1})", false) == R"({"a":1})");
}

TEST_CASE("nesting is bounded at 64 levels on both paths", "[parse]") {
    CHECK(reparsed("{\"a\":" + nested(63, "[", "1", "]") + "}") == "{\"a\":" + nested(63, "[", "1", "]") + "}");
    CHECK(reparsed("{\"a\":" + nested(64, "[", "1", "]") + "}") == "error: invalid JSON: nesting deeper than 64 levels");
    // the lenient parser sees the same limit (unquoted content forces it)
    CHECK(reparsed("{a:" + nested(64, "[", "x", "]") + "}") == "error: invalid JSON: nesting deeper than 64 levels");
    CHECK(reparsed("{a:" + nested(63, "[", "x", "]") + "}") == "{\"a\":" + nested(63, "[", "\"x\"", "]") + "}");
    // far deeper input is refused just the same, without recursing into it
    CHECK(reparsed(nested(100000, "[", "", "]")).rfind("error: ", 0) == 0);
    CHECK(reparsed(nested(100000, "{a:", "1", "}")).rfind("error: ", 0) == 0);
}

TEST_CASE("text is valid UTF-8 whatever arrives", "[parse][utf8]") {
    // invalid bytes become U+FFFD, one per maximal invalid subpart, as Java decodes them
    CHECK(reparsed("{\"a\":\"x\xFFy\"}") == "{\"a\":\"x\xEF\xBF\xBDy\"}");
    CHECK(reparsed("{\"a\":\"\xE2\x82\"}") == "{\"a\":\"\xEF\xBF\xBD\"}");
    CHECK(reparsed("{\"a\":\"\xED\xA0\x80\"}") == "{\"a\":\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"}");
    // surrogate escapes: pairs combine, lone ones become U+FFFD (strict and lenient paths)
    CHECK(reparsed(R"({"a":"\ud83d\ude00"})") == "{\"a\":\"\xF0\x9F\x98\x80\"}");
    CHECK(reparsed(R"({"a":"\ude00"})") == "{\"a\":\"\xEF\xBF\xBD\"}");
    CHECK(reparsed(R"({"a":"\ud83dx"})") == "{\"a\":\"\xEF\xBF\xBDx\"}");
    CHECK(reparsed(R"({a:'\ud83d\ude00\ud83d'})") == "{\"a\":\"\xF0\x9F\x98\x80\xEF\xBF\xBD\"}");
    // U+2028 and U+2029 are escaped on output, as Gson does
    CHECK(reparsed("{\"a\":\"\xE2\x80\xA8\xE2\x80\xA9\"}") == R"({"a":"\u2028\u2029"})");
    // NUL inside a string is kept
    CHECK(reparsed(R"({"a\u0000b":"\u0000"})") == R"({"a\u0000b":"\u0000"})");

    CHECK(is_valid_utf8("plain \xC3\xA9 \xF0\x9F\x98\x80"));
    CHECK_FALSE(is_valid_utf8("\xC0\x80"));
    CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));
}
