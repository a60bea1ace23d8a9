#!/usr/bin/env bash
# Follows docs/operator-guide.md end to end, so that the guide stays true: the server started
# from config/tern.toml (as `tools/dev.sh run` starts it), `tern device add`, telemetry posted
# with coap-client-openssl and read back with `tern telemetry --latest`, shared attributes read
# and observed, the server-side RPC round trip (device observes /rpc, `tern rpc` waits, the
# device answers, the CLI prints the answer), client-side RPC, OTA, provisioning, `tern check`,
# and the stop on SIGINT.
#
# Every command this test runs as the guide's is given here exactly as the guide prints it and
# must appear there verbatim: change one, change the other. The test swaps in what it must
# own (free ports, a temporary database, loopback only) when it runs them:
#   coap://127.0.0.1:5683/  -> the server's ephemeral UDP port
#   127.0.0.1:9683          -> the server's ephemeral metrics port  } in the guide's curl lines,
#   127.0.0.1:8080          -> the admin API's ephemeral address    } run when curl is installed
#   config/tern.toml        -> $TERN_SOURCE_DIR/config/tern.toml
#   build/bin/tern WORD ... -> $TERN_BIN WORD ... --config ... --set (database, admin_bind=:0)
# Commands run in the test's temp dir. Every wait is bounded; background clients are killed.
#
# Environment: TERN_BUILD_DIR, TERN_SOURCE_DIR (set by ctest); TERN_KEEP_TMP=1 keeps files.
set -u
source "$TERN_SOURCE_DIR/tests/lib/tern.sh"
TERN_TEST_NAME=${TERN_TEST_NAME:-docs.operator_guide}
tern_init

GUIDE=$TERN_SOURCE_DIR/docs/operator-guide.md
CONFIG=$TERN_SOURCE_DIR/config/tern.toml
COAP=coap-client-openssl
[ -f "$GUIDE" ] || fail "docs/operator-guide.md is missing"
command -v "$COAP" >/dev/null || fail "$COAP is required (Debian package libcoap3-bin; tools/dev.sh deps)"
for p in udp coap json core_embedded device_api; do
    [ -f "$TERN_BUILD_DIR/plugins/libtern-$p.so" ] || fail "libtern-$p.so is missing from $TERN_BUILD_DIR/plugins"
done

DB=$TERN_TMP/var/tern.db
# What the operator's commands need to find this server (the CLI reads <database>.admin-addr
# when admin_bind has port 0, and the generated key from <database>.admin-key).
CORE_SETS=(--set "plugins.core_embedded.database=\"$DB\"" --set 'plugins.core_embedded.admin_bind="127.0.0.1:0"')

BG_PIDS=()
_guide_cleanup() {
    local rc=$? p
    for p in "${BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    (exit $rc)
    _tern_cleanup
}
trap _guide_cleanup EXIT

# ---- running the guide's commands --------------------------------------------------------

# in_guide TEXT: the guide shows TEXT verbatim.
in_guide() {
    grep -qF -- "$1" "$GUIDE" ||
        fail "docs/operator-guide.md no longer shows: $1 (change the guide and this test together)"
}

# to_argv 'COMMAND': RUN_ARGV = the guide's command split as the shell would, with this
# test's ports, manifest and database swapped in.
to_argv() {
    local -a w
    eval "w=($1)"
    local a mapped=()
    for a in "${w[@]:1}"; do
        a=${a//coap:\/\/127.0.0.1:5683\//coap://127.0.0.1:$TERN_UDP_PORT/}
        [ "$a" = config/tern.toml ] && a=$CONFIG
        mapped+=("$a")
    done
    case ${w[0]} in
        build/bin/tern)
            case ${w[1]} in
                run|check|plugins|config|version|help) RUN_ARGV=("$TERN_BIN" "${mapped[@]}") ;;
                *) RUN_ARGV=("$TERN_BIN" "${mapped[@]}" --config "$CONFIG" "${CORE_SETS[@]}") ;;
            esac ;;
        "$COAP")
            # -B: give up after 10 s instead of libcoap's 90 (not with -s, which sets its own time)
            local limit=(-B 10) x
            for x in "${mapped[@]}"; do [ "$x" = -s ] && limit=(); done
            RUN_ARGV=("$COAP" "${limit[@]}" "${mapped[@]}") ;;
        *) fail "to_argv: the test does not know how to run '$1'" ;;
    esac
}

# guide NAME 'COMMAND': runs a command of the guide (bounded); output (stdout and stderr) in
# $TERN_TMP/NAME.out, exit status in GUIDE_RC.
guide() {
    local name=$1 cmd=$2
    in_guide "$cmd"
    to_argv "$cmd"
    (cd "$TERN_TMP" && exec timeout 60 "${RUN_ARGV[@]}") >"$TERN_TMP/$name.out" 2>&1
    GUIDE_RC=$?
    [ $GUIDE_RC -eq 124 ] && { show_file "$TERN_TMP/$name.out" >&2; fail "'$cmd' did not finish within 60 s"; }
    return 0
}

# guide_ok NAME 'COMMAND': guide, and the command must exit 0.
guide_ok() {
    guide "$1" "$2"
    [ $GUIDE_RC -eq 0 ] || { show_file "$TERN_TMP/$1.out" >&2; fail "'$2' exited with status $GUIDE_RC"; }
}

# guide_bg NAME 'COMMAND [&]': starts a command of the guide in the background (bounded by
# SECONDS_LIMIT, default 60); BG_PID is its pid.
guide_bg() {
    local name=$1 cmd=$2
    in_guide "$cmd"
    to_argv "${cmd% &}"
    (cd "$TERN_TMP" && exec timeout "${SECONDS_LIMIT:-60}" "${RUN_ARGV[@]}") >"$TERN_TMP/$name.out" 2>&1 &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

# guide_sh NAME 'COMMAND': a shell command line of the guide that uses curl (pipes and
# $(...) included), with the metrics and admin addresses swapped in; skipped without curl.
guide_sh() {
    local name=$1 cmd=$2
    in_guide "$cmd"
    if ! command -v curl >/dev/null; then
        tern_note "curl is not installed: not running '$cmd'"
        return 1
    fi
    local admin
    admin=$(cat "$DB.admin-addr" 2>/dev/null) || fail "no $DB.admin-addr while tern runs"
    cmd=${cmd//127.0.0.1:9683/127.0.0.1:$TERN_METRICS_PORT}
    cmd=${cmd//127.0.0.1:8080/$admin}
    (cd "$TERN_TMP" && timeout 30 bash -c "$cmd") >"$TERN_TMP/$name.out" 2>&1
    local rc=$?
    [ $rc -eq 0 ] || { show_file "$TERN_TMP/$name.out" >&2; fail "'$2' exited with status $rc"; }
}

# shows NAME TEXT: the guide shows TEXT and the command's output has it.
shows() {
    in_guide "$2"
    assert_contains "$TERN_TMP/$1.out" "$2" "output of $1 should contain '$2' (as the guide shows)"
}

# shows_line NAME REGEX: a line of the guide and a line of the output match REGEX (a table
# row whose timestamps differ from run to run).
shows_line() {
    grep -qE -- "$2" "$GUIDE" || fail "docs/operator-guide.md has no line matching /$2/ (change the guide and this test together)"
    assert_match "$TERN_TMP/$1.out" "$2" "output of $1 should have a line matching /$2/ (as the guide shows)"
}

# gone PID: the process has ended (for wait_until).
gone() { ! kill -0 "$1" 2>/dev/null; }

# empty_output NAME: coap-client printed nothing (its success, as the guide says).
empty_output() {
    [ ! -s "$TERN_TMP/$1.out" ] || { show_file "$TERN_TMP/$1.out" >&2; fail "$1: coap-client-openssl should print nothing on success"; }
}

# ---- the defaults the guide names are the manifest's -------------------------------------

for kv in 'udp:bind_port = 5683' 'kernel:metrics_bind = "127.0.0.1:9683"' \
          'core_embedded:admin_bind = "127.0.0.1:8080"' 'core_embedded:database = "var/tern.db"' \
          'kernel:stop_timeout = 10000'; do
    plugin=${kv%%:*} line=${kv#*:} key=${line%% =*}
    "$TERN_BIN" config sample "$plugin" >"$TERN_TMP/sample.out" 2>&1 || fail "tern config sample $plugin failed"
    assert_contains "$TERN_TMP/sample.out" "$line" "the $plugin default the guide relies on"
    # config/tern.toml must not set it to something else
    set_lines=$(grep -E "^[[:space:]]*$key[[:space:]]*=" "$CONFIG" || true)
    [ -z "$set_lines" ] || [ "$set_lines" = "$line" ] ||
        fail "config/tern.toml sets '$set_lines'; docs/operator-guide.md says the default is '$line'"
done
in_guide 'port **5683**'
in_guide '**`var/tern.db`**'
in_guide 'http://127.0.0.1:8080'
in_guide 'http://127.0.0.1:9683/metrics'

# ---- 1. start: the manifest of tools/dev.sh run, on free ports and a temporary database --

grep -qF 'exec "$build/bin/tern" run --config config/tern.toml "$@"' "$TERN_SOURCE_DIR/tools/dev.sh" ||
    fail "tools/dev.sh run no longer runs 'build/bin/tern run --config config/tern.toml'; check the guide's section 1"
in_guide 'build/bin/tern run --config config/tern.toml'
TERN_LOG=$TERN_TMP/tern.log
TERN_MANIFEST=$CONFIG
(cd "$TERN_TMP" && exec "$TERN_BIN" run --config "$CONFIG" "${CORE_SETS[@]}" \
    --set 'plugins.udp.bind_address="127.0.0.1"' --set plugins.udp.bind_port=0 \
    --set 'kernel.metrics_bind="127.0.0.1:0"') >"$TERN_LOG" 2>&1 &
TERN_PID=$!
wait_until "${TERN_START_TIMEOUT:-15}" grep -q 'tern ready' "$TERN_LOG" || {
    tern_running || fail "tern exited before it was ready"
    fail "tern not ready within ${TERN_START_TIMEOUT:-15}s"
}
TERN_UDP_PORT=$(tern_listening_port udp)
TERN_METRICS_PORT=$(sed -nE 's#.*metrics on http://[^ ]*:([0-9]+)/metrics.*#\1#p' "$TERN_LOG" | head -n1)
[ -n "$TERN_UDP_PORT" ] && [ -n "$TERN_METRICS_PORT" ] || fail "no udp or metrics port in the tern log"
tern_note "tern (pid $TERN_PID) ready: udp $TERN_UDP_PORT, metrics $TERN_METRICS_PORT, database $DB"
for line in '[kernel] tern ready' '[kernel] starting 8 plugin instances' \
            "[core_embedded] admin key generated and stored in $DB.admin-key (mode 0600" \
            "[device_api] serving the ThingsBoard CoAP device API on /api/v1, /fw, /sw (payloads: json, protobuf)" \
            "[efento] serving Efento sensors on /efento/{m,i,c,t} (aliases: /coap/measurements, /coap/device-info, /coap/configuration)"; do
    assert_contains "$TERN_LOG" "$line" "the log the guide shows"
done
in_guide '[kernel] tern ready'
in_guide '[core_embedded] admin key generated and stored in var/tern.db.admin-key (mode 0600'
[ -f "$DB" ] && [ -f "$DB.admin-key" ] || fail "the database and its admin key file should exist after the start"
assert_not_contains "$TERN_LOG" "$(head -n1 "$DB.admin-key")" "the guide says the admin key is never shown in the log"

# ---- 2. add a device -------------------------------------------------------------------

guide_ok add 'build/bin/tern device add thermo-1 --token A1_TEST_TOKEN'
shows add 'credentials: ACCESS_TOKEN A1_TEST_TOKEN'
guide_ok add2 'build/bin/tern device add thermo-2'
shows_line add2 '^credentials: ACCESS_TOKEN [A-Za-z0-9]{20}$'
guide_ok list 'build/bin/tern device list'
shows list 'NAME      PROFILE  CREDENTIALS                 CREATED'
shows_line list '^thermo-1  default  token A1_TEST_TOKEN +[0-9-]+T[0-9:.]+Z$'
guide_ok show 'build/bin/tern device show thermo-1'
assert_contains "$TERN_TMP/show.out" 'name: thermo-1'

# ---- 3. telemetry ------------------------------------------------------------------------

guide tel 'coap-client-openssl -m post -t json -e '\''{"temperature":21.5,"humidity":40,"heating":true}'\'' coap://127.0.0.1:5683/api/v1/A1_TEST_TOKEN/telemetry'
empty_output tel
guide tel_bad_token 'coap-client-openssl -m post -t json -e '\''{"temperature":21.5}'\'' coap://127.0.0.1:5683/api/v1/WRONG_TOKEN/telemetry'
shows tel_bad_token '4.01 unknown access token'
guide tel_bad_json 'coap-client-openssl -m post -t json -e '\''{"temperature":'\'' coap://127.0.0.1:5683/api/v1/A1_TEST_TOKEN/telemetry'
shows tel_bad_json '4.00 invalid JSON: unexpected end of input at offset 15'
guide tel_v6 'coap-client-openssl -v 6 -m post -t json -e '\''{"temperature":21.7}'\'' coap://127.0.0.1:5683/api/v1/A1_TEST_TOKEN/telemetry'
shows_line tel_v6 '^v:1 t:ACK c:2\.01 i:[0-9a-f]+ \{01\} \[ \]$'
in_guide "echo '{\"temperature\": 22.0, \"battery\": 87}' > reading.json"
echo '{"temperature": 22.0, "battery": 87}' >"$TERN_TMP/reading.json"
guide tel_file 'coap-client-openssl -m post -t json -f reading.json coap://127.0.0.1:5683/api/v1/A1_TEST_TOKEN/telemetry'
empty_output tel_file
guide_ok latest 'build/bin/tern telemetry thermo-1 --latest'
shows latest 'KEY          TS                        VALUE'
shows_line latest '^temperature  [0-9-]+T[0-9:.]+Z  22\.0$'
shows_line latest '^humidity     [0-9-]+T[0-9:.]+Z  40$'
shows_line latest '^heating      [0-9-]+T[0-9:.]+Z  true$'
shows_line latest '^battery      [0-9-]+T[0-9:.]+Z  87$'
guide_ok history 'build/bin/tern telemetry thermo-1 --key temperature --since 10m'
[ "$(grep -cE '^temperature ' "$TERN_TMP/history.out")" = 3 ] ||
    { show_file "$TERN_TMP/history.out" >&2; fail "the temperature history should hold the 3 points posted"; }
# the refused posts stored nothing, and the metrics endpoint counts what was stored
assert_eq 6 "$(tern_metric core_telemetry_values_total)" "core_telemetry_values_total after 3+1+2 values"
if guide_sh metrics 'curl -s http://127.0.0.1:9683/metrics | grep -E '\''^(core_telemetry_values_total|device_api_requests_total.*"telemetry",code="2.01")'\'''; then
    shows metrics 'core_telemetry_values_total{instance="core_embedded"} 6'
    shows metrics 'device_api_requests_total{instance="device_api",feature="telemetry",code="2.01"} 3'
fi

# ---- 4. attributes -----------------------------------------------------------------------

guide_ok attr_set 'build/bin/tern attr set thermo-1 --shared targetTemp=22.5 --shared mode=eco'
shows attr_set 'set 2 shared and 0 server attribute(s) of thermo-1'
guide attr_read "coap-client-openssl 'coap://127.0.0.1:5683/api/v1/A1_TEST_TOKEN/attributes?sharedKeys=targetTemp,mode'"
shows attr_read '{"shared":{"mode":"eco","targetTemp":22.5}}'
guide attr_post 'coap-client-openssl -m post -t json -e '\''{"firmwareVersion":"1.0.3"}'\'' coap://127.0.0.1:5683/api/v1/A1_TEST_TOKEN/attributes'
empty_output attr_post
guide_ok attr_get 'build/bin/tern attr get thermo-1'
shows_line attr_get '^client +firmwareVersion +"1\.0\.3" +[0-9-]+T'
shows_line attr_get '^shared +mode +"eco" +[0-9-]+T'

SECONDS_LIMIT=40 guide_bg attr_obs 'coap-client-openssl -s 30 coap://127.0.0.1:5683/api/v1/A1_TEST_TOKEN/attributes'
obs=$BG_PID
wait_until 10 grep -qF '{"mode":"eco","targetTemp":22.5}' "$TERN_TMP/attr_obs.out" ||
    { show_file "$TERN_TMP/attr_obs.out" >&2; fail "the attribute subscription did not print the shared attributes"; }
guide_ok attr_boost 'build/bin/tern attr set thermo-1 --shared mode=boost'
wait_until 10 grep -qF '{"mode":"eco","targetTemp":22.5}{"mode":"boost"}' "$TERN_TMP/attr_obs.out" ||
    { show_file "$TERN_TMP/attr_obs.out" >&2; fail "the subscription did not receive {\"mode\":\"boost\"}"; }
shows attr_obs '{"mode":"eco","targetTemp":22.5}{"mode":"boost"}'
kill "$obs" 2>/dev/null; wait "$obs" 2>/dev/null

# ---- 5. server-side RPC: device observes /rpc, tern rpc waits, the device answers --------

SECONDS_LIMIT=130 guide_bg rpc_obs 'coap-client-openssl -s 120 coap://127.0.0.1:5683/api/v1/A1_TEST_TOKEN/rpc &'
rpc_obs=$BG_PID
# the guide checks the subscription with `tern device sessions`
deadline=$((SECONDS + 15))
while :; do
    guide_ok sessions 'build/bin/tern device sessions'
    grep -qE '^thermo-1  udp  ' "$TERN_TMP/sessions.out" && break
    [ $SECONDS -ge $deadline ] && { show_file "$TERN_TMP/sessions.out" >&2; fail "the RPC subscription opened no session within 15 s"; }
    sleep 0.1
done
shows_line sessions '^DEVICE +TRANSPORT +ADDRESS +OPENED +LAST ACTIVITY$'
SECONDS_LIMIT=90 guide_bg rpc_cli "build/bin/tern rpc thermo-1 setGpio '{\"pin\":4,\"value\":1}' --timeout 60000"
rpc_cli=$BG_PID
wait_until 15 grep -qF '{"id":1,"method":"setGpio","params":{"pin":4,"value":1}}' "$TERN_TMP/rpc_obs.out" ||
    { show_file "$TERN_TMP/rpc_obs.out" >&2; show_file "$TERN_TMP/rpc_cli.out" >&2; fail "the device did not receive RPC 1"; }
shows rpc_obs '{"id":1,"method":"setGpio","params":{"pin":4,"value":1}}'
kill -0 "$rpc_cli" 2>/dev/null || { show_file "$TERN_TMP/rpc_cli.out" >&2; fail "tern rpc should still wait for the device's answer"; }
guide rpc_reply 'coap-client-openssl -m post -t json -e '\''{"pin":4,"state":"on"}'\'' coap://127.0.0.1:5683/api/v1/A1_TEST_TOKEN/rpc/1'
empty_output rpc_reply
wait_until 20 gone "$rpc_cli" || { show_file "$TERN_TMP/rpc_cli.out" >&2; fail "tern rpc did not return within 20 s of the device's answer"; }
wait "$rpc_cli"
rc=$?
[ $rc -eq 0 ] || { show_file "$TERN_TMP/rpc_cli.out" >&2; fail "tern rpc exited with status $rc"; }
shows rpc_cli 'rpc 1 setGpio: SUCCESSFUL'
shows rpc_cli 'result: {"pin":4,"state":"on"}'
guide_ok rpc_list 'build/bin/tern rpc thermo-1 --list'
assert_match "$TERN_TMP/rpc_list.out" '^1 +setGpio +SUCCESSFUL ' "tern rpc --list shows RPC 1"
guide_ok oneway 'build/bin/tern rpc thermo-1 reboot --oneway'
shows oneway 'rpc 2 reboot: SUCCESSFUL'
wait_until 10 grep -qF '{"id":2,"method":"reboot","params":null}' "$TERN_TMP/rpc_obs.out" ||
    { show_file "$TERN_TMP/rpc_obs.out" >&2; fail "the device did not receive the one-way RPC 2"; }
kill "$rpc_obs" 2>/dev/null; wait "$rpc_obs" 2>/dev/null

# ---- 6. client-side RPC, OTA, provisioning ------------------------------------------------

guide crpc 'coap-client-openssl -m post -t json -e '\''{"method":"getCurrentTime","params":{}}'\'' coap://127.0.0.1:5683/api/v1/A1_TEST_TOKEN/rpc'
shows_line crpc '^\{"time":[0-9]{13}\}$'

head -c 5000 /dev/urandom >"$TERN_TMP/fw-1.1.bin"
guide_ok ota_upload 'build/bin/tern ota upload fw-1.1.bin --title thermo-fw --version 1.1'
assert_contains "$TERN_TMP/ota_upload.out" 'id: 1'
guide_ok ota_assign 'build/bin/tern ota assign thermo-1 1'
guide ota_get "coap-client-openssl -o fw-down.bin 'coap://127.0.0.1:5683/fw/A1_TEST_TOKEN?title=thermo-fw&version=1.1'"
assert_same_file "$TERN_TMP/fw-1.1.bin" "$TERN_TMP/fw-down.bin" "the firmware downloaded as the guide shows"
in_guide 'build/bin/tern attr get thermo-1 --scope shared'
guide_ok fw_attrs 'build/bin/tern attr get thermo-1 --scope shared'
assert_contains "$TERN_TMP/fw_attrs.out" "\"$(sha256sum "$TERN_TMP/fw-down.bin" | cut -d' ' -f1)\"" "fw_checksum is the sha256sum of the download"

guide_ok profile 'build/bin/tern profile add sensors --provision-key sensors-key --provision-secret sensors-secret'
guide prov 'coap-client-openssl -m post -t json -e '\''{"deviceName":"thermo-3","provisionDeviceKey":"sensors-key","provisionDeviceSecret":"sensors-secret"}'\'' coap://127.0.0.1:5683/api/v1/provision'
shows_line prov '^\{"credentialsValue":"[A-Za-z0-9]{20}","credentialsType":"ACCESS_TOKEN","status":"SUCCESS"\}$'
guide_ok prov_show 'build/bin/tern device show thermo-3'
assert_contains "$TERN_TMP/prov_show.out" 'profile: sensors' "the provisioned device is in the profile"

# Protobuf payloads: the guide's schema file, profile, device, encoded reading and refusal.
sed -n "/^cat > sensor.proto <<'EOF_PROTO'\$/,/^EOF_PROTO\$/p" "$GUIDE" | sed '1d;$d' >"$TERN_TMP/sensor.proto"
grep -q '^message Reading' "$TERN_TMP/sensor.proto" || fail "the guide no longer shows sensor.proto"
guide_ok pb_profile 'build/bin/tern profile add pb-sensors --payload protobuf --telemetry-proto sensor.proto'
guide_ok pb_device 'build/bin/tern device add thermo-pb --profile pb-sensors --token PB_TEST_TOKEN_0001'
in_guide "printf 'temperature: 21.5\ncounter: 7\nstate: \"ok\"\n' | protoc --encode=sensor.Reading sensor.proto > reading.bin"
if command -v protoc >/dev/null; then
    (cd "$TERN_TMP" && printf 'temperature: 21.5\ncounter: 7\nstate: "ok"\n' | protoc --encode=sensor.Reading sensor.proto >reading.bin) ||
        fail "protoc could not encode the guide's reading"
    guide pb_post 'coap-client-openssl -m post -f reading.bin coap://127.0.0.1:5683/api/v1/PB_TEST_TOKEN_0001/telemetry'
    guide_ok pb_telemetry 'build/bin/tern telemetry thermo-pb'
    shows_line pb_telemetry '^counter +[0-9TZ:.-]+ +7$'
    shows_line pb_telemetry '^state +[0-9TZ:.-]+ +"ok"$'
    shows_line pb_telemetry '^temperature +[0-9TZ:.-]+ +21\.5$'
else
    tern_note "protoc is not installed (Debian package protobuf-compiler): not posting the guide's protobuf reading"
fi
printf 'syntax = "proto3";\nmessage Reading {\n  double temperature = 1 [deprecated = true];\n}\n' >"$TERN_TMP/bad.proto"
guide pb_refused 'build/bin/tern profile update pb-sensors --telemetry-proto bad.proto'
[ "$GUIDE_RC" -ne 0 ] || fail "a schema with an option was stored"
in_guide 'schema, line 3, column 26: options are not allowed (HTTP 400)'
assert_contains "$TERN_TMP/pb_refused.out" 'telemetry schema, line 3, column 26: options are not allowed (HTTP 400)' \
    "the refusal names the line and column, as the guide shows"

# Sleeping devices: the guide's power-saving settings on the protobuf device, as device show tells them.
guide_ok psm_update 'build/bin/tern device update thermo-pb --power-mode PSM --psm-activity-timer 30s'
guide_ok psm_show 'build/bin/tern device show thermo-pb'
for line in 'power mode: PSM (device)' '  psm activity timer: 30s (device)' "  edrx cycle: default (the power plugin's)" \
            "  paging window: default (the power plugin's)" 'pending rpcs: 0'; do
    in_guide "$line"
    assert_contains "$TERN_TMP/psm_show.out" "$line" "tern device show as the guide shows it"
done
shows_line psm_show '^power state: (awake|asleep since .*|unknown.*)$'

# Efento sensors: the guide's profile, device, message text, protoc encoding, post and reading.
guide_ok ef_profile 'build/bin/tern profile add efento-sensors --transport COAP --coap-device-type EFENTO'
guide_ok ef_device 'build/bin/tern device add efento-1 --profile efento-sensors --token EFENTO_TEST_TOKEN_01'
sed -n "/^cat > measurements.txtpb <<'EOF_TXT'\$/,/^EOF_TXT\$/p" "$GUIDE" | sed '1d;$d' >"$TERN_TMP/measurements.txtpb"
grep -q '^cloud_token: "EFENTO_TEST_TOKEN_01"$' "$TERN_TMP/measurements.txtpb" || fail "the guide no longer shows measurements.txtpb"
in_guide 'protoc --encode=ProtoMeasurements -I plugins/efento/proto plugins/efento/proto/proto_measurements.proto < measurements.txtpb > measurements.bin'
if command -v protoc >/dev/null; then
    protoc --encode=ProtoMeasurements -I "$TERN_SOURCE_DIR/plugins/efento/proto" \
        "$TERN_SOURCE_DIR/plugins/efento/proto/proto_measurements.proto" \
        <"$TERN_TMP/measurements.txtpb" >"$TERN_TMP/measurements.bin" || fail "protoc could not encode the guide's measurements"
    guide ef_post 'coap-client-openssl -m post -f measurements.bin coap://127.0.0.1:5683/efento/m'
    guide_ok ef_telemetry 'build/bin/tern telemetry efento-1 --key temperature_1 --key humidity_2 --since 2026-12-07T09:00:00Z --asc'
    for line in 'humidity_2     2026-12-07T09:50:00.000Z  45.0' 'humidity_2     2026-12-07T09:51:00.000Z  46.0' \
                'humidity_2     2026-12-07T09:52:00.000Z  47.0' 'temperature_1  2026-12-07T09:50:00.000Z  21.5' \
                'temperature_1  2026-12-07T09:51:00.000Z  21.8' 'temperature_1  2026-12-07T09:52:00.000Z  21.0'; do
        in_guide "$line"
        assert_contains "$TERN_TMP/ef_telemetry.out" "$line" "the Efento readings the guide shows"
    done
    in_guide '`serial` (`"282C02424EAB"`)'
    guide_ok ef_serial 'build/bin/tern telemetry efento-1'
    assert_match "$TERN_TMP/ef_serial.out" '^serial +[0-9TZ:.-]+ +"282C02424EAB"$' "the serial the guide names"
else
    tern_note "protoc is not installed (Debian package protobuf-compiler): not posting the guide's Efento message"
fi

if guide_sh admin_curl 'curl -s -H "Authorization: Bearer $(cat var/tern.db.admin-key)" http://127.0.0.1:8080/api/devices/thermo-1/telemetry/latest'; then
    assert_match "$TERN_TMP/admin_curl.out" '^\{"battery":\{"ts":[0-9]+,"value":87\},"fw_state":\{"ts":[0-9]+,"value":"QUEUED"\},"heating":\{"ts":[0-9]+,"value":true\},' \
        "the admin API's latest telemetry, as the guide shows it"
fi

# ---- 8. settings -------------------------------------------------------------------------

guide_ok check 'build/bin/tern check --config config/tern.toml --set plugins.udp.bind_port=15683'
shows check 'config OK: 8 plugin instances (udp, coap, json, protobuf, core_embedded, power, device_api, efento)'
guide_ok sample 'build/bin/tern config sample device_api'
assert_contains "$TERN_TMP/sample.out" '[plugins.device_api]'

# ---- 7. stop: SIGINT (Ctrl-C), bounded, status 0 ---------------------------------------

kill -INT "$TERN_PID" || fail "tern died before the stop"
wait_until "${TERN_STOP_TIMEOUT:-15}" gone "$TERN_PID" || fail "tern did not stop within ${TERN_STOP_TIMEOUT:-15}s of SIGINT"
wait "$TERN_PID"
rc=$?
TERN_PID=""
[ $rc -eq 0 ] || fail "tern exited with status $rc after SIGINT (the guide says 0)"
for line in '[kernel] received SIGINT: stopping' '[kernel] stopped'; do
    assert_contains "$TERN_LOG" "$line"
    in_guide "$line"
done

tern_note PASS
