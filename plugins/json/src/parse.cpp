// JSON text → document. Two parsers fill the same tape:
//   - RapidJSON in situ, numbers kept as their literal text: the fast path, since almost
//     every device sends plain JSON;
//   - a parser following Gson's JsonReader, lenient (how ThingsBoard parses device payloads)
//     or strict. It runs only when RapidJSON refused the text, and its verdict is final:
//     RapidJSON also refuses valid JSON it cannot store (1e400, a lone \uDC00).
// This file holds the RapidJSON path and parse(); the other parser is gson_parser.cpp, the
// UTF-8 checks utf8.cpp.
#include <cstring>

#include <rapidjson/reader.h>

#include "document.hpp"
#include "gson_parser.hpp"
#include "utf8.hpp"

namespace tern::json {

namespace {

// RapidJSON encodes a lone \uDC00-\uDFFF escape as the (invalid) UTF-8 of the surrogate.
// The input was valid UTF-8 before parsing, so ED A0..BF here can only come from such an
// escape; U+FFFD has the same length and replaces it in place.
void replace_encoded_surrogates(char* s, std::size_t n) noexcept {
    char* end = s + n;
    while (s < end) {
        char* hit = static_cast<char*>(std::memchr(s, 0xED, static_cast<std::size_t>(end - s)));
        if (hit == nullptr || end - hit < 3) return;
        if (static_cast<unsigned char>(hit[1]) >= 0xA0) std::memcpy(hit, replacement, 3);
        s = hit + 1;
    }
}

// Copies body into buffer for in-situ parsing: valid UTF-8, no byte order mark, NUL after.
void prepare(std::string_view body, std::string& buffer) {
    if (body.size() >= 3 && std::memcmp(body.data(), "\xEF\xBB\xBF", 3) == 0) body.remove_prefix(3);
    if (is_valid_utf8(body)) {
        buffer.assign(body.data(), body.size());
    } else {
        sanitize_utf8(body, buffer);
    }
    // std::string keeps a NUL at data()[size()]: the end mark in-situ parsing needs.
}

// ---- strict: RapidJSON ---------------------------------------------------------------------

class tape_handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, tape_handler> {
public:
    // escapes: the text has a backslash, so strings may hold decoded \u escapes
    tape_handler(document& doc, bool escapes) : doc_(doc), escapes_(escapes) {}

    bool too_deep() const noexcept { return too_deep_; }

    // Numbers arrive as RawNumber only (kParseNumbersAsStringsFlag); anything else means
    // the flags changed, so refuse rather than lose a value.
    bool Default() { return false; }

    bool Null() { return leaf(node_kind::null_value, nullptr, 0); }
    bool Bool(bool b) { return leaf(b ? node_kind::true_value : node_kind::false_value, nullptr, 0); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool) { return leaf(node_kind::number, s, n); }
    bool String(const char* s, rapidjson::SizeType n, bool) {
        if (escapes_) replace_encoded_surrogates(const_cast<char*>(s), n);  // s is in our buffer
        return leaf(node_kind::string, s, n);
    }
    bool Key(const char* s, rapidjson::SizeType n, bool) {
        if (escapes_) replace_encoded_surrogates(const_cast<char*>(s), n);
        return leaf(node_kind::key, s, n);
    }
    bool StartObject() { return open(node_kind::object); }
    bool EndObject(rapidjson::SizeType members) { return close(members); }
    bool StartArray() { return open(node_kind::array); }
    bool EndArray(rapidjson::SizeType elements) { return close(elements); }

private:
    bool leaf(node_kind kind, const char* text, uint32_t size) {
        const auto index = static_cast<uint32_t>(doc_.nodes.size());
        doc_.nodes.push_back(node{kind, size, index + 1, text});
        return true;
    }
    bool open(node_kind kind) {
        if (depth_ == max_depth) {
            too_deep_ = true;
            return false;
        }
        open_[depth_++] = static_cast<uint32_t>(doc_.nodes.size());
        return leaf(kind, nullptr, 0);
    }
    bool close(uint32_t count) {
        node& n = doc_.nodes[open_[--depth_]];
        n.size = count;
        n.end = static_cast<uint32_t>(doc_.nodes.size());
        return true;
    }

    document& doc_;
    const bool escapes_;
    uint32_t open_[max_depth];
    uint32_t depth_ = 0;
    bool too_deep_ = false;
};

enum class fast_result { ok, refused, too_deep };

// RapidJSON's verdict. "refused" is not final: it refuses valid JSON it cannot store.
fast_result parse_fast(std::string& buffer, document& doc, std::string& error) {
    // In situ with numbers as strings the reader's stack stays unused; one reader per thread
    // anyway, so that nothing is built per call.
    thread_local rapidjson::Reader reader;
    constexpr unsigned flags = rapidjson::kParseInsituFlag | rapidjson::kParseNumbersAsStringsFlag;
    doc.clear();
    tape_handler handler(doc, std::memchr(buffer.data(), '\\', buffer.size()) != nullptr);
    rapidjson::InsituStringStream stream(buffer.data());
    const rapidjson::ParseResult result = reader.Parse<flags>(stream, handler);
    if (handler.too_deep()) {
        error = "invalid JSON: nesting deeper than 64 levels";
        return fast_result::too_deep;
    }
    if (result.IsError()) {
        if (result.Code() == rapidjson::kParseErrorDocumentEmpty && result.Offset() == buffer.size()) {
            // Only whitespace: Gson reads that as JsonNull. Let the caller decide.
            doc.clear();
            return fast_result::ok;
        }
        return fast_result::refused;
    }
    // RapidJSON stops at a NUL byte as if the text ended there.
    if (stream.Tell() != buffer.size()) return fast_result::refused;
    doc.empty = false;
    return fast_result::ok;
}

}  // namespace

bool parse(std::string_view body, const parse_options& options, std::string& buffer,
           document& doc, std::string& error) {
    // Node sizes and indexes are 32-bit; the engine's bodies are far smaller anyway.
    if (body.size() > (std::size_t{1} << 31)) {
        doc.clear();
        error = "invalid JSON: the text is larger than 2 GiB";
        return false;
    }
    prepare(body, buffer);
    const fast_result fast = parse_fast(buffer, doc, error);
    if (fast == fast_result::ok) return true;
    if (fast == fast_result::too_deep) return false;
    // RapidJSON decoded strings in place: start again from the original bytes.
    prepare(body, buffer);
    return parse_gson(buffer.data(), buffer.size(), doc, options.lenient, error);
}

}  // namespace tern::json
