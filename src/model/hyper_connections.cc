#include "model/hyper_connections.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"

namespace sobre::model {
namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// Sinkhorn normalisation of the n x n mix, in the reference's order: softmax over destinations
// (per source) plus eps, normalise over sources (per destination), then iters - 1 rounds of
// destinations, sources; eps inside every sum.
void sinkhorn(float* c, int n, int iters, float eps) {
    auto at = [c, n](int d, int s) -> float& { return c[d * n + s]; };
    for (int s = 0; s < n; ++s) {
        float max = -INFINITY;
        for (int d = 0; d < n; ++d) max = std::max(max, at(d, s));
        float sum = 0;
        for (int d = 0; d < n; ++d) sum += (at(d, s) = std::exp(at(d, s) - max));
        for (int d = 0; d < n; ++d) at(d, s) = at(d, s) / sum + eps;
    }
    auto by_source = [&] {
        for (int d = 0; d < n; ++d) {
            float sum = 0;
            for (int s = 0; s < n; ++s) sum += at(d, s);
            for (int s = 0; s < n; ++s) at(d, s) /= sum + eps;
        }
    };
    auto by_destination = [&] {
        for (int s = 0; s < n; ++s) {
            float sum = 0;
            for (int d = 0; d < n; ++d) sum += at(d, s);
            for (int d = 0; d < n; ++d) at(d, s) /= sum + eps;
        }
    };
    by_source();
    for (int i = 1; i < iters; ++i) {
        by_destination();
        by_source();
    }
}

}  // namespace

void hc_weights(const HcOptions& opt, const HcWeights& w, const float* streams, int64_t n_tokens,
                int64_t n_embd, bool head, HcMix& mix, ThreadPool& pool) {
    const int n = opt.n_streams;
    const int n_logits = head ? n : 2 * n + n * n;
    const int64_t width = n * n_embd;
    std::vector<float> normed(static_cast<size_t>(n_tokens * width)),
        m(static_cast<size_t>(n_tokens * n_logits));
    for (int64_t t = 0; t < n_tokens; ++t) {
        kernels::rms_norm(streams + t * width, nullptr, &normed[t * width], width, opt.rms_eps);
    }
    kernels::matmul(w.fn, normed.data(), n_tokens, m.data(), pool);
    const float* base = w.base.f32();
    const float* scale = w.scale.f32();
    mix.pre.resize(static_cast<size_t>(n_tokens * n));
    mix.post.resize(head ? 0 : static_cast<size_t>(n_tokens * n));
    mix.comb.resize(head ? 0 : static_cast<size_t>(n_tokens * n * n));
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* mt = &m[t * n_logits];
        for (int i = 0; i < n; ++i)
            mix.pre[t * n + i] = sigmoid(mt[i] * scale[0] + base[i]) + opt.eps;
        if (head) continue;
        for (int i = 0; i < n; ++i)
            mix.post[t * n + i] = 2.0f * sigmoid(mt[n + i] * scale[1] + base[n + i]);
        float* c = &mix.comb[t * n * n];
        for (int d = 0; d < n; ++d) {
            for (int s = 0; s < n; ++s)
                c[d * n + s] = mt[2 * n + d + n * s] * scale[2] + base[2 * n + d + n * s];
        }
        sinkhorn(c, n, opt.sinkhorn_iters, opt.eps);
    }
}

void hc_collapse(const HcOptions& opt, const HcMix& mix, const float* streams, int64_t n_tokens,
                 int64_t n_embd, float* x) {
    const int n = opt.n_streams;
    for (int64_t t = 0; t < n_tokens; ++t) {
        float* xt = x + t * n_embd;
        std::fill(xt, xt + n_embd, 0.0f);
        for (int i = 0; i < n; ++i) {
            const float p = mix.pre[t * n + i];
            const float* h = streams + (t * n + i) * n_embd;
            for (int64_t e = 0; e < n_embd; ++e) xt[e] += p * h[e];
        }
    }
}

void hc_expand(const HcOptions& opt, const HcMix& mix, const float* y, int64_t n_tokens,
               int64_t n_embd, float* streams) {
    const int n = opt.n_streams;
    std::vector<float> old(static_cast<size_t>(n * n_embd));
    for (int64_t t = 0; t < n_tokens; ++t) {
        float* h = streams + t * n * n_embd;
        std::copy_n(h, n * n_embd, old.data());
        const float* c = &mix.comb[t * n * n];
        for (int d = 0; d < n; ++d) {
            float* dst = h + d * n_embd;
            const float post = mix.post[t * n + d];
            for (int64_t e = 0; e < n_embd; ++e) dst[e] = post * y[t * n_embd + e];
            for (int s = 0; s < n; ++s) {
                for (int64_t e = 0; e < n_embd; ++e) dst[e] += c[d * n + s] * old[s * n_embd + e];
            }
        }
    }
}

}  // namespace sobre::model
