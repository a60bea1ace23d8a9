# The one place the build chooses its wolfSSL, as the imported target tern::wolfssl. Every
# user links that target: the dtls plugin (DTLS), libs/credential_id (SHA3-256 of device
# certificates) and the embedded core (OTA checksums), so one process never carries two
# different wolfSSL builds.
#
#   TERN_WOLFSSL=bundled (default): the upstream tarball of the wolfssl source package in
#     Debian unstable (at least 5.7.6; bookworm's 5.5.4 lacks DTLS 1.2 Connection ID),
#     built static and PIC with what Tern needs (DTLS 1.2 and 1.3 with Connection ID,
#     static-PSK suites such as PSK-AES128-CCM-8, session export, fast x86-64 P-256,
#     SHA-3). The build runs once per machine and option set, at
#     configure time, into ${TERN_WOLFSSL_CACHE}; later configures and every incremental
#     build just use it. Linked statically into each plugin that needs it, whose version
#     script keeps wolfSSL's symbols private.
#   TERN_WOLFSSL=system: Debian's libwolfssl-dev as installed, the shared library (DTLS 1.2
#     only, no static PSK, no CID); the dtls plugin logs what is missing at start-up.
#
# When the bundled build fails (no network the first time, missing build tools), configure
# warns and the dtls plugin is not built; the hashes of libs/credential_id and the core then
# come from the system library, as with TERN_WOLFSSL=system (no behaviour of theirs depends
# on the choice), so tern::wolfssl exists (or configure stops).
#
# Sets TERN_WOLFSSL_FOUND (tern::wolfssl exists), TERN_WOLFSSL_DTLS_FOUND (the dtls plugin
# can be built) and TERN_WOLFSSL_DESCRIPTION (for the configure log).
include_guard(GLOBAL)

set(TERN_WOLFSSL "bundled" CACHE STRING
  "wolfSSL for the whole build: bundled (Debian unstable's upstream tarball built with DTLS CID/1.3/static PSK, cached) or system (libwolfssl-dev)")
set_property(CACHE TERN_WOLFSSL PROPERTY STRINGS bundled system)

if(DEFINED ENV{TERN_WOLFSSL_CACHE})
  set(tern_wolfssl_cache_default "$ENV{TERN_WOLFSSL_CACHE}")
elseif(DEFINED ENV{XDG_CACHE_HOME})
  set(tern_wolfssl_cache_default "$ENV{XDG_CACHE_HOME}/tern")
else()
  set(tern_wolfssl_cache_default "$ENV{HOME}/.cache/tern")
endif()
set(TERN_WOLFSSL_CACHE "${tern_wolfssl_cache_default}" CACHE PATH
  "Where the bundled wolfSSL is installed once per machine (wolfssl-<version>-<options hash>/)")

# The configure line of the bundled build. Changing anything here gives a new cache entry
# (the hash covers these options and the build script).
set(TERN_WOLFSSL_CONFIGURE_OPTIONS
  --enable-static --disable-shared --with-pic
  --disable-examples --disable-crypttests --disable-benchmark
  --disable-oldtls
  # DTLS 1.2 and 1.3 with Connection ID (RFC 9146 and RFC 9147), the MTU setter
  --enable-dtls --enable-dtls13 --enable-dtlscid --enable-dtls-mtu
  # no ML-KEM: no device stack offers it, and its key share makes a ClientHello span
  # several records, which the stateless cookie exchange reads as one
  --disable-mlkem
  # suites: ECDHE-ECDSA/RSA with AES-GCM/CCM and ChaCha20-Poly1305; PSK incl. static-PSK AES
  --enable-ecc --enable-curve25519 --enable-aesgcm --enable-aesccm --enable-psk
  # fast P-256 (single-precision maths in assembly)
  --enable-sp --enable-sp-asm
  # resumption, device identity hashes, compact idle sessions
  --enable-session-ticket --enable-sha3 --enable-sessionexport
  # MD5: one of the OTA checksum algorithms of the device API (the embedded core)
  --enable-md5
  --enable-maxfragment --enable-sni --enable-extended-master
  # WOLFSSL_STATIC_PSK: PSK-AES128-CCM-8 and friends (RFC 7252's mandatory PSK suite).
  # DTLS_CID_MAX_SIZE: up to 16-byte CIDs (connection_id_length; the default is 2).
  # WOLFSSL_ALWAYS_VERIFY_CB: the verify callback sees every client leaf, so the plugin
  #   keeps the chain and checks validity dates itself.
  # WOLFSSL_ALT_CERT_CHAINS: an untrusted CA certificate in a client's chain is never
  #   added to the server's certificate manager (no growth, no injected trust).
  # WOLFSSL_DTLS_DROP_STATS: records dropped for a bad MAC are counted, so a handshake that
  #   times out after them is reported as a key mismatch (a wrong PSK), not a lost client.
  # MEDIUM_SESSION_CACHE: 1055 server-side sessions for ID-based resumption (tickets scale
  #   without server state).
  "CFLAGS=-O2 -g -DWOLFSSL_STATIC_PSK -DDTLS_CID_MAX_SIZE=16 -DWOLFSSL_ALWAYS_VERIFY_CB -DWOLFSSL_ALT_CERT_CHAINS -DWOLFSSL_DTLS_DROP_STATS -DMEDIUM_SESSION_CACHE")

# AES-NI/AVX paths (chosen at run time by cpuid) exist for x86-64 only.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  list(APPEND TERN_WOLFSSL_CONFIGURE_OPTIONS --enable-intelasm)
endif()

set(TERN_WOLFSSL_FOUND FALSE)
set(TERN_WOLFSSL_DTLS_FOUND FALSE)
set(TERN_WOLFSSL_DESCRIPTION "")

if(NOT TERN_WOLFSSL STREQUAL "bundled" AND NOT TERN_WOLFSSL STREQUAL "system")
  message(FATAL_ERROR "TERN_WOLFSSL must be 'bundled' or 'system', not '${TERN_WOLFSSL}'")
endif()

if(TERN_WOLFSSL STREQUAL "bundled")
  set(work "${CMAKE_BINARY_DIR}/wolfssl-bundled")
  execute_process(
    COMMAND bash "${CMAKE_CURRENT_LIST_DIR}/build-wolfssl.sh" "${work}" "${TERN_WOLFSSL_CACHE}"
            ${TERN_WOLFSSL_CONFIGURE_OPTIONS}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REGEX REPLACE ".*\n" "" prefix "${out}")
  if(rc EQUAL 0 AND EXISTS "${prefix}/lib/libwolfssl.a")
    add_library(tern::wolfssl STATIC IMPORTED GLOBAL)
    set_target_properties(tern::wolfssl PROPERTIES
      IMPORTED_LOCATION "${prefix}/lib/libwolfssl.a"
      INTERFACE_INCLUDE_DIRECTORIES "${prefix}/include"
      INTERFACE_COMPILE_DEFINITIONS "TERN_WOLFSSL_BUNDLED=1"
      INTERFACE_LINK_LIBRARIES "m;Threads::Threads")
    set(TERN_WOLFSSL_FOUND TRUE)
    set(TERN_WOLFSSL_DTLS_FOUND TRUE)
    set(TERN_WOLFSSL_PREFIX "${prefix}" CACHE INTERNAL "")
    set(TERN_WOLFSSL_DESCRIPTION "bundled, ${prefix}")
  else()
    message(WARNING
      "wolfSSL: building the bundled wolfSSL failed, so the dtls plugin is not built (the "
      "certificate hashes and OTA checksums use the system libwolfssl instead).\n"
      "${err}\n"
      "Fix the cause (network access to deb.debian.org; packages autoconf automake libtool), or configure with -DTERN_WOLFSSL=system to use Debian's libwolfssl-dev "
      "everywhere (DTLS 1.2 only, no static PSK, no CID).")
  endif()
endif()

if(NOT TERN_WOLFSSL_FOUND)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(TERN_SYSTEM_WOLFSSL QUIET IMPORTED_TARGET GLOBAL wolfssl)
  endif()
  if(NOT TERN_SYSTEM_WOLFSSL_FOUND)
    message(FATAL_ERROR "wolfSSL: pkg-config finds no wolfssl (Debian package libwolfssl-dev), "
                        "which the certificate hashes need.")
  endif()
  add_library(tern::wolfssl INTERFACE IMPORTED GLOBAL)
  target_link_libraries(tern::wolfssl INTERFACE PkgConfig::TERN_SYSTEM_WOLFSSL)
  set(TERN_WOLFSSL_FOUND TRUE)
  if(TERN_WOLFSSL STREQUAL "system")
    set(TERN_WOLFSSL_DTLS_FOUND TRUE)
  endif()
  set(TERN_WOLFSSL_DESCRIPTION "system libwolfssl ${TERN_SYSTEM_WOLFSSL_VERSION}")
endif()
message(STATUS "wolfSSL: ${TERN_WOLFSSL_DESCRIPTION}")
