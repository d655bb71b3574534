// The `sobre quantize` driver: checks, metadata, and the streamed per-tensor conversion.
// Type choice lives in quantize_rules.cc.
#include "gguf/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <utility>

#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/imatrix.h"
#include "gguf/writer.h"

namespace sobre::gguf {
namespace {

// ggml's GGML_QNT_VERSION, which llama-quantize writes to general.quantization_version.
constexpr uint32_t kQuantizationVersion = 2;
// Floats converted per chunk: bounds the working memory whatever the tensor size (16 MiB of
// f32 plus the chunk's output).
constexpr int64_t kChunkElems = int64_t{1} << 22;

void reject_split_input(const File& in) {
    const std::optional<uint64_t> count = in.get_u64("split.count");
    if (count && *count > 1) {
        fail(ErrorKind::kUnsupported,
             "{}: is one part of a {}-part split model; merge it first (llama-gguf-split --merge)",
             in.path(), *count);
    }
}

// Refuses, before anything is written, every conversion we would not finish.
void check_conversions(const File& in, const std::vector<TensorPlan>& plan, bool allow_requantize) {
    for (const TensorPlan& p : plan) {
        const TensorInfo& t = *p.in;
        if (t.type == p.type) continue;
        const DTypeTraits& from = dtype_traits(t.type);
        if (from.is_quantized && !allow_requantize) {
            fail(ErrorKind::kInvalidArgument,
                 "{}: tensor '{}' is already quantized ({}); requantizing to {} loses quality, "
                 "pass --allow-requantize to do it anyway",
                 in.path(), t.name, from.name, dtype_name(p.type));
        }
        if (from.to_float == nullptr) {
            fail(ErrorKind::kUnsupported, "{}: tensor '{}' has type {}, which cannot be converted",
                 in.path(), t.name, from.name);
        }
        SOBRE_CHECK(dtype_traits(p.type).from_float != nullptr);
    }
}

// The importance matrix of a run, as llama-quantize holds it: per tensor name, the weights of
// every input column of every matrix.
struct ImportanceData {
    std::string path;  // as given: llama-quantize writes it to quantize.imatrix.file
    Imatrix file;
    std::map<std::string, std::vector<float>> weights;
};

// llama-quantize keeps the first 127 bytes of a string it records (its override buffer).
std::string truncated(const std::string& s) { return s.substr(0, 127); }

// The keys llama-quantize appends after the input's metadata, in its order (gguf_set_val
// removes an existing key and appends it). An absent `imatrix` adds only the first two.
std::vector<std::pair<std::string, Value>> added_metadata(const QuantTarget& target, const ImportanceData* imatrix) {
    std::vector<std::pair<std::string, Value>> kv = {
        {"general.quantization_version", Value::of_u32(kQuantizationVersion)},
        {"general.file_type", Value::of_u32(target.ftype)},
    };
    if (imatrix == nullptr) return kv;
    kv.emplace_back("quantize.imatrix.file", Value::of_string(truncated(imatrix->path)));
    if (!imatrix->file.datasets.empty()) {
        kv.emplace_back("quantize.imatrix.dataset", Value::of_string(truncated(imatrix->file.datasets[0])));
    }
    kv.emplace_back("quantize.imatrix.entries_count", Value::of_u32(static_cast<uint32_t>(imatrix->weights.size())));
    if (imatrix->file.chunk_count > 0) {
        kv.emplace_back("quantize.imatrix.chunks_count", Value::of_u32(imatrix->file.chunk_count));
    }
    return kv;
}

// Copies the input's metadata in order, less the keys appended after it and the split keys.
void copy_metadata(const File& in, const std::vector<std::pair<std::string, Value>>& added, Writer& w) {
    for (const auto& [key, value] : in.metadata()) {
        const bool re_added = std::any_of(added.begin(), added.end(), [&](const auto& kv) { return kv.first == key; });
        if (re_added || key == "split.no" || key == "split.count" || key == "split.tensors.count") continue;
        w.set(key, value);
    }
    for (const auto& [key, value] : added) w.set(key, value);
}

ImportanceData load_importance(const std::string& path) {
    ImportanceData d{path, read_imatrix(path), {}};
    for (const auto& [name, entry] : d.file.entries) d.weights.emplace(name, imatrix_weights(entry));
    return d;
}

// The importance weights of each converted tensor: llama-quantize's lookup by name, with its
// size check (the token embedding is exempt: its lookup never matches in size). Every entry
// missing means the imatrix belongs to another model.
std::vector<const float*> match_importance(const File& in, const std::vector<TensorPlan>& plan,
                                           const ImportanceData& imatrix) {
    std::vector<const float*> out(plan.size(), nullptr);
    size_t found = 0;
    for (size_t i = 0; i < plan.size(); ++i) {
        const TensorInfo& t = *plan[i].in;
        if (t.type == plan[i].type) continue;
        const auto it = imatrix.weights.find(t.name);
        if (it == imatrix.weights.end()) continue;
        const auto expected = static_cast<size_t>(t.ne[0] * t.ne[2]);
        if (it->second.size() == expected) {
            out[i] = it->second.data();
            ++found;
        } else if (t.name != "token_embd.weight") {
            fail(ErrorKind::kInvalidArgument,
                 "{}: entry '{}' has {} values but the tensor in {} needs {} ({} x {} matrices); "
                 "is the imatrix for another model?",
                 imatrix.path, t.name, it->second.size(), in.path(), expected, t.ne[0], t.ne[2]);
        }
    }
    if (found == 0) {
        fail(ErrorKind::kInvalidArgument,
             "{}: none of its {} entries names a tensor being quantized in {}; is the imatrix for another model?",
             imatrix.path, imatrix.weights.size(), in.path());
    }
    return out;
}

// The shape as ggml writes it: trailing dimensions of size 1 dropped (ggml_n_dims).
std::vector<int64_t> output_shape(const TensorInfo& t) {
    int n = 1;
    for (int d = kMaxDims - 1; d > 0 && n == 1; --d) {
        if (t.ne[d] > 1) n = d + 1;
    }
    return std::vector<int64_t>(t.ne, t.ne + n);
}

bool all_finite(const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        if (!std::isfinite(x[i])) return false;
    }
    return true;
}

// Converts rows [0, rows) of `t` chunk by chunk, threads splitting each chunk's rows. Rows are
// quantized independently, so the bytes do not depend on the thread count. `importance`, when
// given, holds ne[0] weights per matrix (expert) of the tensor.
void convert_rows(const TensorInfo& t, DType to, const float* importance, ThreadPool& pool, ByteSink& out) {
    const int64_t n = t.ne[0];
    const int64_t rows = t.n_rows();
    const int64_t in_row = t.row_bytes();
    const int64_t out_row = row_bytes(to, n);
    const ToFloatFn to_float = dtype_traits(t.type).to_float;
    const FromFloatFn from_float = dtype_traits(to).from_float;
    const FromFloatWeightedFn weighted = importance != nullptr ? from_float_weighted(to) : nullptr;
    const int64_t chunk = std::clamp<int64_t>(kChunkElems / std::max<int64_t>(n, 1), 1, rows);
    std::vector<float> f(static_cast<size_t>(chunk * n));
    std::vector<uint8_t> q(static_cast<size_t>(chunk * out_row));
    std::vector<char> bad(static_cast<size_t>(chunk));  // per row; workers must not throw
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        const int64_t nr = std::min(chunk, rows - r0);
        pool.parallel_for(nr, [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
                float* row = f.data() + r * n;
                to_float(t.data + (r0 + r) * in_row, row, n);
                bad[r] = !all_finite(row, n);
                uint8_t* dst = q.data() + r * out_row;
                if (weighted != nullptr) {
                    weighted(row, dst, n, importance + (r0 + r) / t.ne[1] % t.ne[2] * n);
                } else {
                    from_float(row, dst, n);
                }
            }
        });
        const auto first_bad = std::find(bad.begin(), bad.begin() + nr, 1);
        if (first_bad != bad.begin() + nr) {
            fail(ErrorKind::kCorrupt, "tensor '{}': row {} holds a NaN or infinity", t.name,
                 r0 + (first_bad - bad.begin()));
        }
        out.write(q.data(), static_cast<size_t>(nr * out_row));
    }
}

Writer::Producer producer(const TensorPlan& p, const float* importance, size_t index, size_t count,
                          ThreadPool& pool, const QuantizeOptions& options) {
    return [&p, importance, index, count, &pool, &options](ByteSink& out) {
        if (options.progress) options.progress({index, count, p.in, p.type});
        if (p.in->type == p.type) {
            out.write(p.in->data, p.in->n_bytes);
        } else {
            convert_rows(*p.in, p.type, importance, pool, out);
        }
    };
}

}  // namespace

QuantizeSummary quantize_file(const std::string& in_path, const std::string& out_path,
                              std::string_view type, const QuantizeOptions& options) {
    const QuantTarget& target = find_quant_target(type);
    std::optional<ImportanceData> imatrix;
    if (!options.imatrix.empty()) imatrix = load_importance(options.imatrix);
    const File in = File::open(in_path);
    reject_split_input(in);
    const std::vector<TensorPlan> plan = plan_quantization(in, target, imatrix.has_value());
    check_conversions(in, plan, options.allow_requantize);
    std::vector<const float*> importance(plan.size(), nullptr);
    if (imatrix) importance = match_importance(in, plan, *imatrix);

    Writer w;
    copy_metadata(in, added_metadata(target, imatrix ? &*imatrix : nullptr), w);
    ThreadPool pool(options.threads);
    QuantizeSummary sum;
    for (size_t i = 0; i < plan.size(); ++i) {
        const TensorInfo& t = *plan[i].in;
        w.add_tensor(t.name, plan[i].type, output_shape(t),
                     producer(plan[i], importance[i], i, plan.size(), pool, options));
        ++sum.tensors;
        sum.converted += t.type != plan[i].type ? 1 : 0;
        sum.in_bytes += t.n_bytes;
        sum.out_bytes += static_cast<uint64_t>(row_bytes(plan[i].type, t.ne[0]) * t.n_rows());
    }
    w.write(out_path);
    return sum;
}

}  // namespace sobre::gguf
