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

# A fuzz target beside the parser it attacks (`x_fuzz.cc` defines
# LLVMFuzzerTestOneInput), with its seed corpus in testdata/fuzz/NAME/ and
# the inputs that once crashed it in testdata/fuzz/NAME-crashes/:
#   firebreak_fuzz_target(NAME note_fuzz SRCS note_fuzz.cc DEPS firebreak::ledger)
# With FIREBREAK_FUZZ (clang) it is a libFuzzer binary; otherwise it links a
# replay main and `ctest` runs every file of both folders through it (and CI
# runs them again under ASan and UBSan).
function(firebreak_fuzz_target)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  set(corpus ${CMAKE_CURRENT_SOURCE_DIR}/testdata/fuzz/${ARG_NAME})
  if(FIREBREAK_FUZZ)
    add_executable(${ARG_NAME} ${ARG_SRCS})
    target_link_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${ARG_NAME} ${ARG_SRCS} ${PROJECT_SOURCE_DIR}/src/base/testing/fuzz_replay_main.cc)
    add_test(NAME ${ARG_NAME}_replay COMMAND ${ARG_NAME} ${corpus} ${corpus}-crashes)
  endif()
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  target_compile_definitions(${ARG_NAME} PRIVATE FIREBREAK_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
endfunction()
