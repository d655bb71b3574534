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

// Floats of 64-byte-aligned scratch attend() needs for these sizes.
int64_t attend_scratch_floats(int64_t n_q, int64_t n_keys, int64_t head_dim_k, int64_t head_dim_v);

// Runs the attention of `a` with the kernels of `k` (the ISA's tiled kernel when it has one, else
// per-row dot products and axpys of the same table). REQUIRES: scratch holds
// attend_scratch_floats(...) floats, 64-byte aligned. Never throws.
void attend(const AttnArgs& a, float* scratch, const CpuKernels& k = cpu_kernels());

}  // namespace sobre::kernels
