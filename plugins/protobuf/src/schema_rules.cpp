// The rules a profile schema follows (docs/device-api.md §8), checked on the tokens of its
// text so that a refusal points at the construct itself: proto3 declared first; no import,
// option (file, message, field, enum, enum value, oneof), extend, extensions, group, reserved,
// required, service or default value; declarations nested at most max_depth deep. What is
// left (syntax errors, unknown types, duplicate numbers) the parser and the pool report.
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <string>

#include "schema.hpp"

namespace tern::protobuf {

namespace gp = google::protobuf;

namespace {

// What a statement starting with this word would declare, when the rules refuse it.
const char* refused_statement(const std::string& word) {
    if (word == "import") return "imports are not allowed";
    if (word == "option") return "options are not allowed";
    if (word == "extend") return "extend is not allowed";
    if (word == "extensions") return "extensions are not allowed";
    if (word == "reserved") return "reserved is not allowed";
    if (word == "required") return "required fields are not allowed";
    if (word == "group") return "groups are not allowed";
    if (word == "service") return "services are not allowed";
    return nullptr;
}

struct scanner {
    gp::io::Tokenizer& tok;
    first_error& errors;
    std::string& why;
    text_position& where;

    bool refuse(const gp::io::Tokenizer::Token& t, std::string what) {
        why = std::move(what);
        where = {t.line + 1, t.column + 1};
        return false;
    }
    bool syntax_error() {
        why = errors.why;
        where = errors.where;
        return false;
    }
    bool next() { return tok.Next() && !errors.seen; }

    // `syntax = "proto3";` as the first statement.
    bool syntax_statement() {
        if (!next()) return errors.seen ? syntax_error() : refuse(tok.current(), "the schema is empty");
        if (tok.current().text != "syntax")
            return refuse(tok.current(), "the schema must start with syntax = \"proto3\";");
        if (!next() || tok.current().text != "=") return errors.seen ? syntax_error() : refuse(tok.current(), "expected '='");
        if (!next()) return errors.seen ? syntax_error() : refuse(tok.current(), "expected \"proto3\"");
        const auto& t = tok.current();
        if (t.type != gp::io::Tokenizer::TYPE_STRING) return refuse(t, "expected \"proto3\"");
        std::string value;
        gp::io::Tokenizer::ParseStringAppend(t.text, &value);
        if (value != "proto3") return refuse(t, "only proto3 is accepted, not \"" + value + "\"");
        return true;
    }

    bool statements(int64_t max_depth) {
        int64_t depth = 0;
        bool at_start = false;  // the syntax statement's ';' comes next
        int in_statement = 0;   // tokens seen in the statement so far
        std::string first;      // its first word
        while (next()) {
            const auto& t = tok.current();
            const bool symbol = t.type == gp::io::Tokenizer::TYPE_SYMBOL;
            if (symbol && (t.text == ";" || t.text == "{" || t.text == "}")) {
                if (t.text == "{" && ++depth > max_depth && max_depth > 0)
                    return refuse(t, "declarations nest deeper than max_depth (" + std::to_string(max_depth) + ")");
                if (t.text == "}") --depth;
                at_start = true;
                in_statement = 0;
                continue;
            }
            if (symbol && t.text == "[") {
                const gp::io::Tokenizer::Token bracket = t;
                if (next() && tok.current().text == "default")
                    return refuse(tok.current(), "default values are not allowed");
                return refuse(bracket, "options are not allowed");
            }
            if (at_start && t.type == gp::io::Tokenizer::TYPE_IDENTIFIER) {
                if (const char* what = refused_statement(t.text); what != nullptr) return refuse(t, what);
                first = t.text;
            }
            if (in_statement == 1 && t.text == "group" && (first == "optional" || first == "repeated"))
                return refuse(t, "groups are not allowed");
            at_start = false;
            ++in_statement;
        }
        return errors.seen ? syntax_error() : true;
    }
};

}  // namespace

bool check_schema_rules(std::string_view text, int64_t max_depth, std::string& why, text_position& where) {
    gp::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
    first_error errors;
    gp::io::Tokenizer tok(&input, &errors);
    scanner s{tok, errors, why, where};
    return s.syntax_statement() && s.statements(max_depth);
}

}  // namespace tern::protobuf
