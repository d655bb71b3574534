// Hyper-parameters read from GGUF metadata, with the key names and rules in one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gguf/reader.h"
#include "kernels/cpu/ops.h"

namespace sobre::model {

// Reads `<arch>.<name>` keys of one file; errors name the file, the full key and the value.
class KeyReader {
   public:
    KeyReader(const gguf::File& file, std::string_view arch) : file_(file), arch_(arch) {}

    std::string key(std::string_view name) const { return arch_ + "." + std::string(name); }
    uint32_t u32(std::string_view name) const;  // required
    float f32(std::string_view name) const;  // required
    float f32(std::string_view name, float fallback) const;
    std::optional<std::string> str(std::string_view name) const;
    bool has(std::string_view name) const { return file_.find(key(name)) != nullptr; }
    // Fails with kCorrupt naming the key and value unless lo <= v <= hi.
    void check_range(std::string_view name, int64_t v, int64_t lo, int64_t hi) const;
    // A required (or defaulted) integer key checked against [lo, hi] before any narrowing.
    int64_t int_in(std::string_view name, int64_t lo, int64_t hi) const;
    int64_t int_in(std::string_view name, int64_t lo, int64_t hi, int64_t fallback) const;
    const gguf::File& file() const { return file_; }

   private:
    const gguf::File& file_;
    std::string arch_;
};

// The parameters every attention + FFN transformer family shares (ARCHITECTURES.md §0.2).
struct TransformerHparams {
    int64_t n_ctx_train = 0;  // context_length
    int64_t n_embd = 0;       // embedding_length
    int n_layer = 0;          // block_count (includes appended MTP / nextn blocks)
    int n_layer_nextn = 0;    // nextn_predict_layers: MTP blocks at the end, skipped by the forward
    int64_t n_ff = 0;         // feed_forward_length (dense FFN width)
    int n_head = 0;           // attention.head_count
    int n_head_kv = 0;        // attention.head_count_kv [n_head]
    int head_dim_k = 0;       // attention.key_length [n_embd / n_head]
    int head_dim_v = 0;       // attention.value_length [n_embd / n_head]
    float rms_eps = 0;        // attention.layer_norm_rms_epsilon
    kernels::RopeParams rope; // rope.* (n_dims = rope.dimension_count [head_dim_k])

    // Layers the forward runs (block_count - nextn_predict_layers).
    int n_layer_main() const { return n_layer - n_layer_nextn; }
    // (name, value) pairs for `inspect`.
    std::vector<std::pair<std::string, std::string>> describe() const;
};

// Reads and validates the shared keys. `style` is the family's RoPE pairing.
TransformerHparams read_transformer_hparams(const KeyReader& keys, kernels::RopeStyle style);

}  // namespace sobre::model
