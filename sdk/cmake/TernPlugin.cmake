# tern_add_plugin(<name> SOURCES <src>... [LIBRARIES <lib>...])
#
# Builds libtern-<name>.so: a MODULE library with hidden visibility that exports only
# tern_plugin_entry (linker version script), refuses undefined symbols at link time, and
# lands in TERN_PLUGIN_OUTPUT_DIRECTORY when that is set (the in-tree build sets it to
# build/plugins). The target is called tern-plugin-<name>.
include_guard(GLOBAL)
set(TERN_PLUGIN_MAP "${CMAKE_CURRENT_LIST_DIR}/tern-plugin.map")

function(tern_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "tern_add_plugin(${name}): SOURCES is required")
  endif()
  set(target tern-plugin-${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  if(TARGET tern::sdk)
    target_link_libraries(${target} PRIVATE tern::sdk)
  endif()
  target_link_libraries(${target} PRIVATE ${ARG_LIBRARIES})
  target_compile_features(${target} PRIVATE cxx_std_20)
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    OUTPUT_NAME "tern-${name}"
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON
    LINK_DEPENDS "${TERN_PLUGIN_MAP}")
  if(TERN_PLUGIN_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${TERN_PLUGIN_OUTPUT_DIRECTORY}")
  endif()
  target_link_options(${target} PRIVATE
    "LINKER:--version-script=${TERN_PLUGIN_MAP}" "LINKER:--no-undefined")
endfunction()
