/* The plugin descriptor: what a library says about itself before any of its code runs
 * beyond the entry function, and the schema of its configuration table.
 * Compiles as C11 and as C++20.
 *
 * A plugin library exports exactly one symbol:
 *
 *     const tern_plugin_descriptor* tern_plugin_entry(void);
 *
 * returning a pointer to a constant record that lives as long as the library is loaded.
 * The kernel checks, in this order: the library opens; the entry symbol exists; magic;
 * header_size; abi_major; every required interface is provided by some instance; the
 * manifest table against the config schema. Only then does it call create().
 *
 * The first four fields of tern_plugin_descriptor never move in any ABI major. */
#ifndef TERN_ABI_PLUGIN_H
#define TERN_ABI_PLUGIN_H

#include <stdint.h>

#include "status.h"
#include "types.h"
#include "version.h"

#ifdef __cplusplus
namespace tern {
struct host_v1;
struct plugin_v1;
}
/* In C++ these are the interfaces of host.h; in C they are opaque. */
typedef tern::host_v1 tern_host;
typedef tern::plugin_v1 tern_instance;
extern "C" {
#else
typedef struct tern_host tern_host;
typedef struct tern_instance tern_instance;
#endif

/* ---- configuration schema -------------------------------------------------------- */

typedef int32_t tern_config_type;
enum {
    TERN_CONFIG_BOOL = 1,
    TERN_CONFIG_INT = 2,
    TERN_CONFIG_DOUBLE = 3,     /* an integer literal is accepted too */
    TERN_CONFIG_STRING = 4,
    TERN_CONFIG_STRING_ARRAY = 5
};

/* flags of tern_config_key */
enum {
    TERN_CONFIG_REQUIRED = 1u << 0, /* no default: the manifest must set it */
    TERN_CONFIG_HAS_MIN = 1u << 1,  /* min applies (numbers: value; strings: length) */
    TERN_CONFIG_HAS_MAX = 1u << 2,  /* max applies */
    TERN_CONFIG_PATH = 1u << 3      /* a file path; documentation hint only */
};

/* One key of a plugin's configuration table.
 *
 * name may contain dots: "credentials.cert_file" is key cert_file of the sub-table
 * [plugins.<instance>.credentials]. default_value has the key's type (for
 * TERN_CONFIG_STRING_ARRAY: TERN_VALUE_JSON holding a JSON array of strings, e.g.
 * ["1.2"]); it is ignored when TERN_CONFIG_REQUIRED is set. choices, when not null, is a
 * '|'-separated list of the only values a string may take. unit is a documentation hint
 * ("ms", "bytes"). All strings are NUL-terminated and static.
 *
 * The keys "enabled", "plugin", "file" and "log_level" are the kernel's own in every
 * table and must not be declared (the kernel refuses a schema that does). */
typedef struct tern_config_key {
    uint32_t struct_size;
    tern_config_type type;
    const char* name;
    tern_value default_value;
    uint32_t flags;
    uint32_t reserved; /* zero */
    double min;
    double max;
    const char* choices;
    const char* unit;
    const char* doc;
} tern_config_key;

/* ---- dependencies ---------------------------------------------------------------- */

/* flags of tern_requirement */
enum {
    TERN_REQUIRE_OPTIONAL = 1u << 0 /* start without it when no instance provides it */
};

/* An interface this plugin uses from other instances (e.g. "tern.transport/1"). The
 * kernel starts every provider of a required interface before the instances that require
 * it, and refuses to start when a non-optional requirement is provided by nobody. */
typedef struct tern_requirement {
    const char* iid;
    uint32_t flags;
    uint32_t reserved; /* zero */
} tern_requirement;

/* ---- the descriptor --------------------------------------------------------------- */

/* What create() receives. OWNERSHIP: the kernel. LIFETIME: host lives until the
 * instance's destroy() returns. */
typedef struct tern_create_args {
    uint32_t struct_size;
    uint32_t reserved;
    tern_host* host;
} tern_create_args;

/* Makes one instance. On success stores a tern_instance* (tern::plugin_v1* in C++) in
 * *out and returns TERN_OK; on failure returns a status and writes the reason into err.
 * Must not throw. The kernel calls it once per enabled manifest table, on the start-stop
 * thread. OWNERSHIP: the instance belongs to the plugin; the kernel releases it with
 * plugin_v1::destroy(). */
typedef tern_status (*tern_create_fn)(const tern_create_args* args, tern_instance** out,
                                      tern_error* err);

typedef struct tern_plugin_descriptor {
    /* never move: */
    uint32_t magic;       /* TERN_PLUGIN_MAGIC */
    uint32_t header_size; /* sizeof(tern_plugin_descriptor) as the plugin was compiled */
    uint32_t abi_major;   /* TERN_ABI_MAJOR of the SDK the plugin was built with */
    uint32_t abi_minor;   /* TERN_ABI_MINOR of the SDK the plugin was built with */
    /* ABI 1.0: */
    const char* name;        /* plugin name: [a-z0-9_]+, also its library name libtern-<name>.so */
    const char* version;     /* the plugin's own version, semver */
    const char* vendor;
    const char* description; /* one line */
    const char* build;       /* compiler and C++ library it was built with; informational */
    const char* const* provides; /* interface ids this plugin's instances provide */
    uint32_t provides_count;
    uint32_t requirement_count;
    const tern_requirement* requirements; /* interfaces its instances use */
    const tern_config_key* config;
    uint32_t config_count;
    uint32_t reserved; /* zero */
    tern_create_fn create;
} tern_plugin_descriptor;

typedef const tern_plugin_descriptor* (*tern_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
