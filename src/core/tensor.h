// Typed, non-owning views of tensor data (weights stay in the file's format).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace sobre {

// A tensor of up to 4 dims in ggml order (ne[0] contiguous). Rows are ne[0] elements of `type`.
struct TensorView {
    DType type = DType::kF32;
    int64_t ne[4] = {1, 1, 1, 1};
    const uint8_t* data = nullptr;

    bool empty() const { return data == nullptr; }
    int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
    int64_t row_size() const { return row_bytes(type, ne[0]); }
    const uint8_t* row(int64_t r) const { return data + r * row_size(); }
    // The 2-D slice k of a 3-D tensor (an expert's matrix).
    TensorView slice(int64_t k) const {
        TensorView v = *this;
        v.ne[2] = 1;
        v.ne[3] = 1;
        v.data = data + k * ne[1] * row_size();
        return v;
    }
    // F32 vectors (norm weights, biases) as floats. REQUIRES: type == kF32.
    const float* f32() const { return reinterpret_cast<const float*>(data); }
};

}  // namespace sobre
