#!/usr/bin/env bash
# Keeps the settings that the device contract and the operator guide name true of the
# plugins: every `plugin.key` they write in backticks (`coap.piggyback_timeout`,
# `dtls.x509.trust_store`, `coap.amplification_factor = 0`) must be a key that
# `tern config sample PLUGIN` prints, and where the text states its default right after it,
#
#   `coap.piggyback_timeout` (500 ms           `device_api.busy_max_age`, 5 s)
#   | `udp.bind_port` | 5683 |                  (a table row: setting, then default)
#
# that default must be the plugin's (units ms, s, min, h, seconds, minutes, hours, KiB, MiB
# are converted; digits may be grouped with spaces). The keys the kernel owns in every plugin
# table (enabled, plugin, file, log_level) count as settings of every plugin. Setting names of
# other software (ThingsBoard's) are written without backticks. Prints file:line: why for every difference.
#
#   TERN_BUILD_DIR=build TERN_SOURCE_DIR=. bash tests/docs/settings_in_docs_test.sh [FILE ...]
#
# TERN_DOCS_PLUGINS (set by CMake) lists the plugins this build makes; settings of any other
# plugin are skipped.
set -u -o pipefail

name=${TERN_TEST_NAME:-docs_settings_in_docs}
die() { printf '[%s] FAIL: %s\n' "$name" "$*" >&2; exit 1; }

[ -n "${TERN_BUILD_DIR:-}" ] || die "TERN_BUILD_DIR is not set (the cmake build tree)"
src=${TERN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=$(cd "$TERN_BUILD_DIR" && pwd) || die "no build tree at $TERN_BUILD_DIR"
tern=$build/bin/tern
[ -x "$tern" ] || die "tern is not built: $tern is missing"
cd "$src" || exit 2
if (($# > 0)); then files=("$@"); else files=(docs/device-api.md docs/operator-guide.md); fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-settings.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
printf '[kernel]\nplugin_path = ["%s/plugins"]\n' "$build" >"$tmp/search.toml"

# every plugin's keys as "plugin.sub.key<TAB>default<TAB>unit" (unit from the description's
# "(ms; ...)", "(s; ...)", "(bytes; ...)"; empty otherwise)
plugins=(kernel udp dtls coap json protobuf core_embedded device_api efento power)
built=" ${TERN_DOCS_PLUGINS:-} "
known=()
for p in "${plugins[@]}"; do
    if [ "$p" != kernel ] && [ -n "${TERN_DOCS_PLUGINS:-}" ] && [[ $built != *" $p "* ]]; then
        continue
    fi
    timeout 20 "$tern" config sample "$p" --config "$tmp/search.toml" >"$tmp/$p.sample" 2>"$tmp/err" ||
        die "\`tern config sample $p\` failed: $(head -c 500 "$tmp/err")"
    known+=("$p")
    awk -v p="$p" '
        /^\[/ { t = $0; gsub(/^\[|\][[:space:]]*$/, "", t); sub(/^plugins\.[^.]+/, "", t); sub(/^kernel/, "", t)
                prefix = p t "."; desc = ""; next }
        /^# / { desc = $0; next }
        /^[A-Za-z_][A-Za-z0-9_]* = / {
            i = index($0, " = "); unit = ""
            if (match(desc, /\((ms|s|bytes);[^()]*\)$/)) { unit = substr(desc, RSTART + 1); sub(/;.*/, "", unit) }
            print prefix substr($0, 1, i - 1) "\t" substr($0, i + 3) "\t" unit
        }' "$tmp/$p.sample"
done >"$tmp/keys"
[ -s "$tmp/keys" ] || die "no plugin printed its keys"

KNOWN="${known[*]}" KEYS="$tmp/keys" perl -e '
    my %def; my %unit;
    open my $k, "<", $ENV{KEYS} or die;
    while (<$k>) { chomp; my ($key, $d, $u) = split /\t/, $_, 3; $def{$key} = $d; $unit{$key} = $u; }
    my %known = map { $_ => 1 } split / /, $ENV{KNOWN};
    my %all = map { $_ => 1 } qw(kernel udp dtls coap json protobuf core_embedded device_api efento power);
    my %ms = (ms => 1, s => 1000, min => 60000, h => 3600000,
              seconds => 1000, second => 1000, minutes => 60000, minute => 60000, hours => 3600000, hour => 3600000);
    my %kernel_owned = map { $_ => 1 } qw(enabled plugin file log_level);   # in every plugin table
    my %bytes = (KiB => 1024, MiB => 1048576);
    my ($bad, $checked, $named) = (0, 0, 0);
    for my $file (@ARGV) {
        open my $f, "<", $file or do { print STDERR "$file: cannot read\n"; $bad++; next };
        local $/; my $text = <$f>;
        while ($text =~ /`((\w+)\.([a-z0-9_.]+))(?: = ([^`]*))?`/g) {
            my ($setting, $plugin, $value) = ($1, $2, $4);
            next unless $all{$plugin};
            my $line = 1 + (substr($text, 0, $-[0]) =~ tr/\n//);
            next unless $known{$plugin};
            $named++;
            next if !exists $def{$setting} && $kernel_owned{(split /\./, $setting)[-1]} && $setting =~ /^\w+\.\w+$/;
            if (!exists $def{$setting}) {
                print STDERR "$file:$line: `$setting` is not a setting of $plugin (`tern config sample $plugin` lists them)\n";
                $bad++; next;
            }
            my $after = substr($text, $+[0], 80); $after =~ s/\s+/ /g;
            my ($num, $u);
            if ($after =~ /^(?: \(|, | \| )(-?\d[\d ]*(?:\.\d+)?|true|false)(?: ?(ms|s|min|h|seconds?|minutes?|hours?|KiB|MiB)\b)?/) {
                ($num, $u) = ($1, $2 // "");
            }
            next unless defined $num;
            $num =~ s/ //g;
            $checked++;
            my ($want, $have) = ($def{$setting}, $num);
            if ($want =~ /^(true|false)$/ || $num =~ /^(true|false)$/) {
                next if $want eq $num;
            } else {
                my $ku = $unit{$setting};
                if ($ms{$u} && $ms{$ku}) { $have = $num * $ms{$u}; $want = $want * $ms{$ku}; }
                elsif ($bytes{$u}) { $have = $num * $bytes{$u}; }
                elsif ($u ne "" && $u ne $ku) { $have = "$num $u"; }
                next if $have =~ /^-?[\d.]+$/ && $want =~ /^-?[\d.e+]+$/ && $have == $want;
            }
            print STDERR "$file:$line: `$setting` is said to default to $num" . ($u ne "" ? " $u" : "") .
                         "; the plugin says $def{$setting}" . ($unit{$setting} ne "" ? " ($unit{$setting})" : "") . "\n";
            $bad++;
        }
    }
    if ($bad) { print STDERR "[docs_settings_in_docs] FAIL: $bad setting(s) named in the docs are not the plugins\x27\n"; exit 1 }
    print "[docs_settings_in_docs] PASS: $named setting name(s) exist, $checked stated default(s) match\n";
' "${files[@]}"
