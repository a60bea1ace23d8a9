#!/usr/bin/env bash
# Efento configuration (POST /efento/c) from messages/configuration.txtpb encoded by protoc and
# posted by coap-client-openssl: the whole message becomes client attributes as protobuf's
# JSON printer writes it (lowerCamelCase names, defaults included, enums by name, bytes in
# Base64, nested and repeated messages as JSON, unset message fields absent), compared with
# the values written out below by hand. The alias /coap/configuration does the same, and a
# later configuration replaces the values it carries.
set -u
source "$TERN_SOURCE_DIR/plugins/efento/tests/blackbox/efento_blackbox.sh"
eb_init
eb_start

eb_device efento-cfg efento-cfg-token
eb_encode c "$EB_MSGS/configuration.txtpb" "$TERN_TMP/cfg.bin"
eb_post cfg efento/c "$TERN_TMP/cfg.bin"
assert_code cfg 2.01 ACK
eb_client_attrs efento-cfg "$TERN_TMP/cfg.json"
# What the message set, then defaults of every kind (number, bool, text, bytes, enum,
# repeated); message fields left unset are not attributes.
eb_compare client "$TERN_TMP/cfg.json" '{
  "serialNumber": "KCwCQABa",
  "cloudToken": "efento-cfg-token",
  "dataServerIp": "18.184.24.239",
  "dataServerPort": 5683,
  "dataEndpoint": "/m",
  "configurationEndpoint": "/c",
  "deviceInfoEndpoint": "/i",
  "timeEndpoint": "/t",
  "measurementPeriodBase": 60,
  "measurementPeriodFactor": 5,
  "currentTime": 1700000000,
  "configurationRequest": true,
  "channelTypes": ["MEASUREMENT_TYPE_TEMPERATURE", "MEASUREMENT_TYPE_HUMIDITY"],
  "apn": "internet.example",
  "bleAdvertisingPeriod": {"mode": "BLE_ADVERTISING_PERIOD_MODE_NORMAL", "normal": 1600, "fast": 320},
  "rules": [{"channelMask": 1, "condition": "CONDITION_HIGH_THRESHOLD", "parameters": [300, -50],
             "action": "ACTION_TRIGGER_TRANSMISSION"}],
  "transmissionInterval": 0,
  "payloadSplitInfo": 0,
  "deviceInfoRequest": false,
  "updateServerIp": "",
  "apnPassword": "",
  "encryptionKey": "",
  "advertisementManufacturerDataFormat": "ADVERTISEMENT_MANUFACTURER_DATA_FORMAT_UNSPECIFIED",
  "dnsServerIp": [],
  "calendars": [],
  "setOutputControlStateRequest": []
}' calibrationParametersRequest,networkSearch,data_server_ip,cloud_token

# ---- a second configuration through the alias: what it carries replaces the first's ----
eb_encode_text c "$TERN_TMP/cfg2.bin" 'cloud_token: "efento-cfg-token" data_server_ip: "10.0.0.7" data_endpoint: "/measure" measurement_period_base: 300'
eb_post cfg2 coap/configuration "$TERN_TMP/cfg2.bin"
assert_code cfg2 2.01 ACK
eb_client_attrs efento-cfg "$TERN_TMP/cfg2.json"
eb_compare client "$TERN_TMP/cfg2.json" '{
  "cloudToken": "efento-cfg-token",
  "dataServerIp": "10.0.0.7",
  "dataEndpoint": "/measure",
  "measurementPeriodBase": 300,
  "measurementPeriodFactor": 0,
  "configurationRequest": false,
  "channelTypes": [],
  "rules": [],
  "serialNumber": ""
}' networkSearch

# nothing of a configuration goes to telemetry
eb_history efento-cfg "$TERN_TMP/cfg-tel.json"
eb_compare records "$TERN_TMP/cfg-tel.json" '{}'

tern_stop
tern_note PASS
