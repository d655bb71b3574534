// The `sobre quantize` driver: checks, metadata, and the streamed per-tensor conversion.
// Type choice lives in quantize_rules.cc.
#include "gguf/quantize.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "core/error.h"
#include "core/thread_pool.h"
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

// Copies the input's metadata in order, then appends the two keys llama-quantize sets (it
// removes and re-adds them, so they move to the end) and drops the split keys.
void copy_metadata(const File& in, const QuantTarget& target, Writer& w) {
    for (const auto& [key, value] : in.metadata()) {
        if (key == "general.quantization_version" || key == "general.file_type" ||
            key == "split.no" || key == "split.count" || key == "split.tensors.count") {
            continue;
        }
        w.set(key, value);
    }
    w.set("general.quantization_version", Value::of_u32(kQuantizationVersion));
    w.set("general.file_type", Value::of_u32(target.ftype));
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
// quantized independently, so the bytes do not depend on the thread count.
void convert_rows(const TensorInfo& t, DType to, ThreadPool& pool, ByteSink& out) {
    const int64_t n = t.ne[0];
    const int64_t rows = t.n_rows();
    const int64_t in_row = t.row_bytes();
    const int64_t out_row = row_bytes(to, n);
    const ToFloatFn to_float = dtype_traits(t.type).to_float;
    const FromFloatFn from_float = dtype_traits(to).from_float;
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
                from_float(row, q.data() + r * out_row, n);
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

Writer::Producer producer(const TensorPlan& p, size_t index, size_t count, ThreadPool& pool,
                          const QuantizeOptions& options) {
    return [&p, index, count, &pool, &options](ByteSink& out) {
        if (options.progress) options.progress({index, count, p.in, p.type});
        if (p.in->type == p.type) {
            out.write(p.in->data, p.in->n_bytes);
        } else {
            convert_rows(*p.in, p.type, pool, out);
        }
    };
}

}  // namespace

QuantizeSummary quantize_file(const std::string& in_path, const std::string& out_path,
                              std::string_view type, const QuantizeOptions& options) {
    const QuantTarget& target = find_quant_target(type);
    if (!options.imatrix.empty()) {
        fail(ErrorKind::kUnsupported,
             "--imatrix is not supported yet ({}); without it the output matches "
             "llama-quantize's without an importance matrix",
             options.imatrix);
    }
    const File in = File::open(in_path);
    reject_split_input(in);
    const std::vector<TensorPlan> plan = plan_quantization(in, target);
    check_conversions(in, plan, options.allow_requantize);

    Writer w;
    copy_metadata(in, target, w);
    ThreadPool pool(options.threads);
    QuantizeSummary sum;
    for (size_t i = 0; i < plan.size(); ++i) {
        const TensorInfo& t = *plan[i].in;
        w.add_tensor(t.name, plan[i].type, output_shape(t),
                     producer(plan[i], i, plan.size(), pool, options));
        ++sum.tensors;
        sum.converted += t.type != plan[i].type ? 1 : 0;
        sum.in_bytes += t.n_bytes;
        sum.out_bytes += static_cast<uint64_t>(row_bytes(plan[i].type, t.ne[0]) * t.n_rows());
    }
    w.write(out_path);
    return sum;
}

}  // namespace sobre::gguf
