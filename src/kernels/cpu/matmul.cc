// The ISA-agnostic matmul driver: activation quantization, the choice between the GEMV (decode)
// and the packed GEMM (prefill) paths, cache blocking and the split of work over threads.
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace sobre::kernels {
namespace {

// From this many activation rows on, the packed GEMM is used. Packing costs about one extra pass
// over the weights (from cache), which a tile repays by unpacking every weight block once for
// up to kMaxRows activation rows instead of once per row. A rough choice on the reasoning that
// with 1-3 rows the GEMV's cost is already dominated by reading the weights from DRAM.
constexpr int64_t kGemmMinTokens = 4;
// The observer of this thread's matmuls (ScopedMatmulObserver); null almost always.
thread_local MatmulObserver* t_observer = nullptr;

// Pieces of weight rows the threads claim (ThreadPool::parallel_for_balanced): about this many
// bytes, in whole 8-row GEMV steps. Large enough that a claim (one compare-exchange) and the
// cold start of the prefetch are noise, small enough that a core slowed by a neighbour on a
// shared machine hands most of its rows to the other.
constexpr int64_t kPieceBytes = 32 << 10;

int64_t gemv_grain(int64_t row_bytes) {
    const int64_t rows = std::max<int64_t>(1, kPieceBytes / std::max<int64_t>(1, row_bytes));
    return (rows + 7) / 8 * 8;
}

// Quantize activations on the pool only when there is enough of them to beat the wake-up cost.
constexpr int64_t kParallelQuantizeElems = 1 << 15;

// A reusable 64-byte-aligned byte buffer (one per thread: the driver's buffers are
// thread_local, so concurrent matmuls on different pools never share them).
class AlignedBuffer {
   public:
    uint8_t* get(size_t bytes) {
        if (storage_.size() < bytes + 64) storage_.resize(bytes + 64);
        const auto addr = reinterpret_cast<uintptr_t>(storage_.data());
        return storage_.data() + ((64 - addr % 64) % 64);
    }

   private:
    std::vector<uint8_t> storage_;
};

// Runs fn(t) for every activation row, on the pool when the rows are big enough.
template <class Fn>
void for_each_row(int64_t n_tokens, int64_t n_in, ThreadPool& pool, const Fn& fn) {
    if (n_tokens > 1 && n_tokens * n_in >= kParallelQuantizeElems) {
        pool.parallel_for(n_tokens, [&](int64_t begin, int64_t end) {
            for (int64_t t = begin; t < end; ++t) fn(t);
        });
    } else {
        for (int64_t t = 0; t < n_tokens; ++t) fn(t);
    }
}

// Rows of weights one pass of matmul_rows dots with each activation row in turn.
constexpr int64_t kRowBlock = 8;

// Types without a GEMM or GEMV (the float types): one vec_dot per output. A block of weight rows
// is dotted with every activation row, so both stay in cache: each activation row is loaded once
// per block instead of once per weight row (a MoE router over a prefill batch re-read every
// token's activations 128 times). Threads take pieces of rows.
void matmul_rows(const TensorView& w, const uint8_t* act, int64_t act_row, int64_t n_tokens,
                 float* y, ThreadPool& pool, VecDotFn dot) {
    const int64_t n_in = w.ne[0];
    const int64_t n_out = w.ne[1];
    const int64_t w_row = w.row_size();
    pool.parallel_for_balanced(n_out, gemv_grain(w_row), [&](int64_t begin, int64_t end) {
        for (int64_t r0 = begin; r0 < end; r0 += kRowBlock) {
            const int64_t r1 = std::min(end, r0 + kRowBlock);
            for (int64_t t = 0; t < n_tokens; ++t) {
                for (int64_t r = r0; r < r1; ++r)
                    y[t * n_out + r] = dot(n_in, w.data + r * w_row, act + t * act_row);
            }
        }
    });
}

// GEMV path on prepared activations: the same row split, in blocks of rows small enough to stay
// in L1 while every activation row passes over them.
void matmul_gemv(const TensorView& w, const GemmKernels& g, const uint8_t* packed,
                 int64_t packed_row, int64_t n_tokens, float* y, ThreadPool& pool) {
    const int64_t n_in = w.ne[0];
    const int64_t n_out = w.ne[1];
    const int64_t w_row = w.row_size();
    const int64_t step = n_tokens == 1 ? n_out : 16;
    pool.parallel_for_balanced(n_out, gemv_grain(w_row), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; r += step) {
            const int64_t rows = std::min(step, end - r);
            for (int64_t t = 0; t < n_tokens; ++t) {
                g.gemv(w.data + r * w_row, w_row, rows, n_in, packed + t * packed_row,
                       y + t * n_out + r);
            }
        }
    });
}

// GEMM path: threads take contiguous ranges of panels (panel_rows weight rows each); a thread
// packs one panel into its L2-resident buffer and runs it against every activation row, kMaxRows
// at a time. Each output is computed by the same tile code whatever the thread count.
void matmul_panels(const TensorView& w, const GemmKernels& g, const uint8_t* packed,
                   int64_t packed_row, int64_t n_tokens, float* y, ThreadPool& pool) {
    const int64_t n_in = w.ne[0];
    const int64_t n_out = w.ne[1];
    const int64_t w_row = w.row_size();
    const int64_t p_rows = g.panel_rows;
    const int64_t n_panels = (n_out + p_rows - 1) / p_rows;
    const size_t panel_bytes = static_cast<size_t>(g.panel_bytes(n_in));
    pool.parallel_for_balanced(n_panels, 1, [&](int64_t begin, int64_t end) {
        thread_local AlignedBuffer panel_buf;
        uint8_t* panel = panel_buf.get(panel_bytes);
        for (int64_t p = begin; p < end; ++p) {
            const int64_t row0 = p * p_rows;
            const int rows = static_cast<int>(std::min(p_rows, n_out - row0));
            g.pack(w.data + row0 * w_row, w_row, rows, n_in, panel);
            for (int64_t t = 0; t < n_tokens; t += kMaxRows) {
                const int r = static_cast<int>(std::min<int64_t>(kMaxRows, n_tokens - t));
                g.tile[r - 1](panel, packed + t * packed_row, packed_row, n_in,
                              y + t * n_out + row0, n_out, rows);
            }
        }
    });
}

}  // namespace

namespace {

// Activations converted for one weight type and row length: the vec_dot_type rows, and the
// packed rows of the level's GEMM/GEMV where it has them for the type.
struct PreparedActs {
    const uint8_t* act = nullptr;
    int64_t act_row = 0;
    const uint8_t* packed = nullptr;  // null: the vec_dot path
    int64_t packed_row = 0;
};

// Where x for weights of w's type goes: the packed form (GEMM or GEMV) or plain vec_dot rows.
bool uses_packed(const GemmKernels& g, int64_t n_tokens) {
    return (g.panel_rows > 0 && n_tokens >= kGemmMinTokens) || g.gemv != nullptr;
}

// Bytes of one token's vec_dot_type row in convert_acts' act buffer (a multiple of 64, so the
// packed rows after it stay aligned).
int64_t act_bytes_per_token(const TensorView& w) {
    return (row_bytes(dtype_traits(w.type).vec_dot_type, w.ne[0]) + 63) / 64 * 64;
}

// Converts x for products with weights of w's type and row length into act (n_tokens rows of the
// vec_dot_type) and, where the level runs the packed form, packed. Throws on a malformed row
// before reading anything.
PreparedActs convert_acts(const TensorView& w, const float* x, int64_t n_tokens, ThreadPool& pool,
                          const CpuKernels& k, uint8_t* act, uint8_t* packed) {
    const int64_t n_in = w.ne[0];
    const DType act_type = dtype_traits(w.type).vec_dot_type;
    const QuantizeActFn quantize = k.quantize_act[static_cast<uint32_t>(act_type)];
    SOBRE_CHECK(quantize != nullptr && k.vec_dot[static_cast<uint32_t>(w.type)] != nullptr);
    PreparedActs p;
    p.act_row = row_bytes(act_type, n_in);
    (void)w.row_size();
    p.act = act;
    const GemmKernels& g = k.gemm[static_cast<uint32_t>(w.type)];
    if (!uses_packed(g, n_tokens)) {
        for_each_row(n_tokens, n_in, pool,
                     [&](int64_t t) { quantize(x + t * n_in, act + t * p.act_row, n_in); });
        return p;
    }
    p.packed_row = g.act_bytes(n_in);
    p.packed = packed;
    for_each_row(n_tokens, n_in, pool, [&](int64_t t) {
        quantize(x + t * n_in, act + t * p.act_row, n_in);
        g.prep_act(act + t * p.act_row, n_in, packed + t * p.packed_row);
    });
    return p;
}

// convert_acts into this thread's buffers (valid until its next conversion).
PreparedActs prepare_acts(const TensorView& w, const float* x, int64_t n_tokens, ThreadPool& pool,
                          const CpuKernels& k) {
    thread_local AlignedBuffer act_buf;
    thread_local AlignedBuffer packed_buf;
    const GemmKernels& g = k.gemm[static_cast<uint32_t>(w.type)];
    uint8_t* act = act_buf.get(static_cast<size_t>(act_bytes_per_token(w) * n_tokens));
    uint8_t* packed = uses_packed(g, n_tokens)
                          ? packed_buf.get(static_cast<size_t>(g.act_bytes(w.ne[0]) * n_tokens))
                          : nullptr;
    return convert_acts(w, x, n_tokens, pool, k, act, packed);
}

// y = W x on activations prepared for W's type and row length.
void run_prepared(const TensorView& w, const PreparedActs& p, int64_t n_tokens, float* y,
                  ThreadPool& pool, const CpuKernels& k) {
    const GemmKernels& g = k.gemm[static_cast<uint32_t>(w.type)];
    if (p.packed == nullptr) {
        matmul_rows(w, p.act, p.act_row, n_tokens, y, pool, k.vec_dot[static_cast<uint32_t>(w.type)]);
    } else if (g.panel_rows > 0 && n_tokens >= kGemmMinTokens) {
        matmul_panels(w, g, p.packed, p.packed_row, n_tokens, y, pool);
    } else {
        matmul_gemv(w, g, p.packed, p.packed_row, n_tokens, y, pool);
    }
}

}  // namespace

void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            const CpuKernels& k) {
    if (n_tokens <= 0) {
        (void)w.row_size();  // a malformed row still throws
        return;
    }
    if (t_observer != nullptr) t_observer->observe(w, x, n_tokens);
    run_prepared(w, prepare_acts(w, x, n_tokens, pool, k), n_tokens, y, pool, k);
}

namespace {

// A matmul_vectors product's prepared activation and its place in the batch's rows.
struct PreparedVector {
    PreparedActs acts;
    int64_t row_begin = 0;  // the product's first row in the batch's row numbering
};

// Rows [lo, hi) of product p: the level's GEMV where the activation is packed, else vec_dot.
void vector_rows(const VectorProduct& p, const PreparedVector& v, int64_t lo, int64_t hi,
                 const CpuKernels& k) {
    const int64_t n_in = p.w.ne[0];
    const int64_t w_row = p.w.row_size();
    if (v.acts.packed != nullptr) {
        k.gemm[static_cast<uint32_t>(p.w.type)].gemv(p.w.data + lo * w_row, w_row, hi - lo, n_in,
                                                     v.acts.packed, p.y + lo);
        return;
    }
    const VecDotFn dot = k.vec_dot[static_cast<uint32_t>(p.w.type)];
    for (int64_t r = lo; r < hi; ++r) p.y[r] = dot(n_in, p.w.data + r * w_row, v.acts.act);
}

// The product before i with the same input, length and type, whose conversion i reuses; i itself
// when there is none.
size_t first_user(std::span<const VectorProduct> products, size_t i) {
    const VectorProduct& p = products[i];
    for (size_t j = 0; j < i; ++j) {
        const VectorProduct& q = products[j];
        if (q.x == p.x && q.w.ne[0] == p.w.ne[0] && q.w.type == p.w.type) return j;
    }
    return i;
}

}  // namespace

void matmul_vectors(std::span<const VectorProduct> products, ThreadPool& pool, const CpuKernels& k) {
    const size_t n = products.size();
    std::vector<PreparedVector> prep(n);
    std::vector<int64_t> offsets(n);  // of each first user's act, then packed, in one buffer
    int64_t bytes = 0, rows = 0, max_row_bytes = 1;
    for (size_t i = 0; i < n; ++i) {
        const VectorProduct& p = products[i];
        max_row_bytes = std::max(max_row_bytes, p.w.row_size());  // throws on a malformed row
        prep[i].row_begin = rows;
        rows += p.w.ne[1];
        if (t_observer != nullptr) t_observer->observe(p.w, p.x, 1);
        if (first_user(products, i) != i) continue;
        const GemmKernels& g = k.gemm[static_cast<uint32_t>(p.w.type)];
        offsets[i] = bytes;
        bytes += act_bytes_per_token(p.w) + (uses_packed(g, 1) ? g.act_bytes(p.w.ne[0]) : 0);
    }
    thread_local AlignedBuffer buf;
    uint8_t* base = buf.get(static_cast<size_t>(bytes));
    for (size_t i = 0; i < n; ++i) {
        const size_t first = first_user(products, i);
        if (first != i) {
            prep[i].acts = prep[first].acts;
            continue;
        }
        const VectorProduct& p = products[i];
        uint8_t* act = base + offsets[i];
        prep[i].acts = convert_acts(p.w, p.x, 1, pool, k, act, act + act_bytes_per_token(p.w));
    }
    pool.parallel_for_balanced(rows, gemv_grain(max_row_bytes), [&](int64_t begin, int64_t end) {
        for (size_t i = 0; i < n; ++i) {
            const int64_t lo = std::max(begin, prep[i].row_begin);
            const int64_t hi = std::min(end, prep[i].row_begin + products[i].w.ne[1]);
            if (lo < hi) {
                vector_rows(products[i], prep[i], lo - prep[i].row_begin, hi - prep[i].row_begin, k);
            }
        }
    });
}

void matmul_same_input(std::span<const SharedInputOutput> outs, const float* x, int64_t n_tokens,
                       ThreadPool& pool, const CpuKernels& k) {
    if (outs.empty() || n_tokens <= 0) return;
    if (n_tokens != 1) {
        // One conversion of x when every weight takes the same one.
        const TensorView& w0 = outs[0].w;
        const bool same = std::all_of(outs.begin(), outs.end(), [&](const SharedInputOutput& o) {
            return o.w.type == w0.type && o.w.ne[0] == w0.ne[0];
        });
        if (!same) {
            for (const SharedInputOutput& o : outs) matmul(o.w, x, n_tokens, o.y, pool, k);
            return;
        }
        for (const SharedInputOutput& o : outs) {
            (void)o.w.row_size();  // every malformed row throws before anything runs
            if (t_observer != nullptr) t_observer->observe(o.w, x, n_tokens);
        }
        const PreparedActs p = prepare_acts(w0, x, n_tokens, pool, k);
        for (const SharedInputOutput& o : outs) run_prepared(o.w, p, n_tokens, o.y, pool, k);
        return;
    }
    std::vector<VectorProduct> products;
    products.reserve(outs.size());
    for (const SharedInputOutput& o : outs) products.push_back({o.w, x, o.y});
    matmul_vectors(products, pool, k);
}

ScopedMatmulObserver::ScopedMatmulObserver(MatmulObserver* observer) : previous_(t_observer) {
    t_observer = observer;
}

ScopedMatmulObserver::~ScopedMatmulObserver() { t_observer = previous_; }

void get_rows(const TensorView& table, const int32_t* ids, int64_t n, float* out) {
    const ToFloatFn to_float = dtype_traits(table.type).to_float;
    SOBRE_CHECK(to_float != nullptr);
    const int64_t width = table.ne[0];
    for (int64_t t = 0; t < n; ++t) to_float(table.row(ids[t]), out + t * width, width);
}

}  // namespace sobre::kernels
