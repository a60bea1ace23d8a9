/* Plain C-layout values that cross the boundary: string and byte views, tagged values,
 * key/value records, network endpoints. Compiles as C11 and as C++20.
 *
 * Rules (docs/abi.md): fixed-width integers only (no bool, long or bitfields); enums are
 * int32_t typedefs; views are borrowed for the duration of the call unless the doc of the
 * call says otherwise. */
#ifndef TERN_ABI_TYPES_H
#define TERN_ABI_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* UTF-8 text, not necessarily NUL-terminated. data may be null when size is 0. */
typedef struct tern_str {
    const char* data;
    size_t size;
} tern_str;

/* Raw bytes. data may be null when size is 0. */
typedef struct tern_bytes {
    const uint8_t* data;
    size_t size;
} tern_bytes;

typedef int32_t tern_value_type;
enum {
    TERN_VALUE_NULL = 0,
    TERN_VALUE_BOOL = 1,   /* u.b: 0 or 1 */
    TERN_VALUE_INT = 2,    /* u.i */
    TERN_VALUE_DOUBLE = 3, /* u.d */
    TERN_VALUE_STR = 4,    /* u.s */
    TERN_VALUE_BYTES = 5,  /* u.bytes */
    TERN_VALUE_JSON = 6    /* u.s holds compact JSON text (an object or an array) */
};

/* A tagged value: telemetry and attribute values, RPC params, config defaults. */
typedef struct tern_value {
    tern_value_type type;
    uint32_t reserved; /* zero */
    union {
        int32_t b;
        int64_t i;
        double d;
        tern_str s;
        tern_bytes bytes;
    } u;
} tern_value;

/* One key/value pair. Arrays of these carry telemetry records and attribute sets. */
typedef struct tern_kv {
    tern_str key;
    tern_value value;
} tern_kv;

/* A network endpoint. family is 4 or 6; addr holds 4 bytes (IPv4) or 16 (IPv6), in
 * network order; port is in host order. */
typedef struct tern_endpoint {
    uint16_t family;
    uint16_t port;
    uint32_t scope_id;
    uint8_t addr[16];
} tern_endpoint;

/* Who sent a datagram: the address it came from, and the transport's session it belongs
 * to. session is 0 for transports without sessions (plain UDP); for DTLS it is the
 * session's own id, stable across address changes (Connection ID), never reused while the
 * process lives. */
typedef struct tern_peer {
    tern_endpoint endpoint;
    uint64_t session;
} tern_peer;

#ifdef __cplusplus
}
#endif

#endif
