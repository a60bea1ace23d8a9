# Test helpers shared by every CMakeLists.txt of the tree (the fuzz targets' replay binaries
# are built with or without TERN_BUILD_TESTS, so this file is always included).
include_guard(GLOBAL)

# tern_catch_labels(<test list variable> <label>...)
#
# Gives every test that catch_discover_tests(... TEST_LIST <variable>) registered the labels
# given. catch_discover_tests hands its PROPERTIES on as one flat list, so
# `PROPERTIES LABELS "coap;security"` reaches ctest as `LABELS coap` plus a stray property
# named `security`; the labels are therefore set by a file ctest includes after the
# discovered tests:
#
#   catch_discover_tests(coap_engine_flood_test TEST_PREFIX "coap_engine_flood: "
#     TEST_LIST coap_engine_flood_TESTS)
#   tern_catch_labels(coap_engine_flood_TESTS coap security)
function(tern_catch_labels test_list)
  if(NOT ARGN)
    message(FATAL_ERROR "tern_catch_labels(${test_list}): no labels given")
  endif()
  list(JOIN ARGN ";" labels)
  set(file ${CMAKE_CURRENT_BINARY_DIR}/${test_list}_labels.cmake)
  file(WRITE ${file}
    "foreach(t IN LISTS ${test_list})\n"
    "  set_tests_properties(\"\${t}\" PROPERTIES LABELS \"${labels}\")\n"
    "endforeach()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${file})
endfunction()

# tern_add_fuzz_target(NAME <name> HARNESS <file.cpp> CORPUS <dir>
#   [LIBRARIES <lib>...] [INCLUDES <dir>...] [SANITIZE_SOURCES_OF <target>...]
#   [SYSTEM_INCLUDES <dir>...] [LABELS <label>...] [REPLAY_TEST <test name>]
#   [UBSAN_SUPPRESSIONS <file> UBSAN_RECOVER <check>...] [MAX_LEN <bytes>]
#   [RSS_LIMIT_MB <mb>] [TIMEOUT <seconds>])
#
# One fuzz entry point (HARNESS, defining LLVMFuzzerTestOneInput) built the ways the tree
# uses it:
# - always: `<name>_fuzz_replay`, the harness linked against LIBRARIES (the ordinary build of
#   the code under test) and tests/support/fuzz_replay_main.cpp, with the test of the same
#   name (or REPLAY_TEST) replaying CORPUS, so every seed and past crash is a regression test
#   with any compiler;
# - TERN_FUZZ with clang: `<name>_fuzz`, the libFuzzer binary. The sources of the
#   SANITIZE_SOURCES_OF targets are compiled into it again, instrumented, with their include
#   directories and definitions; what those targets link (less each other) is linked as is.
#   `<name>_fuzz_bounded` runs it for TERN_FUZZ_SECONDS on a copy of CORPUS made by the
#   fixture `<name>_fuzz_corpus_copy` (libFuzzer adds what it finds to its first corpus
#   directory, never the checked-in seeds), crash files written to the build directory.
#   MAX_LEN, RSS_LIMIT_MB (default 1024) and TIMEOUT (seconds one input may take) are
#   libFuzzer's limits. UBSAN_SUPPRESSIONS hands the harness the file as
#   TERN_FUZZ_UBSAN_SUPPRESSIONS (for its __ubsan_default_options); the checks it skips must
#   be named in UBSAN_RECOVER, since only a recoverable report can be suppressed.
# tools/dev.sh finds the `*_fuzz` targets and the `*_fuzz_bounded` tests by these names.
if(NOT DEFINED TERN_FUZZ_SECONDS)
  set(TERN_FUZZ_SECONDS 20 CACHE STRING "Seconds each bounded fuzzing test runs")
endif()

function(tern_add_fuzz_target)
  cmake_parse_arguments(PARSE_ARGV 0 arg
    "" "NAME;HARNESS;CORPUS;REPLAY_TEST;UBSAN_SUPPRESSIONS;MAX_LEN;RSS_LIMIT_MB;TIMEOUT"
    "LIBRARIES;INCLUDES;SANITIZE_SOURCES_OF;SYSTEM_INCLUDES;LABELS;UBSAN_RECOVER")
  if(arg_UNPARSED_ARGUMENTS OR NOT arg_NAME OR NOT arg_HARNESS OR NOT arg_CORPUS)
    message(FATAL_ERROR "tern_add_fuzz_target: NAME, HARNESS and CORPUS are required "
      "(unknown: ${arg_UNPARSED_ARGUMENTS})")
  endif()
  get_filename_component(corpus "${arg_CORPUS}" ABSOLUTE)
  set(fuzz ${arg_NAME}_fuzz)

  if(NOT TARGET tern_fuzz_replay_main)
    add_library(tern_fuzz_replay_main STATIC ${PROJECT_SOURCE_DIR}/tests/support/fuzz_replay_main.cpp)
  endif()
  add_executable(${fuzz}_replay ${arg_HARNESS})
  target_link_libraries(${fuzz}_replay PRIVATE tern_fuzz_replay_main ${arg_LIBRARIES})
  target_include_directories(${fuzz}_replay PRIVATE ${arg_INCLUDES})
  target_include_directories(${fuzz}_replay SYSTEM PRIVATE ${arg_SYSTEM_INCLUDES})
  if(TERN_BUILD_TESTS)
    set(replay_test ${fuzz}_replay)
    if(arg_REPLAY_TEST)
      set(replay_test ${arg_REPLAY_TEST})
    endif()
    add_test(NAME ${replay_test} COMMAND ${fuzz}_replay ${corpus})
    set_tests_properties(${replay_test} PROPERTIES TIMEOUT 120)
    if(arg_LABELS)
      set_tests_properties(${replay_test} PROPERTIES LABELS "${arg_LABELS}")
    endif()
  endif()

  if(NOT TERN_FUZZ)
    return()
  endif()
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(WARNING "TERN_FUZZ needs clang: ${fuzz} is not built with ${CMAKE_CXX_COMPILER_ID}")
    return()
  endif()
  set(sources ${arg_HARNESS})
  set(includes ${arg_INCLUDES})
  set(libs)
  set(depends)
  foreach(t IN LISTS arg_SANITIZE_SOURCES_OF)
    get_target_property(dir ${t} SOURCE_DIR)
    get_target_property(t_sources ${t} SOURCES)
    foreach(s IN LISTS t_sources)
      if(NOT IS_ABSOLUTE "${s}")
        set(s "${dir}/${s}")
      endif()
      list(APPEND sources "${s}")
      # a generated source (efento's message classes) comes from the target's own build
      get_source_file_property(generated "${s}" TARGET_DIRECTORY ${t} GENERATED)
      if(generated)
        list(APPEND depends ${t})
      endif()
    endforeach()
    foreach(p INCLUDE_DIRECTORIES COMPILE_DEFINITIONS LINK_LIBRARIES)
      get_target_property(v ${t} ${p})
      if(v)
        list(APPEND ${p} ${v})
      endif()
    endforeach()
  endforeach()
  # What the instrumented targets link, less those targets themselves (by name or alias).
  foreach(l IN LISTS LINK_LIBRARIES)
    set(real ${l})
    if(TARGET ${l})
      get_target_property(aliased ${l} ALIASED_TARGET)
      if(aliased)
        set(real ${aliased})
      endif()
    endif()
    if(NOT real IN_LIST arg_SANITIZE_SOURCES_OF)
      list(APPEND libs ${l})
    endif()
  endforeach()
  list(REMOVE_DUPLICATES sources)
  list(REMOVE_DUPLICATES libs)

  set(flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
  foreach(check IN LISTS arg_UBSAN_RECOVER)
    list(APPEND flags -fsanitize-recover=${check})
  endforeach()
  add_executable(${fuzz} ${sources})
  if(depends)
    list(REMOVE_DUPLICATES depends)
    add_dependencies(${fuzz} ${depends})
  endif()
  target_include_directories(${fuzz} PRIVATE ${includes} ${INCLUDE_DIRECTORIES})
  target_include_directories(${fuzz} SYSTEM PRIVATE ${arg_SYSTEM_INCLUDES})
  target_compile_definitions(${fuzz} PRIVATE ${COMPILE_DEFINITIONS})
  if(arg_UBSAN_SUPPRESSIONS)
    get_filename_component(supp "${arg_UBSAN_SUPPRESSIONS}" ABSOLUTE)
    target_compile_definitions(${fuzz} PRIVATE TERN_FUZZ_UBSAN_SUPPRESSIONS="${supp}")
  endif()
  target_link_libraries(${fuzz} PRIVATE ${libs})
  target_compile_options(${fuzz} PRIVATE ${flags} -fno-omit-frame-pointer)
  target_link_options(${fuzz} PRIVATE ${flags})

  if(NOT TERN_BUILD_TESTS)
    return()
  endif()
  set(corpus_copy ${CMAKE_CURRENT_BINARY_DIR}/${fuzz}-corpus)
  add_test(NAME ${fuzz}_corpus_copy
    COMMAND ${CMAKE_COMMAND} -E copy_directory ${corpus} ${corpus_copy})
  set_tests_properties(${fuzz}_corpus_copy PROPERTIES FIXTURES_SETUP ${fuzz}_corpus)
  set(limits -max_total_time=${TERN_FUZZ_SECONDS})
  if(arg_RSS_LIMIT_MB)
    list(APPEND limits -rss_limit_mb=${arg_RSS_LIMIT_MB})
  else()
    list(APPEND limits -rss_limit_mb=1024)
  endif()
  if(arg_MAX_LEN)
    list(APPEND limits -max_len=${arg_MAX_LEN})
  endif()
  if(arg_TIMEOUT)
    list(APPEND limits -timeout=${arg_TIMEOUT})
  endif()
  add_test(NAME ${fuzz}_bounded
    COMMAND ${fuzz} ${limits} -artifact_prefix=${CMAKE_CURRENT_BINARY_DIR}/ ${corpus_copy})
  # room for the run itself, the corpus loading and a loaded machine
  math(EXPR ctest_timeout "${TERN_FUZZ_SECONDS} * 2 + 580")
  set_tests_properties(${fuzz}_bounded PROPERTIES
    FIXTURES_REQUIRED ${fuzz}_corpus TIMEOUT ${ctest_timeout})
  if(arg_LABELS)
    set_tests_properties(${fuzz}_bounded PROPERTIES LABELS "${arg_LABELS}")
  endif()
endfunction()
