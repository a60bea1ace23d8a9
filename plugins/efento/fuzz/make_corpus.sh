#!/usr/bin/env bash
# Writes the Efento fuzz target's seed corpus: one file per seed, the mode byte decode_fuzz.cpp
# reads (kind + 3 * small_limits + 6 * no_type_cast; kind 0 measurements, 1 device info,
# 2 configuration) and then the body. Bodies are encoded by `protoc --encode` from the
# plugin's own .proto files: every message text of the black-box tests
# (tests/blackbox/messages/*.txtpb) and the texts below, at the edges of the conversion
# (largest and smallest numbers, overflowing periods and timestamps, long lists, modem types
# and short lists); a few seeds are hand-made bytes no encoder writes (truncated, wrong wire
# type, bad UTF-8, unknown fields, empty).
#
#   plugins/efento/fuzz/make_corpus.sh [OUT_DIR]
#
# OUT_DIR defaults to plugins/efento/fuzz/corpus (the seeds are committed; rerun this when the
# messages change, and commit what it writes). The corpus's crash-* files are inputs the
# fuzzer once failed on, added by hand after the fix; this script leaves them be.
# TERN_FUZZ_VERBOSE=1 BUILD/bin/efento_decode_fuzz_replay plugins/efento/fuzz/corpus prints
# what each seed came to.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/corpus}
proto=$here/../proto
messages=$here/../tests/blackbox/messages
command -v protoc >/dev/null || { echo "make_corpus.sh: protoc is needed (apt-get install protobuf-compiler)" >&2; exit 2; }
mkdir -p "$out"

byte() { printf "\\$(printf '%03o' "$1")"; }
type_of() {
  case "$1" in
    0) echo "ProtoMeasurements proto_measurements.proto" ;;
    1) echo "ProtoDeviceInfo proto_device_info.proto" ;;
    2) echo "ProtoConfig proto_config.proto" ;;
  esac
}
# seed NAME MODE TEXT: the mode byte, then TEXT encoded as the kind's message.
seed() {
  local name=$1 mode=$2 text=$3 t
  read -r -a t <<<"$(type_of $((mode % 3)))"
  { byte "$mode"; printf '%s\n' "$text" | protoc -I "$proto" --encode="${t[0]}" "$proto/${t[1]}"; } >"$out/$name"
}
# Bytes given in hex (bash's printf, no xxd needed).
unhex() { [ -z "$1" ] || printf "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }
# raw NAME MODE HEX: the mode byte, then the bytes.
raw() { { byte "$2"; unhex "${3:-}"; } >"$out/$1"; }

# The black-box tests' messages, as they are and with small limits and no type casting.
for f in "$messages"/*.txtpb; do
  name=$(basename "$f" .txtpb)
  case "$name" in
    device_info*) kind=1 ;;
    configuration*) kind=2 ;;
    *) kind=0 ;;
  esac
  seed "bb-$name" "$kind" "$(cat "$f")"
  seed "bb-$name-small-nocast" $((kind + 9)) "$(cat "$f")"
done

# Measurements at the edges.
seed m-extremes 0 'cloud_token: "t" serial_number: "\x00\xff" measurement_period_base: 4294967295 measurement_period_factor: 4294967295 next_transmission_at: 4294967295 signal: 4294967295
channels { type: MEASUREMENT_TYPE_TEMPERATURE timestamp: 2147483647 start_point: 2147483647 sample_offsets: [2147483647, -2147483648, 0] }
channels { type: MEASUREMENT_TYPE_PERCENTAGE timestamp: -2147483648 start_point: -2147483648 sample_offsets: [-2147483648, 2147483647] }
channels { type: MEASUREMENT_TYPE_OK_ALARM timestamp: -1 sample_offsets: [-2147483648, 2147483647, -1] }
channels { type: MEASUREMENT_TYPE_PULSE_CNT_ACC_WIDE_MAJOR timestamp: 2147483647 start_point: 2147483647 sample_offsets: [0] }
channels { type: MEASUREMENT_TYPE_PULSE_CNT_ACC_WIDE_MINOR timestamp: 2147483647 start_point: 2147483647 sample_offsets: [-2147483648] }'
seed m-error-codes 0 'cloud_token: "t" measurement_period_base: 1
channels { type: MEASUREMENT_TYPE_HUMIDITY timestamp: 1 sample_offsets: [8355839, 8355840, 8388607, 8388608] }
channels { type: MEASUREMENT_TYPE_FLOODING timestamp: 1 sample_offsets: [8355840, 8388607, -8355840, 1] }'
seed m-minor-first 3 'cloud_token: "t" measurement_period_base: 60
channels { type: MEASUREMENT_TYPE_WATER_METER_ACC_MINOR timestamp: 100 start_point: 5 sample_offsets: [0, 6, 12] }
channels { type: MEASUREMENT_TYPE_WATER_METER_ACC_MAJOR timestamp: 100 start_point: 40 sample_offsets: [0, 4] }
channels { type: MEASUREMENT_TYPE_ELEC_METER_ACC_MINOR timestamp: 100 start_point: 1 sample_offsets: [0] }'
seed m-unknown-type 0 'cloud_token: "t" measurement_period_base: 60 channels { type: 99 timestamp: 5 sample_offsets: [1] } channels { type: MEASUREMENT_TYPE_SHARED_MODEM timestamp: 5 sample_offsets: [1] }'
seed m-no-channels 0 'cloud_token: "t" serial_number: "\x01\x02"'
seed m-channel-without-samples 0 'cloud_token: "t" channels { type: MEASUREMENT_TYPE_TEMPERATURE timestamp: 5 start_point: 3 }'
# Many samples: past the small limit's 64 values.
offsets=$(seq -s ', ' 0 199)
seed m-many-samples 3 "cloud_token: \"t\" measurement_period_base: 1 channels { type: MEASUREMENT_TYPE_TEMPERATURE timestamp: 1 sample_offsets: [$offsets] } channels { type: MEASUREMENT_TYPE_IAQ timestamp: 1 sample_offsets: [$offsets] }"
seed m-many-binary 0 "cloud_token: \"t\" channels { type: MEASUREMENT_TYPE_OUTPUT_CONTROL timestamp: 1 sample_offsets: [$(seq -s ', ' 1 200 | awk -F', ' '{ for (i = 1; i <= NF; i++) printf "%s%d", (i > 1 ? ", " : ""), (i % 2 ? $i : -$i) }')] }"

# Device information at the edges.
stats22='memory_statistics: [4294967295, 0, 4294967295, 2147483648, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 4294967295, 0, 2147483647, 1, 253402300799, 4294967294, 4294967295]'
seed i-extremes 1 "cloud_token: \"t\" sw_version: 4294967295 ${stats22/253402300799/4102444800}
modem { type: MODEM_TYPE_BC66 parameters: [-2147483648, 2147483647] sim_card_identification: \"12345678901234567890123\" firmware_version: MODEM_FIRMWARE_VERSION_BC660_V8 modem_identification: \"-0\" modem_statistics: [4294967295, 0, 1, 2, 3] }
runtime_info { up_time: 4294967295 message_counters: [4294967295] mcu_temperature: -2147483648 battery_voltage: 4294967295 battery_reset_timestamp: 4294967295 runtime_errors: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }"
seed i-bc66-full 1 "cloud_token: \"t\" ${stats22/253402300799/1}
modem { type: MODEM_TYPE_BC66NA parameters: [$(seq -s ', ' -17 16)] modem_statistics: [1, 2, 3, 4] }"
seed i-unknown-modem 1 "cloud_token: \"t\" ${stats22/253402300799/1} modem { type: 17 parameters: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36] firmware_version: 77 }"
seed i-21-statistics 1 'cloud_token: "t" memory_statistics: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]'
seed i-no-modem-no-runtime 4 "cloud_token: \"t\" ${stats22/253402300799/1}"

# Configuration at the edges: defaults only, every nested message, long text.
seed c-defaults 2 'cloud_token: "t"'
seed c-nested 2 'cloud_token: "été" calibration_parameters_request { calibration_request: 1 channel_assignment: 2 parameters: [-1, 2147483647] }
set_output_control_state_request { channel_index: 1 channel_state: 2 } set_output_control_state_request { }
ble_advertising_period { mode: BLE_ADVERTISING_PERIOD_MODE_FAST fast: 4294967295 }
rules { channel_mask: 4294967295 condition: CONDITION_ON_SENSOR_ERROR parameters: [-2147483648] action: ACTION_FAST_ADVERTISING_MODE }
calendars { rule_mask: 1 parameters: [1, 2] type: CALENDAR_TYPE_WEEK }
network_search { time_schema_last_registration_ok: [1, 2] disable_period_base: 3 counter_max: 4 }
channel_types: [MEASUREMENT_TYPE_NO_SENSOR, MEASUREMENT_TYPE_RESISTANCE] encryption_key: "\x00\x01\xfe\xff" network_key: "k"
update_modem_request: "12345" apn: "1.5" apn_username: "-7" apn_password: "\"quoted\" \\ back"
advertisement_manufacturer_data_format: ADVERTISEMENT_MANUFACTURER_DATA_FORMAT_V5 payload_split_info: -2147483648 dns_server_ip: [4294967295, 0]'
seed c-long-text 5 "cloud_token: \"t\" apn: \"$(printf 'x%.0s' {1..2000})\""
seed c-nocast 8 'cloud_token: "t" apn: "42" update_modem_request: "9223372036854775808" data_server_ip: "007"'

# Hand-made bytes.
raw truncated-varint 0 08ff                   # field 1 as a varint cut short
raw truncated-length 1 8a010a41               # field 17 (packed) of 10 bytes, 1 there
raw wrong-wire-type 0 1d00000000              # field 3 as fixed32; the schema says varint
raw bad-utf8-token 0 820102c328               # cloud_token (16) with bytes that are not UTF-8
raw bad-utf8-config-token 2 c20102c328       # ProtoConfig's cloud_token (24), not UTF-8
raw unknown-field 2 f8ffffff0f01              # the largest field number, unknown
raw group-wire-type 1 0b0c                    # start and end group (deprecated wire types)
raw zero-tag 0 0000
raw packed-offsets-cut 0 220a0801100128ffff    # a channel whose packed offsets run past its end
raw empty-measurements 0
raw empty-device-info 1
raw empty-configuration 2
echo "make_corpus.sh: $(ls "$out" | wc -l) seeds in $out"
