// What a `sobre synth` model holds: the metadata keys and tensors llama.cpp's loader (and ours)
// bind for the shape's architecture, as convert_hf_to_gguf.py writes them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/synth_presets.h"
#include "gguf/quantize.h"
#include "gguf/writer.h"

namespace sobre::cli::synth {

// One tensor to write, in f32 before the type plan; values drawn from N(mean, stddev).
struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;  // ggml order: shape[0] is the row length
    float mean = 0.0f;
    float stddev = 0.0f;
};

// Every tensor of the model, in layer order.
std::vector<TensorSpec> tensor_layout(const Shape& s);

// The architecture's hyper-parameter keys (`<arch>.*`), without general.* or tokenizer.* keys.
void add_model_keys(gguf::Writer& w, const Shape& s);

// What llama-quantize's type rules read from the metadata add_model_keys writes.
gguf::QuantModelFacts quant_facts(const Shape& s);

}  // namespace sobre::cli::synth
