// Shared helpers for the tokenizer tests: fixture paths and the vocabularies, loaded once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace sobre::tokenizer::testing {

// The six vocabularies of ../shared/fixtures/vocab, by NAME of ggml-vocab-NAME.gguf.
inline constexpr std::string_view kVocabNames[] = {"llama-spm",      "phi-3", "deepseek-llm",
                                                   "deepseek-coder", "gpt-2", "starcoder"};

std::string fixtures_dir();
std::string vocab_path(std::string_view name);
// The tokenizer of ggml-vocab-NAME.gguf, built on first use and kept for the process.
const Tokenizer& vocab(std::string_view name);
// Whole file as bytes. Fails the test (ADD_FAILURE) and returns "" if it cannot be read.
std::string read_file(const std::string& path);

// True when `s` is whole, well-formed UTF-8 characters (no overlongs, surrogates or cut
// sequences). Written here independently of the library's own check.
bool whole_utf8(const std::string& s);

// The records of a .inp file (split on "\n__ggml_vocab_test__\n") and the ids of each line
// of the matching .out file.
std::vector<std::string> read_inp(const std::string& path);
std::vector<std::vector<int32_t>> read_out(const std::string& path);

}  // namespace sobre::tokenizer::testing
