// The matmul driver against a double-precision product of dequantized weights and activations.
#include "kernels/cpu/matmul.h"

#include "core/fp16.h"
#include "core/quant_blocks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace sobre::kernels {
namespace {

// q4_1/q5_1 pair with q8_1 activations whose s = d * sum(q) is rounded to f16 from the f32 d
// (as ggml does), so the m * s term differs from m * f16(d) * sum(q) by up to ~2^-10 relative.
// Both layouts keep m at bytes 2..3, and q8_1 keeps s at bytes 2..3.
double q8_1_offset_slack(DType type, const uint8_t* w_row, const uint8_t* a_row, int64_t k) {
    if (type != DType::kQ4_1 && type != DType::kQ5_1) return 0;
    const int64_t w_block = dtype_traits(type).block_bytes;
    double slack = 0;
    for (int64_t b = 0; b < k / kQK; ++b) {
        uint16_t m, s;
        std::memcpy(&m, w_row + b * w_block + 2, 2);
        std::memcpy(&s, a_row + b * static_cast<int64_t>(sizeof(BlockQ8_1)) + 2, 2);
        slack += std::fabs(fp16_to_fp32(m) * fp16_to_fp32(s)) * (1.0 / 512);
    }
    return slack;
}

struct Case {
    DType type;
    int64_t k, rows, tokens;
};

class MatmulTest : public ::testing::TestWithParam<Case> {};

TEST_P(MatmulTest, MatchesDoubleReferenceForAnyThreadCount) {
    const Case c = GetParam();
    const DTypeTraits& tr = dtype_traits(c.type);
    std::mt19937 rng(static_cast<unsigned>(c.k * 131 + c.rows));
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> wf(static_cast<size_t>(c.k * c.rows)), x(static_cast<size_t>(c.k * c.tokens));
    for (float& v : wf) v = dist(rng);
    for (float& v : x) v = dist(rng);
    std::vector<uint8_t> wq(static_cast<size_t>(row_bytes(c.type, c.k) * c.rows));
    for (int64_t r = 0; r < c.rows; ++r) tr.from_float(&wf[r * c.k], &wq[r * row_bytes(c.type, c.k)], c.k);
    TensorView w;
    w.type = c.type;
    w.ne[0] = c.k;
    w.ne[1] = c.rows;
    w.data = wq.data();

    // Reference: weights as stored, activations rounded to the vec_dot type, summed in double.
    const DTypeTraits& at = dtype_traits(tr.vec_dot_type);
    std::vector<float> wd(static_cast<size_t>(c.k)), xd(static_cast<size_t>(c.k));
    std::vector<uint8_t> xq(static_cast<size_t>(row_bytes(tr.vec_dot_type, c.k)));
    std::vector<double> want(static_cast<size_t>(c.rows * c.tokens)), scale(want.size());
    for (int64_t t = 0; t < c.tokens; ++t) {
        at.from_float(&x[t * c.k], xq.data(), c.k);
        at.to_float(xq.data(), xd.data(), c.k);
        for (int64_t r = 0; r < c.rows; ++r) {
            tr.to_float(w.row(r), wd.data(), c.k);
            double s = 0, m = 0;
            for (int64_t i = 0; i < c.k; ++i) {
                s += static_cast<double>(wd[i]) * xd[i];
                m += std::fabs(static_cast<double>(wd[i]) * xd[i]);
            }
            want[t * c.rows + r] = s;
            scale[t * c.rows + r] = 1e-5 * m + q8_1_offset_slack(c.type, w.row(r), xq.data(), c.k);
        }
    }
    for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        std::vector<float> y(want.size());
        matmul(w, x.data(), c.tokens, y.data(), pool);
        for (size_t i = 0; i < y.size(); ++i) {
            EXPECT_NEAR(y[i], want[i], scale[i] + 1e-5) << dtype_name(c.type) << " output " << i;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Types, MatmulTest,
                         ::testing::Values(Case{DType::kF32, 7, 5, 3}, Case{DType::kF16, 33, 9, 2},
                                           Case{DType::kBF16, 64, 3, 4}, Case{DType::kQ8_0, 32, 17, 1},
                                           Case{DType::kQ4_0, 96, 7, 5}, Case{DType::kQ4_1, 64, 8, 3},
                                           Case{DType::kQ5_0, 160, 9, 2}, Case{DType::kQ5_1, 32, 1, 7}));

TEST(GetRows, ConvertsTheRequestedRows) {
    const float table[6] = {1, 2, 3, 4, 5, 6};
    TensorView t;
    t.type = DType::kF32;
    t.ne[0] = 2;
    t.ne[1] = 3;
    t.data = reinterpret_cast<const uint8_t*>(table);
    const int32_t ids[3] = {2, 0, 2};
    float out[6];
    get_rows(t, ids, 3, out);
    EXPECT_EQ(std::vector<float>(out, out + 6), (std::vector<float>{5, 6, 1, 2, 5, 6}));
}

}  // namespace
}  // namespace sobre::kernels
