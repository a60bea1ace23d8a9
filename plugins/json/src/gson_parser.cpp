// Gson's JsonReader rules, lenient or strict, filling the same tape as the RapidJSON path.
#include "gson_parser.hpp"

#include <cstdint>
#include <cstring>
#include <string>

#include "utf8.hpp"

namespace tern::json {

namespace {

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

bool parse_gson(char* text, std::size_t size, document& doc, bool lenient, std::string& error) {
    gson_parser parser(text, size, doc, lenient);
    return parser.run(error);
}

}  // namespace tern::json
