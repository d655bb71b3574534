// Element-wise and row-wise operations of the forward pass (scalar; fast variants come later
// behind the same signatures).
#pragma once

#include <cstdint>

namespace sobre::kernels {

// y = x / sqrt(mean(x^2) + eps) * w (w may be null: no weight). x and y may alias.
// The sum of squares is accumulated in double, as ggml does.
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

// How RoPE pairs dimensions: kNorm rotates (x[2i], x[2i+1]) (llama's converter permutes Q/K
// rows for this); kNeox rotates (x[i], x[i + n_dims/2]).
enum class RopeStyle : uint8_t { kNone, kNorm, kNeox };

struct RopeParams {
    RopeStyle style = RopeStyle::kNorm;
    int n_dims = 0;             // rotated dims per head (rope.dimension_count); the rest pass through
    float freq_base = 10000.f;  // theta base
    float freq_scale = 1.f;     // 1 / rope.scaling.factor
    float ext_factor = 0.f;     // YaRN ramp mix; 0 = plain (or linear) scaling
    float attn_factor = 1.f;    // multiplies cos and sin
    float beta_fast = 32.f;
    float beta_slow = 1.f;
    int n_ctx_orig = 0;         // rope.scaling.original_context_length
    const float* freq_factors = nullptr;  // n_dims/2 divisors of theta (Llama 3.1 rope_freqs)
};

// cos/sin of every rotated pair for one position: cs[2*i] = cos, cs[2*i + 1] = sin,
// i in [0, n_dims/2). Computed as ggml does (theta advanced by repeated multiplication in float).
void rope_cache(const RopeParams& p, int64_t pos, float* cs);
// Rotates n_heads heads of head_dim values (contiguous) with a cache from rope_cache().
void rope_apply(const RopeParams& p, const float* cs, float* x, int n_heads, int head_dim);

// In place: x = softmax(x * scale) over n values (max-subtracted; sum in double as ggml).
void softmax(float* x, int64_t n, float scale);

// out[i] = silu(gate[i]) * up[i]. out may alias gate.
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// y[i] += x[i]
void add_inplace(float* y, const float* x, int64_t n);

// f16 helpers for attention over an f16 KV cache (dispatched to the start-up ISA level).
// y[i] = x[i] rounded to f16 (nearest even, as F16C and llama.cpp's cache writes).
void to_f16(const float* x, uint16_t* y, int64_t n);
// sum_i x[i] * y[i] of two f16 rows, accumulated in f32.
float dot_f16(const uint16_t* x, const uint16_t* y, int64_t n);
// out[i] += w * v[i] for an f16 row v.
void axpy_f16(float w, const uint16_t* v, float* out, int64_t n);

}  // namespace sobre::kernels
