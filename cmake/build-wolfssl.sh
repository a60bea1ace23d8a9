#!/usr/bin/env bash
# Builds wolfSSL from Debian's own source package (with Debian's patches applied), static
# and position-independent, configured for the dtls plugin, and installs it into a cache
# shared by every build tree of the machine, so it is built once per machine and option
# set.
#
#   build-wolfssl.sh WORK_DIR CACHE_ROOT [configure options...]
#
# WORK_DIR   scratch space (under the CMake build tree): a private apt state (sources list,
#            lists, archives) and the unpacked sources. /etc/apt is never touched.
# CACHE_ROOT the install lands in CACHE_ROOT/wolfssl-<debian version>-<hash of the options
#            and of this script>/ (include/, lib/libwolfssl.a, tern-wolfssl.txt).
#
# Prints the install prefix as the last line of stdout. Concurrent runs (several build
# trees configuring at once) serialise on a lock file; the first one builds, the others
# find the finished install. Environment: TERN_WOLFSSL_MIRROR (default
# http://deb.debian.org/debian), TERN_WOLFSSL_SECURITY_MIRROR (default
# http://deb.debian.org/debian-security), TERN_WOLFSSL_SUITE (default: VERSION_CODENAME of
# /etc/os-release), TERN_WOLFSSL_VERSION (default: the installed libwolfssl's version, else
# the newest in the suite), TERN_JOBS (default nproc).
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 WORK_DIR CACHE_ROOT [configure options...]" >&2; exit 2; }
work=$1
cache_root=$2
shift 2
options=("$@")

say() { echo "[wolfssl] $*" >&2; }
die() { echo "[wolfssl] error: $*" >&2; exit 1; }

for tool in apt-get dpkg-source autoreconf libtoolize make gcc sha256sum flock; do
    command -v "$tool" >/dev/null ||
        die "'$tool' is missing (Debian packages: apt dpkg-dev autoconf automake libtool make gcc coreutils util-linux)"
done

suite=${TERN_WOLFSSL_SUITE:-}
if [ -z "$suite" ] && [ -r /etc/os-release ]; then
    suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
fi
[ -n "$suite" ] || die "cannot tell the Debian release (set TERN_WOLFSSL_SUITE, e.g. bookworm)"
mirror=${TERN_WOLFSSL_MIRROR:-http://deb.debian.org/debian}
security=${TERN_WOLFSSL_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
jobs=${TERN_JOBS:-$(nproc 2>/dev/null || echo 2)}

mkdir -p "$work" "$cache_root"
work=$(cd "$work" && pwd)
cache_root=$(cd "$cache_root" && pwd)

# The private apt: a sources list with deb-src lines only, its own lists and archives.
apt_dir=$work/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
signed=""
[ -r "$keyring" ] && signed="[signed-by=$keyring] "
cat >"$apt_dir/sources.list" <<EOF
deb-src ${signed}$mirror $suite main
deb-src ${signed}$security $suite-security main
EOF
apt_opts=(
    -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Get::List-Cleanup=0"
    -o "APT::Sandbox::User=root"
)

# Which Debian version: the installed library's, so that bundled and system builds carry
# the same upstream code and the same Debian security patches.
version=${TERN_WOLFSSL_VERSION:-}
if [ -z "$version" ]; then
    for pkg in libwolfssl-dev libwolfssl35; do
        v=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
        if [ -n "$v" ]; then version=$v; break; fi
    done
fi

# The cache key: Debian version (or "latest" until we know it), configure options and this
# script's own text, so any change to how wolfSSL is built gives a new install.
key_of() {
    { printf '%s\n' "$1" "${options[@]}"; cat "$0"; } | sha256sum | cut -c1-12
}

finish() { # prefix
    say "using $1"
    echo "$1"
    exit 0
}

# Without an installed libwolfssl the newest version of the suite was built before; its
# path is remembered per option set, so only the first configure needs the network.
latest_note=$cache_root/.wolfssl-latest-$(key_of latest)
if [ -z "$version" ] && [ -f "$latest_note" ]; then
    prefix=$(cat "$latest_note")
    [ -f "$prefix/.complete" ] && finish "$prefix"
fi
if [ -n "$version" ]; then
    prefix=$cache_root/wolfssl-$version-$(key_of "$version")
    [ -f "$prefix/.complete" ] && finish "$prefix"
fi

exec 9>"$cache_root/.wolfssl-build.lock"
say "waiting for the build lock ($cache_root/.wolfssl-build.lock)"
flock 9
if [ -n "$version" ] && [ -f "$prefix/.complete" ]; then finish "$prefix"; fi

say "private apt update ($suite, $suite-security; deb-src only; /etc/apt untouched)"
apt-get "${apt_opts[@]}" -qq update >&2 || die "apt-get update failed (is $mirror reachable?)"

src_dir=$work/src
rm -rf "$src_dir"
mkdir -p "$src_dir"
fetched=""
if [ -n "$version" ]; then
    say "fetching the source of wolfssl $version"
    if (cd "$src_dir" && apt-get "${apt_opts[@]}" -qq source --download-only "wolfssl=$version" >&2); then
        fetched=$version
    else
        say "wolfssl $version is no longer on the mirror; taking the newest of $suite"
    fi
fi
remember_latest=""
[ -z "$version" ] && remember_latest=1
if [ -z "$fetched" ]; then
    (cd "$src_dir" && apt-get "${apt_opts[@]}" -qq source --download-only wolfssl >&2) ||
        die "apt-get source wolfssl failed"
    dsc=$(ls "$src_dir"/wolfssl_*.dsc | head -n1)
    fetched=$(sed -nE 's/^Version: (.*)$/\1/p' "$dsc" | head -n1)
    [ -n "$fetched" ] || die "cannot read the version of $dsc"
    version=$fetched
    prefix=$cache_root/wolfssl-$version-$(key_of "$version")
    [ -f "$prefix/.complete" ] && finish "$prefix"
fi

say "unpacking with Debian's patches"
dsc=$(ls "$src_dir"/wolfssl_*.dsc | head -n1)
(cd "$src_dir" && dpkg-source -x "$(basename "$dsc")" tree >&2) || die "dpkg-source -x failed"
tree=$src_dir/tree

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
    echo "wolfSSL from Debian's source package wolfssl $version ($suite, Debian patches applied)"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m) by $0"
    echo "configure options:"
    printf '  %s\n' "${options[@]}"
} >"$staging/tern-wolfssl.txt"
touch "$staging/.complete"
rm -rf "$prefix"
mv "$staging" "$prefix"
rm -rf "$src_dir"
[ -n "$remember_latest" ] && echo "$prefix" >"$latest_note"
finish "$prefix"
