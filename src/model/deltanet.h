// Gated DeltaNet (linear attention with a delta-rule memory), the recurrent layer of the
// Qwen3.5 / Qwen3.5-MoE / Qwen3-Next hybrids. Per sequence and layer it keeps a fixed-size f32
// state: the last d_conv - 1 inputs of the causal conv and one dk x dv matrix per value head.
// Decode updates the matrices token by token (the recurrence); prefill uses the chunked form,
// which is the same math regrouped into matrix products (tests hold the two together).
// ref: ../shared/ARCHITECTURES.md §5.3 "DeltaNet" steps 1-10 (llama.cpp delta-net-base.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "model/batch.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace sobre::model {

// Which key head a value head reads (cannot be seen from the tensors; set per architecture).
enum class HeadBroadcast : uint8_t {
    kTiled,        // value head j uses key head j mod nk (qwen35*: the converter reordered v heads)
    kInterleaved,  // value head j uses key head j / (nv / nk) (qwen3next: HF order)
};

// How the beta and alpha projections are stored.
enum class BetaAlphaLayout : uint8_t {
    kSeparate,  // ssm_beta (n_embd, nv) and ssm_alpha (n_embd, nv)
    kFused,  // ssm_ba (n_embd, 2 nv): per key head g, [beta of its r value heads | alpha of them]
};

struct DeltaNetHparams {
    int d_conv = 0;     // ssm.conv_kernel: taps of the causal depthwise conv
    int n_k_heads = 0;  // ssm.group_count: key (and query) heads
    int n_v_heads = 0;  // ssm.time_step_rank: value heads; a multiple of n_k_heads
    int head_dim = 0;   // ssm.state_size: key head dim = value head dim
    float eps = 0;      // attention.layer_norm_rms_epsilon: gated RMSNorm and q/k L2 norm
    HeadBroadcast broadcast = HeadBroadcast::kTiled;
    BetaAlphaLayout beta_alpha = BetaAlphaLayout::kSeparate;
    int chunk_size = 64;  // prefill chunk length (llama.cpp's CS for scalar decay)

    int64_t key_dim() const { return int64_t{n_k_heads} * head_dim; }
    int64_t value_dim() const { return int64_t{n_v_heads} * head_dim; }
    int64_t conv_dim() const { return 2 * key_dim() + value_dim(); }  // q, k, v channels
    int key_head_of(int v_head) const {
        return broadcast == HeadBroadcast::kTiled ? v_head % n_k_heads
                                                  : v_head / (n_v_heads / n_k_heads);
    }
    // f32 values of one layer's state per sequence: a position counter, the conv state
    // [d_conv - 1][conv_dim] (oldest row first) and the delta-rule matrices [nv][dk][dv].
    int64_t conv_state_values() const { return int64_t{d_conv - 1} * conv_dim(); }
    int64_t delta_state_values() const { return value_dim() * head_dim; }
    int64_t state_values() const { return 1 + conv_state_values() + delta_state_values(); }
};

// Reads the ssm.* keys and checks they agree with each other. `hp` gives the RMS eps.
DeltaNetHparams read_deltanet_hparams(const KeyReader& keys, const TransformerHparams& hp,
                                      HeadBroadcast broadcast, BetaAlphaLayout beta_alpha);

struct DeltaNetWeights {
    TensorView qkv;      // (n_embd, conv_dim): all q heads, then all k heads, then all v heads
    TensorView gate;     // (n_embd, value_dim): z, value-head-major
    TensorView conv1d;   // f32 (d_conv, conv_dim): tap d_conv - 1 multiplies the newest input
    TensorView dt_bias;  // f32 (nv)
    TensorView a;        // f32 (nv): -exp(A_log), already negative
    TensorView beta;     // (n_embd, nv), kSeparate
    TensorView alpha;    // (n_embd, nv), kSeparate
    TensorView ba;       // (n_embd, 2 nv), kFused
    TensorView norm;     // f32 (head_dim): gated RMSNorm weight shared by the value heads
    TensorView out;      // (value_dim, n_embd)
};

DeltaNetWeights bind_deltanet(Binder& b, const DeltaNetHparams& dp, int64_t n_embd, int il);

// Where a layer's state lives: KvStore::state(slot, seq) + offset (several recurrent layers
// may share one cache slot, see qwen35.cc).
struct StateSlot {
    int slot = 0;
    int64_t offset = 0;
};

// The tokens of one sequence inside a batch, in batch order (positions consecutive).
struct SeqTokens {
    int seq = 0;
    int32_t first_pos = 0;
    std::vector<int64_t> index;  // batch indices
};

// Groups a batch by sequence and checks every sequence's positions are consecutive in batch
// order; throws Error(kInvalidArgument) otherwise (a recurrent state cannot skip or rewind).
std::vector<SeqTokens> group_by_sequence(const Batch& batch);

// Throws Error(kInvalidArgument) unless the sequence starts at position 0 or its state has
// consumed exactly first_pos tokens. Changes nothing, so a batch can be checked whole first.
void check_state(const DeltaNetHparams& dp, KvStore& kv, StateSlot where, const SeqTokens& s);
// Zeroes the state of a sequence that starts at position 0 (a new or restarted sequence).
void reset_state_if_new(const DeltaNetHparams& dp, KvStore& kv, StateSlot where,
                        const SeqTokens& s);

// out = the DeltaNet block of one layer for the batch; cur is the normed input [T][n_embd],
// out is [T][n_embd]. Reads and advances every sequence's state (after check_state and
// reset_state_if_new).
void deltanet_forward(const DeltaNetHparams& dp, const DeltaNetWeights& w,
                      const std::vector<SeqTokens>& seqs, int64_t n_tokens, KvStore& kv,
                      StateSlot where, ThreadPool& pool, const float* cur, float* out);

// ---- The math, exposed for tests ------------------------------------------------------------

// Causal depthwise conv + SiLU over T new rows x [T][channels] with `state` the previous
// d_conv - 1 rows ([d_conv - 1][channels], oldest first; updated to the last d_conv - 1 rows of
// [state, x]). w is [channels][d_conv]. out is [T][channels].
void causal_conv_silu(const float* x, int64_t n_tokens, int64_t channels, const float* w,
                      int d_conv, float* state, float* out);

// One value head's inputs for T consecutive tokens. Row t of q/k/v starts at ptr + t * stride.
// q and k are L2-normalised; g is the log decay (<= 0), beta the write strength in (0, 1).
struct DeltaRuleInput {
    int64_t n_tokens = 0;
    int dk = 0, dv = 0;
    const float* q = nullptr;
    const float* k = nullptr;
    int64_t qk_stride = 0;
    const float* v = nullptr;
    int64_t v_stride = 0;
    const float* g = nullptr;
    const float* beta = nullptr;
    int64_t gb_stride = 0;
};

// The gated delta rule token by token; state is S [dk][dv] (updated in place), out row t
// (at out + t * out_stride, dv values) = S_t^T q_t / sqrt(dk), read after the update.
void delta_rule_recurrent(const DeltaRuleInput& in, float* state, float* out, int64_t out_stride);
// The same result computed chunk by chunk (chunk_size tokens at a time).
void delta_rule_chunked(const DeltaRuleInput& in, int chunk_size, float* state, float* out,
                        int64_t out_stride);

}  // namespace sobre::model
