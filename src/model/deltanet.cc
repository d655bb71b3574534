#include "model/deltanet.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"

namespace sobre::model {
namespace {

// Scalar helpers written as ggml computes them (ref: ggml-cpu unary-ops.cpp, vec.h).
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float silu(float x) { return x / (1.0f + std::exp(-x)); }
float softplus(float x) { return x > 20.0f ? x : std::log(1.0f + std::exp(x)); }

// x /= max(||x||, eps), the sum of squares in double as ggml_l2_norm (ref: ops.cpp ~4204).
void l2_normalize(float* x, int n, float eps) {
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
    const float scale = 1.0f / std::max(std::sqrt(static_cast<float>(sum)), eps);
    for (int i = 0; i < n; ++i) x[i] *= scale;
}

float dot(const float* a, const float* b, int n) {
    float s = 0;
    for (int i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

// y += a * x
void axpy(float a, const float* x, float* y, int n) {
    for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

// The state's first float holds how many tokens it has consumed (an int32, bit-copied), so a
// batch that does not continue the sequence is caught instead of silently corrupting it.
int32_t consumed(const float* state) {
    int32_t n;
    std::memcpy(&n, state, sizeof n);
    return n;
}

void set_consumed(float* state, int32_t n) { std::memcpy(state, &n, sizeof n); }

}  // namespace

DeltaNetHparams read_deltanet_hparams(const KeyReader& keys, const TransformerHparams& hp,
                                      HeadBroadcast broadcast, BetaAlphaLayout beta_alpha) {
    DeltaNetHparams dp;
    dp.d_conv = static_cast<int>(keys.int_in("ssm.conv_kernel", 1, 64));
    dp.head_dim = static_cast<int>(keys.int_in("ssm.state_size", 1, 4096));
    dp.n_k_heads = static_cast<int>(keys.int_in("ssm.group_count", 1, 1024));
    dp.n_v_heads = static_cast<int>(keys.int_in("ssm.time_step_rank", 1, 4096));
    const int64_t d_inner = keys.int_in("ssm.inner_size", 1, int64_t{1} << 22);
    const std::string& path = keys.file().path();
    if (dp.n_v_heads % dp.n_k_heads != 0) {
        fail(ErrorKind::kCorrupt,
             "{}: {} = {} (value heads) is not a multiple of {} = {} (key heads)", path,
             keys.key("ssm.time_step_rank"), dp.n_v_heads, keys.key("ssm.group_count"),
             dp.n_k_heads);
    }
    // The reference sizes the value heads with d_state too (qwen35.cpp load_arch_tensors), so
    // d_inner must be exactly nv x d_state.
    if (d_inner != dp.value_dim()) {
        fail(ErrorKind::kCorrupt,
             "{}: {} = {} disagrees with {} x {} = {} x {} = {} (value heads x head dim)", path,
             keys.key("ssm.inner_size"), d_inner, keys.key("ssm.time_step_rank"),
             keys.key("ssm.state_size"), dp.n_v_heads, dp.head_dim, dp.value_dim());
    }
    dp.eps = hp.rms_eps;
    dp.broadcast = broadcast;
    dp.beta_alpha = beta_alpha;
    return dp;
}

DeltaNetWeights bind_deltanet(Binder& b, const DeltaNetHparams& dp, int64_t n_embd, int il) {
    auto t = [il](std::string_view n, std::string_view s = "weight") {
        return layer_tensor(il, n, s);
    };
    if (!b.has(t("attn_qkv")) && b.has(t("ssm_in"))) {
        fail(ErrorKind::kUnsupported,
             "{}: layer {} has the legacy fused 'ssm_in' projection; reconvert the model "
             "with a current convert_hf_to_gguf.py (attn_qkv + attn_gate)",
             b.path(), il);
    }
    const std::string why =
        fmt::format("ssm.group_count = {}, ssm.time_step_rank = {}, ssm.state_size = {}",
                    dp.n_k_heads, dp.n_v_heads, dp.head_dim);
    const int64_t nv = dp.n_v_heads;
    DeltaNetWeights w;
    w.qkv = b.require(t("attn_qkv"), {n_embd, dp.conv_dim()}, why);
    w.gate = b.require(t("attn_gate"), {n_embd, dp.value_dim()}, why);
    w.conv1d = b.require_f32(t("ssm_conv1d"), {dp.d_conv, dp.conv_dim()});
    w.dt_bias = b.require_f32(t("ssm_dt", "bias"), {nv});
    w.a = b.require_f32(fmt::format("blk.{}.ssm_a", il), {nv});  // no .weight suffix (SSM_A_NOSCAN)
    if (dp.beta_alpha == BetaAlphaLayout::kSeparate) {
        w.beta = b.require(t("ssm_beta"), {n_embd, nv}, why);
        w.alpha = b.require(t("ssm_alpha"), {n_embd, nv}, why);
    } else {
        w.ba = b.require(t("ssm_ba"), {n_embd, 2 * nv}, why);
    }
    w.norm = b.require_f32(t("ssm_norm"), {dp.head_dim});
    w.out = b.require(t("ssm_out"), {dp.value_dim(), n_embd}, why);
    return w;
}

std::vector<SeqTokens> group_by_sequence(const Batch& batch) {
    std::vector<SeqTokens> out;
    for (int64_t t = 0; t < batch.size(); ++t) {
        const int seq = batch.seq_ids[t];
        auto it = std::find_if(out.begin(), out.end(),
                               [seq](const SeqTokens& s) { return s.seq == seq; });
        if (it == out.end()) {
            out.push_back({seq, batch.positions[t], {t}});
            continue;
        }
        const int64_t expected = it->first_pos + static_cast<int64_t>(it->index.size());
        if (batch.positions[t] != expected) {
            fail(ErrorKind::kInvalidArgument,
                 "sequence {}: position {} at batch index {} does not follow position {}; "
                 "a recurrent state advances one position at a time",
                 seq, batch.positions[t], t, expected - 1);
        }
        it->index.push_back(t);
    }
    return out;
}

void check_state(const DeltaNetHparams& /*dp*/, KvStore& kv, StateSlot where, const SeqTokens& s) {
    if (s.first_pos == 0) return;
    const int32_t n = consumed(kv.state(where.slot, s.seq) + where.offset);
    if (n != s.first_pos) {
        fail(ErrorKind::kInvalidArgument,
             "sequence {} continues at position {}, but its recurrent state holds {} tokens; "
             "a hybrid model's state cannot rewind or skip (restart the sequence at position 0)",
             s.seq, s.first_pos, n);
    }
}

void reset_state_if_new(const DeltaNetHparams& dp, KvStore& kv, StateSlot where,
                        const SeqTokens& s) {
    if (s.first_pos == 0) {
        std::fill_n(kv.state(where.slot, s.seq) + where.offset, dp.state_values(), 0.0f);
    }
}

void causal_conv_silu(const float* x, int64_t n_tokens, int64_t channels, const float* w,
                      int d_conv, float* state, float* out) {
    const int64_t hist = d_conv - 1;
    // Row r of the conv input [state rows, x rows].
    auto row = [&](int64_t r) {
        return r < hist ? state + r * channels : x + (r - hist) * channels;
    };
    for (int64_t t = 0; t < n_tokens; ++t) {
        float* o = out + t * channels;
        std::fill_n(o, channels, 0.0f);
        // Taps summed in order j = 0.. per channel, as ggml_ssm_conv.
        for (int j = 0; j < d_conv; ++j) {
            const float* in = row(t + j);
            for (int64_t c = 0; c < channels; ++c) o[c] += w[c * d_conv + j] * in[c];
        }
        for (int64_t c = 0; c < channels; ++c) o[c] = silu(o[c]);
    }
    std::vector<float> next(static_cast<size_t>(hist * channels));
    for (int64_t r = 0; r < hist; ++r) {
        std::copy_n(row(n_tokens + r), channels, &next[r * channels]);
    }
    std::copy(next.begin(), next.end(), state);
}

void delta_rule_recurrent(const DeltaRuleInput& in, float* state, float* out, int64_t out_stride) {
    const int dk = in.dk, dv = in.dv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(dk));
    std::vector<float> u(static_cast<size_t>(dv)), delta(static_cast<size_t>(dv));
    for (int64_t t = 0; t < in.n_tokens; ++t) {
        const float* q = in.q + t * in.qk_stride;
        const float* k = in.k + t * in.qk_stride;
        const float* v = in.v + t * in.v_stride;
        const float decay = std::exp(in.g[t * in.gb_stride]), beta = in.beta[t * in.gb_stride];
        // Decay the whole state, then predict v from the decayed memory: u = S^T k.
        std::fill(u.begin(), u.end(), 0.0f);
        for (int i = 0; i < dk; ++i) {
            float* s = state + int64_t{i} * dv;
            for (int c = 0; c < dv; ++c) s[c] *= decay;
            axpy(k[i], s, u.data(), dv);
        }
        for (int c = 0; c < dv; ++c) delta[c] = beta * (v[c] - u[c]);
        // Rank-1 correction, and the read-out with the updated state.
        float* o = out + t * out_stride;
        std::fill_n(o, dv, 0.0f);
        for (int i = 0; i < dk; ++i) {
            float* s = state + int64_t{i} * dv;
            axpy(k[i], delta.data(), s, dv);
            axpy(q[i], s, o, dv);
        }
        for (int c = 0; c < dv; ++c) o[c] *= scale;
    }
}

namespace {

// One chunk of n tokens starting at token t0, in the WY form of ARCHITECTURES.md §5.3 step 9.
// Every exponent is a difference G_i - G_j with j <= i (or G_i itself), so it is <= 0.
class Chunk {
   public:
    Chunk(const DeltaRuleInput& in, int max_n) : in_(in) {
        const auto n = static_cast<size_t>(max_n);
        G_.resize(n);
        U_.resize(n * in.dv);
        W_.resize(n * in.dk);
    }

    void run(int64_t t0, int n, float* S, float* out, int64_t out_stride) {
        t0_ = t0;
        n_ = n;
        cumulative_decay();
        solve_uw();
        new_values(S);  // U becomes Vn = U - W S
        outputs(S, out, out_stride);
        update_state(S);
    }

   private:
    const float* q(int i) const { return in_.q + (t0_ + i) * in_.qk_stride; }
    const float* k(int i) const { return in_.k + (t0_ + i) * in_.qk_stride; }
    const float* v(int i) const { return in_.v + (t0_ + i) * in_.v_stride; }
    float beta(int i) const { return in_.beta[(t0_ + i) * in_.gb_stride]; }

    void cumulative_decay() {
        float acc = 0;
        for (int i = 0; i < n_; ++i) G_[i] = acc += in_.g[(t0_ + i) * in_.gb_stride];
    }

    // (I + A) U = diag(beta) V and (I + A) W = diag(beta e^G) K by forward substitution, with
    // A_ij = beta_i (k_i . k_j) e^{G_i - G_j} for j < i.
    void solve_uw() {
        const int dk = in_.dk, dv = in_.dv;
        for (int i = 0; i < n_; ++i) {
            float* u = &U_[static_cast<size_t>(i) * dv];
            float* w = &W_[static_cast<size_t>(i) * dk];
            const float b = beta(i), bg = b * std::exp(G_[i]);
            for (int c = 0; c < dv; ++c) u[c] = b * v(i)[c];
            for (int c = 0; c < dk; ++c) w[c] = bg * k(i)[c];
            for (int j = 0; j < i; ++j) {
                const float a = b * dot(k(i), k(j), dk) * std::exp(G_[i] - G_[j]);
                axpy(-a, &U_[static_cast<size_t>(j) * dv], u, dv);
                axpy(-a, &W_[static_cast<size_t>(j) * dk], w, dk);
            }
        }
    }

    void new_values(const float* S) {
        const int dk = in_.dk, dv = in_.dv;
        for (int i = 0; i < n_; ++i) {
            float* u = &U_[static_cast<size_t>(i) * dv];
            const float* w = &W_[static_cast<size_t>(i) * dk];
            for (int a = 0; a < dk; ++a) axpy(-w[a], S + int64_t{a} * dv, u, dv);
        }
    }

    // O_i = e^{G_i} S^T q'_i + sum_{j <= i} (q'_i . k_j) e^{G_i - G_j} Vn_j, q' = q / sqrt(dk).
    void outputs(const float* S, float* out, int64_t out_stride) const {
        const int dk = in_.dk, dv = in_.dv;
        const float scale = 1.0f / std::sqrt(static_cast<float>(dk));
        for (int i = 0; i < n_; ++i) {
            float* o = out + (t0_ + i) * out_stride;
            std::fill_n(o, dv, 0.0f);
            const float gi = std::exp(G_[i]) * scale;
            for (int a = 0; a < dk; ++a) axpy(gi * q(i)[a], S + int64_t{a} * dv, o, dv);
            for (int j = 0; j <= i; ++j) {
                const float c = dot(q(i), k(j), dk) * scale * std::exp(G_[i] - G_[j]);
                axpy(c, &U_[static_cast<size_t>(j) * dv], o, dv);
            }
        }
    }

    // S' = e^{G_last} S + sum_j e^{G_last - G_j} k_j Vn_j^T.
    void update_state(float* S) const {
        const int dk = in_.dk, dv = in_.dv;
        const float last = G_[n_ - 1];
        const float keep = std::exp(last);
        for (int64_t x = 0; x < int64_t{dk} * dv; ++x) S[x] *= keep;
        for (int j = 0; j < n_; ++j) {
            const float d = std::exp(last - G_[j]);
            const float* vn = &U_[static_cast<size_t>(j) * dv];
            for (int a = 0; a < dk; ++a) axpy(d * k(j)[a], vn, S + int64_t{a} * dv, dv);
        }
    }

    const DeltaRuleInput& in_;
    int64_t t0_ = 0;
    int n_ = 0;
    std::vector<float> G_, U_, W_;  // cumulative decay, then U (later Vn) and W
};

}  // namespace

void delta_rule_chunked(const DeltaRuleInput& in, int chunk_size, float* state, float* out,
                        int64_t out_stride) {
    SOBRE_CHECK(chunk_size > 0);
    const int max_n =
        static_cast<int>(std::min<int64_t>(chunk_size, std::max<int64_t>(in.n_tokens, 1)));
    Chunk chunk(in, max_n);
    for (int64_t t0 = 0; t0 < in.n_tokens; t0 += chunk_size) {
        chunk.run(t0, static_cast<int>(std::min<int64_t>(chunk_size, in.n_tokens - t0)), state, out,
                  out_stride);
    }
}

namespace {

// Per token and value head: the log decay g = softplus(alpha + dt_bias) * a and the write
// strength beta = sigmoid(beta logit), both [n][nv].
void decay_and_beta(const DeltaNetHparams& dp, const DeltaNetWeights& w, const float* cur,
                    int64_t n, ThreadPool& pool, float* g, float* beta) {
    const int nv = dp.n_v_heads;
    std::vector<float> alpha(static_cast<size_t>(n * nv));
    if (dp.beta_alpha == BetaAlphaLayout::kSeparate) {
        kernels::matmul(w.beta, cur, n, beta, pool);
        kernels::matmul(w.alpha, cur, n, alpha.data(), pool);
    } else {
        // ssm_ba per key head grp of r value heads: [beta(r) | alpha(r)] (qwen3next.cpp:422-450).
        std::vector<float> ba(static_cast<size_t>(n * 2 * nv));
        kernels::matmul(w.ba, cur, n, ba.data(), pool);
        const int r = nv / dp.n_k_heads;
        for (int64_t t = 0; t < n; ++t) {
            for (int j = 0; j < nv; ++j) {
                const int grp = j / r, i = j % r;
                beta[t * nv + j] = ba[t * 2 * nv + 2 * r * grp + i];
                alpha[t * nv + j] = ba[t * 2 * nv + 2 * r * grp + r + i];
            }
        }
    }
    const float* dt = w.dt_bias.f32();
    const float* a = w.a.f32();
    for (int64_t t = 0; t < n; ++t) {
        for (int j = 0; j < nv; ++j) {
            g[t * nv + j] = softplus(alpha[t * nv + j] + dt[j]) * a[j];
            beta[t * nv + j] = sigmoid(beta[t * nv + j]);
        }
    }
}

// Batch-wide projections of one layer, and the gated-norm output rows the sequences fill in.
struct Projections {
    std::vector<float> mixed;  // [n][conv_dim]
    std::vector<float> z;      // [n][value_dim]
    std::vector<float> g;      // [n][nv]
    std::vector<float> beta;   // [n][nv]
    std::vector<float> o;      // [n][value_dim]
};

// One value head over the sequence's tokens, then its gated RMSNorm: o = RMSNorm(o) * w * silu(z).
void run_head(const DeltaNetHparams& dp, const DeltaNetWeights& w, const SeqTokens& s, int j,
              const float* conv, const float* g, const float* beta, const Projections& p, float* S,
              float* o) {
    const int d = dp.head_dim, kh = dp.key_head_of(j);
    const int64_t cd = dp.conv_dim(), vd = dp.value_dim(), kd = dp.key_dim();
    const auto n = static_cast<int64_t>(s.index.size());
    const DeltaRuleInput in{.n_tokens = n,
                            .dk = d,
                            .dv = d,
                            .q = conv + int64_t{kh} * d,
                            .k = conv + kd + int64_t{kh} * d,
                            .qk_stride = cd,
                            .v = conv + 2 * kd + int64_t{j} * d,
                            .v_stride = cd,
                            .g = g + j,
                            .beta = beta + j,
                            .gb_stride = dp.n_v_heads};
    float* oj = o + int64_t{j} * d;
    // Decode is the recurrence; a prompt goes through the chunked form.
    if (n == 1) {
        delta_rule_recurrent(in, S, oj, vd);
    } else {
        delta_rule_chunked(in, dp.chunk_size, S, oj, vd);
    }
    for (int64_t t = 0; t < n; ++t) {
        float* row = oj + t * vd;
        const float* z = &p.z[s.index[t] * vd + int64_t{j} * d];
        kernels::rms_norm(row, w.norm.f32(), row, d, dp.eps);
        for (int c = 0; c < d; ++c) row[c] *= silu(z[c]);
    }
}

void run_sequence(const DeltaNetHparams& dp, const DeltaNetWeights& w, const SeqTokens& s,
                  float* state, Projections& p, ThreadPool& pool) {
    const int64_t n = static_cast<int64_t>(s.index.size());
    const int64_t cd = dp.conv_dim(), vd = dp.value_dim();
    const int nv = dp.n_v_heads, d = dp.head_dim;
    std::vector<float> x(static_cast<size_t>(n * cd)), conv(x.size()),
        g(static_cast<size_t>(n * nv)), beta(g.size()), o(static_cast<size_t>(n * vd));
    for (int64_t t = 0; t < n; ++t) {
        const int64_t b = s.index[t];
        std::copy_n(&p.mixed[b * cd], cd, &x[t * cd]);
        std::copy_n(&p.g[b * nv], nv, &g[t * nv]);
        std::copy_n(&p.beta[b * nv], nv, &beta[t * nv]);
    }
    float* conv_state = state + 1;
    float* S = conv_state + dp.conv_state_values();
    causal_conv_silu(x.data(), n, cd, w.conv1d.f32(), dp.d_conv, conv_state, conv.data());
    // q and k heads are the first 2 * nk heads of each row.
    for (int64_t t = 0; t < n; ++t) {
        for (int h = 0; h < 2 * dp.n_k_heads; ++h) {
            l2_normalize(&conv[t * cd + int64_t{h} * d], d, dp.eps);
        }
    }
    pool.parallel_for(nv, [&](int64_t begin, int64_t end) {
        for (int64_t j = begin; j < end; ++j) {
            run_head(dp, w, s, static_cast<int>(j), conv.data(), g.data(), beta.data(), p,
                     S + j * int64_t{d} * d, o.data());
        }
    });
    for (int64_t t = 0; t < n; ++t) std::copy_n(&o[t * vd], vd, &p.o[s.index[t] * vd]);
    set_consumed(state, static_cast<int32_t>(s.first_pos + n));
}

}  // namespace

void deltanet_forward(const DeltaNetHparams& dp, const DeltaNetWeights& w,
                      const std::vector<SeqTokens>& seqs, int64_t n_tokens, KvStore& kv,
                      StateSlot where, ThreadPool& pool, const float* cur, float* out) {
    const int64_t n = n_tokens;
    Projections p;
    p.mixed.resize(static_cast<size_t>(n * dp.conv_dim()));
    p.z.resize(static_cast<size_t>(n * dp.value_dim()));
    p.g.resize(static_cast<size_t>(n * dp.n_v_heads));
    p.beta.resize(p.g.size());
    p.o.resize(p.z.size());
    const kernels::SharedInputOutput qkv_gate[] = {{w.qkv, p.mixed.data()}, {w.gate, p.z.data()}};
    kernels::matmul_same_input(qkv_gate, cur, n, pool);
    decay_and_beta(dp, w, cur, n, pool, p.g.data(), p.beta.data());
    for (const SeqTokens& s : seqs) {
        run_sequence(dp, w, s, kv.state(where.slot, s.seq) + where.offset, p, pool);
    }
    kernels::matmul(w.out, p.o.data(), n, out, pool);
}

}  // namespace sobre::model
