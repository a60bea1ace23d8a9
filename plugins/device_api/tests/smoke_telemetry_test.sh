#!/usr/bin/env bash
# device_api smoke test: a ThingsBoard telemetry POST through the real stack is answered
# 2.01 and is visible through the admin CLI; attributes and GET attributes round-trip.
source "$(dirname "$0")/smoke.sh"
start_device_api

cli device add thermo-1 --token A1_TEST_TOKEN

coap tele -m post -e '{"temperature":42,"on":true}' "$(coap_uri api/v1/A1_TEST_TOKEN/telemetry)"
assert_code tele 2.01 ACK
cli telemetry thermo-1 --json
assert_contains "$TERN_TMP/cli.out" '"temperature"' "the telemetry is stored"
assert_contains "$TERN_TMP/cli.out" '42' "the value is stored"

# the whole path in one Uri-Path option (split by the engine)
coap one_option -m post -e '{"humidity":7}' -O 11,/api/v1/A1_TEST_TOKEN/telemetry "coap://127.0.0.1:$TERN_UDP_PORT"
assert_code one_option 2.01

coap attrs -m post -e '{"fw":"1.2","model":"T-1000"}' "$(coap_uri api/v1/A1_TEST_TOKEN/attributes)"
assert_code attrs 2.01
coap read "$(coap_uri 'api/v1/A1_TEST_TOKEN/attributes?clientKeys=model')"
assert_code read 2.05
assert_body read '{"client":{"model":"T-1000"}}'

coap bad_token -m post -e '{}' "$(coap_uri api/v1/NOT_A_TOKEN/telemetry)"
assert_error bad_token 4.01 "unknown access token"
coap bad_json -m post -e '{"a":' "$(coap_uri api/v1/A1_TEST_TOKEN/telemetry)"
assert_error bad_json 4.00

[ "$(tern_metric 'device_api_requests_total{feature="telemetry",code="2.01"}')" -ge 2 ] ||
    fail "device_api_requests_total does not count the telemetry"
tern_stop
tern_note "ok"
