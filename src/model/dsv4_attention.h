// DeepSeek-V4 attention: one shared K = V head (MQA) over a sliding window of raw keys plus, per
// layer kind, compressed blocks (CSA: ratio 4, top-k chosen by a lightning indexer; HCA: ratio 128,
// all visible), with per-head sinks, inverse RoPE on the output and a grouped low-rank output.
// ref: ../shared/ARCHITECTURES.md §8.3 (llama.cpp src/models/deepseek4.cpp build_attention_impl).
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/cpu/ops.h"
#include "model/batch.h"
#include "model/dsv4_blocks.h"
#include "model/weights.h"

namespace sobre::model {

struct Dsv4AttnHparams {
    int n_head = 0;       // attention.head_count (H)
    int head_dim = 0;     // attention.key_length = value_length (D) of the single K = V head
    int n_rot = 0;        // rope.dimension_count: RoPE on the LAST n_rot dims of every head
    int q_lora_rank = 0;  // attention.q_lora_rank
    int n_group = 0;      // attention.output_group_count (G): groups of H / G heads
    int group_rank = 0;   // attention.output_lora_rank (R): each group's projection width
    int n_swa = 0;        // attention.sliding_window: raw keys at positions (pos - n_swa, pos]
    float rms_eps = 0;
    kernels::RopeParams rope_raw;   // window-only layers: rope.freq_base, no YaRN
    kernels::RopeParams rope_comp;  // compressed layers, their blocks, indexer queries: YaRN
    BlockIndexerHparams indexer;    // ratio-4 layers

    // Layer state: the window ring (n_swa rows of D f16-exact floats) comes first.
    int64_t window_floats() const { return int64_t{n_swa} * head_dim; }
};

struct Dsv4AttnWeights {
    int ratio = 0;        // attention.compress_ratios[il]: 0 (window only), 4 (CSA) or 128 (HCA)
    TensorView q_a;       // (n_embd, q_lora_rank)
    TensorView q_a_norm;  // f32 (q_lora_rank)
    TensorView q_b;       // (q_lora_rank, H * D)
    TensorView kv;        // (n_embd, D)
    TensorView kv_norm;   // f32 (D)
    TensorView sinks;     // f32 (H): one extra softmax logit per head
    TensorView out_a;     // (H * D / G, R, G): per group (file shape (H * D / G, R * G))
    TensorView out_b;     // (G * R, n_embd)
    CompressorSpec comp_spec;  // ratio > 0: the attention blocks (dim D)
    CompressorWeights comp;
    CompressorSpec ix_spec;  // ratio 4: the indexer keys (dim d_I, Hadamard-rotated)
    CompressorWeights ix_comp;
    BlockIndexerWeights indexer;
};

// out = attention block of layer il for the batch; x is the normed input [T][n_embd].
// Updates the layer's window ring and compressor state and stores completed blocks.
// Throws Error(kInvalidArgument) when a sequence's tokens in the batch are not at consecutive,
// increasing positions (the window and the compressors carry state from token to token).
void dsv4_attention(const Dsv4AttnHparams& hp, const Dsv4AttnWeights& w, int il, const Batch& batch,
                    KvStore& kv, ThreadPool& pool, const float* x, float* out);

}  // namespace sobre::model
