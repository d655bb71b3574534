# `sobre quantize` against llama-quantize's fixture outputs (byte-identical), plus bad input.
# Its own executable so the golden label can be run or skipped on its own; included from
# tests/gguf/CMakeLists.txt.
sobre_test(sobre_quantize_test LABEL golden
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/quantize_test.cc
  LIBS sobre_gguf)
target_compile_definitions(sobre_quantize_test PRIVATE SOBRE_TEST_DATA_DIR="${CMAKE_SOURCE_DIR}/tests/data")
