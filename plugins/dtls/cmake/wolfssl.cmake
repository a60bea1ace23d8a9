# Which wolfSSL the dtls plugin links, as the imported target tern::wolfssl.
#
#   TERN_WOLFSSL=bundled (default): Debian's own wolfssl source package (the installed
#     version, Debian's patches applied), rebuilt static and PIC with what the plugin needs
#     (DTLS 1.3 with Connection ID, static-PSK suites such as PSK-AES128-CCM-8, session
#     export, fast x86-64 P-256). The build runs once per machine and option set, at
#     configure time, into ${TERN_WOLFSSL_CACHE}; later configures and every incremental
#     build just use it. Linked into libtern-dtls.so alone, whose version script keeps
#     wolfSSL's symbols private.
#   TERN_WOLFSSL=system: Debian's libwolfssl-dev as installed (DTLS 1.2 only, no static
#     PSK, no CID); the plugin logs what is missing at start-up.
#
# Sets TERN_WOLFSSL_FOUND (and TERN_WOLFSSL_DESCRIPTION for the configure log).
include_guard(GLOBAL)

set(TERN_WOLFSSL "bundled" CACHE STRING
  "wolfSSL for the dtls plugin: bundled (Debian source rebuilt with DTLS 1.3/CID/static PSK, cached) or system (libwolfssl-dev)")
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
  # DTLS 1.2 and 1.3 with Connection ID (wolfSSL: DTLS 1.3 only, no RFC 9146 for 1.2), the MTU setter
  --enable-dtls --enable-dtls13 --enable-dtlscid --enable-dtls-mtu
  # suites: ECDHE-ECDSA/RSA with AES-GCM/CCM and ChaCha20-Poly1305; PSK incl. static-PSK AES
  --enable-ecc --enable-curve25519 --enable-aesgcm --enable-aesccm --enable-psk
  # fast P-256 (single-precision maths in assembly)
  --enable-sp --enable-sp-asm
  # resumption, device identity hashes, compact idle sessions
  --enable-session-ticket --enable-sha3 --enable-sessionexport
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
set(TERN_WOLFSSL_DESCRIPTION "")

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
  if(NOT rc EQUAL 0 OR NOT EXISTS "${prefix}/lib/libwolfssl.a")
    message(WARNING
      "dtls: building the bundled wolfSSL failed, so the dtls plugin is not built.\n"
      "${err}\n"
      "Fix the cause (network access to deb.debian.org; packages dpkg-dev autoconf automake "
      "libtool), or configure with -DTERN_WOLFSSL=system to use Debian's libwolfssl-dev "
      "(DTLS 1.2 only, no static PSK, no CID).")
    return()
  endif()
  add_library(tern::wolfssl STATIC IMPORTED GLOBAL)
  set_target_properties(tern::wolfssl PROPERTIES
    IMPORTED_LOCATION "${prefix}/lib/libwolfssl.a"
    INTERFACE_INCLUDE_DIRECTORIES "${prefix}/include"
    INTERFACE_COMPILE_DEFINITIONS "TERN_WOLFSSL_BUNDLED=1"
    INTERFACE_LINK_LIBRARIES "m;Threads::Threads")
  set(TERN_WOLFSSL_FOUND TRUE)
  set(TERN_WOLFSSL_PREFIX "${prefix}" CACHE INTERNAL "")
  set(TERN_WOLFSSL_DESCRIPTION "bundled, ${prefix}")
elseif(TERN_WOLFSSL STREQUAL "system")
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(TERN_SYSTEM_WOLFSSL QUIET IMPORTED_TARGET wolfssl)
  endif()
  if(NOT TERN_SYSTEM_WOLFSSL_FOUND)
    message(WARNING "dtls: TERN_WOLFSSL=system but pkg-config finds no wolfssl "
                    "(Debian package libwolfssl-dev); the dtls plugin is not built.")
    return()
  endif()
  add_library(tern::wolfssl INTERFACE IMPORTED GLOBAL)
  target_link_libraries(tern::wolfssl INTERFACE PkgConfig::TERN_SYSTEM_WOLFSSL)
  set(TERN_WOLFSSL_FOUND TRUE)
  set(TERN_WOLFSSL_DESCRIPTION "system libwolfssl ${TERN_SYSTEM_WOLFSSL_VERSION}")
else()
  message(FATAL_ERROR "TERN_WOLFSSL must be 'bundled' or 'system', not '${TERN_WOLFSSL}'")
endif()
