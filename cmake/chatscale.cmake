# Helpers shared by every layer: warnings, sanitizers, embedded data files and unit tests.

if(CHATSCALE_SANITIZE)
  # GCC 12 reports false maybe-uninitialized warnings inside libstdc++ (std::regex, std::function)
  # once the sanitizers instrument it; the Release build keeps the warning as an error.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
                      $<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized>)
  add_link_options(-fsanitize=address,undefined)
endif()

# Project code builds with warnings as errors; third-party headers come in as SYSTEM includes.
# -Wno-restrict: GCC 12 at -O3 reports impossible overlaps inside std::string (GCC bug 105329).
function(chatscale_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Werror -Wno-restrict>)
endfunction()

# chatscale_embed(<target> <symbol> <file>): compiles <file> into <target> as
# `std::string_view <symbol>()` in namespace chatscale::embedded, so data ships inside the binary.
# The source is generated at configure time (so it works from any subdirectory that adds sources to a
# target defined elsewhere); editing <file> re-runs the configure step.
function(chatscale_embed target symbol file)
  set(IN ${file})
  set(OUT ${CMAKE_CURRENT_BINARY_DIR}/embedded_${symbol}.cc)
  set(SYMBOL ${symbol})
  include(${PROJECT_SOURCE_DIR}/cmake/embed_file.cmake)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${file})
  target_sources(${target} PRIVATE ${OUT})
endfunction()

# chatscale_add_test(<name> SOURCES ... [LIBS ...] [LABELS ...]): one GoogleTest binary, its tests
# registered one by one with CTest.
function(chatscale_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  chatscale_warnings(${name})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_compile_definitions(${name} PRIVATE CHATSCALE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES LABELS "${T_LABELS}"
    DISCOVERY_TIMEOUT 60)
endfunction()
