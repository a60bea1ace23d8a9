#!/usr/bin/env bash
# Builds wolfSSL from the upstream tarball that Debian's unstable archive carries for its
# `wolfssl` source package, static and position-independent, configured for the dtls plugin,
# and installs it into a cache shared by every build tree of the machine, so it is built once
# per machine and option set (fetching, caching and locking: cmake/debian-upstream.sh).
#
#   build-wolfssl.sh WORK_DIR CACHE_ROOT [configure options...]
#
# WORK_DIR   scratch space (under the CMake build tree): a private apt state (sources list,
#            lists, archives) and the unpacked sources. /etc/apt is never touched.
# CACHE_ROOT the install lands in CACHE_ROOT/wolfssl-<upstream version>-<hash of the options
#            and of the scripts>/ (include/, lib/libwolfssl.a, tern-wolfssl.txt).
#
# Why unstable and not bookworm: bookworm's wolfSSL 5.5.4 has no RFC 9146 Connection ID for
# DTLS 1.2 and refuses DTLS 1.2 ClientHellos that carry no extensions block. The newest
# upstream release in unstable has both (and one comparison patched below, so that a hello
# with an empty extensions block passes too); versions older than 5.7.6 are refused. Only
# the upstream tarball (wolfssl_<version>.orig.tar.*) is used: apt checks it against the
# signed Sources index, and unstable's Debian revision files sometimes lag behind it (their
# download failing is not an error).
#
# Prints the install prefix as the last line of stdout. Concurrent runs (several build
# trees configuring at once) serialise on a lock file; the first one builds, the others
# find the finished install. The first successful build is remembered per option set, so
# later configures need no network. Environment: TERN_WOLFSSL_MIRROR (default
# http://deb.debian.org/debian), TERN_WOLFSSL_SUITE (default sid), TERN_WOLFSSL_REFRESH=1
# (look for a newer upstream version even when one is cached), TERN_JOBS (default nproc).
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 WORK_DIR CACHE_ROOT [configure options...]" >&2; exit 2; }
mkdir -p "$1" "$2"
ds_work=$(cd "$1" && pwd)
ds_cache_root=$(cd "$2" && pwd)
shift 2
options=("$@")

ds_name=wolfssl
ds_suite=${TERN_WOLFSSL_SUITE:-sid}
ds_mirror=${TERN_WOLFSSL_MIRROR:-http://deb.debian.org/debian}
ds_refresh=${TERN_WOLFSSL_REFRESH:-}
ds_key_extra=$(printf '%s\n' "${options[@]}")
ds_packages="apt dpkg tar autoconf automake libtool make gcc coreutils util-linux"
ds_min_hint="set TERN_WOLFSSL_SUITE to a suite with a newer one, or configure with -DTERN_WOLFSSL=system (no CID, no static PSK)"
ds_complete() { [ -f "$1/.complete" ]; }
source "$(dirname "${BASH_SOURCE[0]}")/debian-upstream.sh"
jobs=${TERN_JOBS:-$(nproc 2>/dev/null || echo 2)}

ds_need apt-get dpkg tar autoreconf libtoolize make gcc sha256sum flock
ds_use_note
ds_lock
# The first upstream release with RFC 9146 on DTLS 1.2 and the server-side CID helpers.
ds_fetch 5.7.6
tree=$ds_work/src/tree
ds_unpack "$tree"

# wolfSSL's stateless ClientHello parser (src/dtls.c, ParseClientHello) reads the extensions
# block only when more than its 2-byte length is left, so a DTLS 1.2 ClientHello whose
# extensions block is present but empty (length 0x0000, as some PSK device stacks send it)
# fails there with BUFFER_ERROR (-328) and a decode_error alert after the cookie exchange.
# 5.9.2 does that (a hello without the block passes); 5.5.4 did the reverse. That one
# comparison is made inclusive, so both forms pass. A release whose line differs is built as
# released: the test dtls_psk_empty_extensions shows whether it parses both.
empty_ext_old='    if (idx < helloSz - OPAQUE16_LEN) {'
empty_ext_new='    if (idx <= helloSz - OPAQUE16_LEN) {'
if [ "$(grep -cF -- "$empty_ext_old" "$tree/src/dtls.c")" = 1 ]; then
    sed -i "s/^    if (idx < helloSz - OPAQUE16_LEN) {\$/$empty_ext_new/" "$tree/src/dtls.c"
    grep -qF -- "$empty_ext_new" "$tree/src/dtls.c" || die "patching src/dtls.c (empty extensions list) failed"
    say "patched src/dtls.c: a ClientHello with an empty extensions list is parsed"
else
    say "src/dtls.c has no '$empty_ext_old' line; built as released"
fi

log=$ds_work/build.log
: >"$log"
say "autogen, configure, make -j$jobs (log: $log)"
staging=$ds_prefix.staging.$$
rm -rf "$staging"
(
    cd "$tree"
    ./autogen.sh
    ./configure --prefix="$staging" "${options[@]}"
    make -j"$jobs"
    make install
) >>"$log" 2>&1 || { tail -n 40 "$log" >&2; die "the wolfSSL build failed (full log: $log)"; }
# `make install` does not install the options.h that configure generated.
cp "$tree/wolfssl/options.h" "$staging/include/wolfssl/options.h"
{
    echo "wolfSSL $ds_version, upstream tarball of Debian's wolfssl source package ($ds_suite)"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m) by $0"
    echo "configure options:"
    printf '  %s\n' "${options[@]}"
} >"$staging/tern-wolfssl.txt"
ds_install "$staging"
