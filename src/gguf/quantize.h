// `sobre quantize`: rewrites a GGUF model with its weights in a smaller type. Each tensor's
// type is chosen by llama-quantize's rules (llama.cpp src/llama-quant.cpp), and the
// conversions are ggml's reference ones (importance-weighted with an imatrix), so the output is
// byte-identical to llama-quantize's for the same input, type and imatrix file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "gguf/reader.h"

namespace sobre::gguf {

// A type name `sobre quantize` accepts ("Q4_K_M"): a llama.cpp file type.
struct QuantTarget {
    std::string_view name;
    uint32_t ftype;  // llama.cpp's LLAMA_FTYPE_* value; written to general.file_type
    DType base;      // the type of the weight matrices no rule gives another type
};

// Every accepted name, aliases included (Q3_K = Q3_K_M, Q4_K = Q4_K_M, Q5_K = Q5_K_M).
std::span<const QuantTarget> quant_targets();
// Case-insensitive, as llama-quantize. Throws Error(kInvalidArgument) listing the valid names.
const QuantTarget& find_quant_target(std::string_view name);

// One tensor of the output.
struct TensorPlan {
    const TensorInfo* in;  // the input tensor (points into the File)
    DType type;            // its type in the output
};

// The output's tensors in llama-quantize's order (by layer, then name) with the type each
// gets. `has_imatrix` changes one rule (Q4_0/Q5_0 give the first eighth of the ffn_down
// layers Q4_1/Q5_1). Throws Error for a tensor the rules cannot place: an expert tensor whose
// name has no layer, or a row length no fallback type fits.
std::vector<TensorPlan> plan_quantization(const File& in, const QuantTarget& target, bool has_imatrix = false);

// The model facts the rules read; llama.cpp takes them from its loaded hyper-parameters.
struct QuantModelFacts {
    std::string arch;   // general.architecture
    int n_layer = 0;    // <arch>.block_count
    int n_expert = 0;   // <arch>.expert_count (0: dense)
    int n_head = 0;     // <arch>.attention.head_count (of layer 0)
    int n_head_kv = 0;  // <arch>.attention.head_count_kv (of layer 0); n_head when the key is absent
};

// plan_quantization for tensors described without a file (`sobre synth` plans the model it is
// about to write): names, shapes (ne) and current types come from `tensors`, and the plan's
// `in` pointers point into it. plan_quantization(in) is plan_tensors(facts of in, in.tensors()).
std::vector<TensorPlan> plan_tensors(const QuantModelFacts& facts, const std::vector<TensorInfo>& tensors,
                                     const QuantTarget& target, bool has_imatrix = false);

struct QuantizeProgress {
    size_t index;  // 0-based position in the output
    size_t count;
    const TensorInfo* tensor;
    DType to;
};

struct QuantizeOptions {
    int threads = 1;
    bool allow_requantize = false;  // allow converting tensors that are already quantized
    // Importance matrix (llama-imatrix's GGUF format, gguf/imatrix.h); empty: none. The path is
    // also written to quantize.imatrix.file, as llama-quantize writes the argument it was given.
    std::string imatrix;
    std::function<void(const QuantizeProgress&)> progress;  // called as each tensor starts
};

struct QuantizeSummary {
    size_t tensors = 0;      // tensors written
    size_t converted = 0;    // of which converted to another type
    uint64_t in_bytes = 0;   // tensor data read
    uint64_t out_bytes = 0;  // tensor data written (without alignment padding)
};

// Quantizes in_path to out_path, one tensor at a time (memory stays near a chunk of rows),
// through a temporary file renamed into place, so a failure leaves nothing behind. Every check
// that can be made up front is made before anything is written: the type name, the imatrix
// (readable, and made for this model: an entry whose size differs from its tensor's is an
// error, as is an imatrix none of whose entries names a tensor being quantized), requantizing
// without allow_requantize, tensor types it cannot read. Throws Error.
QuantizeSummary quantize_file(const std::string& in_path, const std::string& out_path,
                              std::string_view type, const QuantizeOptions& options);

}  // namespace sobre::gguf
