// Certificates made with openssl 3.0 for the tests (P-256, valid until 2126), as the store
// keeps them: the Base64 body of the PEM on one line.
//   fleet_ca            /CN=Fleet CA/O=Tern Test, self-signed, basicConstraints critical CA:TRUE
//   fleet_leaf          /CN=device-1, issued by fleet_ca, basicConstraints CA:FALSE
//   self_signed_device  /CN=self-device, self-signed, basicConstraints critical CA:FALSE
//   legacy_v1_ca        /CN=Legacy CA, self-signed version 1 (no extensions)
//   legacy_v1_leaf      /CN=legacy-device, version 1, issued by legacy_v1_ca
#pragma once

namespace tern::x509_der::test {

inline constexpr const char* fleet_ca =
    "MIIBtDCCAVugAwIBAgIUQTk+8AP6UNEYs09FgDybVtr1laYwCgYIKoZIzj0EAwIwJzERMA8GA1UEAwwIRmxlZXQgQ0ExEjAQ"
    "BgNVBAoMCVRlcm4gVGVzdDAgFw0yNjEyMDcwNDQ3MDdaGA8yMTI2MTExMzA0NDcwN1owJzERMA8GA1UEAwwIRmxlZXQgQ0Ex"
    "EjAQBgNVBAoMCVRlcm4gVGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABFYJFFKH5sbsk+kUpaLT9MN4VKq+CSVi3koX"
    "s0uwRU7+JLRuy1eq+pup+iCKBaVs6xE33Py/HvcCTGdDyulqQx6jYzBhMB0GA1UdDgQWBBTolswDc/K8OU9MQZNdOEj7EpFM"
    "xDAfBgNVHSMEGDAWgBTolswDc/K8OU9MQZNdOEj7EpFMxDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwICBDAKBggq"
    "hkjOPQQDAgNHADBEAiAWxjUUjJ4jRDvva3FqBKOM40CJRA4YEEWwAig+MlPEUgIgP9eO+Zx7Z926ZmnUpPw/BO25iA3cHku9"
    "67L8rb38GfA=";
inline constexpr const char* fleet_leaf =
    "MIIBijCCATGgAwIBAgIUPqM7BrHRvzqHCLGwi0lu/sLkpDkwCgYIKoZIzj0EAwIwJzERMA8GA1UEAwwIRmxlZXQgQ0ExEjAQ"
    "BgNVBAoMCVRlcm4gVGVzdDAgFw0yNjEyMDcwNDQ3MDdaGA8yMTI2MTExMzA0NDcwN1owEzERMA8GA1UEAwwIZGV2aWNlLTEw"
    "WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATr2J0uGlEgWzOc+ylhFV3oGfGZB0dUpmFtSVSZFkRhxpqIrWGPW2faM3yJUAJm"
    "rAFiA8alzElJ55Tms8JQiCiWo00wSzAJBgNVHRMEAjAAMB0GA1UdDgQWBBSM1lp5CHIh86+PyT7np4T2OoF1tjAfBgNVHSME"
    "GDAWgBTolswDc/K8OU9MQZNdOEj7EpFMxDAKBggqhkjOPQQDAgNHADBEAiBbEnITI/UZv66QUcH6UiRHlDK/3IKB7hMj6bZN"
    "YXFlJAIgZOndMTpUdtcTUyNSJ+/erAtmxRIlJvDWyOPd1gBPptE=";
inline constexpr const char* self_signed_device =
    "MIIBgDCCASagAwIBAgIUZZCI1H2owJLjjJGClK6zAfTFJz4wCgYIKoZIzj0EAwIwFjEUMBIGA1UEAwwLc2VsZi1kZXZpY2Uw"
    "IBcNMjYxMjA3MDQ0NzEyWhgPMjEyNjExMTMwNDQ3MTJaMBYxFDASBgNVBAMMC3NlbGYtZGV2aWNlMFkwEwYHKoZIzj0CAQYI"
    "KoZIzj0DAQcDQgAEDIDxxZD0Lq/MFZ0+pzzqW8Z41A1siq3l1wDVaqWhH55Qf7Y+iRJK2fkD5gF2Q04yh2m/bFJTK9fb0oHo"
    "ARb+e6NQME4wHQYDVR0OBBYEFOKUpn2RQszD13tCk09XuOegwZrGMB8GA1UdIwQYMBaAFOKUpn2RQszD13tCk09XuOegwZrG"
    "MAwGA1UdEwEB/wQCMAAwCgYIKoZIzj0EAwIDSAAwRQIgUPuKu4JYWKHdF7Cw46nQpeBcUN1YRTJxuCKopKG3By4CIQCe7jcT"
    "RnnKv34Ph8WO2tRpgVp+TLJOShYVTL5YcXSFYA==";
inline constexpr const char* legacy_v1_ca =
    "MIIBJTCBywIUX1b9oFRejXuJXIZ2hrz2vyrXerswCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJTGVnYWN5IENBMCAXDTI2MTIw"
    "NzA0NDcxM1oYDzIxMjYxMTEzMDQ0NzEzWjAUMRIwEAYDVQQDDAlMZWdhY3kgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC"
    "AASAZGQQ6YnkahQKcFtzf0fPN4JfrKzSsrnG6d9avVXqyfR8ljDdd5kCWesIQ2nOOrCbLfVg0Or3ElM8YAoZdPIKMAoGCCqG"
    "SM49BAMCA0kAMEYCIQCH6CkSyxxHM2ITRbCk/HOWRGjmoOZ5J9gDVYhWL6il+AIhALJM7CVaIalYyHa5W8laBJIS6yZaPnkh"
    "Zwoqg/S34TTj";
inline constexpr const char* legacy_v1_leaf =
    "MIIBKDCBzwIUSCpVNuEm23ZZY5Hc37qhTclvJXAwCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJTGVnYWN5IENBMCAXDTI2MTIw"
    "NzA0NDcxM1oYDzIxMjYxMTEzMDQ0NzEzWjAYMRYwFAYDVQQDDA1sZWdhY3ktZGV2aWNlMFkwEwYHKoZIzj0CAQYIKoZIzj0D"
    "AQcDQgAEYUUPGJKlJse0ynGjhaFfg1ItoZU8aXcpbNjriSIwCqD4Tv1rNnD8kxLL7/ogsGkeXaYSgEdzwXPPn7x5zBFIHTAK"
    "BggqhkjOPQQDAgNIADBFAiEA6aKFTaAoDuI4qLDBb/+1NPKltFMMMWflhZg9joa+MUQCIC8Y3QpoEnrkxDBq/y14x1S57gj9"
    "QBB4bYJpdWvDiKhq";

}  // namespace tern::x509_der::test
