// llama-quantize's per-tensor type rules, for the file types `sobre quantize` writes.
// ref: llama.cpp src/llama-quant.cpp (tensor_allows_quantization, tensor_get_category,
// llama_tensor_get_type_impl, tensor_type_fallback) and the tensor order of
// llama_model_loader::weights_map. Branches for file types we do not offer (IQ*, TQ*, MXFP4,
// Q2_K_S) are left out; every branch that can fire for ours is kept, in llama.cpp's order,
// because the order decides which rule wins.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>

#include "core/error.h"
#include "gguf/quantize.h"

namespace sobre::gguf {
namespace {

// llama.cpp's LLAMA_FTYPE_* values of the file types we write.
enum Ftype : uint32_t {
    kFtypeF16 = 1,
    kFtypeQ4_0 = 2,
    kFtypeQ4_1 = 3,
    kFtypeQ8_0 = 7,
    kFtypeQ5_0 = 8,
    kFtypeQ5_1 = 9,
    kFtypeQ2_K = 10,
    kFtypeQ3_K_S = 11,
    kFtypeQ3_K_M = 12,
    kFtypeQ3_K_L = 13,
    kFtypeQ4_K_S = 14,
    kFtypeQ4_K_M = 15,
    kFtypeQ5_K_S = 16,
    kFtypeQ5_K_M = 17,
    kFtypeQ6_K = 18,
    kFtypeBF16 = 32,
};

constexpr QuantTarget kTargets[] = {
    {"Q8_0", kFtypeQ8_0, DType::kQ8_0},     {"Q4_0", kFtypeQ4_0, DType::kQ4_0},
    {"Q4_1", kFtypeQ4_1, DType::kQ4_1},     {"Q5_0", kFtypeQ5_0, DType::kQ5_0},
    {"Q5_1", kFtypeQ5_1, DType::kQ5_1},     {"Q2_K", kFtypeQ2_K, DType::kQ2_K},
    {"Q3_K", kFtypeQ3_K_M, DType::kQ3_K},   {"Q3_K_S", kFtypeQ3_K_S, DType::kQ3_K},
    {"Q3_K_M", kFtypeQ3_K_M, DType::kQ3_K}, {"Q3_K_L", kFtypeQ3_K_L, DType::kQ3_K},
    {"Q4_K", kFtypeQ4_K_M, DType::kQ4_K},   {"Q4_K_S", kFtypeQ4_K_S, DType::kQ4_K},
    {"Q4_K_M", kFtypeQ4_K_M, DType::kQ4_K}, {"Q5_K", kFtypeQ5_K_M, DType::kQ5_K},
    {"Q5_K_S", kFtypeQ5_K_S, DType::kQ5_K}, {"Q5_K_M", kFtypeQ5_K_M, DType::kQ5_K},
    {"Q6_K", kFtypeQ6_K, DType::kQ6_K},     {"F16", kFtypeF16, DType::kF16},
    {"BF16", kFtypeBF16, DType::kBF16},
};

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::toupper(static_cast<unsigned char>(x)) ==
                      std::toupper(static_cast<unsigned char>(y));
           });
}

bool contains(const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
}

// QuantModelFacts in the form the rules use.
struct ModelFacts {
    std::string arch;
    int n_layer = 0;
    int n_expert = 0;
    int n_gqa = 0;        // n_head / n_head_kv of layer 0; 0 when n_head_kv is 0
    bool is_70b = false;  // llama.cpp's LLM_TYPE_70B, which gives attn_v more bits
};

// A scalar metadata value, or the first element of a per-layer array.
int first_int(const File& f, const std::string& key, int dflt) {
    const Value* v = f.find(key);
    if (v == nullptr) return dflt;
    if (v->type == ValueType::kArray) {
        if (v->size() == 0 || v->elem_type == ValueType::kString ||
            v->elem_type == ValueType::kArray) {
            fail(ErrorKind::kCorrupt, "{}: {} is not an integer array", f.path(), key);
        }
        return static_cast<int>(v->at(0).as_double());
    }
    if (!v->is_integer()) fail(ErrorKind::kCorrupt, "{}: {} is not an integer", f.path(), key);
    return static_cast<int>(v->as_double());
}

// Which architectures llama.cpp sizes as LLM_TYPE_70B (the only model size the rules read).
bool sized_70b(const std::string& arch, int n_layer, int n_head, int n_head_kv) {
    if (arch == "llama") return n_layer == 80 && n_head != n_head_kv;  // 65B otherwise
    if (arch == "qwen2" || arch == "deci") return n_layer == 80;
    if (arch == "jais2") return n_layer == 68;
    return false;
}

QuantModelFacts read_facts(const File& f) {
    QuantModelFacts q;
    q.arch = f.get_string("general.architecture").value_or("");
    const std::string p = q.arch + ".";
    q.n_layer = first_int(f, p + "block_count", 0);
    q.n_expert = first_int(f, p + "expert_count", 0);
    q.n_head = first_int(f, p + "attention.head_count", 0);
    q.n_head_kv = first_int(f, p + "attention.head_count_kv", q.n_head);
    return q;
}

ModelFacts rule_facts(const QuantModelFacts& q) {
    ModelFacts m;
    m.arch = q.arch;
    m.n_layer = q.n_layer;
    m.n_expert = q.n_expert;
    m.n_gqa = q.n_head_kv == 0 ? 0 : q.n_head / q.n_head_kv;
    m.is_70b = sized_70b(m.arch, m.n_layer, q.n_head, q.n_head_kv);
    return m;
}

enum class Category {
    kTokenEmbd,
    kAttnQ,
    kAttnV,
    kAttnK,
    kAttnQkv,
    kAttnKvB,
    kAttnOutput,
    kFfnUp,
    kFfnGate,
    kFfnDown,
    kOutput,
    kOther,
};

Category category_of(const std::string& name) {
    if (name == "output.weight") return Category::kOutput;
    if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") {
        return Category::kTokenEmbd;
    }
    if (contains(name, "attn_qkv.weight")) return Category::kAttnQkv;
    if (contains(name, "attn_kv_b.weight")) return Category::kAttnKvB;
    if (contains(name, "attn_v.weight")) return Category::kAttnV;
    if (contains(name, "attn_k.weight")) return Category::kAttnK;
    if (contains(name, "attn_q.weight")) return Category::kAttnQ;
    if (contains(name, "attn_output.weight")) return Category::kAttnOutput;
    if (contains(name, "ffn_up")) return Category::kFfnUp;
    if (contains(name, "ffn_gate")) return Category::kFfnGate;
    if (contains(name, "ffn_down")) return Category::kFfnDown;
    return Category::kOther;
}

// Tensors that hold values of the attention V projection (more sensitive to quantization).
bool is_attn_v_like(Category c) {
    return c == Category::kAttnV || c == Category::kAttnQkv || c == Category::kAttnKvB;
}

// ggml_n_dims: trailing dimensions of size 1 do not count.
int n_dims(const TensorInfo& t) {
    for (int d = kMaxDims - 1; d > 0; --d) {
        if (t.ne[d] > 1) return d + 1;
    }
    return 1;
}

// Name parts of tensors llama-quantize never converts: small, positional, integer or
// routing tensors of various architectures.
constexpr std::string_view kKeepParts[] = {
    "_norm.weight",
    "ffn_gate_inp.weight",
    "ffn_gate_tid2eid.weight",
    "altup",
    "laurel",
    "per_layer_model_proj",
    "ssm_conv1d",
    "shortconv.conv.weight",
    "indexer.k_proj.weight",
    "indexer.q_proj.weight",
    "time_mix_first.weight",
    "time_mix_w0.weight",
    "time_mix_w1.weight",
    "time_mix_w2.weight",
    "time_mix_v0.weight",
    "time_mix_v1.weight",
    "time_mix_v2.weight",
    "time_mix_a0.weight",
    "time_mix_a1.weight",
    "time_mix_a2.weight",
    "time_mix_g1.weight",
    "time_mix_g2.weight",
    "time_mix_decay_w1.weight",
    "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight",
    "attn_rel_b.weight",
    ".position_embd",
    "sam.pos_embd",
    "sam.neck.",
    "sam.net_",
    ".rel_pos",
    ".patch_embd",
    ".patch_merger",
    "a.rvq.codebook",
    "mm.a.code_embd",
};

// Only matrices (and expert stacks) whose names end in "weight" are converted.
bool allows_quantization(const TensorInfo& t) {
    if (n_dims(t) < 2) return false;
    const std::string& name = t.name;
    if (!name.ends_with("weight")) return false;
    // llama.cpp compares these two with the architecture's own names; no other architecture
    // uses them for something else.
    if (name == "position_embd.weight" || name == "token_types.weight") return false;
    return std::none_of(std::begin(kKeepParts), std::end(kKeepParts),
                        [&](std::string_view part) { return contains(name, part); });
}

// Running state of the rules, in output order (llama.cpp's quantize_state_impl).
struct RuleState {
    ModelFacts m;
    uint32_t ftype = 0;
    bool has_imatrix = false;
    bool tied_embeddings = true;  // no output.weight: token_embd doubles as the output
    int n_attn_v = 0;
    int i_attn_v = 0;
    int i_ffn_down = 0;
};

bool use_more_bits(int i_layer, int n_layers) {
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 ||
           (i_layer - n_layers / 8) % 3 == 2;
}

// The layer of a per-layer tensor: from its name in MoE models (experts are not stored in
// layer order there), else the running count of such tensors.
int layer_of(const RuleState& s, const std::string& name, int counter) {
    if (s.m.n_expert <= 1) return counter;
    int il = 0;
    if (std::sscanf(name.c_str(), "blk.%d.", &il) != 1) {
        fail(ErrorKind::kUnsupported, "cannot tell the layer of tensor '{}'", name);
    }
    if (il < 0 || il >= s.m.n_layer) {
        fail(ErrorKind::kCorrupt, "tensor '{}' is in layer {}, outside [0, {})", name, il,
             s.m.n_layer);
    }
    return il;
}

DType output_type(const RuleState& s, const TensorInfo& t, DType type) {
    if (s.m.arch == "falcon" || t.ne[0] % dtype_traits(type).block_elems != 0) return DType::kQ8_0;
    return type != DType::kQ8_0 ? DType::kQ6_K : type;
}

DType attn_v_type(RuleState& s, DType type) {
    const uint32_t f = s.ftype;
    if (f == kFtypeQ2_K) {
        type = s.m.n_gqa >= 4 ? DType::kQ4_K : DType::kQ3_K;
    } else if (f == kFtypeQ3_K_M) {
        type = s.i_attn_v < 2 ? DType::kQ5_K : DType::kQ4_K;
    } else if (f == kFtypeQ3_K_L) {
        type = DType::kQ5_K;
    } else if ((f == kFtypeQ4_K_M || f == kFtypeQ5_K_M) && use_more_bits(s.i_attn_v, s.n_attn_v)) {
        type = DType::kQ6_K;
    } else if (f == kFtypeQ4_K_S && s.i_attn_v < 4) {
        type = DType::kQ5_K;
    }
    // 70B models share each attn_v among 8 heads: the tensor is small, more bits are cheap.
    if (s.m.is_70b && (type == DType::kQ3_K || type == DType::kQ4_K)) type = DType::kQ5_K;
    if (s.m.n_expert == 8) type = DType::kQ8_0;
    ++s.i_attn_v;
    return type;
}

DType ffn_down_type(RuleState& s, const std::string& name, DType type) {
    const int il = layer_of(s, name, s.i_ffn_down);
    const int n = s.m.n_layer;
    const bool falcon = s.m.arch == "falcon";
    const uint32_t f = s.ftype;
    if (f == kFtypeQ2_K) {
        type = DType::kQ3_K;
    } else if (f == kFtypeQ3_K_M) {
        type = il < n / 16                       ? DType::kQ5_K
               : !falcon || use_more_bits(il, n) ? DType::kQ4_K
                                                 : DType::kQ3_K;
    } else if (f == kFtypeQ3_K_L) {
        type = falcon ? DType::kQ4_K : DType::kQ5_K;
    } else if (f == kFtypeQ4_K_M) {
        if (falcon) {
            type = il < n / 16 ? DType::kQ6_K : use_more_bits(il, n) ? DType::kQ5_K : DType::kQ4_K;
        } else if (use_more_bits(il, n)) {
            type = DType::kQ6_K;
        }
    } else if (f == kFtypeQ5_K_M && use_more_bits(il, n)) {
        type = DType::kQ6_K;
    } else if (f == kFtypeQ4_K_S && !falcon && il < n / 8) {
        type = DType::kQ5_K;
    } else if ((f == kFtypeQ4_0 || f == kFtypeQ5_0) && s.has_imatrix && il < n / 8) {
        // llama.cpp guards the first ffn_down layers, which can go astray even with an imatrix;
        // only with one, so that output without an imatrix stays as it always was.
        type = f == kFtypeQ4_0 ? DType::kQ4_1 : DType::kQ5_1;
    }
    ++s.i_ffn_down;
    return type;
}

DType attn_output_type(const RuleState& s, DType type) {
    const uint32_t f = s.ftype;
    if (s.m.arch == "falcon") return f == kFtypeQ3_K_L ? DType::kQ4_K : type;
    if (s.m.n_expert == 8) {
        const bool low = f == kFtypeQ2_K || f == kFtypeQ3_K_S || f == kFtypeQ3_K_M ||
                         f == kFtypeQ4_K_S || f == kFtypeQ4_K_M;
        return low ? DType::kQ5_K : type;
    }
    if (f == kFtypeQ2_K) return DType::kQ3_K;
    if (f == kFtypeQ3_K_M) return DType::kQ4_K;
    if (f == kFtypeQ3_K_L) return DType::kQ5_K;
    return type;
}

// llama_tensor_get_type_impl: the mix's choice for one tensor.
DType mix_type(RuleState& s, const TensorInfo& t, DType type) {
    const Category c = category_of(t.name);
    if (c == Category::kOutput || (s.tied_embeddings && c == Category::kTokenEmbd)) {
        return output_type(s, t, type);
    }
    if (c == Category::kTokenEmbd) return type;
    if (is_attn_v_like(c)) return attn_v_type(s, type);
    if (c == Category::kAttnK) return s.m.n_expert == 8 ? DType::kQ8_0 : type;
    if (c == Category::kFfnDown) return ffn_down_type(s, t.name, type);
    if (c == Category::kAttnOutput) return attn_output_type(s, type);
    return type;
}

// A row length that is not a multiple of the chosen type's block falls back to a type with
// 32-element blocks, then to f16. ref: tensor_type_fallback.
DType fallback_type(const TensorInfo& t, DType type) {
    const int64_t ncols = t.ne[0];
    if (ncols % dtype_traits(type).block_elems == 0) return type;
    DType out;
    switch (type) {
        case DType::kQ2_K:
        case DType::kQ3_K:
            out = DType::kQ4_0;
            break;
        case DType::kQ4_K:
            out = DType::kQ5_0;
            break;
        case DType::kQ5_K:
            out = DType::kQ5_1;
            break;
        case DType::kQ6_K:
            out = DType::kQ8_0;
            break;
        default:
            fail(ErrorKind::kUnsupported,
                 "tensor '{}': rows of {} elements do not fit {} blocks of {}, and there is no "
                 "fallback type for {} (as in llama-quantize)",
                 t.name, ncols, dtype_name(type), dtype_traits(type).block_elems, dtype_name(type));
    }
    return ncols % dtype_traits(out).block_elems == 0 ? out : DType::kF16;
}

// llama_model_loader's tensor order: by layer (tensors outside blk.N come first), then name.
bool loader_order(const TensorInfo* a, const TensorInfo* b) {
    int la = -1;
    int lb = -1;
    std::sscanf(a->name.c_str(), "blk.%d.", &la);
    std::sscanf(b->name.c_str(), "blk.%d.", &lb);
    if (la != lb) return la < lb;
    return a->name < b->name;
}

RuleState initial_state(const QuantModelFacts& facts, const std::vector<TensorInfo>& tensors,
                        const QuantTarget& target) {
    RuleState s;
    s.m = rule_facts(facts);
    s.ftype = target.ftype;
    for (const TensorInfo& t : tensors) {
        const Category c = category_of(t.name);
        if (is_attn_v_like(c)) ++s.n_attn_v;
        if (c == Category::kOutput) s.tied_embeddings = false;
    }
    return s;
}

}  // namespace

std::span<const QuantTarget> quant_targets() { return kTargets; }

const QuantTarget& find_quant_target(std::string_view name) {
    for (const QuantTarget& t : kTargets) {
        if (iequals(t.name, name)) return t;
    }
    std::string names;
    for (const QuantTarget& t : kTargets)
        names += (names.empty() ? "" : ", ") + std::string(t.name);
    fail(ErrorKind::kInvalidArgument, "unknown quantization type '{}' (valid: {})", name, names);
}

std::vector<TensorPlan> plan_quantization(const File& in, const QuantTarget& target, bool has_imatrix) {
    return plan_tensors(read_facts(in), in.tensors(), target, has_imatrix);
}

std::vector<TensorPlan> plan_tensors(const QuantModelFacts& facts, const std::vector<TensorInfo>& tensors,
                                     const QuantTarget& target, bool has_imatrix) {
    std::vector<const TensorInfo*> order;
    for (const TensorInfo& t : tensors) order.push_back(&t);
    std::sort(order.begin(), order.end(), loader_order);
    RuleState s = initial_state(facts, tensors, target);
    s.has_imatrix = has_imatrix;
    const bool quantized = dtype_traits(target.base).is_quantized;
    std::vector<TensorPlan> plan;
    for (const TensorInfo* t : order) {
        DType type = t->type;
        if (allows_quantization(*t)) {
            type = quantized ? fallback_type(*t, mix_type(s, *t, target.base)) : target.base;
        }
        plan.push_back({t, type});
    }
    return plan;
}

}  // namespace sobre::gguf
