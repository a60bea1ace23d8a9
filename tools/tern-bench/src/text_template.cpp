#include "text_template.hpp"

#include <cctype>
#include <charconv>
#include <cstring>

namespace tern::bench {

namespace {

constexpr size_t max_number_digits = 20;  // uint64

bool lookup(std::string_view name, placeholder& out) {
    if (name == "i") out = placeholder::index;
    else if (name == "token") out = placeholder::token;
    else if (name == "seq") out = placeholder::seq;
    else if (name == "rand") out = placeholder::rand;
    else return false;
    return true;
}

}  // namespace

bool text_template::parse(std::string_view text, unsigned allowed, std::string& error) {
    text_.assign(text);
    pieces_.clear();
    size_t literal_start = 0;
    auto flush_literal = [&](size_t end) {
        if (end > literal_start)
            pieces_.push_back({placeholder::literal, static_cast<uint32_t>(literal_start),
                               static_cast<uint32_t>(end - literal_start)});
    };
    for (size_t i = 0; i < text_.size(); ++i) {
        if (text_[i] != '{') continue;
        size_t j = i + 1;
        while (j < text_.size() && std::isalpha(static_cast<unsigned char>(text_[j]))) ++j;
        if (j == i + 1 || j >= text_.size() || text_[j] != '}') continue;  // literal brace
        const std::string_view name(text_.data() + i + 1, j - i - 1);
        placeholder p{};
        if (!lookup(name, p)) {
            error = "unknown placeholder {" + std::string(name) +
                    "} in '" + text_ + "' (known: {i} {token} {seq} {rand})";
            return false;
        }
        if (!(allowed & bit(p))) {
            error = "placeholder {" + std::string(name) + "} is not allowed in '" + text_ + "'";
            return false;
        }
        flush_literal(i);
        pieces_.push_back({p, 0, 0});
        literal_start = j + 1;
        i = j;
    }
    flush_literal(text_.size());
    return true;
}

void text_template::assign_literal(std::string_view text) {
    text_.assign(text);
    pieces_.clear();
    if (!text_.empty())
        pieces_.push_back({placeholder::literal, 0, static_cast<uint32_t>(text_.size())});
}

bool text_template::has(placeholder p) const {
    for (const auto& pc : pieces_)
        if (pc.kind == p) return true;
    return false;
}

size_t text_template::max_size(size_t token_max) const {
    size_t n = 0;
    for (const auto& pc : pieces_) {
        switch (pc.kind) {
        case placeholder::literal: n += pc.length; break;
        case placeholder::token: n += token_max; break;
        default: n += max_number_digits; break;
        }
    }
    return n;
}

size_t text_template::render(char* out, size_t cap, const render_context& ctx,
                             const text_template* token_pattern) const {
    size_t n = 0;
    for (const auto& pc : pieces_) {
        switch (pc.kind) {
        case placeholder::literal:
            if (n + pc.length > cap) return SIZE_MAX;
            std::memcpy(out + n, text_.data() + pc.offset, pc.length);
            n += pc.length;
            break;
        case placeholder::token: {
            if (!token_pattern) return SIZE_MAX;
            const size_t t = token_pattern->render(out + n, cap - n, ctx, nullptr);
            if (t == SIZE_MAX) return SIZE_MAX;
            n += t;
            break;
        }
        default: {
            const uint64_t v = pc.kind == placeholder::index ? ctx.index
                               : pc.kind == placeholder::seq ? ctx.seq
                                                             : ctx.rand;
            const auto r = std::to_chars(out + n, out + cap, v);
            if (r.ec != std::errc{}) return SIZE_MAX;
            n = static_cast<size_t>(r.ptr - out);
            break;
        }
        }
    }
    return n;
}

}  // namespace tern::bench
