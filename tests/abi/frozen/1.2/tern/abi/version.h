/* Tern plugin ABI: version numbers and the descriptor magic.
 *
 * The ABI major changes only when a released record or interface would have to change in
 * place; that never happens within a major. The minor grows when the SDK gains records,
 * interfaces or host services at the end of an extensible table. A plugin loads when its
 * abi_major equals the kernel's and every interface it requires is available; abi_minor
 * is reported so that a user can tell which kernel a plugin was built for.
 *
 * Compiles as C11 and as C++20. */
#ifndef TERN_ABI_VERSION_H
#define TERN_ABI_VERSION_H

#define TERN_ABI_MAJOR 1
#define TERN_ABI_MINOR 2

/* "TERN" read as a little-endian uint32: the first field of every descriptor. */
#define TERN_PLUGIN_MAGIC 0x4E524554u

/* The one symbol a plugin library exports. */
#define TERN_PLUGIN_ENTRY_SYMBOL "tern_plugin_entry"

#endif
