// JSON text → document. Two parsers fill the same tape:
//   - RapidJSON in situ, numbers kept as their literal text: the fast path, since almost
//     every device sends plain JSON;
//   - a parser following Gson's JsonReader, lenient (how ThingsBoard parses device payloads)
//     or strict. It runs only when RapidJSON refused the text, and its verdict is final:
//     RapidJSON also refuses valid JSON it cannot store (1e400, a lone \uDC00).
#include "document.hpp"

#include <cstring>

#include <rapidjson/reader.h>

namespace tern::json {

namespace {

// ---- UTF-8 ---------------------------------------------------------------------------------

// Length of the well-formed sequence at p, or minus the length of the maximal invalid
// subpart there (Unicode 15 §3.9, "U+FFFD substitution of maximal subparts").
int utf8_sequence(const unsigned char* p, const unsigned char* end) noexcept {
    const unsigned c = p[0];
    if (c < 0x80) return 1;
    int need = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c == 0xE0) {
        need = 2;
        lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
        need = 2;
    } else if (c == 0xED) {
        need = 2;
        hi = 0x9F;
    } else if (c == 0xF0) {
        need = 3;
        lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3) {
        need = 3;
    } else if (c == 0xF4) {
        need = 3;
        hi = 0x8F;
    } else {
        return -1;
    }
    for (int i = 1; i <= need; ++i) {
        if (p + i >= end) return -i;
        const unsigned b = p[i];
        if (b < lo || b > hi) return -i;
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

constexpr char replacement[] = "\xEF\xBF\xBD";

void put_utf8(char*& out, uint32_t cp) noexcept {
    if (cp < 0x80) {
        *out++ = static_cast<char>(cp);
    } else if (cp < 0x800) {
        *out++ = static_cast<char>(0xC0 | (cp >> 6));
        *out++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *out++ = static_cast<char>(0xE0 | (cp >> 12));
        *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        *out++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        *out++ = static_cast<char>(0xF0 | (cp >> 18));
        *out++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        *out++ = static_cast<char>(0x80 | (cp & 0x3F));
    }
}

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

// ---- Gson's JsonReader rules, lenient or strict ------------------------------------------------

// Characters that end an unquoted literal (Gson's isLiteral).
bool is_literal(unsigned char c) noexcept {
    switch (c) {
        case '/': case '\\': case ';': case '#': case '=':
        case '{': case '}': case '[': case ']': case ':': case ',':
        case ' ': case '\t': case '\f': case '\r': case '\n':
            return false;
        default:
            return true;
    }
}

int hex_value(unsigned char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Where Gson calls checkLenient(), strict mode fails: comments, unquoted or single-quoted
// names and strings, '=' and ';' separators, omitted array elements, the non-execute prefix.
// Strict mode also refuses what RFC 8259 does and Gson forgives: raw control characters in
// strings, \' and escaped line breaks, TRUE and other capitalised keywords.
class gson_parser {
public:
    gson_parser(char* text, std::size_t size, document& doc, bool lenient)
        : begin_(text), p_(text), end_(text + size), doc_(doc), lenient_(lenient) {}

    bool run(std::string& error) {
        doc_.clear();
        if (!document_value()) {
            error = "invalid JSON: ";
            error += what_;
            if (!too_deep_) {
                error += " at offset ";
                error += std::to_string(at_ - begin_);
            }
            return false;
        }
        return true;
    }

private:
    static constexpr int eof = -1;

    bool fail(const char* what, const char* at) {
        if (what_ == nullptr) {
            what_ = what;
            at_ = at;
        }
        return false;
    }
    bool fail(const char* what) { return fail(what, p_); }

    void skip_to_end_of_line() noexcept {
        while (p_ < end_) {
            const char c = *p_++;
            if (c == '\n' || c == '\r') return;
        }
    }

    // The next character that is neither whitespace nor inside a comment, consumed; eof at
    // the end. Comment openers: "//", "#" (to the end of the line) and "/* ... */".
    int next() {
        while (p_ < end_) {
            const auto c = static_cast<unsigned char>(*p_++);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
            if (!lenient_) return c;
            if (c == '#') {
                skip_to_end_of_line();
                continue;
            }
            if (c == '/' && p_ < end_) {
                if (*p_ == '/') {
                    ++p_;
                    skip_to_end_of_line();
                    continue;
                }
                if (*p_ == '*') {
                    const char* open = p_ - 1;
                    ++p_;
                    bool closed = false;
                    for (; end_ - p_ >= 2; ++p_) {
                        if (p_[0] == '*' && p_[1] == '/') {
                            p_ += 2;
                            closed = true;
                            break;
                        }
                    }
                    if (!closed) {
                        fail("unterminated comment", open);
                        p_ = end_;
                        return eof;
                    }
                    continue;
                }
            }
            return c;
        }
        return eof;
    }

    bool document_value() {
        int c = next();
        if (what_ != nullptr) return false;
        if (c == eof) return true;  // empty document: JsonNull
        --p_;
        // Gson skips the non-execute prefix )]}'\n at the start in lenient mode.
        if (lenient_ && end_ - p_ >= 5 && std::memcmp(p_, ")]}'\n", 5) == 0) {
            p_ += 5;
            c = next();
            if (what_ != nullptr) return false;
            if (c == eof) return true;
            --p_;
        }
        if (!value(0)) return false;
        doc_.empty = false;
        c = next();
        if (what_ != nullptr) return false;
        if (c != eof) return fail("more than one top-level value", p_ - 1);
        return true;
    }

    uint32_t push(node_kind kind, const char* text, uint32_t size) {
        const auto index = static_cast<uint32_t>(doc_.nodes.size());
        doc_.nodes.push_back(node{kind, size, index + 1, text});
        return index;
    }

    // A value at the current position; depth is the number of enclosing containers.
    bool value(uint32_t depth) {
        const int c = next();
        if (what_ != nullptr) return false;
        switch (c) {
            case eof: return fail("unexpected end of input");
            case '{': return object(depth + 1);
            case '[': return array(depth + 1);
            case '"': return quoted('"', node_kind::string);
            case '\'':
                if (!lenient_) return fail("expected a value", p_ - 1);
                return quoted('\'', node_kind::string);
            default:
                --p_;
                return literal();
        }
    }

    bool object(uint32_t depth) {
        if (depth > max_depth) {
            too_deep_ = true;
            return fail("nesting deeper than 64 levels");
        }
        const uint32_t index = push(node_kind::object, nullptr, 0);
        uint32_t members = 0;
        for (;;) {
            int c = next();
            if (what_ != nullptr) return false;
            if (members != 0) {
                if (c == '}') break;
                if (c != ',' && !(c == ';' && lenient_))
                    return c == eof ? fail("unterminated object") : fail("expected ',' or '}'", p_ - 1);
                c = next();
                if (what_ != nullptr) return false;
            }
            // A '}' right after a separator is a trailing comma: accepted when lenient (Gson
            // refuses it, but firmware writes it and nothing else can be meant).
            if (c == '}' && (members == 0 || lenient_)) break;
            if (c == '"' || (c == '\'' && lenient_)) {
                if (!quoted(static_cast<char>(c), node_kind::key)) return false;
            } else if (c == eof) {
                return fail("unterminated object");
            } else {
                --p_;
                if (!lenient_ || !is_literal(static_cast<unsigned char>(*p_))) return fail("expected a name");
                unquoted(node_kind::key);
            }
            c = next();
            if (what_ != nullptr) return false;
            if (c == '=' && lenient_) {
                if (p_ < end_ && *p_ == '>') ++p_;
            } else if (c != ':') {
                return c == eof ? fail("unterminated object") : fail("expected ':'", p_ - 1);
            }
            if (!value(depth)) return false;
            ++members;
        }
        doc_.nodes[index].size = members;
        doc_.nodes[index].end = static_cast<uint32_t>(doc_.nodes.size());
        return true;
    }

    bool array(uint32_t depth) {
        if (depth > max_depth) {
            too_deep_ = true;
            return fail("nesting deeper than 64 levels");
        }
        const uint32_t index = push(node_kind::array, nullptr, 0);
        uint32_t elements = 0;
        for (;;) {
            int c;
            if (elements != 0) {
                c = next();
                if (what_ != nullptr) return false;
                if (c == ']') break;
                if (c != ',' && !(c == ';' && lenient_))
                    return c == eof ? fail("unterminated array") : fail("expected ',' or ']'", p_ - 1);
            }
            c = next();
            if (what_ != nullptr) return false;
            if (c == eof) return fail("unterminated array");
            if (c == ']' && elements == 0) break;
            --p_;
            if (c == ']' || c == ',' || c == ';') {
                // Gson: an omitted array element is null, so [1,,2] is [1,null,2] and [1,]
                // is [1,null].
                if (!lenient_) return fail("expected a value");
                push(node_kind::null_value, nullptr, 0);
            } else if (!value(depth)) {
                return false;
            }
            ++elements;
        }
        doc_.nodes[index].size = elements;
        doc_.nodes[index].end = static_cast<uint32_t>(doc_.nodes.size());
        return true;
    }

    // The opening quote is consumed. Decodes in place: the text never grows.
    bool quoted(char quote, node_kind kind) {
        char* const start = p_;
        char* out = p_;
        for (;;) {
            if (p_ == end_) return fail("unterminated string", start - 1);
            const char c = *p_++;
            if (c == quote) break;
            if (c != '\\') {
                if (!lenient_ && static_cast<unsigned char>(c) < 0x20)
                    return fail("control character in string", p_ - 1);
                *out++ = c;
                continue;
            }
            if (p_ == end_) return fail("unterminated escape sequence");
            const char e = *p_++;
            switch (e) {
                case 'u': {
                    uint32_t cp = 0;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        // a high surrogate: only a following \u low surrogate completes it
                        uint32_t low = 0;
                        if (end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u' && peek_hex4(p_ + 2, low) &&
                            low >= 0xDC00 && low <= 0xDFFF) {
                            p_ += 6;
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        } else {
                            cp = 0xFFFD;
                        }
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        cp = 0xFFFD;
                    }
                    put_utf8(out, cp);
                    break;
                }
                case 't': *out++ = '\t'; break;
                case 'b': *out++ = '\b'; break;
                case 'n': *out++ = '\n'; break;
                case 'r': *out++ = '\r'; break;
                case 'f': *out++ = '\f'; break;
                case '\n':  // an escaped line break stands for itself
                case '\'':
                    if (!lenient_) return fail("invalid escape sequence", p_ - 2);
                    *out++ = e;
                    break;
                case '"':
                case '\\':
                case '/': *out++ = e; break;
                default: return fail("invalid escape sequence", p_ - 2);
            }
        }
        push(kind, start, static_cast<uint32_t>(out - start));
        return true;
    }

    static bool peek_hex4(const char* s, uint32_t& cp) noexcept {
        cp = 0;
        for (int i = 0; i < 4; ++i) {
            const int h = hex_value(static_cast<unsigned char>(s[i]));
            if (h < 0) return false;
            cp = (cp << 4) | static_cast<uint32_t>(h);
        }
        return true;
    }

    bool hex4(uint32_t& cp) {
        if (end_ - p_ < 4) return fail("unterminated escape sequence");
        if (!peek_hex4(p_, cp)) return fail("invalid \\u escape", p_ - 2);
        p_ += 4;
        return true;
    }

    void unquoted(node_kind kind) {
        const char* start = p_;
        while (p_ < end_ && is_literal(static_cast<unsigned char>(*p_))) ++p_;
        push(kind, start, static_cast<uint32_t>(p_ - start));
    }

    // true, false and null in any letter case (Gson compares each letter with both cases),
    // not followed by a literal character ("trues" is an unquoted string).
    bool keyword() {
        static constexpr struct {
            const char* lower;
            const char* upper;
            node_kind kind;
        } keywords[] = {{"true", "TRUE", node_kind::true_value},
                        {"false", "FALSE", node_kind::false_value},
                        {"null", "NULL", node_kind::null_value}};
        for (const auto& k : keywords) {
            const std::size_t n = std::strlen(k.lower);
            if (static_cast<std::size_t>(end_ - p_) < n) continue;
            bool match = true;
            for (std::size_t i = 0; i < n && match; ++i)
                match = p_[i] == k.lower[i] || (lenient_ && p_[i] == k.upper[i]);
            if (!match) continue;
            if (p_ + n < end_ && is_literal(static_cast<unsigned char>(p_[n]))) return false;
            push(k.kind, nullptr, 0);
            p_ += n;
            return true;
        }
        return false;
    }

    // Length of a JSON number at p_ that ends at a non-literal character (Gson's
    // peekNumber), or 0 when the text is not one: then it is an unquoted string ("007",
    // "+1", "0x1F", "1.5f").
    std::size_t number_length() const noexcept {
        enum { none, sign, digit, decimal, fraction, exp_e, exp_sign, exp_digit } last = none;
        bool zero_first = false;
        std::size_t i = 0;
        for (; p_ + i < end_; ++i) {
            const auto c = static_cast<unsigned char>(p_[i]);
            if (c == '-') {
                if (last == none) last = sign;
                else if (last == exp_e) last = exp_sign;
                else return 0;
            } else if (c == '+') {
                if (last != exp_e) return 0;
                last = exp_sign;
            } else if (c == 'e' || c == 'E') {
                if (last != digit && last != fraction) return 0;
                last = exp_e;
            } else if (c == '.') {
                if (last != digit) return 0;
                last = decimal;
            } else if (c >= '0' && c <= '9') {
                if (last == none || last == sign) {
                    last = digit;
                    zero_first = c == '0';
                } else if (last == digit) {
                    if (zero_first) return 0;  // a leading zero could be octal
                } else if (last == decimal) {
                    last = fraction;
                } else if (last == exp_e || last == exp_sign) {
                    last = exp_digit;
                }
            } else if (is_literal(c)) {
                return 0;
            } else {
                break;
            }
        }
        return last == digit || last == fraction || last == exp_digit ? i : 0;
    }

    bool literal() {
        if (keyword()) return true;
        if (const std::size_t n = number_length(); n != 0) {
            push(node_kind::number, p_, static_cast<uint32_t>(n));
            p_ += n;
            return true;
        }
        if (!lenient_ || !is_literal(static_cast<unsigned char>(*p_))) return fail("expected a value");
        unquoted(node_kind::string);
        return true;
    }

    char* begin_;
    char* p_;
    char* end_;
    document& doc_;
    const bool lenient_;
    const char* what_ = nullptr;
    const char* at_ = nullptr;
    bool too_deep_ = false;
};

}  // namespace

bool is_valid_utf8(std::string_view text) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
        // ASCII runs, eight bytes at a time
        while (end - p >= 8) {
            uint64_t w;
            std::memcpy(&w, p, 8);
            if ((w & 0x8080808080808080ull) != 0) break;
            p += 8;
        }
        if (p == end) break;
        if (*p < 0x80) {
            ++p;
            continue;
        }
        const int n = utf8_sequence(p, end);
        if (n < 0) return false;
        p += n;
    }
    return true;
}

void sanitize_utf8(std::string_view text, std::string& out) {
    out.clear();
    out.reserve(text.size() + 16);
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
        const int n = utf8_sequence(p, end);
        if (n > 0) {
            out.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
            p += n;
        } else {
            out.append(replacement, 3);
            p += -n;
        }
    }
}

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
    gson_parser parser(buffer.data(), buffer.size(), doc, options.lenient);
    return parser.run(error);
}

}  // namespace tern::json
