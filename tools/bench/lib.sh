# Shared by the benchmark scripts in this folder (sourced, not run).

# The server under test, started by the script with `... & server_pid=$!`.
server_pid=
# Stops it: SIGTERM, then SIGKILL if it has not gone within 5 s (bounded).
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

# A command as a shell would need it typed (copy-paste safe).
shell_words() { local out= a; for a in "$@"; do out+=" $(printf '%q' "$a")"; done; echo "${out# }"; }

# Nanoseconds process $1 has spent on a CPU, all its threads (schedstat field 1).
cpu_ns() {
  local sum=0 t a
  for t in /proc/"$1"/task/*/schedstat; do
    read -r a _ <"$t" 2>/dev/null || continue
    sum=$((sum + a))
  done
  echo "$sum"
}

now_ns() { date +%s%N; }

# A number from tern-bench's one-line JSON: field NAME FILE.
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$2"; }

# require_embedded_build BUILD: die unless BUILD has tern, tern-bench and the embedded
# default's plugins, and curl is here to create devices. Sets $bench and $tern_bin.
require_embedded_build() {
  bench=$1/bin/tern-bench
  tern_bin=$1/bin/tern
  local f p
  for f in "$bench" "$tern_bin"; do [ -x "$f" ] || die "missing $f (ninja -C $1 tern tern-bench)"; done
  for p in udp coap json device_api core_embedded; do
    [ -f "$1/plugins/libtern-$p.so" ] || die "missing $1/plugins/libtern-$p.so (build the plugins first)"
  done
  command -v curl >/dev/null || die "curl is needed to create the devices (apt-get install curl)"
}

# create_devices DB N TMPDIR: N devices dev-0 .. dev-(N-1), token dev-I, through the admin API
# of the core_embedded whose database is DB (its address and key files beside it), over one
# kept-alive connection (a curl config with one request per device). Calls die() on a refusal.
create_devices() {
  local db=$1 n=$2 dir=$3 admin key t0 created i
  admin=http://$(cat "$db.admin-addr")
  key=$(cat "$db.admin-key")
  echo "== creating $n devices (token dev-I) through $admin/api/devices" >&2
  t0=$(now_ns)
  {
    for ((i = 0; i < n; i++)); do
      printf 'url = "%s/api/devices"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata = "{\\"name\\":\\"dev-%d\\",\\"token\\":\\"dev-%d\\"}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
        "$admin" "$key" "$i" "$i"
      [ $((i + 1)) -lt "$n" ] && echo next
    done
  } >"$dir/devices.curl"
  curl -sS -K "$dir/devices.curl" >"$dir/devices.codes"
  created=$(grep -c '^201$' "$dir/devices.codes" || true)
  [ "$created" = "$n" ] || die "created $created of $n devices; codes: $(sort "$dir/devices.codes" | uniq -c | tr '\n' ' ')"
  echo "   $n devices in $(( ($(now_ns) - t0) / 1000000 )) ms" >&2
}
