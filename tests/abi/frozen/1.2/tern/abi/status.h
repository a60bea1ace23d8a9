/* Status codes and caller-owned error text: how every fallible ABI call reports failure.
 * Exceptions never cross the boundary (the SDK's guard turns them into TERN_INTERNAL).
 * Compiles as C11 and as C++20. */
#ifndef TERN_ABI_STATUS_H
#define TERN_ABI_STATUS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t tern_status;

/* Values are frozen; new codes are only ever appended. */
enum {
    TERN_OK = 0,
    TERN_INVALID_ARGUMENT = 1, /* the caller passed something malformed */
    TERN_NOT_FOUND = 2,        /* no such key, interface, exchange, observation, ... */
    TERN_UNSUPPORTED = 3,      /* the callee does not implement this (yet) */
    TERN_BUSY = 4,             /* a bound was reached; try later (load shedding) */
    TERN_IO = 5,               /* an operating-system call failed */
    TERN_TIMEOUT = 6,          /* a deadline passed */
    TERN_INTERNAL = 7,         /* a bug or an unexpected exception in the callee */
    TERN_PERMISSION = 8,       /* not allowed (authentication, file modes) */
    TERN_EXISTS = 9,           /* already there */
    TERN_UNAVAILABLE = 10,     /* the service is stopping or not started */
    TERN_CONFIG = 11           /* the configuration is wrong */
};

/* Error text buffer owned by the caller. The callee writes at most sizeof(msg) - 1 bytes
 * and always NUL-terminates; len is the number of bytes written, without the NUL.
 * OWNERSHIP: caller. LIFETIME: the call. A null tern_error* means "no detail wanted". */
typedef struct tern_error {
    char msg[256];
    uint32_t len;
} tern_error;

#ifdef __cplusplus
}
#endif

#endif
