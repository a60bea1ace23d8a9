#!/usr/bin/env bash
# X.509 provisioning may not register a CA certificate (basicConstraints CA:TRUE), a
# certificate already registered, or the issuer of another device's registered certificate:
# a holder of the provision key and secret must not capture a fleet CA (which a device API
# walking the client's chain would then match for every device of the fleet). libcoap's
# coap-client is the provisioning device; the certificates come from openssl.
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
dapi_init
command -v openssl >/dev/null || fail "openssl is required"
dapi_start

# a fleet CA, a device certificate it issued, a self-signed device certificate
cd "$TERN_TMP"
openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -subj "/CN=Fleet CA $$" -days 3650 -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null || fail "openssl CA"
openssl ecparam -name prime256v1 -genkey -noout -out leaf.key 2>/dev/null
openssl req -new -key leaf.key -subj "/CN=device-$$" -out leaf.csr 2>/dev/null
printf 'basicConstraints=CA:FALSE\n' >leaf.ext
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -extfile leaf.ext \
    -out leaf.pem 2>/dev/null || fail "openssl leaf"
cd - >/dev/null

dapi_cli_ok profile add fleet --provision-key fleet-key --provision-secret fleet-secret --strategy allow-create >/dev/null

# provision NAME DEVICE-NAME PEM-FILE: POST /api/v1/provision with the certificate as `hash`
provision() {
    local name=$1 device=$2 pem=$3 cert
    cert=$(awk '{ printf "%s\\n", $0 }' "$pem")
    coap "$name" -m post -t json \
        -e "{\"deviceName\":\"$device\",\"provisionDeviceKey\":\"fleet-key\",\"provisionDeviceSecret\":\"fleet-secret\",\"credentialsType\":\"X509_CERTIFICATE\",\"hash\":\"$cert\"}" \
        "$(coap_uri api/v1/provision)"
}
device_exists() { dapi_cli device show "$1"; }

# 1. the CA itself: FAILURE, nothing created, a log line says why
provision ca "captured-ca" "$TERN_TMP/ca.pem"
assert_code ca 4.00
assert_contains "$TERN_TMP/ca.err" '"status":"FAILURE"' "the CA certificate is refused with FAILURE"
! device_exists captured-ca || fail "a device was created with the CA certificate as its credential"
wait_until 5 grep -q "CA certificate (basicConstraints CA:TRUE)" "$TERN_LOG" || fail "no log line for the refused CA certificate"

# 2. a device certificate of that CA: SUCCESS
provision leaf "device-$$" "$TERN_TMP/leaf.pem"
assert_code leaf 2.01
assert_contains "$TERN_TMP/leaf.body" '"status":"SUCCESS"' "the device certificate is provisioned"
assert_contains "$TERN_TMP/leaf.body" '"credentialsType":"X509_CERTIFICATE"'
device_exists "device-$$" || fail "the provisioned device does not exist"

# 3. the same certificate once more (another name): FAILURE
provision again "device-copy-$$" "$TERN_TMP/leaf.pem"
assert_code again 4.00
assert_contains "$TERN_TMP/again.err" '"status":"FAILURE"'
! device_exists "device-copy-$$" || fail "a second device got an already registered certificate"

# 4. the CA again, now also the issuer of a registered certificate: still FAILURE
provision ca2 "captured-ca-2" "$TERN_TMP/ca.pem"
assert_code ca2 4.00
! device_exists captured-ca-2 || fail "the issuer of a registered certificate was provisioned"

# 5. a wrong secret with the CA: NOT_FOUND (the certificate is not even looked at)
cert=$(awk '{ printf "%s\\n", $0 }' "$TERN_TMP/ca.pem")
coap wrong -m post -t json \
    -e "{\"deviceName\":\"x-$$\",\"provisionDeviceKey\":\"fleet-key\",\"provisionDeviceSecret\":\"nope\",\"credentialsType\":\"X509_CERTIFICATE\",\"hash\":\"$cert\"}" \
    "$(coap_uri api/v1/provision)"
assert_code wrong 4.00
assert_contains "$TERN_TMP/wrong.err" '"status":"NOT_FOUND"'

tern_stop
tern_note PASS
