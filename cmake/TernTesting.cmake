# Test helpers shared by every CMakeLists.txt of the tree (included when TERN_BUILD_TESTS).
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
