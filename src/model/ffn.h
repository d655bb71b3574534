// Dense SwiGLU feed-forward block: down(silu(gate x) * up x).
#pragma once

#include <string_view>

#include "core/thread_pool.h"
#include "model/batch.h"
#include "model/moe.h"
#include "model/weights.h"

namespace sobre::model {

struct FfnWeights {
    TensorView gate;  // (n_embd, n_ff)
    TensorView up;    // (n_embd, n_ff)
    TensorView down;  // (n_ff, n_embd)
};

// Binds blk.il.ffn_{gate,up,down}<suffix>.weight ("" for dense, "_shexp" for shared experts).
FfnWeights bind_ffn(Binder& b, int il, int64_t n_embd, int64_t n_ff, std::string_view suffix = "",
                    std::string_view why = {});

// out = down(silu(gate x) * up x) for n_tokens rows of x.
void ffn_swiglu(const FfnWeights& w, const float* x, int64_t n_tokens, float* out, ThreadPool& pool);

// The FFN of one layer: a dense SwiGLU, or routed experts plus optional shared experts.
struct FfnLayer {
    bool is_moe = false;
    FfnWeights dense;  // dense layers (n_ff)
    MoeWeights moe;    // MoE layers
    FfnWeights shexp;  // shared experts (n_ff_exp * n_shared); empty when there are none
};

// Binds layer il's FFN: MoE when the file has experts and il >= leading_dense_block_count.
FfnLayer bind_ffn_layer(Binder& b, int il, int64_t n_embd, int64_t n_ff, const MoeHparams& mh, bool bias_required);

// out = FFN(x) for n_tokens rows: experts (summed in selection order) plus shared experts.
void ffn_layer_forward(const FfnLayer& l, const MoeOptions& opt, const float* x, int64_t n_tokens, float* out,
                       ThreadPool& pool);

// The final norm and projection to the vocabulary.
struct OutputHead {
    TensorView norm;    // (n_embd) f32
    TensorView output;  // (n_embd, n_vocab)
    TensorView bias;    // optional (n_vocab)
};

// Logits of the batch rows that asked for them, in batch order: out is [n_outputs][n_vocab].
void output_logits(const OutputHead& head, const Batch& batch, const float* x, int64_t n_embd, float eps,
                   ThreadPool& pool, float* out);

}  // namespace sobre::model
