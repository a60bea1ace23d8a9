// Request templating for device mode: `{i}`, `{token}`, `{seq}`, `{rand}` are replaced per
// request, everything else is literal. Only `{` + letters + `}` is a placeholder, so JSON
// payloads such as '{"t":{rand}}' need no escaping; an unknown name is an error rather than
// silently sent as text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::bench {

enum class placeholder : uint8_t { literal, index, token, seq, rand };

struct render_context {
    uint64_t index = 0;  // device number
    uint64_t seq = 0;    // the device's running request number, from 1
    uint32_t rand = 0;   // 0..999
};

class text_template {
public:
    // `allowed` is a bit mask of placeholders (1 << placeholder). Returns false with a
    // message naming the bad placeholder.
    bool parse(std::string_view text, unsigned allowed, std::string& error);
    // Verbatim text (payload files may be binary and contain anything).
    void assign_literal(std::string_view text);

    bool has(placeholder p) const;
    bool empty() const { return text_.empty(); }
    const std::string& source() const { return text_; }

    // Upper bound of render()'s output, given the longest rendered {token}.
    size_t max_size(size_t token_max) const;

    // Writes into out[0..cap). Returns the length, or SIZE_MAX if it does not fit.
    size_t render(char* out, size_t cap, const render_context& ctx,
                  const text_template* token_pattern) const;

    static constexpr unsigned bit(placeholder p) { return 1u << static_cast<unsigned>(p); }

private:
    struct piece {
        placeholder kind;
        uint32_t offset;  // literal: into text_
        uint32_t length;
    };
    std::string text_;
    std::vector<piece> pieces_;
};

}  // namespace tern::bench
