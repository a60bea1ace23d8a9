/* The C face of the ABI, compiled as strict C11 (-std=c11 -pedantic -Werror): a plugin or
 * a tool written in C can read and write descriptors, config schemas and errors. The
 * numbers repeat abi_layout_test.cpp on purpose: C must lay the records out exactly as C++
 * does. */
#include "tern/abi/plugin.h"
#include "tern/abi/status.h"
#include "tern/abi/types.h"
#include "tern/abi/version.h"

#include <stddef.h>

_Static_assert(sizeof(tern_str) == 16 && sizeof(tern_bytes) == 16, "views");
_Static_assert(sizeof(tern_value) == 24 && offsetof(tern_value, u) == 8, "tern_value");
_Static_assert(sizeof(tern_kv) == 40, "tern_kv");
_Static_assert(sizeof(tern_peer) == 32 && offsetof(tern_peer, session) == 24, "tern_peer");
_Static_assert(sizeof(tern_error) == 260 && offsetof(tern_error, len) == 256, "tern_error");
_Static_assert(sizeof(tern_config_key) == 88 && offsetof(tern_config_key, doc) == 80, "tern_config_key");
_Static_assert(sizeof(tern_requirement) == 16, "tern_requirement");
_Static_assert(sizeof(tern_create_args) == 16, "tern_create_args");
_Static_assert(sizeof(tern_plugin_descriptor) == 104, "tern_plugin_descriptor");
_Static_assert(offsetof(tern_plugin_descriptor, magic) == 0 &&
                   offsetof(tern_plugin_descriptor, header_size) == 4 &&
                   offsetof(tern_plugin_descriptor, abi_major) == 8 &&
                   offsetof(tern_plugin_descriptor, abi_minor) == 12,
               "the four fields that never move");
_Static_assert(offsetof(tern_plugin_descriptor, create) == 96, "tern_plugin_descriptor.create");

static tern_status create(const tern_create_args* args, tern_instance** out, tern_error* err) {
    (void)args;
    *out = NULL;
    if (err != NULL) {
        static const char msg[] = "a C plugin cannot implement plugin_v1";
        size_t i;
        for (i = 0; i < sizeof msg; ++i) err->msg[i] = msg[i];
        err->len = (uint32_t)(sizeof msg - 1);
    }
    return TERN_UNSUPPORTED;
}

static const tern_requirement requirements[] = {{"tern.transport/1", TERN_REQUIRE_OPTIONAL, 0}};

static const tern_config_key config[] = {
    {.struct_size = sizeof(tern_config_key),
     .type = TERN_CONFIG_INT,
     .name = "port",
     .default_value = {.type = TERN_VALUE_INT, .u = {.i = 5683}},
     .flags = TERN_CONFIG_HAS_MIN | TERN_CONFIG_HAS_MAX,
     .min = 1,
     .max = 65535,
     .doc = "a port"},
};

const tern_plugin_descriptor* header_compile_descriptor(void);
const tern_plugin_descriptor* header_compile_descriptor(void) {
    static const tern_plugin_descriptor d = {
        .magic = TERN_PLUGIN_MAGIC,
        .header_size = sizeof(tern_plugin_descriptor),
        .abi_major = TERN_ABI_MAJOR,
        .abi_minor = TERN_ABI_MINOR,
        .name = "c_descriptor",
        .requirements = requirements,
        .requirement_count = 1,
        .config = config,
        .config_count = 1,
        .create = create,
    };
    return &d;
}
