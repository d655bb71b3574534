// The Gated-DeltaNet hybrid family: qwen35 (Qwen3.5 dense), qwen35moe (Qwen3.5 / 3.6 MoE) and
// qwen3next (Qwen3-Next). Most layers are Gated DeltaNet (model/deltanet.h); every
// full_attention_interval-th layer is gated full attention (q packed with a sigmoid output
// gate, per-head QK RMSNorm, partial NEOX / IMROPE rope). The FFN is dense SwiGLU (qwen35) or
// softmax-routed experts plus a sigmoid-gated shared expert. The three differ only in data: how
// beta/alpha are stored, how key heads map to value heads, and the rope sections.
// ref: ../shared/ARCHITECTURES.md §5 (llama.cpp src/models/qwen35.cpp, qwen35moe.cpp,
// qwen3next.cpp).
//
// Cache layout. Only the full-attention layers need K/V rows and only the DeltaNet layers need a
// recurrent state, so the cache has one slot per full-attention layer (KvLayout::n_layer), and
// slot a holds the K/V of full-attention layer a plus, in its state, the states of DeltaNet
// layers [a * per_slot, (a + 1) * per_slot). KV bytes per token and state bytes per sequence are
// then exactly what the model needs (llama.cpp's hybrid memory sizes them the same way).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "model/attention.h"
#include "model/deltanet.h"
#include "model/families.h"
#include "model/ffn.h"
#include "model/hparams.h"
#include "model/moe.h"
#include "model/weights.h"

namespace sobre::model {
namespace {

// What sets the three architectures apart (not visible from the tensors).
struct HybridVariant {
    bool moe;                    // routed + shared experts (else dense SwiGLU)
    BetaAlphaLayout beta_alpha;  // ssm_beta + ssm_alpha, or one fused ssm_ba
    HeadBroadcast broadcast;     // key head of each value head
    bool imrope;                 // rope.dimension_sections required (IMROPE); else plain NEOX
};

constexpr HybridVariant kQwen35{false, BetaAlphaLayout::kSeparate, HeadBroadcast::kTiled, true};
constexpr HybridVariant kQwen35Moe{true, BetaAlphaLayout::kSeparate, HeadBroadcast::kTiled, true};
constexpr HybridVariant kQwen3Next{true, BetaAlphaLayout::kFused, HeadBroadcast::kInterleaved,
                                   false};

// ---- 1. Hyper-parameters ----------------------------------------------------------------------

struct HybridHparams {
    TransformerHparams t;    // generic keys; head_dim_k = head_dim_v of the attention layers
    DeltaNetHparams dn;      // ssm.* keys
    MoeHparams moe;          // expert_* keys (opt.n_expert = 0: dense FFN)
    int64_t n_ff_shexp = 0;  // expert_shared_feed_forward_length [feed_forward_length]
    std::vector<uint8_t> recurrent;  // per layer run: 1 = Gated DeltaNet, 0 = full attention
    std::array<int, 4> sections{};   // rope.dimension_sections (IMROPE only)
    std::vector<uint8_t> unrotated;  // per rotary pair: 1 when IMROPE gives it position 0 for text
};

// attention.recurrent_layers (bool per block, or one bool) overrides the interval rule
// (il + 1) % full_attention_interval != 0 (qwen35moe.cpp load_arch_hparams).
std::vector<uint8_t> read_layer_types(const KeyReader& keys, const TransformerHparams& hp) {
    std::vector<uint8_t> rec(static_cast<size_t>(hp.n_layer_main()));
    const std::string key = keys.key("attention.recurrent_layers");
    if (const gguf::Value* v = keys.file().find(key)) {
        if (v->type != gguf::ValueType::kArray) {
            std::fill(rec.begin(), rec.end(), v->as_double() != 0);
            return rec;
        }
        const bool scalars =
            v->elem_type != gguf::ValueType::kString && v->elem_type != gguf::ValueType::kArray;
        if (!scalars || v->size() != static_cast<size_t>(hp.n_layer)) {
            fail(ErrorKind::kCorrupt,
                 "{}: key {} must hold one bool per block ({} = {}), it holds {}",
                 keys.file().path(), key, keys.key("block_count"), hp.n_layer, v->to_string());
        }
        for (size_t i = 0; i < rec.size(); ++i) rec[i] = v->at(i).as_double() != 0;
        return rec;
    }
    const int64_t interval = keys.int_in("full_attention_interval", 1, 1024, 4);
    for (size_t i = 0; i < rec.size(); ++i) rec[i] = (static_cast<int64_t>(i) + 1) % interval != 0;
    return rec;
}

// IMROPE: rotary pair i takes its angle from position stream (t, h, w, e) by sector i mod
// sum(sections); text positions are (p, p, p, 0), so only pairs mapped to e stay unrotated
// (ref: ggml-cpu ops.cpp rope cache, is_imrope branch).
void read_sections(const KeyReader& keys, HybridHparams& hp) {
    const std::string key = keys.key("rope.dimension_sections");
    const gguf::Value* v = keys.file().get_array(key);
    if (!v) fail(ErrorKind::kCorrupt, "{}: missing key {}", keys.file().path(), key);
    int sum = 0;
    bool ok = v->size() == 4;
    for (size_t i = 0; ok && i < 4; ++i) {
        const gguf::Value e = v->at(i);
        ok = e.is_integer() && e.as_double() >= 0 && e.as_double() <= hp.t.head_dim_k;
        hp.sections[i] = ok ? static_cast<int>(e.as_double()) : 0;
        sum += hp.sections[i];
    }
    if (!ok || sum == 0 || sum > hp.t.head_dim_k) {
        fail(ErrorKind::kCorrupt,
             "{}: key {} = {} must be 4 non-negative integers summing to [1, {}]",
             keys.file().path(), key, v->to_string(), hp.t.head_dim_k);
    }
    const auto& s = hp.sections;
    hp.unrotated.assign(static_cast<size_t>(hp.t.rope.n_dims / 2), 0);
    for (size_t i = 0; i < hp.unrotated.size(); ++i) {
        const int sector = static_cast<int>(i) % sum, lane = sector % 3;
        hp.unrotated[i] = !(sector < 3 * s[lane]);
    }
}

// The reference hard-wires softmax gating and renormalised weights, reads no shared-expert
// count, dense lead or weight scale, and falls back to n_ff / n_expert_used for the expert width
// (qwen35moe.cpp load_arch_tensors and its build_moe_ffn call).
MoeHparams read_hybrid_moe(const KeyReader& keys, const TransformerHparams& hp,
                           std::string_view arch) {
    MoeHparams mh = read_moe_hparams(keys, hp, MoeKeyRules{Gating::kSoftmax, true, false});
    if (mh.opt.n_expert == 0) {
        const std::string key = keys.key("expert_count");
        if (!keys.has("expert_count")) {
            fail(ErrorKind::kCorrupt, "{}: missing key {}", keys.file().path(), key);
        }
        fail(ErrorKind::kCorrupt, "{}: {} = 0, but {} needs routed experts", keys.file().path(),
             key, arch);
    }
    mh.opt.gating = Gating::kSoftmax;
    mh.n_shared = 0;
    mh.n_dense_lead = 0;
    if (!keys.has("expert_feed_forward_length")) mh.n_ff_exp = hp.n_ff / mh.opt.n_expert_used;
    return mh;
}

HybridHparams read_hybrid_hparams(const KeyReader& keys, const ArchSpec& spec,
                                  const HybridVariant& v) {
    HybridHparams hp;
    hp.t = read_transformer_hparams(keys, spec.rope);
    if (hp.t.head_dim_k != hp.t.head_dim_v) {
        fail(ErrorKind::kCorrupt,
             "{}: {} = {} and {} = {} must be equal (the gated attention's output gate has "
             "one value per query dim)",
             keys.file().path(), keys.key("attention.key_length"), hp.t.head_dim_k,
             keys.key("attention.value_length"), hp.t.head_dim_v);
    }
    hp.dn = read_deltanet_hparams(keys, hp.t, v.broadcast, v.beta_alpha);
    hp.recurrent = read_layer_types(keys, hp.t);
    if (v.imrope) read_sections(keys, hp);
    if (!v.imrope) hp.unrotated.assign(static_cast<size_t>(hp.t.rope.n_dims / 2), 0);
    if (v.moe) {
        hp.moe = read_hybrid_moe(keys, hp.t, spec.gguf_name);
        hp.n_ff_shexp =
            keys.int_in("expert_shared_feed_forward_length", 1, int64_t{1} << 20, hp.t.n_ff);
    }
    return hp;
}

// ---- 2. Weights -----------------------------------------------------------------------------

struct GatedAttnWeights {
    TensorView wq;      // (n_embd, 2 * n_head * head_dim): per head [q | output gate]
    TensorView wk;      // (n_embd, n_head_kv * head_dim)
    TensorView wv;      // (n_embd, n_head_kv * head_dim)
    TensorView q_norm;  // f32 (head_dim)
    TensorView k_norm;  // f32 (head_dim)
    TensorView wo;      // (n_head * head_dim, n_embd)
};

struct LayerWeights {
    TensorView attn_norm;  // (n_embd) f32
    TensorView post_norm;  // (n_embd) f32: post_attention_norm, the pre-FFN norm
    bool recurrent = false;
    StateSlot where;  // recurrent: the state's place; attention: where.slot is the KV slot
    DeltaNetWeights dn;
    GatedAttnWeights attn;
    FfnWeights ffn;         // dense (qwen35)
    MoeWeights moe;         // MoE archs
    FfnWeights shexp;       // (n_embd, n_ff_shexp) shared expert
    TensorView shexp_gate;  // (n_embd): one gate logit per token for the shared expert
};

struct Weights {
    TensorView token_embd;   // (n_embd, n_vocab)
    OutputHead head;         // output falls back to token_embd when the file ties them
    std::vector<LayerWeights> layers;
};

GatedAttnWeights bind_gated_attn(Binder& b, const TransformerHparams& hp, int il) {
    auto t = [il](std::string_view n) { return layer_tensor(il, n); };
    const int64_t e = hp.n_embd, d = hp.head_dim_k;
    const int64_t q_w = int64_t{hp.n_head} * d, kv_w = int64_t{hp.n_head_kv} * d;
    GatedAttnWeights w;
    w.wq = b.require(t("attn_q"), {e, 2 * q_w},
                     "attention.head_count x key_length x 2 (query and output gate)");
    w.wk = b.require(t("attn_k"), {e, kv_w});
    w.wv = b.require(t("attn_v"), {e, kv_w});
    w.q_norm = b.require_f32(t("attn_q_norm"), {d});
    w.k_norm = b.require_f32(t("attn_k_norm"), {d});
    w.wo = b.require(t("attn_output"), {q_w, e});
    return w;
}

// ---- 3. The model and its forward -----------------------------------------------------------

class HybridModel final : public Model {
   public:
    HybridModel(const ArchSpec& spec, const HybridVariant& v,
                std::shared_ptr<const gguf::File> file)
        : Model(std::move(file)), variant_(v) {
        const KeyReader keys(*file_, spec.gguf_name);
        hp_ = read_hybrid_hparams(keys, spec, v);
        bind(spec.gguf_name);
        plan_cache();
        info_.arch = std::string(spec.gguf_name);
        info_.name = file_->get_string("general.name").value_or("");
        info_.n_vocab = w_.token_embd.ne[1];
        info_.n_ctx_train = hp_.t.n_ctx_train;
        info_.n_embd = hp_.t.n_embd;
        describe();
    }

   private:
    void bind(std::string_view arch);
    LayerWeights bind_layer(Binder& b, int il);
    void plan_cache();
    void describe();
    std::vector<SeqTokens> prepare_states(const Batch& batch, KvStore& kv) const;
    void forward_impl(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) override;
    void attention_forward(const LayerWeights& l, const Batch& batch, KvStore& kv, ThreadPool& pool,
                           const float* cur, float* out) const;
    void rope_rows(float* x, int n_heads, int64_t width, const Batch& batch) const;
    void ffn_forward(const LayerWeights& l, int64_t n, ThreadPool& pool, const float* cur,
                     float* out) const;

    HybridVariant variant_;
    HybridHparams hp_;
    Weights w_;
};

LayerWeights HybridModel::bind_layer(Binder& b, int il) {
    const int64_t e = hp_.t.n_embd;
    LayerWeights l;
    l.attn_norm = b.require_f32(layer_tensor(il, "attn_norm"), {e});
    l.post_norm = b.require_f32(layer_tensor(il, "post_attention_norm"), {e});
    l.recurrent = hp_.recurrent[static_cast<size_t>(il)] != 0;
    if (l.recurrent) {
        l.dn = bind_deltanet(b, hp_.dn, e, il);
    } else {
        l.attn = bind_gated_attn(b, hp_.t, il);
    }
    if (!variant_.moe) {
        l.ffn = bind_ffn(b, il, e, hp_.t.n_ff);
        return l;
    }
    if (b.has(layer_tensor(il, "ffn_gate_up_exps"))) {
        fail(ErrorKind::kUnsupported,
             "{}: merged expert tensor '{}' is not supported yet (split ffn_gate_exps / "
             "ffn_up_exps expected)",
             b.path(), layer_tensor(il, "ffn_gate_up_exps"));
    }
    l.moe = bind_moe(b, il, e, hp_.moe, false);
    l.shexp = bind_ffn(b, il, e, hp_.n_ff_shexp, "_shexp",
                       fmt::format("expert_shared_feed_forward_length = {}", hp_.n_ff_shexp));
    l.shexp_gate = b.require(layer_tensor(il, "ffn_gate_inp_shexp"), {e});
    return l;
}

void HybridModel::bind(std::string_view arch) {
    Binder b(*file_, arch);
    const int64_t e = hp_.t.n_embd;
    const gguf::TensorInfo* embd = file_->find_tensor("token_embd.weight");
    if (!embd) fail(ErrorKind::kCorrupt, "{}: missing tensor 'token_embd.weight'", file_->path());
    const int64_t n_vocab = embd->ne[1];
    w_.token_embd = b.require("token_embd.weight", {e, n_vocab});
    w_.head.norm = b.require_f32("output_norm.weight", {e});
    w_.head.output = b.optional("output.weight", {e, n_vocab});
    if (w_.head.output.empty()) w_.head.output = w_.token_embd;
    for (int il = 0; il < hp_.t.n_layer_main(); ++il) w_.layers.push_back(bind_layer(b, il));
}

void HybridModel::plan_cache() {
    int n_attn = 0, n_rec = 0;
    for (uint8_t r : hp_.recurrent) (r ? n_rec : n_attn) += 1;
    const int slots = std::max(n_attn, 1);
    const int per_slot = (n_rec + slots - 1) / slots;
    int a = 0, r = 0;
    for (LayerWeights& l : w_.layers) {
        if (l.recurrent) {
            l.where = {r / per_slot, (r % per_slot) * hp_.dn.state_values()};
            ++r;
        } else {
            l.where = {a++, 0};
        }
    }
    const int64_t kv_w = n_attn > 0 ? int64_t{hp_.t.n_head_kv} * hp_.t.head_dim_k : 0;
    info_.kv = {slots, kv_w, kv_w, per_slot * hp_.dn.state_values()};
    info_.kv_mha_values_per_token = info_.kv.k_width + info_.kv.v_width;
}

void HybridModel::describe() {
    info_.hparams = hp_.t.describe();
    std::string types;
    for (uint8_t r : hp_.recurrent) types += r ? 'R' : 'A';
    info_.hparams.emplace_back("layer_types",
                               types + " (R = Gated DeltaNet, A = gated full attention)");
    const DeltaNetHparams& d = hp_.dn;
    info_.hparams.emplace_back(
        "deltanet",
        fmt::format(
            "conv {} taps, {} key heads, {} value heads, head dim {}, value head j reads key head "
            "{}, beta/alpha {}, prefill chunk {}",
            d.d_conv, d.n_k_heads, d.n_v_heads, d.head_dim,
            d.broadcast == HeadBroadcast::kTiled ? "j mod nk" : "j / (nv / nk)",
            d.beta_alpha == BetaAlphaLayout::kSeparate ? "separate" : "fused ssm_ba",
            d.chunk_size));
    if (variant_.imrope) {
        const auto flat = std::count(hp_.unrotated.begin(), hp_.unrotated.end(), 1);
        info_.hparams.emplace_back("rope_sections",
                                   fmt::format("[{}, {}, {}, {}] (imrope: {} of {} rotary pairs "
                                               "unrotated for text)",
                                               hp_.sections[0], hp_.sections[1], hp_.sections[2],
                                               hp_.sections[3], flat, hp_.unrotated.size()));
    }
    if (variant_.moe) {
        info_.hparams.emplace_back(
            "moe", describe_moe(hp_.moe) +
                       fmt::format(", sigmoid-gated shared expert ff {}", hp_.n_ff_shexp));
    }
    // What the cache allocates per sequence (slots x state_width); equal to the need unless the
    // DeltaNet layers do not split evenly over the attention slots.
    const int64_t n_rec = std::count(hp_.recurrent.begin(), hp_.recurrent.end(), 1);
    info_.hparams.emplace_back(
        "recurrent_state_bytes_per_sequence",
        fmt::format("{} (f32, fixed; {} DeltaNet layers x (conv {} + delta-rule {} + 1) values)",
                    int64_t{info_.kv.n_layer} * info_.kv.state_width * 4, n_rec,
                    d.conv_state_values(), d.delta_state_values()));
    info_.hparams.emplace_back("tied_output", w_.head.output.data == w_.token_embd.data ? "yes" : "no");
}

std::vector<SeqTokens> HybridModel::prepare_states(const Batch& batch, KvStore& kv) const {
    if (std::none_of(hp_.recurrent.begin(), hp_.recurrent.end(), [](uint8_t r) { return r; })) {
        return {};
    }
    std::vector<SeqTokens> seqs = group_by_sequence(batch);
    // Check every state before touching any, so a rejected batch leaves the cache as it was.
    for (const LayerWeights& l : w_.layers) {
        for (const SeqTokens& s : seqs) {
            if (l.recurrent) check_state(hp_.dn, kv, l.where, s);
        }
    }
    for (const LayerWeights& l : w_.layers) {
        for (const SeqTokens& s : seqs) {
            if (l.recurrent) reset_state_if_new(hp_.dn, kv, l.where, s);
        }
    }
    return seqs;
}

// RoPE (NEOX pairing) on the first n_rot dims of each head; IMROPE pairs that take the 4th
// position stream get position 0's angle, which is no rotation (ref: §5.3 GatedAttention 3).
void HybridModel::rope_rows(float* x, int n_heads, int64_t width, const Batch& batch) const {
    const kernels::RopeParams& rope = hp_.t.rope;
    if (rope.n_dims == 0) return;
    std::vector<float> cs(static_cast<size_t>(rope.n_dims)), cs0(cs.size());
    kernels::rope_cache(rope, 0, cs0.data());
    for (int64_t t = 0; t < batch.size(); ++t) {
        kernels::rope_cache(rope, batch.positions[t], cs.data());
        for (size_t i = 0; i < hp_.unrotated.size(); ++i) {
            if (!hp_.unrotated[i]) continue;
            cs[2 * i] = cs0[2 * i];
            cs[2 * i + 1] = cs0[2 * i + 1];
        }
        kernels::rope_apply(rope, cs.data(), x + t * width, n_heads, hp_.t.head_dim_k);
    }
}

void HybridModel::attention_forward(const LayerWeights& l, const Batch& batch, KvStore& kv,
                                    ThreadPool& pool, const float* cur, float* out) const {
    const GatedAttnWeights& w = l.attn;
    const int64_t n = batch.size(), d = hp_.t.head_dim_k;
    const int nh = hp_.t.n_head, nkv = hp_.t.n_head_kv;
    const int64_t q_w = nh * d, kv_w = nkv * d;
    std::vector<float> qg(static_cast<size_t>(n * 2 * q_w)), q(static_cast<size_t>(n * q_w)),
        gate(q.size()), k(static_cast<size_t>(n * kv_w)), v(k.size()), attn(q.size());
    kernels::matmul(w.wq, cur, n, qg.data(), pool);
    kernels::matmul(w.wk, cur, n, k.data(), pool);
    kernels::matmul(w.wv, cur, n, v.data(), pool);
    // attn_q rows interleave per head: [q_h | gate_h].
    for (int64_t t = 0; t < n; ++t) {
        for (int h = 0; h < nh; ++h) {
            const float* src = &qg[t * 2 * q_w + 2 * h * d];
            std::copy_n(src, d, &q[t * q_w + h * d]);
            std::copy_n(src + d, d, &gate[t * q_w + h * d]);
        }
    }
    // Per-head QK RMSNorm before RoPE; the gate half of attn_q is not normed.
    for (int64_t r = 0; r < n * nh; ++r) {
        kernels::rms_norm(&q[r * d], w.q_norm.f32(), &q[r * d], d, hp_.t.rms_eps);
    }
    for (int64_t r = 0; r < n * nkv; ++r) {
        kernels::rms_norm(&k[r * d], w.k_norm.f32(), &k[r * d], d, hp_.t.rms_eps);
    }
    rope_rows(q.data(), nh, q_w, batch);
    rope_rows(k.data(), nkv, kv_w, batch);
    const AttentionOptions opt{nh, nkv, static_cast<int>(d), static_cast<int>(d),
                               1.0f / std::sqrt(static_cast<float>(d))};
    attention(opt, batch, l.where.slot, kv, q.data(), k.data(), v.data(), attn.data(), pool);
    for (size_t i = 0; i < attn.size(); ++i) attn[i] *= 1.0f / (1.0f + std::exp(-gate[i]));
    kernels::matmul(w.wo, attn.data(), n, out, pool);
}

void HybridModel::ffn_forward(const LayerWeights& l, int64_t n, ThreadPool& pool, const float* cur,
                              float* out) const {
    if (!variant_.moe) {
        ffn_swiglu(l.ffn, cur, n, out, pool);
        return;
    }
    const int64_t e = hp_.t.n_embd;
    moe_ffn(hp_.moe.opt, l.moe, cur, n, out, pool);
    std::vector<float> shared(static_cast<size_t>(n * e)), gate(static_cast<size_t>(n));
    ffn_swiglu(l.shexp, cur, n, shared.data(), pool);
    kernels::matmul(l.shexp_gate, cur, n, gate.data(), pool);
    for (int64_t t = 0; t < n; ++t) {
        const float s = 1.0f / (1.0f + std::exp(-gate[t]));
        for (int64_t c = 0; c < e; ++c) out[t * e + c] += shared[t * e + c] * s;
    }
}

void HybridModel::forward_impl(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) {
    const int64_t n = batch.size(), e = hp_.t.n_embd;
    const float eps = hp_.t.rms_eps;
    const std::vector<SeqTokens> seqs = prepare_states(batch, kv);
    std::vector<float> x(static_cast<size_t>(n * e)), cur(x.size()), delta(x.size());
    kernels::get_rows(w_.token_embd, batch.tokens.data(), n, x.data());
    for (const LayerWeights& l : w_.layers) {
        for (int64_t t = 0; t < n; ++t) {
            kernels::rms_norm(&x[t * e], l.attn_norm.f32(), &cur[t * e], e, eps);
        }
        if (l.recurrent) {
            deltanet_forward(hp_.dn, l.dn, seqs, n, kv, l.where, pool, cur.data(), delta.data());
        } else {
            attention_forward(l, batch, kv, pool, cur.data(), delta.data());
        }
        kernels::add_inplace(x.data(), delta.data(), n * e);
        // post_attention_norm is the pre-FFN norm of this family (there is no ffn_norm).
        for (int64_t t = 0; t < n; ++t) {
            kernels::rms_norm(&x[t * e], l.post_norm.f32(), &cur[t * e], e, eps);
        }
        ffn_forward(l, n, pool, cur.data(), delta.data());
        kernels::add_inplace(x.data(), delta.data(), n * e);
    }
    output_logits(w_.head, batch, x.data(), e, eps, pool, out);
}

}  // namespace

std::unique_ptr<Model> load_qwen35(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                   const LoadOptions& /*options*/) {
    return std::make_unique<HybridModel>(spec, kQwen35, std::move(file));
}

std::unique_ptr<Model> load_qwen35moe(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                      const LoadOptions& /*options*/) {
    return std::make_unique<HybridModel>(spec, kQwen35Moe, std::move(file));
}

std::unique_ptr<Model> load_qwen3next(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                      const LoadOptions& /*options*/) {
    return std::make_unique<HybridModel>(spec, kQwen3Next, std::move(file));
}

}  // namespace sobre::model
