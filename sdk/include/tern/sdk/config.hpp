// A plugin's configuration schema: the key builders (cfg::integer, cfg::string, ...) and the
// binding that declares each key once, naming the member of a settings struct it fills, so
// the one declaration gives the descriptor's schema (with its defaults, from which the
// kernel renders the README tables) and the typed struct.
//
//     struct settings {
//         uint32_t timeout_ms;
//         bool split;
//         std::string bind;
//         std::vector<std::string> transports;
//         std::chrono::milliseconds idle;
//     };
//     namespace cfg = tern::sdk::cfg;
//     constexpr auto schema = cfg::bind<settings>(
//         cfg::integer("timeout", &settings::timeout_ms, 10000, "...").unit("ms").range(1, 60000),
//         cfg::boolean("split", &settings::split, true, "..."),
//         cfg::string("bind", &settings::bind, "0.0.0.0", "..."),
//         cfg::strings("transports", &settings::transports, R"([])", "..."),
//         cfg::integer("idle", &settings::idle, 30000, "..."));   // unit "ms" from the type
//     TERN_PLUGIN(impl, {..., .config = schema.keys()});
//     settings s = schema.load(config());                          // in the instance
//
// Members may be any integral type, bool, float or double, std::string, std::string_view
// (valid for the instance's life), std::vector<std::string>, or a std::chrono::duration (the
// value counts the member's period). An integer that does not fit the member's type fails
// load() with a message naming the key and where its value came from. A plain key (the
// three-argument builders) may stand among bound ones: it is declared, and load() skips it.
#pragma once

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <ratio>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tern/abi/plugin.h"
#include "tern/sdk/host.hpp"
#include "tern/sdk/status.hpp"

namespace tern::sdk::cfg {

// ---- keys -------------------------------------------------------------------------------

// A schema key under construction; converts to tern_config_key.
struct key {
    tern_config_key k{};

    constexpr key(tern_config_type type, const char* name, const char* doc) {
        k.struct_size = sizeof(tern_config_key);
        k.type = type;
        k.name = name;
        k.doc = doc;
        k.default_value.type = TERN_VALUE_NULL;
    }
    // numbers: inclusive bounds; strings: bounds on the length
    constexpr key range(double lo, double hi) const {
        key c = *this;
        c.k.min = lo;
        c.k.max = hi;
        c.k.flags |= TERN_CONFIG_HAS_MIN | TERN_CONFIG_HAS_MAX;
        return c;
    }
    constexpr key at_least(double lo) const {
        key c = *this;
        c.k.min = lo;
        c.k.flags |= TERN_CONFIG_HAS_MIN;
        return c;
    }
    // '|'-separated allowed values of a string
    constexpr key choices(const char* list) const {
        key c = *this;
        c.k.choices = list;
        return c;
    }
    constexpr key unit(const char* u) const {
        key c = *this;
        c.k.unit = u;
        return c;
    }
    constexpr key path() const {
        key c = *this;
        c.k.flags |= TERN_CONFIG_PATH;
        return c;
    }
    constexpr key required() const {
        key c = *this;
        c.k.flags |= TERN_CONFIG_REQUIRED;
        c.k.default_value.type = TERN_VALUE_NULL;
        return c;
    }
    constexpr operator tern_config_key() const { return k; }
};

constexpr key boolean(const char* name, bool def, const char* doc) {
    key c{TERN_CONFIG_BOOL, name, doc};
    c.k.default_value.type = TERN_VALUE_BOOL;
    c.k.default_value.u.b = def ? 1 : 0;
    return c;
}

constexpr key integer(const char* name, int64_t def, const char* doc) {
    key c{TERN_CONFIG_INT, name, doc};
    c.k.default_value.type = TERN_VALUE_INT;
    c.k.default_value.u.i = def;
    return c;
}

constexpr key number(const char* name, double def, const char* doc) {
    key c{TERN_CONFIG_DOUBLE, name, doc};
    c.k.default_value.type = TERN_VALUE_DOUBLE;
    c.k.default_value.u.d = def;
    return c;
}

constexpr std::size_t cstrlen(const char* s) {
    std::size_t n = 0;
    while (s[n] != '\0') ++n;
    return n;
}

constexpr key string(const char* name, const char* def, const char* doc) {
    key c{TERN_CONFIG_STRING, name, doc};
    c.k.default_value.type = TERN_VALUE_STR;
    c.k.default_value.u.s = tern_str{def, cstrlen(def)};
    return c;
}

// def_json: the default as a JSON array of strings, e.g. R"(["1.2"])"
constexpr key strings(const char* name, const char* def_json, const char* doc) {
    key c{TERN_CONFIG_STRING_ARRAY, name, doc};
    c.k.default_value.type = TERN_VALUE_JSON;
    c.k.default_value.u.s = tern_str{def_json, cstrlen(def_json)};
    return c;
}

// ---- what a member may be ------------------------------------------------------------------

namespace detail {

template <class T>
struct is_duration : std::false_type {};
template <class R, class P>
struct is_duration<std::chrono::duration<R, P>> : std::true_type {};

// The schema's unit of a duration member, or nullptr for an unusual period.
template <class P>
constexpr const char* period_unit() {
    if constexpr (std::is_same_v<P, std::nano>) return "ns";
    else if constexpr (std::is_same_v<P, std::micro>) return "us";
    else if constexpr (std::is_same_v<P, std::milli>) return "ms";
    else if constexpr (std::is_same_v<P, std::ratio<1>>) return "s";
    else if constexpr (std::is_same_v<P, std::ratio<60>>) return "min";
    else if constexpr (std::is_same_v<P, std::ratio<3600>>) return "h";
    else return nullptr;
}

}  // namespace detail

template <class M>
concept integer_member = (std::integral<M> && !std::same_as<M, bool>) || detail::is_duration<M>::value;
template <class M>
concept number_member = std::floating_point<M>;
template <class M>
concept string_member = std::same_as<M, std::string> || std::same_as<M, std::string_view>;
template <class M>
concept strings_member = std::same_as<M, std::vector<std::string>>;

// ---- a key bound to a member ----------------------------------------------------------------

// A schema key and the member of C it fills. Same modifiers as cfg::key.
template <class C, class M>
struct field {
    key k;
    M C::*member;

    constexpr field range(double lo, double hi) const { return {k.range(lo, hi), member}; }
    constexpr field at_least(double lo) const { return {k.at_least(lo), member}; }
    constexpr field choices(const char* list) const { return {k.choices(list), member}; }
    constexpr field unit(const char* u) const { return {k.unit(u), member}; }
    constexpr field path() const { return {k.path(), member}; }
    constexpr field required() const { return {k.required(), member}; }
    constexpr operator tern_config_key() const { return k; }
};

template <class C>
constexpr field<C, bool> boolean(const char* name, bool C::*member, bool def, const char* doc) {
    return {boolean(name, def, doc), member};
}

// def counts the member's unit: a duration's period (its unit is set from it: "ms", "s", ...).
template <class C, integer_member M>
constexpr field<C, M> integer(const char* name, M C::*member, int64_t def, const char* doc) {
    field<C, M> f{integer(name, def, doc), member};
    if constexpr (detail::is_duration<M>::value) {
        if (const char* u = detail::period_unit<typename M::period>(); u != nullptr) f.k.k.unit = u;
    }
    return f;
}

// A duration member with its default as a duration: integer("idle", &s::idle, 30s, "...").
template <class C, class R, class P>
constexpr field<C, std::chrono::duration<R, P>> integer(
    const char* name, std::chrono::duration<R, P> C::*member,
    std::type_identity_t<std::chrono::duration<R, P>> def, const char* doc) {
    return integer(name, member, static_cast<int64_t>(def.count()), doc);
}

template <class C, number_member M>
constexpr field<C, M> number(const char* name, M C::*member, double def, const char* doc) {
    return {number(name, def, doc), member};
}

// A std::string_view member views the kernel's copy, valid until the instance is destroyed.
template <class C, string_member M>
constexpr field<C, M> string(const char* name, M C::*member, const char* def, const char* doc) {
    return {string(name, def, doc), member};
}

// def_json: the default as a JSON array of strings, e.g. R"(["1.2"])"
template <class C, strings_member M>
constexpr field<C, M> strings(const char* name, M C::*member, const char* def_json, const char* doc) {
    return {strings(name, def_json, doc), member};
}

// ---- reading ------------------------------------------------------------------------------

// The strings of a string-array default (a JSON array of strings: ["a", "b\u00e9"]).
// Throws sdk::error naming the key when the text is not one.
std::vector<std::string> parse_strings_default(std::string_view json, std::string_view key);

namespace detail {

[[noreturn]] inline void out_of_member(const config& c, std::string_view key, const std::string& value,
                                       const std::string& lo, const std::string& hi) {
    throw error(TERN_CONFIG, cat("config key '", key, "' is ", value, " (", c.origin(key),
                                 "), which this plugin cannot hold: it takes ", lo, "..", hi));
}

template <std::integral T>
T narrow(const config& c, std::string_view key, int64_t v) {
    if (!std::in_range<T>(v))
        out_of_member(c, key, cat(v), cat(std::numeric_limits<T>::min()), cat(std::numeric_limits<T>::max()));
    return static_cast<T>(v);
}

template <class M>
void read(const config& c, std::string_view key, M& out) {
    if constexpr (std::same_as<M, bool>) {
        out = c.get_bool(key);
    } else if constexpr (std::integral<M>) {
        out = narrow<M>(c, key, c.get_int(key));
    } else if constexpr (is_duration<M>::value) {
        using rep = typename M::rep;
        if constexpr (std::integral<rep>) out = M{narrow<rep>(c, key, c.get_int(key))};
        else out = M{static_cast<rep>(c.get_int(key))};
    } else if constexpr (std::floating_point<M>) {
        out = static_cast<M>(c.get_double(key));
    } else if constexpr (std::same_as<M, std::string>) {
        out = std::string(c.get_string(key));
    } else if constexpr (std::same_as<M, std::string_view>) {
        out = c.get_string(key);
    } else {
        static_assert(std::same_as<M, std::vector<std::string>>);
        out = c.get_strings(key);
    }
}

// A key's schema default into a member, as load() would read it from the kernel.
template <class M>
void read_default(const tern_config_key& k, M& out) {
    const tern_value& d = k.default_value;
    if (d.type == TERN_VALUE_NULL) return;  // required: no default
    if constexpr (std::same_as<M, bool>) {
        out = d.u.b != 0;
    } else if constexpr (std::integral<M>) {
        out = static_cast<M>(d.u.i);
    } else if constexpr (is_duration<M>::value) {
        out = M{static_cast<typename M::rep>(d.u.i)};
    } else if constexpr (std::floating_point<M>) {
        out = static_cast<M>(d.type == TERN_VALUE_INT ? static_cast<double>(d.u.i) : d.u.d);
    } else if constexpr (string_member<M>) {
        out = M(to_sv(d.u.s));
    } else {
        out = parse_strings_default(to_sv(d.u.s), k.name);
    }
}

template <class S, class F>
struct member_of {
    using type = std::nullptr_t;  // a plain key: nothing to fill
};
template <class S, class C, class M>
struct member_of<S, field<C, M>> {
    static_assert(std::is_base_of_v<C, S>, "a bound key names a member of another struct");
    using type = M C::*;
};

template <class F>
constexpr auto member_ptr(const F& f) {
    if constexpr (std::is_same_v<F, key>) return nullptr;
    else return f.member;
}

}  // namespace detail

// The schema of a settings struct S: its keys for the descriptor, and load() for the struct.
// Declare it constexpr at namespace scope: keys() is then a constant the descriptor points at.
template <class S, class... F>
class schema {
public:
    constexpr explicit schema(const F&... f)
        : keys_{static_cast<tern_config_key>(f)...}, members_{detail::member_ptr(f)...} {}

    constexpr std::span<const tern_config_key> keys() const noexcept { return keys_; }

    // S with every bound member read from the instance's validated configuration.
    S load(const config& c) const {
        S s{};
        load_into(c, s);
        return s;
    }
    // Fills the bound members of s; other members keep their values.
    void load_into(const config& c, S& s) const { fill(s, [&c](const tern_config_key& k, auto& m) {
        detail::read(c, k.name, m);
    }); }

    // S as the kernel would load it from an empty table: the schema's defaults (members of
    // required keys keep their initial values).
    S defaults() const {
        S s{};
        fill(s, [](const tern_config_key& k, auto& m) { detail::read_default(k, m); });
        return s;
    }

private:
    template <class Fn>
    void fill(S& s, Fn&& fn) const {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (fill_one(s, keys_[I], std::get<I>(members_), fn), ...);
        }(std::index_sequence_for<F...>{});
    }
    template <class P, class Fn>
    static void fill_one(S& s, const tern_config_key& k, P member, Fn& fn) {
        if constexpr (!std::is_same_v<P, std::nullptr_t>) fn(k, s.*member);
    }

    std::array<tern_config_key, sizeof...(F)> keys_;
    std::tuple<typename detail::member_of<S, F>::type...> members_;
};

// The schema of S from its keys: bound ones (cfg::integer("x", &S::x, ...)) and plain ones.
template <class S, class... F>
constexpr schema<S, F...> bind(const F&... f) {
    return schema<S, F...>(f...);
}

// ---- parse_strings_default ------------------------------------------------------------------

namespace detail {

inline void put_utf8(std::string& s, uint32_t cp) {
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        s += static_cast<char>(0xc0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        s += static_cast<char>(0xe0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        s += static_cast<char>(0xf0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

// A cursor over the JSON text; every method returns false on malformed input.
struct json_strings {
    std::string_view t;
    std::size_t i = 0;

    void ws() {
        while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
    }
    bool eat(char c) {
        ws();
        if (i >= t.size() || t[i] != c) return false;
        ++i;
        return true;
    }
    bool hex4(uint32_t& cp) {
        if (t.size() - i < 4) return false;
        cp = 0;
        for (int n = 0; n < 4; ++n) {
            const char c = t[i++];
            cp <<= 4;
            if (c >= '0' && c <= '9') cp |= static_cast<uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') cp |= static_cast<uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') cp |= static_cast<uint32_t>(c - 'A' + 10);
            else return false;
        }
        return true;
    }
    bool escape(std::string& s) {
        if (i >= t.size()) return false;
        switch (t[i++]) {
            case '"': s += '"'; return true;
            case '\\': s += '\\'; return true;
            case '/': s += '/'; return true;
            case 'b': s += '\b'; return true;
            case 'f': s += '\f'; return true;
            case 'n': s += '\n'; return true;
            case 'r': s += '\r'; return true;
            case 't': s += '\t'; return true;
            case 'u': break;
            default: return false;
        }
        uint32_t cp = 0;
        if (!hex4(cp) || (cp >= 0xdc00 && cp <= 0xdfff)) return false;
        if (cp >= 0xd800 && cp <= 0xdbff) {  // a surrogate pair
            uint32_t lo = 0;
            if (t.size() - i < 2 || t[i] != '\\' || t[i + 1] != 'u') return false;
            i += 2;
            if (!hex4(lo) || lo < 0xdc00 || lo > 0xdfff) return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        put_utf8(s, cp);
        return true;
    }
    bool string(std::string& s) {
        if (!eat('"')) return false;
        while (i < t.size()) {
            const char c = t[i++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c != '\\') s += c;
            else if (!escape(s)) return false;
        }
        return false;
    }
    bool array(std::vector<std::string>& out) {
        if (!eat('[')) return false;
        ws();
        if (i < t.size() && t[i] == ']') {
            ++i;
        } else {
            do {
                if (!string(out.emplace_back())) return false;
            } while (eat(','));
            if (!eat(']')) return false;
        }
        ws();
        return i == t.size();
    }
};

}  // namespace detail

inline std::vector<std::string> parse_strings_default(std::string_view json, std::string_view key) {
    std::vector<std::string> out;
    detail::json_strings p{json};
    if (!p.array(out))
        throw error(TERN_CONFIG, cat("the default of config key '", key, "' is not a JSON array of strings: ", json));
    return out;
}

}  // namespace tern::sdk::cfg
