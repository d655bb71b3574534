// Attention of a group of queries over one KV head of an f16 cache.
#pragma once

#include <cstdint>

#include "kernels/cpu/kernel_table.h"

namespace sobre::kernels {

// One call's work: n_q queries that all read the same KV head. Query i attends to keys
// [0, n_ctx[i]) and gets softmax(q_i . K^T * scale) . V, with q_i and the softmax weights rounded
// to f16 for the two products and everything accumulated in f32 (llama.cpp's non-flash CPU path,
// whose logits the golden tests compare against).
struct AttnArgs {
    int64_t head_dim_k = 0;
    int64_t head_dim_v = 0;              // <= head_dim_k when V lives inside the K rows
    int64_t n_keys = 0;                  // every n_ctx[i] <= n_keys
    const uint16_t* const* k = nullptr;  // k[j]: key j's head_dim_k f16 values
    const uint16_t* const* v = nullptr;  // v[j]: value j's head_dim_v f16 values
    int64_t n_q = 0;
    const float* const* q = nullptr;  // q[i]: query i (head_dim_k floats)
    const int64_t* n_ctx = nullptr;   // n_ctx[i] >= 1
    float scale = 1.0f;               // applied to the scores inside the softmax
    float* const* out = nullptr;      // out[i]: head_dim_v floats, overwritten
};

// Queries a tiled attend() takes per pass for calls over n_keys keys: their scores (queries x
// keys floats, ~256 KiB) stay in L2 across the passes, and the scratch stays bounded however many
// queries a prefill batch brings (a 512-token batch over 32K keys would otherwise need 8 query
// heads x 512 x 32K scores, 512 MiB, per KV head). The two-pass softmax is kept rather than an
// online one because it reproduces the reference's non-flash numbers: an online softmax (weights
// rounded to f16 before the final max and sum are known) moved deepseek2-v3's logits outside the
// fixture band (37 of 40 positions within 0.03, 39 needed). A multiple of 16, at least 16.
int64_t attend_query_chunk(int64_t n_keys);

// Floats of 64-byte-aligned scratch attend() needs for these sizes.
int64_t attend_scratch_floats(int64_t n_q, int64_t n_keys, int64_t head_dim_k, int64_t head_dim_v);

// Runs the attention of `a` with the kernels of `k` (the ISA's tiled kernel when it has one, else
// per-row dot products and axpys of the same table). REQUIRES: scratch holds
// attend_scratch_floats(...) floats, 64-byte aligned. Never throws.
void attend(const AttnArgs& a, float* scratch, const CpuKernels& k = cpu_kernels());

}  // namespace sobre::kernels
