#include "model/dsa.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/cpu/matmul.h"

namespace sobre::model {

IndexerHparams read_indexer_hparams(const KeyReader& keys, const kernels::RopeParams& rope,
                                    kernels::RopeStyle style, float k_norm_eps,
                                    int64_t cache_offset) {
    IndexerHparams ip;
    const std::string& path = keys.file().path();
    ip.n_head = static_cast<int>(keys.int_in("attention.indexer.head_count", 1, 1024));
    ip.head_dim = static_cast<int>(keys.int_in("attention.indexer.key_length", 1, 4096));
    const int64_t top_k = keys.int_in("attention.indexer.top_k", 0, int64_t{1} << 24);
    if (top_k == 0) {
        fail(ErrorKind::kCorrupt,
             "{}: key {} = 0: the indexer must keep at least one position per query", path,
             keys.key("attention.indexer.top_k"));
    }
    ip.top_k = static_cast<int>(top_k);
    // The rotation is the d_I x d_I Hadamard matrix, which exists for powers of two only.
    if ((ip.head_dim & (ip.head_dim - 1)) != 0 || ip.head_dim < rope.n_dims) {
        fail(ErrorKind::kUnsupported, "{}: key {} = {} must be a power of two of at least {} = {}",
             path, keys.key("attention.indexer.key_length"), ip.head_dim,
             keys.key("rope.dimension_count"), rope.n_dims);
    }
    ip.k_norm_eps = k_norm_eps;
    ip.rope = rope;
    ip.rope.style = style;
    ip.cache_offset = cache_offset;
    return ip;
}

IndexerWeights bind_indexer(Binder& b, const IndexerHparams& ip, int64_t n_embd,
                            int64_t q_lora_rank, int il) {
    auto t = [il](std::string_view n, std::string_view suffix = "weight") {
        return layer_tensor(il, n, suffix);
    };
    const std::string why =
        fmt::format("indexer head_count = {}, key_length = {}, q_lora_rank = {}", ip.n_head,
                    ip.head_dim, q_lora_rank);
    IndexerWeights w;
    w.wq_b = b.require(t("indexer.attn_q_b"), {q_lora_rank, int64_t{ip.n_head} * ip.head_dim}, why);
    w.wk = b.require(t("indexer.attn_k"), {n_embd, ip.head_dim}, why);
    w.k_norm = b.require_f32(t("indexer.k_norm"), {ip.head_dim});
    w.k_norm_b = b.require_f32(t("indexer.k_norm", "bias"), {ip.head_dim});
    w.proj = b.require(t("indexer.proj"), {n_embd, ip.n_head}, why);
    return w;
}

void hadamard_transform(float* x, int n) {
    // Fast Walsh-Hadamard butterflies give H x in natural (Sylvester) order in n log n steps.
    for (int len = 1; len < n; len <<= 1) {
        for (int i = 0; i < n; i += 2 * len) {
            for (int j = i; j < i + len; ++j) {
                const float a = x[j], b = x[j + len];
                x[j] = a + b;
                x[j + len] = a - b;
            }
        }
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(n));
    for (int i = 0; i < n; ++i) x[i] *= scale;
}

void layer_norm(float* x, const float* w, const float* b, int64_t n, float eps) {
    // Sums in double, as ggml_norm does.
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += x[i];
    const auto mean = static_cast<float>(sum / static_cast<double>(n));
    double sum2 = 0;
    for (int64_t i = 0; i < n; ++i) {
        x[i] -= mean;
        sum2 += static_cast<double>(x[i]) * x[i];
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(sum2 / static_cast<double>(n)) + eps);
    for (int64_t i = 0; i < n; ++i) {
        x[i] *= scale;
        if (w) x[i] *= w[i];
        if (b) x[i] += b[i];
    }
}

std::vector<int32_t> top_k_ascending(const float* v, int64_t n, int64_t k) {
    std::vector<int32_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    if (k < n) {
        // The reference's order of equal scores is unspecified; the lower index wins here.
        auto better = [v](int32_t a, int32_t c) { return v[a] > v[c] || (v[a] == v[c] && a < c); };
        std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), better);
        idx.resize(static_cast<size_t>(k));
        std::sort(idx.begin(), idx.end());
    }
    return idx;
}

namespace {

// Indexer queries, keys and head weights of the batch, roped and rotated as the reference does.
struct IndexerInputs {
    std::vector<float> q;  // [T][n_head][head_dim]
    std::vector<float> k;  // [T][head_dim]
    std::vector<float> w;  // [T][n_head], already divided by sqrt(head_dim * n_head)
};

IndexerInputs project(const IndexerHparams& ip, const IndexerWeights& w, const Batch& batch,
                      ThreadPool& pool, const float* cur, const float* q_latent) {
    const int64_t n = batch.size(), d = ip.head_dim, nh = ip.n_head;
    IndexerInputs in;
    in.q.resize(static_cast<size_t>(n * nh * d));
    in.k.resize(static_cast<size_t>(n * d));
    in.w.resize(static_cast<size_t>(n * nh));
    kernels::matmul(w.wq_b, q_latent, n, in.q.data(), pool);
    kernels::matmul(w.wk, cur, n, in.k.data(), pool);
    kernels::matmul(w.proj, cur, n, in.w.data(), pool);
    const float w_scale = 1.0f / std::sqrt(static_cast<float>(d * nh));
    std::vector<float> cs(static_cast<size_t>(ip.rope.n_dims));
    for (int64_t t = 0; t < n; ++t) {
        kernels::rope_cache(ip.rope, batch.positions[t], cs.data());
        float* kt = &in.k[t * d];
        layer_norm(kt, w.k_norm.f32(), w.k_norm_b.f32(), d, ip.k_norm_eps);
        kernels::rope_apply(ip.rope, cs.data(), kt, 1, static_cast<int>(d));
        hadamard_transform(kt, static_cast<int>(d));
        float* qt = &in.q[t * nh * d];
        kernels::rope_apply(ip.rope, cs.data(), qt, static_cast<int>(nh), static_cast<int>(d));
        for (int64_t h = 0; h < nh; ++h) hadamard_transform(qt + h * d, static_cast<int>(d));
        for (int64_t h = 0; h < nh; ++h) in.w[t * nh + h] *= w_scale;
    }
    return in;
}

// Scores of positions [0, n_ctx) of one token's sequence, in F32 from the f16 cached keys.
void score_positions(const IndexerHparams& ip, const KvSeqView& view, const float* q,
                     const float* w, int64_t n_ctx, std::vector<float>& key, float* scores) {
    const int64_t d = ip.head_dim;
    key.resize(static_cast<size_t>(d));
    for (int64_t s = 0; s < n_ctx; ++s) {
        const uint16_t* row = view.k_row(s) + ip.cache_offset;
        for (int64_t i = 0; i < d; ++i) key[i] = fp16_to_fp32(row[i]);
        float score = 0;
        for (int h = 0; h < ip.n_head; ++h) {
            const float* qh = q + h * d;
            float dot = 0;
            for (int64_t i = 0; i < d; ++i) dot += qh[i] * key[i];
            score += w[h] * std::max(dot, 0.0f);  // ReLU per head, before the head weight
        }
        scores[s] = score;
    }
}

}  // namespace

void indexer_select(const IndexerHparams& ip, const IndexerWeights& w, int il, const Batch& batch,
                    KvStore& kv, ThreadPool& pool, const float* cur, const float* q_latent,
                    PositionLists& out) {
    const int64_t n = batch.size(), d = ip.head_dim, nh = ip.n_head;
    const IndexerInputs in = project(ip, w, batch, pool, cur, q_latent);
    for (int64_t t = 0; t < n; ++t) {
        uint16_t* row = kv.view(il, batch.seq_ids[t]).k_row(batch.positions[t]) + ip.cache_offset;
        for (int64_t i = 0; i < d; ++i) row[i] = fp32_to_fp16(in.k[t * d + i]);
    }
    // A query sees min(pos + 1, top_k) positions: every visible one until there are more than
    // top_k.
    out.start.assign(static_cast<size_t>(n + 1), 0);
    for (int64_t t = 0; t < n; ++t) {
        out.start[t + 1] = out.start[t] + std::min<int64_t>(batch.positions[t] + 1, ip.top_k);
    }
    out.pos.resize(static_cast<size_t>(out.start[n]));
    pool.parallel_for(n, [&](int64_t begin, int64_t end) {
        std::vector<float> scores, key;
        for (int64_t t = begin; t < end; ++t) {
            const int64_t n_ctx = batch.positions[t] + 1;
            int32_t* dst = &out.pos[out.start[t]];
            if (n_ctx <= ip.top_k) {
                std::iota(dst, dst + n_ctx, 0);
                continue;
            }
            scores.resize(static_cast<size_t>(n_ctx));
            score_positions(ip, kv.view(il, batch.seq_ids[t]), &in.q[t * nh * d], &in.w[t * nh],
                            n_ctx, key, scores.data());
            const std::vector<int32_t> best = top_k_ascending(scores.data(), n_ctx, ip.top_k);
            std::copy(best.begin(), best.end(), dst);
        }
    });
}

}  // namespace sobre::model
