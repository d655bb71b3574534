// A loaded model: architecture facts, bound weights and the forward pass.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "core/thread_pool.h"
#include "gguf/reader.h"
#include "kernels/cpu/ops.h"
#include "model/batch.h"

namespace sobre::model {

// Facts about a loaded model that callers (CLI, runtime, server) need.
struct ModelInfo {
    std::string arch;            // general.architecture
    std::string name;            // general.name, if present
    int64_t n_vocab = 0;
    int64_t n_ctx_train = 0;
    int64_t n_embd = 0;
    KvLayout kv;
    // f16 values per token and layer an uncompressed multi-head cache would need (K and V of every
    // head); equals k_width + v_width except for compressed caches such as MLA's latent.
    int64_t kv_mha_values_per_token = 0;
    // Hyper-parameters as (name, value) pairs in reading order, for `inspect`.
    std::vector<std::pair<std::string, std::string>> hparams;
};

class Model {
   public:
    virtual ~Model() = default;

    const ModelInfo& info() const { return info_; }
    const gguf::File& file() const { return *file_; }

    // Runs the batch through the model, appending each token's K/V to `kv` at its position,
    // and writes the logits of every token whose `logits` flag is set to `out`
    // ([n_outputs][n_vocab], batch order). Throws Error(kInvalidArgument) for a token id out of
    // range and Error(kResourceExhausted) for a position beyond the cache.
    void forward(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out);

   protected:
    explicit Model(std::shared_ptr<const gguf::File> file) : file_(std::move(file)) {}
    // The architecture's forward; inputs are already validated.
    virtual void forward_impl(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) = 0;

    ModelInfo info_;
    std::shared_ptr<const gguf::File> file_;
};

struct LoadOptions {};

// Math an architecture needs that cannot be seen from its tensors.
enum ArchFlag : uint32_t {
    kQkNorm = 1u << 0,           // RMSNorm on each q/k head before RoPE (attn_q_norm/attn_k_norm required)
    kQkNormMaybe = 1u << 1,      // kQkNorm when the file has the norm tensors (glm4moe)
    kQkNormFull = 1u << 2,       // RMSNorm over all q (k) heads together (minimax-m2)
    kPostAttnFfnNorm = 1u << 3,  // the pre-FFN norm is blk.N.post_attention_norm (glm4moe)
    kSigmoidGating = 1u << 4,    // MoE gating defaults to sigmoid when expert_gating_func is absent
    kMoeNormForced = 1u << 5,    // MoE weights are always renormalised (reference hard-wires it)
    kMoeReadsScale = 1u << 6,    // MoE weights are scaled by expert_weights_scale
    kMoeBiasRequired = 1u << 7,  // MoE layers must have exp_probs_b (selection bias)
    kOutputRequired = 1u << 8,   // no tied-embedding fallback for output.weight
};

// One row per supported GGUF architecture (model/arch_table.cc is the only registry).
struct ArchSpec {
    std::string_view gguf_name;  // value of general.architecture; stable, never renamed
    // Reads hparams, binds tensors, returns the model. Defined in the family's file.
    std::unique_ptr<Model> (*load)(const ArchSpec&, std::shared_ptr<const gguf::File>, const LoadOptions&);
    kernels::RopeStyle rope;  // how this architecture pairs rotated dims (llama_model_rope_type)
    uint32_t flags;           // ArchFlag bits: math that cannot be seen from the tensors
};

const ArchSpec* find_arch(std::string_view gguf_name);  // nullptr: unsupported
std::span<const ArchSpec> all_archs();
std::string supported_arch_list();  // "llama, qwen2, qwen3"

// Opens a GGUF file and loads the model it holds. Throws Error naming the file and what is wrong
// (missing file, not GGUF, unsupported architecture with the supported list, bad tensor).
std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& options = {});

}  // namespace sobre::model
