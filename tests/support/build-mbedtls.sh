#!/usr/bin/env bash
# Builds Mbed TLS's example DTLS client `ssl_client2` from the upstream tarball that Debian's
# trixie archive carries for its `mbedtls` source package (3.6.x, a long-term-support
# branch), for the interop test that runs it against Tern's dtls plugin (an independent
# DTLS 1.2 stack with RFC 9146 Connection ID). It is installed into a cache shared by every
# build tree of the machine, so it is built once per machine (about a minute on 2 cores);
# fetching, caching and locking: cmake/debian-upstream.sh.
#
#   build-mbedtls.sh WORK_DIR CACHE_ROOT
#
# WORK_DIR   scratch space: a private apt state (sources list, lists, archives), the unpacked
#            sources and the cmake build. /etc/apt is never touched.
# CACHE_ROOT the install lands in CACHE_ROOT/mbedtls-<upstream version>-<hash of the
#            scripts>/ (bin/ssl_client2, tern-mbedtls.txt).
#
# Mbed TLS's default configuration (include/mbedtls/mbedtls_config.h) already has what the
# test needs: DTLS (MBEDTLS_SSL_PROTO_DTLS), RFC 9146 Connection ID
# (MBEDTLS_SSL_DTLS_CONNECTION_ID, with the standard record format:
# MBEDTLS_SSL_DTLS_CONNECTION_ID_COMPAT 0), plain PSK, ECDHE-ECDSA, AES-CCM and GCM; the
# build checks those lines and refuses a tarball without them, and versions before
# TERN_MBEDTLS_MIN_VERSION (3.6.0).
#
# Prints the install prefix as the last line of stdout. Environment: TERN_MBEDTLS_MIRROR
# (default http://deb.debian.org/debian), TERN_MBEDTLS_SUITE (default trixie),
# TERN_MBEDTLS_REFRESH=1 (look for a newer upstream version even when one is cached),
# TERN_JOBS (default nproc).
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 WORK_DIR CACHE_ROOT" >&2; exit 2; }
mkdir -p "$1" "$2"
ds_work=$(cd "$1" && pwd)
ds_cache_root=$(cd "$2" && pwd)

ds_name=mbedtls
ds_suite=${TERN_MBEDTLS_SUITE:-trixie}
ds_mirror=${TERN_MBEDTLS_MIRROR:-http://deb.debian.org/debian}
ds_refresh=${TERN_MBEDTLS_REFRESH:-}
ds_key_extra=""
ds_packages="apt dpkg tar bzip2 cmake make gcc coreutils util-linux"
ds_min_hint="set TERN_MBEDTLS_SUITE to a suite with a newer one"
ds_complete() { [ -f "$1/.complete" ] && [ -x "$1/bin/ssl_client2" ]; }
source "$(dirname "${BASH_SOURCE[0]}")/../../cmake/debian-upstream.sh"
jobs=${TERN_JOBS:-$(nproc 2>/dev/null || echo 2)}

ds_need apt-get dpkg tar bzip2 cmake make gcc sha256sum flock
ds_use_note
ds_lock
# 3.6 is where DTLS 1.2 Connection ID follows RFC 9146 by default.
ds_fetch "${TERN_MBEDTLS_MIN_VERSION:-3.6.0}"
tree=$ds_work/src/tree
ds_unpack "$tree"

# What the interop test relies on, as the default configuration declares it.
config=$tree/include/mbedtls/mbedtls_config.h
for line in '#define MBEDTLS_SSL_PROTO_DTLS' '#define MBEDTLS_SSL_DTLS_CONNECTION_ID' \
    '#define MBEDTLS_SSL_DTLS_CONNECTION_ID_COMPAT 0' '#define MBEDTLS_KEY_EXCHANGE_PSK_ENABLED' \
    '#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED' '#define MBEDTLS_CCM_C' '#define MBEDTLS_GCM_C'; do
    grep -qE "^${line}([[:space:]]|\$)" "$config" || die "$config lacks '$line' (needed by the interop test)"
done

log=$ds_work/build.log
: >"$log"
say "cmake, build ssl_client2 with $jobs jobs (log: $log)"
staging=$ds_prefix.staging.$$
rm -rf "$staging"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
(
    cmake -S "$tree" -B "$ds_work/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=ON -DGEN_FILES=OFF -DMBEDTLS_FATAL_WARNINGS=OFF
    cmake --build "$ds_work/build" --target ssl_client2 -j "$jobs"
) >>"$log" 2>&1 || { tail -n 40 "$log" >&2; die "the Mbed TLS build failed (full log: $log)"; }
mkdir -p "$staging/bin"
cp "$ds_work/build/programs/ssl/ssl_client2" "$staging/bin/ssl_client2"
rm -rf "$ds_work/build"
{
    echo "Mbed TLS $ds_version, upstream tarball of Debian's mbedtls source package ($ds_suite)"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m) by $0"
    echo "programs/ssl/ssl_client2 only, default configuration (include/mbedtls/mbedtls_config.h)"
} >"$staging/tern-mbedtls.txt"
ds_install "$staging"
