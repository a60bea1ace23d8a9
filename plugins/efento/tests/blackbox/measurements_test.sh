#!/usr/bin/env bash
# Efento measurements (POST /efento/m) from messages encoded by protoc out of messages/*.txtpb
# and posted by coap-client-openssl; every stored record (time, keys, values and their types)
# is compared with the records written out below by hand:
#   continuous.txtpb    every continuous type with its scaling, error codes inside channels
#                       (and the edges of the error range), a channel with its own timestamp,
#                       ignored types, a channel without samples, the message's own keys
#   accumulating.txtpb  MAJOR counters with metadata, MINOR totals replacing their major's key,
#                       a MINOR whose major channel holds no counter, the air-quality types
#                       (value and metadata), a serial that reads as a number, battery low
#   binary.txtpb        OK_ALARM, FLOODING, OUTPUT_CONTROL: state changes at their offsets, the
#                       stop at a repeated state, an error code inside; factor 0 (14 for binary)
#   factor.txtpb        a factor set for binary and continuous channels; the message's keys at
#                       channel 1's timestamp
# Also: the alias /coap/measurements stores like /efento/m, and a NON message is stored with no
# answer at all, and counts as activity of the device. With the prefix and the name set
# otherwise and no aliases, only the new path takes measurements.
set -u
source "$TERN_SOURCE_DIR/plugins/efento/tests/blackbox/efento_blackbox.sh"
eb_init
eb_start

# post_ok NAME KIND TXTPB PATH: encode, post (CON), expect 2.01 in the ACK.
post_ok() {
    eb_encode "$2" "$EB_MSGS/$3" "$TERN_TMP/$1.bin"
    eb_post "$1" "$4" "$TERN_TMP/$1.bin"
    assert_code "$1" 2.01 ACK
}

# ---- continuous types ----
eb_device efento-cont efento-cont-token
post_ok cont m continuous.txtpb efento/m
eb_history efento-cont "$TERN_TMP/cont.json"
# Channels 17 (CO_GAS), 18 (NO_SENSOR) and 20 (RESISTANCE) store no values; whether their
# period is stored is left open. Channel 19 has no samples: nothing at all.
eb_compare records "$TERN_TMP/cont.json" '{
  "1700000000000": {
    "serial": "282C0240005A", "battery": "ok", "next_transmission_at": "2023-11-14 23:13:20 UTC", "signal": 17,
    "temperature_1": -21.5, "measurement_interval_1": 60,
    "pressure_3": 1013.2, "measurement_interval_3": 60,
    "pressure_diff_4": -37.0, "measurement_interval_4": 60,
    "pulse_cnt_5": 1200.0, "measurement_interval_5": 60,
    "watt_hour_6": 987.0, "measurement_interval_6": 60,
    "pulse_counter_water_7": 8355839.0, "measurement_interval_7": 60,
    "soil_moisture_8": -120.0, "measurement_interval_8": 60,
    "ambient_light_9": 1234.5, "measurement_interval_9": 60,
    "high_pressure_10": 250000.0, "measurement_interval_10": 60,
    "measurement_interval_11": 60,
    "humidity_relative_12": 45.6, "measurement_interval_12": 60,
    "percentage_13": 45.67, "measurement_interval_13": 60,
    "voltage_14": 240.0, "measurement_interval_14": 60,
    "current_15": -1.23, "measurement_interval_15": 60,
    "current_precise_16": 1.234, "measurement_interval_16": 60
  },
  "1700000030000": { "humidity_2": 45.0, "measurement_interval_2": 60 },
  "1700000060000": {
    "temperature_1": -21.2, "pressure_3": 1013.7, "pulse_cnt_5": 1234.0, "distance_mm_11": 1500.0, "voltage_14": 239.9
  },
  "1700000090000": { "humidity_2": 47.0 },
  "1700000120000": { "pulse_counter_water_7": 8388608.0 },
  "1700000180000": { "temperature_1": -22.5 }
}' measurement_interval_17,measurement_interval_18,measurement_interval_20

# ---- accumulating counters and air quality ----
eb_device efento-acc efento-acc-token
post_ok acc m accumulating.txtpb efento/m
eb_history efento-acc "$TERN_TMP/acc.json"
eb_compare records "$TERN_TMP/acc.json" '{
  "1700086400000": {
    "serial": 12, "battery": "low", "next_transmission_at": "2023-11-15 23:13:20 UTC", "signal": 0,
    "water_cnt_acc_metadata_1": 1, "pulse_cnt_acc_metadata_2": 0, "elec_meter_acc_metadata_3": 3,
    "pulse_cnt_acc_wide_metadata_4": 2,
    "water_cnt_acc_total_5": 62515, "pulse_cnt_acc_total_6": 300010, "elec_meter_acc_total_7": 100012,
    "pulse_cnt_acc_wide_total_8": 440000013,
    "iaq_10": 50, "iaq_metadata_10": 0, "static_iaq_11": 36, "static_iaq_metadata_11": 2,
    "co2_gas_12": 416, "co2_gas_metadata_12": 2, "breath_voc_14": 73, "breath_voc_metadata_14": 1,
    "measurement_interval_1": 60, "measurement_interval_2": 60, "measurement_interval_3": 60,
    "measurement_interval_4": 60, "measurement_interval_5": 60, "measurement_interval_6": 60,
    "measurement_interval_7": 60, "measurement_interval_8": 60, "measurement_interval_9": 60,
    "measurement_interval_10": 60, "measurement_interval_11": 60, "measurement_interval_12": 60,
    "measurement_interval_13": 60, "measurement_interval_14": 60
  },
  "1700086460000": {
    "pulse_cnt_acc_metadata_2": 0, "pulse_cnt_acc_total_6": 302011,
    "iaq_10": 51, "iaq_metadata_10": 1, "co2_13": 150, "co2_metadata_13": 1
  }
}'

# ---- binary channels, factor 0 ----
eb_device efento-bin efento-bin-token
post_ok bin m binary.txtpb efento/m
eb_history efento-bin "$TERN_TMP/bin.json"
eb_compare records "$TERN_TMP/bin.json" '{
  "1704067200000": {
    "serial": "ABCDEF01", "battery": "ok", "next_transmission_at": "2024-01-01 01:00:00 UTC", "signal": 31,
    "ok_alarm_1": "ALARM", "flooding_2": "OK", "temperature_4": 20.0,
    "measurement_interval_1": 840, "measurement_interval_2": 840, "measurement_interval_3": 840,
    "measurement_interval_4": 60
  },
  "1704067202000": { "flooding_2": "WATER_DETECTED", "output_control_3": "OFF" },
  "1704067204000": { "ok_alarm_1": "OK" },
  "1704067206000": { "flooding_2": "OK" },
  "1704067208000": { "ok_alarm_1": "ALARM" },
  "1704067260000": { "temperature_4": 20.1 },
  "1704067300000": { "measurement_interval_5": 840 },
  "1704067301000": { "ok_alarm_5": "ALARM" },
  "1704067310000": { "ok_alarm_5": "OK" }
}'

# ---- factor set, through the alias path ----
eb_device efento-factor efento-factor-token
post_ok factor m factor.txtpb coap/measurements
eb_history efento-factor "$TERN_TMP/factor.json"
eb_compare records "$TERN_TMP/factor.json" '{
  "1717243200000": { "humidity_2": 50.0, "measurement_interval_2": 180 },
  "1717243210000": {
    "serial": "01A2", "battery": "ok", "next_transmission_at": "2024-06-01 13:00:00 UTC", "signal": 5,
    "measurement_interval_1": 180
  },
  "1717243214000": { "flooding_1": "WATER_DETECTED" },
  "1717243380000": { "humidity_2": 51.0 }
}'

# ---- NON: stored, and no answer at all (not even an empty ACK or a NON 2.01) ----
eb_device efento-non efento-non-token
eb_encode_text m "$TERN_TMP/non.bin" 'cloud_token: "efento-non-token" measurement_period_base: 60 serial_number: "\x0a"
channels { type: MEASUREMENT_TYPE_TEMPERATURE timestamp: 1700000000 start_point: 215 sample_offsets: [0] }'
t0=$(date +%s%3N)
eb_post non efento/m "$TERN_TMP/non.bin" -N -B 2
assert_no_reply non
non_stored() { eb_cli telemetry efento-non --latest --json && grep -q '"temperature_1"' "$TERN_TMP/cli.out"; }
wait_until 5 non_stored || fail "the NON message was not stored within 5 s"
t1=$(date +%s%3N)
# and it is activity of the device, as a CON one is
eb_active_between efento-non "$t0" "$t1"
eb_history efento-non "$TERN_TMP/non.json"
eb_compare records "$TERN_TMP/non.json" '{
  "1700000000000": {
    "serial": "0A", "battery": "low", "next_transmission_at": "1970-01-01 00:00:00 UTC", "signal": 0,
    "temperature_1": 21.5, "measurement_interval_1": 60
  }
}'

tern_stop

# ---- the paths are settings: another prefix and name, no aliases ----
EB_EFENTO_TOML='prefix = "sensors"
measurements_path = "data"
measurements_aliases = []'
eb_start
eb_encode_text m "$TERN_TMP/moved.bin" 'cloud_token: "efento-non-token" measurement_period_base: 60 serial_number: "\x0a"
channels { type: MEASUREMENT_TYPE_TEMPERATURE timestamp: 1700000600 start_point: 216 sample_offsets: [0] }'
for path in efento/m coap/measurements sensors/m; do
    name=old_${path//\//_}
    eb_post "$name" "$path" "$TERN_TMP/moved.bin"
    if coap_received "$name" | grep -E '^v:1 t:ACK c:2\.' >/dev/null; then
        fail "POST /$path was accepted with the measurements moved to /sensors/data"
    fi
done
eb_post moved sensors/data "$TERN_TMP/moved.bin"
assert_code moved 2.01 ACK
eb_cli_ok telemetry efento-non --key temperature_1 --since 0 --asc --json >"$TERN_TMP/moved.json"
eb_compare records "$TERN_TMP/moved.json" '{
  "1700000000000": { "temperature_1": 21.5 }, "1700000600000": { "temperature_1": 21.6 }
}'
tern_stop
tern_note PASS
