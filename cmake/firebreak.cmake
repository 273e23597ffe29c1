# Helpers that keep every component's CMakeLists.txt to a few lines.
#
#   firebreak_cc_library(NAME policy SRCS lexer.cc parser.cc DEPS firebreak::base)
#   firebreak_cc_test(NAME lexer_test SRCS lexer_test.cc DEPS firebreak::policy)
#   firebreak_cc_benchmark(NAME engine_bench SRCS engine_bench.cc DEPS firebreak::engine)
include(GoogleTest)

function(firebreak_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(firebreak_${ARG_NAME} STATIC ${ARG_SRCS})
  add_library(firebreak::${ARG_NAME} ALIAS firebreak_${ARG_NAME})
  target_include_directories(firebreak_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(firebreak_${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

function(firebreak_cc_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${ARG_NAME} PRIVATE
    FIREBREAK_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    FIREBREAK_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${ARG_NAME} DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "FIREBREAK_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

function(firebreak_cc_benchmark)
  if(NOT FIREBREAK_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} benchmark::benchmark)
  target_compile_definitions(${ARG_NAME} PRIVATE FIREBREAK_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
endfunction()
