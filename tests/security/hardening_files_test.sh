#!/usr/bin/env bash
# Secrets at rest and one process per database, against a real tern:
#   - under umask 022 the database, its -wal and -shm, the admin key file and the lock file
#     are mode 0600 (the database holds tokens, PSK keys and provisioning secrets);
#   - the generated admin key is never written to the log (the log says where it is);
#   - a second tern on the same database (other ports) stops at start with a message naming
#     the first one's pid, and the first keeps serving;
#   - a configured admin_key shorter than 16 characters refuses to start;
#   - quick_check = true runs PRAGMA quick_check at start.
set -u
source "$TERN_SOURCE_DIR/tests/lib/tern.sh"
source "$TERN_SOURCE_DIR/tests/lib/coap_client.sh"
for p in udp coap device_api json core_embedded; do
    [ -f "$TERN_BUILD_DIR/plugins/libtern-$p.so" ] || { echo "[$TERN_TEST_NAME] SKIP: libtern-$p.so is not built"; exit 77; }
done
tern_init
umask 022
DB="$TERN_TMP/db/tern.db"

stack() { # extra core_embedded lines
    cat <<TOML
[plugins.udp]
bind_address = "127.0.0.1"
[plugins.coap]
[plugins.device_api]
[plugins.json]
[plugins.core_embedded]
database = "$DB"
admin_bind = "127.0.0.1:0"
${1:-}
TOML
}
cli() { timeout 20 "$TERN_BIN" "$@" --config "$TERN_MANIFEST" >"$TERN_TMP/cli.out" 2>&1 || { show_file "$TERN_TMP/cli.out" >&2; fail "tern $*"; }; }
mode() { stat -c %a "$1"; }

tern_start < <(stack)
FIRST_PID=$TERN_PID
FIRST_LOG=$TERN_LOG
FIRST_MANIFEST=$TERN_MANIFEST

# A device and a write, so that the WAL and the shared-memory file exist.
cli device add files-dev --token files-token-0123456789
coap tel -m post -t json -e '{"t":1}' "$(coap_uri api/v1/files-token-0123456789/telemetry)"
assert_code tel 2.01

for f in "$DB" "$DB-wal" "$DB-shm" "$DB.admin-key" "$DB.lock"; do
    [ -f "$f" ] || fail "$f does not exist"
    assert_eq 600 "$(mode "$f")" "mode of $(basename "$f") under umask 022"
done
assert_eq "$FIRST_PID" "$(tr -d '\n' <"$DB.lock")" "the lock file names the owner"

# The key is in its file, not in the log.
KEY=$(head -n1 "$DB.admin-key")
[ ${#KEY} -eq 32 ] || fail "unexpected admin key file content"
assert_not_contains "$FIRST_LOG" "$KEY" "the admin key must not be logged"
assert_contains "$FIRST_LOG" "admin key generated and stored in $DB.admin-key (mode 0600" "the log says where the key is"

# ---- a second tern on the same database ---------------------------------------------------
SECOND_MANIFEST=$TERN_TMP/second.toml
{
    echo "[kernel]"
    echo "plugin_path = $(tern_plugin_path)"
    echo "metrics_bind = \"127.0.0.1:0\""
    stack
} >"$SECOND_MANIFEST"
(cd "$TERN_TMP" && exec timeout 20 "$TERN_BIN" run --config "$SECOND_MANIFEST" --set plugins.udp.bind_port=0) \
    >"$TERN_TMP/second.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { show_file "$TERN_TMP/second.log" >&2; fail "the second tern did not stop at start (status $rc)"; }
assert_contains "$TERN_TMP/second.log" "in use by another process (pid $FIRST_PID)" "the refusal names the first process"
assert_contains "$TERN_TMP/second.log" "$DB.lock" "the refusal names the lock file"
assert_not_contains "$TERN_TMP/second.log" "tern ready" "the second tern never got ready"

# The first one still works.
coap tel2 -m post -t json -e '{"t":2}' "$(coap_uri api/v1/files-token-0123456789/telemetry)"
assert_code tel2 2.01
tern_stop

# ---- after a clean stop the lock is free; an old 0644 database is narrowed ------------------
chmod 0644 "$DB" "$DB.admin-key"
tern_start < <(stack 'quick_check = true')
assert_eq 600 "$(mode "$DB")" "database narrowed at start"
assert_eq 600 "$(mode "$DB.admin-key")" "admin key file narrowed at start"
assert_contains "$TERN_LOG" "narrowed the mode of $DB from 0644 to 0600" "the narrowing is logged"
assert_contains "$TERN_LOG" "passed PRAGMA quick_check" "quick_check ran at start"
assert_not_contains "$TERN_LOG" "$KEY" "the admin key must not be logged on later starts either"
tern_stop

# ---- a weak configured admin_key ------------------------------------------------------------
WEAK_MANIFEST=$TERN_TMP/weak.toml
{
    echo "[kernel]"
    echo "plugin_path = $(tern_plugin_path)"
    echo "metrics_bind = \"127.0.0.1:0\""
    stack 'admin_key = "short-key"'
} >"$WEAK_MANIFEST"
(cd "$TERN_TMP" && exec timeout 20 "$TERN_BIN" run --config "$WEAK_MANIFEST" --set plugins.udp.bind_port=0) \
    >"$TERN_TMP/weak.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { show_file "$TERN_TMP/weak.log" >&2; fail "a 9-character admin_key was accepted"; }
assert_contains "$TERN_TMP/weak.log" "admin_key has 9 characters; it must have at least 16" "the refusal says why"
tern_note "OK"
