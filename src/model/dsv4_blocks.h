// DeepSeek-V4 compressed attention blocks: the softmax-gated compressors that turn every `ratio`
// tokens of a layer into one key (CSA: ratio 4, overlapping; HCA: ratio 128), their ring-buffer
// state, the compact f16 storage of the blocks, and the lightning indexer over CSA blocks.
// ref: ../shared/ARCHITECTURES.md §8.3 (llama.cpp src/models/deepseek4.cpp
// build_overlap_compressed_kv_from_state, build_hca_compressed_kv_from_state, build_lid_top_k;
// src/llama-kv-cache-dsv4.cpp).
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/cpu/ops.h"
#include "model/attention.h"
#include "model/batch.h"
#include "model/weights.h"

namespace sobre::model {

struct CompressorWeights {
    TensorView kv;    // (n_embd, c * dim): per-token values, c = 2 for ratio 4, else 1
    TensorView gate;  // (n_embd, c * dim): per-token scores
    TensorView ape;   // (c * dim, ratio): score bias by position inside the block
    TensorView norm;  // f32 (dim): RMSNorm weight of the block
};

// Where one compressor of a layer keeps its state and its blocks.
//
// Blocks are packed into the sequence's K rows so that a block costs `dim` f16 values (not a row
// per block): the layer's block b (`block_width` values, all its compressors together) fills the
// rows of its own tokens, positions ratio * b .. ratio * b + ratio - 1, `row_width` values each
// (row_width * ratio >= block_width). So every value sits in a row the sequence already backs when
// the block completes, and a row only ever holds the block of the tokens at its position.
struct CompressorSpec {
    int ratio = 0;             // tokens per block: 4 (overlapping, c = 2) or 128 (c = 1)
    int dim = 0;               // values per block
    int64_t ring_offset = 0;   // floats into the layer's state where the (kv, score) ring starts
    int64_t block_width = 0;   // packed values per block of the layer
    int64_t block_offset = 0;  // this compressor's values inside a packed block
    int64_t row_width = 0;     // packed values per K row (the cache's k_width)
    float rms_eps = 0;
    bool hadamard = false;  // rotate the block by the dim x dim Hadamard matrix (indexer keys)
    int n_rot = 0;          // RoPE on the last n_rot values, at the block's first position
    kernels::RopeParams rope;

    int channels() const { return ratio == 4 ? 2 * dim : dim; }
    int ring_slots() const { return ratio == 4 ? 8 : ratio; }  // the previous and current block
    int64_t ring_floats() const { return ring_floats(ratio, dim); }
    // (kv, score) rows of every token still needed to finish the next block.
    static int64_t ring_floats(int ratio, int dim) {
        return int64_t{ratio == 4 ? 8 : ratio} * 2 * (ratio == 4 ? 2 * dim : dim);
    }
};

// Feeds the batch's tokens through the compressor: each token's (kv, score) row goes to its
// sequence's ring, and the token that completes a block builds it (per channel softmax over its
// candidates, RMSNorm, RoPE, optional Hadamard) and stores it, f16, in the packed K rows.
// REQUIRES: within the batch, each sequence's tokens come in increasing position order and
// continue where the sequence's previous call stopped (the ring holds the tokens before).
//   x: [T][n_embd] the layer's attention input (normed)
void compress(const CompressorSpec& spec, const CompressorWeights& w, int il, const Batch& batch,
              KvStore& kv, ThreadPool& pool, const float* x);

// Block b of `spec` (dim values, f16-exact floats) from a sequence's K rows.
void read_block(const CompressorSpec& spec, const KvSeqView& view, int64_t b, float* out);

// Blocks visible from position `pos`: a block is complete once its last token has been seen.
inline int64_t visible_blocks(int ratio, int64_t pos) { return (pos + 1) / ratio; }

struct BlockIndexerHparams {
    int n_head = 0;            // attention.indexer.head_count
    int head_dim = 0;          // attention.indexer.key_length (a power of two)
    int top_k = 0;             // attention.indexer.top_k
    int n_rot = 0;             // RoPE on the last n_rot dims of each query head
    kernels::RopeParams rope;  // the compressed layers' RoPE
};

struct BlockIndexerWeights {
    TensorView wq_b;  // (q_lora_rank, n_head * head_dim): queries from the normed q latent
    TensorView proj;  // (n_embd, n_head): per-head score weights
};

// For every batch token, the CSA blocks its attention reads: all visible blocks while there are
// at most top_k, else the top_k by score[b] = sum_h w_h * max(0, q_h . key_b) (ascending block
// indices in `out`). `keys` is the indexer compressor whose blocks are the keys.
void select_blocks(const BlockIndexerHparams& ip, const BlockIndexerWeights& w,
                   const CompressorSpec& keys, int il, const Batch& batch, KvStore& kv,
                   ThreadPool& pool, const float* x, const float* q_latent, PositionLists& out);

// RoPE (or its inverse) on the last n_rot values of each of n_heads heads of head_dim values.
void rope_last(const kernels::RopeParams& p, int64_t pos, int n_rot, float* x, int n_heads,
               int head_dim, bool inverse = false);

}  // namespace sobre::model
