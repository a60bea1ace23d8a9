// Resource patterns and request routing (literal > {capture} > ** per segment), and the
// RFC 6690 /.well-known/core document built from the registered resources. A route_table
// is immutable once built: it is rebuilt at start-stop time and handed to each shard, so
// matching on the hot path reads shared memory without locks or allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tern/abi/coap.h"

namespace tern::coap {

// A registered resource. Owned by the engine; its address is stable until it is removed
// and every shard has stopped using it.
struct resource_entry {
    uint64_t id = 0;
    coap_handler_v1* handler = nullptr;
    uint32_t methods = 0;
    uint32_t flags = 0;
    std::string pattern;     // normalised: segments joined by '/', no leading '/'
    std::string link_attrs;
    std::vector<std::string> segments;

    bool observable() const noexcept { return (flags & TERN_COAP_RESOURCE_OBSERVABLE) != 0; }
};

// Splits and checks a pattern. Returns an empty string on success, else the reason.
std::string parse_pattern(std::string_view pattern, std::vector<std::string>& segments);
// The pattern's shape with capture names erased ("a/{}/**"): two resources with the same
// shape would be ambiguous.
std::string pattern_shape(const std::vector<std::string>& segments);

inline constexpr uint32_t max_path_segments = 128;

class route_table {
public:
    // Builds the table over resources (in registration order).
    explicit route_table(const std::vector<const resource_entry*>& resources);

    // The best match for path, or null. captures receives the {name} values (at most
    // max_path_segments); *capture_count their number.
    const resource_entry* match(const tern_str* path, uint32_t path_count, tern_str* captures,
                                uint32_t* capture_count) const noexcept;

    // The whole link-format document.
    std::string_view well_known() const noexcept { return doc_; }
    // Writes the links that pass the RFC 6690 §4.1 query filters into out (capacity at
    // least well_known().size()); returns the length written.
    std::size_t well_known_filtered(const tern_str* query, uint32_t query_count,
                                    char* out) const noexcept;

private:
    struct node {
        std::vector<std::pair<std::string, uint32_t>> literals; // sorted by segment
        uint32_t capture = UINT32_MAX;
        const resource_entry* terminal = nullptr;
        const resource_entry* wildcard = nullptr;
    };
    struct link {
        std::string href;   // "/api/v1"
        std::string text;   // "</api/v1>;rt=\"x\";obs"
        std::vector<std::pair<std::string, std::string>> attrs; // name, unquoted value
    };

    bool search(uint32_t n, const tern_str* path, uint32_t count, uint32_t i,
                tern_str* captures, uint32_t depth, uint32_t* ncap,
                const resource_entry** out) const noexcept;
    static bool link_matches(const link& l, std::string_view query) noexcept;

    std::vector<node> nodes_;
    std::vector<link> links_;
    std::string doc_;
};

}  // namespace tern::coap
