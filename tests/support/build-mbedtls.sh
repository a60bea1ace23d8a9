#!/usr/bin/env bash
# Builds Mbed TLS's example DTLS client `ssl_client2` from the upstream tarball that Debian's
# trixie archive carries for its `mbedtls` source package (3.6.x, a long-term-support
# branch), for the interop test that runs it against Tern's dtls plugin (an independent
# DTLS 1.2 stack with RFC 9146 Connection ID). It is installed into a cache shared by every
# build tree of the machine, so it is built once per machine (about a minute on 2 cores).
#
#   build-mbedtls.sh WORK_DIR CACHE_ROOT
#
# WORK_DIR   scratch space: a private apt state (sources list, lists, archives), the unpacked
#            sources and the cmake build. /etc/apt is never touched.
# CACHE_ROOT the install lands in CACHE_ROOT/mbedtls-<upstream version>-<hash of this
#            script>/ (bin/ssl_client2, tern-mbedtls.txt).
#
# Mbed TLS's default configuration (include/mbedtls/mbedtls_config.h) already has what the
# test needs: DTLS (MBEDTLS_SSL_PROTO_DTLS), RFC 9146 Connection ID
# (MBEDTLS_SSL_DTLS_CONNECTION_ID, with the standard record format:
# MBEDTLS_SSL_DTLS_CONNECTION_ID_COMPAT 0), plain PSK, ECDHE-ECDSA, AES-CCM and GCM; the
# build checks those lines and refuses a tarball without them, and versions before
# TERN_MBEDTLS_MIN_VERSION. Only the upstream tarball (mbedtls_<version>.orig.tar.*) is used:
# apt checks it against the signed Sources index.
#
# Prints the install prefix as the last line of stdout. Concurrent runs serialise on a lock
# file; the first one builds, the others find the finished install. The first successful
# build is remembered, so later runs need no network. Environment: TERN_MBEDTLS_MIRROR
# (default http://deb.debian.org/debian), TERN_MBEDTLS_SUITE (default trixie),
# TERN_MBEDTLS_REFRESH=1 (look for a newer upstream version even when one is cached),
# TERN_JOBS (default nproc).
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 WORK_DIR CACHE_ROOT" >&2; exit 2; }
work=$1
cache_root=$2

# The first 3.6 release; 3.6 is where DTLS 1.2 Connection ID follows RFC 9146 by default.
min_version=${TERN_MBEDTLS_MIN_VERSION:-3.6.0}

say() { echo "[mbedtls] $*" >&2; }
die() { echo "[mbedtls] error: $*" >&2; exit 1; }

for tool in apt-get dpkg tar bzip2 cmake make gcc sha256sum flock; do
    command -v "$tool" >/dev/null ||
        die "'$tool' is missing (Debian packages: apt dpkg tar bzip2 cmake make gcc coreutils util-linux)"
done

suite=${TERN_MBEDTLS_SUITE:-trixie}
mirror=${TERN_MBEDTLS_MIRROR:-http://deb.debian.org/debian}
jobs=${TERN_JOBS:-$(nproc 2>/dev/null || echo 2)}

mkdir -p "$work" "$cache_root"
work=$(cd "$work" && pwd)
cache_root=$(cd "$cache_root" && pwd)

# The cache key: upstream version (or "latest" for the note), the suite and this script's
# own text, so any change to how Mbed TLS is built gives a new install.
key_of() {
    { printf '%s\n' "$1" "$suite"; cat "$0"; } | sha256sum | cut -c1-12
}

finish() { # prefix
    say "using $1"
    echo "$1"
    exit 0
}

latest_note=$cache_root/.mbedtls-latest-$(key_of latest)
use_note() {
    if [ -z "${TERN_MBEDTLS_REFRESH:-}" ] && [ -f "$latest_note" ]; then
        local prefix
        prefix=$(cat "$latest_note")
        if [ -f "$prefix/.complete" ] && [ -x "$prefix/bin/ssl_client2" ]; then finish "$prefix"; fi
    fi
    return 0
}
use_note

exec 9>"$cache_root/.mbedtls-build.lock"
say "waiting for the build lock ($cache_root/.mbedtls-build.lock)"
flock 9
use_note  # another run may have built it meanwhile

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
say "fetching the upstream tarball of mbedtls ($suite)"
# Only the upstream tarball matters; a Debian revision file that 404s is not an error.
(cd "$src_dir" && apt-get "${apt_opts[@]}" -qq source --download-only mbedtls >&2) ||
    say "apt-get source reported missing files; looking for the upstream tarball"
tarball=$(ls "$src_dir"/mbedtls_*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n1 || true)
[ -n "$tarball" ] || die "no upstream tarball of mbedtls in $suite (apt-get source --download-only mbedtls)"
version=$(basename "$tarball" | sed -E 's/^mbedtls_(.*)\.orig\.tar\..*$/\1/')
dpkg --compare-versions "$version" ge "$min_version" ||
    die "$suite carries Mbed TLS $version, older than $min_version; set TERN_MBEDTLS_SUITE to a suite with a newer one"
prefix=$cache_root/mbedtls-$version-$(key_of "$version")
if [ -f "$prefix/.complete" ] && [ -x "$prefix/bin/ssl_client2" ]; then
    echo "$prefix" >"$latest_note"
    finish "$prefix"
fi

say "unpacking Mbed TLS $version"
tree=$src_dir/tree
mkdir -p "$tree"
tar -xf "$tarball" -C "$tree" --strip-components=1 || die "cannot unpack $tarball"

# What the interop test relies on, as the default configuration declares it.
config=$tree/include/mbedtls/mbedtls_config.h
for line in '#define MBEDTLS_SSL_PROTO_DTLS' '#define MBEDTLS_SSL_DTLS_CONNECTION_ID' \
    '#define MBEDTLS_SSL_DTLS_CONNECTION_ID_COMPAT 0' '#define MBEDTLS_KEY_EXCHANGE_PSK_ENABLED' \
    '#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED' '#define MBEDTLS_CCM_C' '#define MBEDTLS_GCM_C'; do
    grep -qE "^${line}([[:space:]]|\$)" "$config" || die "$config lacks '$line' (needed by the interop test)"
done

log=$work/build.log
: >"$log"
say "cmake, build ssl_client2 with $jobs jobs (log: $log)"
staging=$prefix.staging.$$
rm -rf "$staging"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
(
    cmake -S "$tree" -B "$work/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=ON -DGEN_FILES=OFF -DMBEDTLS_FATAL_WARNINGS=OFF
    cmake --build "$work/build" --target ssl_client2 -j "$jobs"
) >>"$log" 2>&1 || { tail -n 40 "$log" >&2; die "the Mbed TLS build failed (full log: $log)"; }
mkdir -p "$staging/bin"
cp "$work/build/programs/ssl/ssl_client2" "$staging/bin/ssl_client2"
{
    echo "Mbed TLS $version, upstream tarball of Debian's mbedtls source package ($suite)"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m) by $0"
    echo "programs/ssl/ssl_client2 only, default configuration (include/mbedtls/mbedtls_config.h)"
} >"$staging/tern-mbedtls.txt"
touch "$staging/.complete"
rm -rf "$prefix"
mv "$staging" "$prefix"
rm -rf "$src_dir" "$work/build"
echo "$prefix" >"$latest_note"
finish "$prefix"
