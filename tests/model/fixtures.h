// Access to ../shared/fixtures/models: the reference logits, prompts and greedy continuations
// that llama.cpp produced. Expected numbers come only from these files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sobre::testing {

std::string models_dir();
// Base names ("llama-Q4_K_M") of every fixture model whose architecture sobre supports.
std::vector<std::string> supported_fixture_models();
std::vector<int32_t> read_ids(const std::string& path);
std::vector<float> read_f32(const std::string& path);

}  // namespace sobre::testing
