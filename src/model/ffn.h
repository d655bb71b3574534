// Dense SwiGLU feed-forward block: down(silu(gate x) * up x).
#pragma once

#include <string_view>

#include "core/thread_pool.h"
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

}  // namespace sobre::model
