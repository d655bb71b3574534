#include "kernels/cpu/matmul.h"

#include <vector>

#include "core/error.h"

namespace sobre::kernels {

void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            const CpuKernels& k) {
    const int64_t n_in = w.ne[0];
    const int64_t n_out = w.ne[1];
    const DType act_type = dtype_traits(w.type).vec_dot_type;
    const QuantizeActFn quantize = k.quantize_act[static_cast<uint32_t>(act_type)];
    const VecDotFn dot = k.vec_dot[static_cast<uint32_t>(w.type)];
    SOBRE_CHECK(quantize != nullptr && dot != nullptr);

    // Activations are converted once per call; the buffer is reused across calls on this thread.
    thread_local std::vector<uint8_t> act;
    const int64_t act_row = row_bytes(act_type, n_in);
    act.resize(static_cast<size_t>(act_row * n_tokens));
    for (int64_t t = 0; t < n_tokens; ++t) quantize(x + t * n_in, act.data() + t * act_row, n_in);

    const int64_t w_row = w.row_size();
    const uint8_t* act_data = act.data();
    pool.parallel_for(n_out, [&](int64_t begin, int64_t end) {
        for (int64_t t = 0; t < n_tokens; ++t) {
            const uint8_t* a = act_data + t * act_row;
            float* yt = y + t * n_out;
            for (int64_t r = begin; r < end; ++r) yt[r] = dot(n_in, w.data + r * w_row, a);
        }
    });
}

void get_rows(const TensorView& table, const int32_t* ids, int64_t n, float* out) {
    const ToFloatFn to_float = dtype_traits(table.type).to_float;
    SOBRE_CHECK(to_float != nullptr);
    const int64_t width = table.ne[0];
    for (int64_t t = 0; t < n; ++t) to_float(table.row(ids[t]), out + t * width, width);
}

}  // namespace sobre::kernels
