#!/usr/bin/env bash
# Builds wolfSSL from the upstream tarball that Debian's unstable archive carries for its
# `wolfssl` source package, static and position-independent, configured for the dtls plugin,
# and installs it into a cache shared by every build tree of the machine, so it is built once
# per machine and option set.
#
#   build-wolfssl.sh WORK_DIR CACHE_ROOT [configure options...]
#
# WORK_DIR   scratch space (under the CMake build tree): a private apt state (sources list,
#            lists, archives) and the unpacked sources. /etc/apt is never touched.
# CACHE_ROOT the install lands in CACHE_ROOT/wolfssl-<upstream version>-<hash of the options
#            and of this script>/ (include/, lib/libwolfssl.a, tern-wolfssl.txt).
#
# Why unstable and not bookworm: bookworm's wolfSSL 5.5.4 has no RFC 9146 Connection ID for
# DTLS 1.2 and refuses DTLS 1.2 ClientHellos that carry no extensions block. The newest
# upstream release in unstable has both (and one comparison patched below, so that a hello
# with an empty extensions block passes too); versions older than TERN_WOLFSSL_MIN_VERSION
# are refused. Only the upstream tarball (wolfssl_<version>.orig.tar.*) is used: apt checks it
# against the signed Sources index, and unstable's Debian revision files sometimes lag
# behind it (their download failing is not an error).
#
# Prints the install prefix as the last line of stdout. Concurrent runs (several build
# trees configuring at once) serialise on a lock file; the first one builds, the others
# find the finished install. The first successful build is remembered per option set, so
# later configures need no network. Environment: TERN_WOLFSSL_MIRROR (default
# http://deb.debian.org/debian), TERN_WOLFSSL_SUITE (default sid), TERN_WOLFSSL_REFRESH=1
# (look for a newer upstream version even when one is cached), TERN_JOBS (default nproc).
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 WORK_DIR CACHE_ROOT [configure options...]" >&2; exit 2; }
work=$1
cache_root=$2
shift 2
options=("$@")

# The first upstream release with RFC 9146 on DTLS 1.2 and the server-side CID helpers
# (wolfSSL_dtls_cid_parse) the plugin routes records with.
min_version=5.7.6

say() { echo "[wolfssl] $*" >&2; }
die() { echo "[wolfssl] error: $*" >&2; exit 1; }

for tool in apt-get dpkg tar autoreconf libtoolize make gcc sha256sum flock; do
    command -v "$tool" >/dev/null ||
        die "'$tool' is missing (Debian packages: apt dpkg tar autoconf automake libtool make gcc coreutils util-linux)"
done

suite=${TERN_WOLFSSL_SUITE:-sid}
mirror=${TERN_WOLFSSL_MIRROR:-http://deb.debian.org/debian}
jobs=${TERN_JOBS:-$(nproc 2>/dev/null || echo 2)}

mkdir -p "$work" "$cache_root"
work=$(cd "$work" && pwd)
cache_root=$(cd "$cache_root" && pwd)

# The cache key: upstream version (or "latest" for the note), configure options and this
# script's own text, so any change to how wolfSSL is built gives a new install.
key_of() {
    { printf '%s\n' "$1" "$suite" "${options[@]}"; cat "$0"; } | sha256sum | cut -c1-12
}

finish() { # prefix
    say "using $1"
    echo "$1"
    exit 0
}

latest_note=$cache_root/.wolfssl-latest-$(key_of latest)
use_note() {
    if [ -z "${TERN_WOLFSSL_REFRESH:-}" ] && [ -f "$latest_note" ]; then
        local prefix
        prefix=$(cat "$latest_note")
        if [ -f "$prefix/.complete" ]; then finish "$prefix"; fi
    fi
    return 0
}
use_note

exec 9>"$cache_root/.wolfssl-build.lock"
say "waiting for the build lock ($cache_root/.wolfssl-build.lock)"
flock 9
use_note  # another configure may have built it meanwhile

# The private apt: a sources list with one deb-src line, its own lists and archives.
apt_dir=$work/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
signed=""
[ -r "$keyring" ] && signed="[signed-by=$keyring] "
echo "deb-src ${signed}$mirror $suite main" >"$apt_dir/sources.list"
apt_opts=(
    -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Get::List-Cleanup=0"
    -o "APT::Sandbox::User=root"
)

say "private apt update ($suite, deb-src only; /etc/apt untouched)"
apt-get "${apt_opts[@]}" -qq update >&2 || die "apt-get update failed (is $mirror reachable?)"

src_dir=$work/src
rm -rf "$src_dir"
mkdir -p "$src_dir"
say "fetching the upstream tarball of wolfssl ($suite)"
# The .dsc and Debian tarball may 404 while the upstream tarball is there: apt then fails
# after keeping (and checking) the files it did get.
(cd "$src_dir" && apt-get "${apt_opts[@]}" -qq source --download-only wolfssl >&2) ||
    say "apt-get source reported missing files; looking for the upstream tarball"
tarball=$(ls "$src_dir"/wolfssl_*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n1 || true)
[ -n "$tarball" ] || die "no upstream tarball of wolfssl in $suite (apt-get source --download-only wolfssl)"
version=$(basename "$tarball" | sed -E 's/^wolfssl_(.*)\.orig\.tar\..*$/\1/')
dpkg --compare-versions "$version" ge "$min_version" ||
    die "$suite carries wolfSSL $version, older than $min_version (the first with DTLS 1.2 Connection ID); set TERN_WOLFSSL_SUITE to a suite with a newer one, or configure with -DTERN_WOLFSSL=system (no CID, no static PSK)"
prefix=$cache_root/wolfssl-$version-$(key_of "$version")
if [ -f "$prefix/.complete" ]; then
    echo "$prefix" >"$latest_note"
    finish "$prefix"
fi

say "unpacking wolfSSL $version"
tree=$src_dir/tree
mkdir -p "$tree"
tar -xf "$tarball" -C "$tree" --strip-components=1 || die "cannot unpack $tarball"

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

log=$work/build.log
: >"$log"
say "autogen, configure, make -j$jobs (log: $log)"
staging=$prefix.staging.$$
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
    echo "wolfSSL $version, upstream tarball of Debian's wolfssl source package ($suite)"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m) by $0"
    echo "configure options:"
    printf '  %s\n' "${options[@]}"
} >"$staging/tern-wolfssl.txt"
touch "$staging/.complete"
rm -rf "$prefix"
mv "$staging" "$prefix"
rm -rf "$src_dir"
echo "$prefix" >"$latest_note"
finish "$prefix"
