# Sourced by the scripts that build a library or tool from the upstream tarball of a Debian
# source package (cmake/build-wolfssl.sh, tests/support/build-mbedtls.sh): a private apt
# state that fetches the tarball (checked by apt against the signed Sources index; /etc/apt
# is never touched), an install cache shared by every build tree of the machine, a lock for
# concurrent runs, and a note of the last good install so later runs need no network.
#
# The including script sets, before calling anything here:
#   ds_name        package and cache name (wolfssl, mbedtls)
#   ds_suite       Debian suite to fetch from (sid, trixie, ...)
#   ds_mirror      Debian mirror (http://deb.debian.org/debian)
#   ds_work        scratch directory (apt state, sources, build), absolute
#   ds_cache_root  cache directory, absolute
#   ds_key_extra   more text the cache key covers (configure options), may be empty
#   ds_refresh     non-empty: look for a newer upstream version even when one is cached
# and defines ds_complete PREFIX (is PREFIX a finished install?).

say() { echo "[$ds_name] $*" >&2; }
die() { echo "[$ds_name] error: $*" >&2; exit 1; }

# ds_need TOOL...: each tool is on PATH, else stop naming the Debian packages in $ds_packages.
ds_need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "'$tool' is missing (Debian packages: $ds_packages)"
    done
}

# ds_key VERSION: the cache key of an install: the version, the suite, ds_key_extra, the
# including script's text and this file's, so any change to how it is built gives a new one.
ds_key() {
    { printf '%s\n' "$1" "$ds_suite" "$ds_key_extra"; cat "$0" "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-12
}

# ds_finish PREFIX: print the install prefix as the last line of stdout and exit.
ds_finish() {
    say "using $1"
    echo "$1"
    exit 0
}

# ds_use_note: the install built last for this key, when it is still there (exits).
ds_use_note() {
    local note prefix
    note=$ds_cache_root/.$ds_name-latest-$(ds_key latest)
    if [ -z "$ds_refresh" ] && [ -f "$note" ]; then
        prefix=$(cat "$note")
        if ds_complete "$prefix"; then ds_finish "$prefix"; fi
    fi
    return 0
}

# ds_lock: one build per machine at a time; another run may have finished meanwhile.
ds_lock() {
    exec 9>"$ds_cache_root/.$ds_name-build.lock"
    say "waiting for the build lock ($ds_cache_root/.$ds_name-build.lock)"
    flock 9
    ds_use_note
}

# ds_fetch MIN_VERSION: downloads the upstream tarball of ds_name from ds_suite into
# $ds_work/src and sets ds_tarball, ds_version and ds_prefix (the install directory).
# Exits through ds_finish when that version is already installed.
ds_fetch() {
    local min=$1 apt_dir=$ds_work/apt signed="" keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    [ -r "$keyring" ] && signed="[signed-by=$keyring] "
    echo "deb-src ${signed}$ds_mirror $ds_suite main" >"$apt_dir/sources.list"
    local apt_opts=(
        -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
        -o "Dir::Etc::sourceparts=-"
        -o "Dir::State::Lists=$apt_dir/lists"
        -o "Dir::Cache=$apt_dir/cache"
        -o "APT::Get::List-Cleanup=0"
        -o "APT::Sandbox::User=root"
    )
    say "private apt update ($ds_suite, deb-src only; /etc/apt untouched)"
    if ! apt-get "${apt_opts[@]}" -qq update >"$ds_work/apt-update.log" 2>&1; then
        cat "$ds_work/apt-update.log" >&2
        # A suite that moves (unstable) has a Release file valid for a week only, so a mirror
        # that lags (a snapshot, a stale proxy) serves an expired one. Its signature is still
        # checked, and the tarball's hash against it: an expired index is only an old one.
        grep -q 'is expired' "$ds_work/apt-update.log" ||
            die "apt-get update failed (is $ds_mirror reachable?)"
        say "the mirror's $ds_suite Release file is past its Valid-Until date (a lagging mirror?); using it anyway, its signature checked"
        apt_opts+=(-o "Acquire::Check-Valid-Until=false")
        apt-get "${apt_opts[@]}" -qq update >&2 || die "apt-get update failed (is $ds_mirror reachable?)"
    fi
    rm -rf "$ds_work/src"
    mkdir -p "$ds_work/src"
    say "fetching the upstream tarball of $ds_name ($ds_suite)"
    # The .dsc and the Debian tarball may 404 while the upstream tarball is there (the
    # revision files lag): apt then fails after keeping (and checking) what it did get.
    (cd "$ds_work/src" && apt-get "${apt_opts[@]}" -qq source --download-only "$ds_name" >&2) ||
        say "apt-get source reported missing files; looking for the upstream tarball"
    ds_tarball=$(ls "$ds_work/src/${ds_name}_"*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n1 || true)
    [ -n "$ds_tarball" ] || die "no upstream tarball of $ds_name in $ds_suite (apt-get source --download-only $ds_name)"
    ds_version=$(basename "$ds_tarball" | sed -E "s/^${ds_name}_(.*)\\.orig\\.tar\\..*\$/\\1/")
    dpkg --compare-versions "$ds_version" ge "$min" ||
        die "$ds_suite carries $ds_name $ds_version, older than $min: $ds_min_hint"
    ds_prefix=$ds_cache_root/$ds_name-$ds_version-$(ds_key "$ds_version")
    if ds_complete "$ds_prefix"; then
        echo "$ds_prefix" >"$ds_cache_root/.$ds_name-latest-$(ds_key latest)"
        ds_finish "$ds_prefix"
    fi
}

# ds_unpack DIR: the tarball's tree in DIR (its top directory stripped).
ds_unpack() {
    say "unpacking $ds_name $ds_version"
    mkdir -p "$1"
    tar -xf "$ds_tarball" -C "$1" --strip-components=1 || die "cannot unpack $ds_tarball"
}

# ds_install STAGING: STAGING (a finished install) becomes ds_prefix, remembered as the
# last good install; the sources go. Exits through ds_finish.
ds_install() {
    touch "$1/.complete"
    rm -rf "$ds_prefix"
    mv "$1" "$ds_prefix"
    rm -rf "$ds_work/src"
    echo "$ds_prefix" >"$ds_cache_root/.$ds_name-latest-$(ds_key latest)"
    ds_finish "$ds_prefix"
}
