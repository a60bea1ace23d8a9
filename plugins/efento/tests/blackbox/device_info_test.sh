#!/usr/bin/env bash
# Efento device information (POST /efento/i) from messages encoded by protoc out of
# messages/device_info_*.txtpb and posted by coap-client-openssl: one telemetry record at the
# server's time, its keys and values (dates in the zone of tern, UTC here; "Undefined"; an
# unsigned counter past 2^31 read as a signed int; a modem id of decimal digits a number)
# compared with the record written out below by hand. A BC660 modem names its 22 parameters,
# a shared modem its four, a BC66 its 34 in its own order; of lists shorter than their names
# the entries present are stored; 21 memory statistics are refused with 5.00 and store
# nothing. The alias /coap/device-info stores like /efento/i. An accepted message is activity
# of the device (lastActivityTime), a refused one is not.
set -u
source "$TERN_SOURCE_DIR/plugins/efento/tests/blackbox/efento_blackbox.sh"
eb_init
eb_start

# ---- BC660, everything ----
eb_device efento-info efento-info-token
eb_encode i "$EB_MSGS/device_info_bc660.txtpb" "$TERN_TMP/info.bin"
t0=$(date +%s%3N)
eb_post info efento/i "$TERN_TMP/info.bin"
t1=$(date +%s%3N)
assert_code info 2.01 ACK
eb_latest efento-info "$TERN_TMP/info.json"
eb_compare latest "$TERN_TMP/info.json" '{
  "sw_version": 1546,
  "nv_storage_status": 0,
  "timestamp_of_the_end_of_collecting_statistics": "14 Nov 2023 22:13:20 +0000",
  "capacity_of_memory_in_bytes": 1048576,
  "used_space_in_bytes": 512000,
  "size_of_invalid_packets_in_bytes": 1024,
  "size_of_corrupted_packets_in_bytes": 256,
  "number_of_valid_packets": 100,
  "number_of_invalid_packets": 10,
  "number_of_corrupted_packets": 2,
  "number_of_all_samples_for_channel_1": 500,
  "number_of_all_samples_for_channel_2": 400,
  "number_of_all_samples_for_channel_3": 300,
  "number_of_all_samples_for_channel_4": 200,
  "number_of_all_samples_for_channel_5": 100,
  "number_of_all_samples_for_channel_6": 50,
  "timestamp_of_the_first_binary_measurement": "Undefined",
  "timestamp_of_the_last_binary_measurement": "01 Jan 2024 00:00:00 +0000",
  "timestamp_of_the_first_binary_measurement_sent": "Undefined",
  "timestamp_of_the_first_continuous_measurement": "14 Nov 2023 22:23:20 +0000",
  "timestamp_of_the_last_continuous_measurement": "14 Nov 2023 23:13:20 +0000",
  "timestamp_of_the_last_continuous_measurement_sent": "01 Jun 2024 11:59:59 +0000",
  "nvm_write_counter": -1294967296,
  "modem_types": "MODEM_TYPE_BC660",
  "sim_card_identification": "8948031234567890123F",
  "firmware_version": "MODEM_FIRMWARE_VERSION_BC660_V3",
  "modem_identification": 867997031234567,
  "modem_transmissions_count": 12,
  "modem_time_since_last_devinfo": 3600,
  "modem_total_psm_time": 82000,
  "modem_total_active_time": 1500,
  "sc_EARFCN": 6300, "sc_EARNFCN_offset": 2, "sc_PCI": 301, "sc_Cell_id": 2345678,
  "sc_RSRP": -97, "sc_RSRQ": -11, "sc_RSSI": -70, "sc_SINR": 12, "sc_Band": 20, "sc_TAC": 4321,
  "sc_ECL": 0, "sc_TX_PWR": 23, "op_mode": 1, "nc_EARFCN": 6290, "nc_PCI": 77, "nc_RSRP": -105,
  "nc_RSRQ": -15, "sleep_duration": 86000, "rx_time": 420, "tx_time": 130, "PLMN_state": 1,
  "select_PLMN": 26003,
  "battery_reset_timestamp": "14 Nov 2023 22:13:20 +0000",
  "max_mcu_temp": 38,
  "mcu_temp": 24,
  "counter_of_confirmable_messages_attempts": 40,
  "counter_of_non_confirmable_messages_attempts": 2,
  "counter_of_succeeded_messages": 41,
  "min_battery_mcu_temp": -5,
  "min_battery_voltage": 3150,
  "min_mcu_temp": -8,
  "runtime_errors": 3,
  "up_time": 86400
}' "$t0" "$t1"
# an accepted message is activity of the device
eb_active_between efento-info "$t0" "$t1"

# ---- a shared modem, through the alias path ----
eb_device efento-info2 efento-info2-token
eb_encode i "$EB_MSGS/device_info_shared_modem.txtpb" "$TERN_TMP/info2.bin"
t0=$(date +%s%3N)
eb_post info2 coap/device-info "$TERN_TMP/info2.bin"
t1=$(date +%s%3N)
assert_code info2 2.01 ACK
eb_latest efento-info2 "$TERN_TMP/info2.json"
eb_compare latest "$TERN_TMP/info2.json" '{
  "sw_version": 1800,
  "nv_storage_status": 1,
  "timestamp_of_the_end_of_collecting_statistics": "Undefined",
  "capacity_of_memory_in_bytes": 2048,
  "timestamp_of_the_last_continuous_measurement_sent": "Undefined",
  "nvm_write_counter": 7,
  "modem_types": "MODEM_TYPE_SHARED_MODEM",
  "modem_identification": "SN-ABCDEF",
  "RSRP": -90, "RSRQ": -10, "RSSI": -80, "SINR": 15,
  "up_time": 60, "mcu_temp": 21, "min_battery_voltage": 3000,
  "counter_of_confirmable_messages_attempts": 1,
  "counter_of_non_confirmable_messages_attempts": 0,
  "counter_of_succeeded_messages": 1
}' "$t0" "$t1" \
    sc_EARFCN,sc_EARNFCN_offset,sc_RSRP,nc_EARNFCN_offset,RLC_UL_BLER,PLMN_state,modem_transmissions_count,modem_time_since_last_devinfo,modem_total_psm_time,modem_total_active_time

# ---- 21 memory statistics: 5.00, nothing stored ----
eb_device efento-info21 efento-info21-token
eb_encode i "$EB_MSGS/device_info_21_statistics.txtpb" "$TERN_TMP/info21.bin"
eb_post info21 efento/i "$TERN_TMP/info21.bin"
assert_code info21 5.00
eb_nothing_stored efento-info21
# a refused message is no activity (five flush intervals later, still none)
sleep 1
[ -z "$(eb_server_attr efento-info21 lastActivityTime)" ] || fail "efento-info21: a refused message reported activity"

# ---- BC66: 34 parameters by its own names ----
eb_device efento-info3 efento-info3-token
eb_encode i "$EB_MSGS/device_info_bc66.txtpb" "$TERN_TMP/info3.bin"
t0=$(date +%s%3N)
eb_post info3 efento/i "$TERN_TMP/info3.bin"
t1=$(date +%s%3N)
assert_code info3 2.01 ACK
eb_latest efento-info3 "$TERN_TMP/info3.json"
eb_compare latest "$TERN_TMP/info3.json" '{
  "modem_types": "MODEM_TYPE_BC66", "firmware_version": "MODEM_FIRMWARE_VERSION_UNSPECIFIED",
  "sc_EARNFCN_offset": 1000, "sc_EARFCN": 1001, "sc_PCI": 1002, "sc_Cell_id": 1003, "sc_RSRP": -100,
  "sc_RSRQ": 1005, "sc_RSSI": 1006, "sc_SINR": 1007, "sc_Band": 1008, "sc_TAC": 1009, "sc_ECL": 1010,
  "sc_TX_PWR": 1011, "op_mode": 1012, "nc_EARFCN": 1013, "nc_EARNFCN_offset": 1014, "nc_PCI": 1015,
  "nc_RSRP": 1016, "RLC_UL_BLER": 1017, "RLC_DL_BLER": 1018, "MAC_UL_BLER": 1019, "MAC_DL_BLER": 1020,
  "MAC_UL_TOTAL_BYTES": 1021, "MAC_DL_TOTAL_BYTES": 1022, "MAC_UL_total_HARQ_Tx": 1023,
  "MAC_DL_total_HARQ_Tx": 1024, "MAC_UL_HARQ_re_Tx": 1025, "MAC_DL_HARQ_re_Tx": 1026, "RLC_UL_tput": 1027,
  "RLC_DL_tput": 1028, "MAC_UL_tput": 1029, "MAC_DL_tput": 1030, "sleep_duration": 1031, "rx_time": 1032,
  "tx_time": 1033,
  "counter_of_confirmable_messages_attempts": 1, "counter_of_non_confirmable_messages_attempts": 2,
  "counter_of_succeeded_messages": 3
}' "$t0" "$t1" nc_RSRQ,PLMN_state,select_PLMN,RSRP,modem_transmissions_count

# ---- lists shorter than their names: the entries present are stored ----
eb_device efento-info4 efento-info4-token
eb_encode i "$EB_MSGS/device_info_short_lists.txtpb" "$TERN_TMP/info4.bin"
t0=$(date +%s%3N)
eb_post info4 efento/i "$TERN_TMP/info4.bin"
t1=$(date +%s%3N)
assert_code info4 2.01 ACK
eb_latest efento-info4 "$TERN_TMP/info4.json"
eb_compare latest "$TERN_TMP/info4.json" '{
  "modem_types": "MODEM_TYPE_BC66NA", "sc_EARNFCN_offset": 7, "sc_EARFCN": 8, "sc_PCI": 9,
  "up_time": 2, "counter_of_confirmable_messages_attempts": 5
}' "$t0" "$t1" sc_Cell_id,tx_time,counter_of_non_confirmable_messages_attempts,counter_of_succeeded_messages

tern_stop
tern_note PASS
