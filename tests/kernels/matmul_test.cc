// The matmul driver against a double-precision product of dequantized weights and activations.
#include "kernels/cpu/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"
#include "kernels/kernel_test_util.h"

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

struct MatmulCase {
    const testing_util::KernelSet* set;
    Case c;
};

void PrintTo(const MatmulCase& m, std::ostream* os) {
    *os << m.set->name << " " << dtype_name(m.c.type) << " k=" << m.c.k << " rows=" << m.c.rows
        << " tokens=" << m.c.tokens;
}

// Decode-sized products (1..3 tokens, the vec_dot path) and prefill-sized ones (the GEMM path
// where a level has one): row counts around the panel sizes (8, 16) and token counts around
// the tile size (8), so every remainder path runs.
constexpr Case kCases[] = {
    {DType::kF32, 7, 5, 3},
    {DType::kF16, 33, 9, 2},
    {DType::kBF16, 64, 3, 4},
    {DType::kQ8_0, 32, 17, 1},
    {DType::kQ4_0, 96, 7, 5},
    {DType::kQ4_1, 64, 8, 3},
    {DType::kQ5_0, 160, 9, 2},
    {DType::kQ5_1, 32, 1, 7},
    {DType::kQ2_K, 256, 3, 1},
    {DType::kQ6_K, 512, 5, 2},
    {DType::kQ8_0, 64, 37, 19},
    {DType::kQ4_0, 96, 16, 8},
    {DType::kQ4_1, 64, 33, 9},
    {DType::kQ5_0, 32, 17, 17},
    {DType::kQ5_1, 128, 5, 11},
    {DType::kQ2_K, 256, 19, 10},
    {DType::kQ3_K, 512, 17, 9},
    {DType::kQ4_K, 256, 33, 13},
    {DType::kQ5_K, 256, 16, 8},
    {DType::kQ6_K, 512, 18, 12},
    {DType::kQ8_0, 1024, 40, 64},
    {DType::kF16, 40, 9, 10},
    {DType::kF32, 19, 18, 9},
    {DType::kBF16, 32, 8, 16},
    {DType::kQ4_K, 1024, 17, 9},
    {DType::kQ2_K, 768, 16, 8},
    {DType::kQ6_K, 1024, 7, 20},
    {DType::kQ5_K, 512, 31, 5},
    {DType::kQ3_K, 768, 9, 4},
    {DType::kQ4_0, 2048, 19, 9},
    // Decode-sized (GEMV on prepared activations where a level has it), odd block counts.
    {DType::kQ4_0, 224, 19, 1},
    {DType::kQ5_1, 96, 3, 2},
    {DType::kQ4_K, 768, 5, 1},
    {DType::kQ5_K, 256, 17, 3},
    {DType::kQ3_K, 256, 4, 1},
    {DType::kQ8_0, 3072, 33, 2},
    // The k-quant GEMV's 8-row steps: a remainder of 5 and of 1, and exactly one step.
    {DType::kQ6_K, 768, 13, 1},
    {DType::kQ5_K, 512, 9, 1},
    {DType::kQ4_K, 256, 8, 1},
};

std::vector<MatmulCase> matmul_cases() {
    std::vector<MatmulCase> v;
    for (const testing_util::KernelSet& s : testing_util::kernel_sets()) {
        for (const Case& c : kCases) v.push_back({&s, c});
    }
    return v;
}

std::string matmul_case_name(const ::testing::TestParamInfo<MatmulCase>& info) {
    const Case& c = info.param.c;
    return info.param.set->name + "_" + std::string(dtype_name(c.type)) + "_k" +
           std::to_string(c.k) + "_r" + std::to_string(c.rows) + "_t" + std::to_string(c.tokens);
}

class MatmulTest : public ::testing::TestWithParam<MatmulCase> {};

TEST_P(MatmulTest, MatchesDoubleReferenceForAnyThreadCount) {
    const Case c = GetParam().c;
    const CpuKernels& kernels = *GetParam().set->kernels;
    const DTypeTraits& tr = dtype_traits(c.type);
    std::mt19937 rng(static_cast<unsigned>(c.k * 131 + c.rows));
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(c.k * c.tokens));
    for (float& v : x) v = dist(rng);
    const std::vector<uint8_t> wq = testing_util::make_weights(c.type, c.k, rng, c.rows);
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
    std::vector<float> first;
    for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        std::vector<float> y(want.size());
        matmul(w, x.data(), c.tokens, y.data(), pool, kernels);
        for (size_t i = 0; i < y.size(); ++i) {
            EXPECT_NEAR(y[i], want[i], scale[i] + 1e-5) << dtype_name(c.type) << " output " << i;
        }
        // Work is split by weight rows: every thread count gives the same bits.
        if (first.empty()) first = y;
        EXPECT_EQ(0, std::memcmp(first.data(), y.data(), y.size() * sizeof(float)))
            << threads << " threads";
    }
}

INSTANTIATE_TEST_SUITE_P(Types, MatmulTest, ::testing::ValuesIn(matmul_cases()), matmul_case_name);

// Batch invariance: a token's outputs are the same bits whether it is multiplied alone (the
// decode path), with a couple of others (GEMV on several rows) or inside a prefill batch (the
// packed GEMM). Prefix caching and continuous batching rely on it to reproduce a fresh run.
TEST(Matmul, OutputsDoNotDependOnTheBatch) {
    for (const testing_util::KernelSet& set : testing_util::kernel_sets()) {
        for (DType type :
             {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ2_K,
              DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kF16}) {
            SCOPED_TRACE(set.name + " " + std::string(dtype_name(type)));
            const int64_t k = 2048, rows = 21, tokens = 11;
            std::mt19937 rng(static_cast<unsigned>(type) + 5);
            const std::vector<uint8_t> wq = testing_util::make_weights(type, k, rng, rows);
            const std::vector<float> x = testing_util::random_floats(k * tokens, rng);
            TensorView w;
            w.type = type;
            w.ne[0] = k;
            w.ne[1] = rows;
            w.data = wq.data();
            ThreadPool pool(2);
            std::vector<float> batch(static_cast<size_t>(rows * tokens));
            matmul(w, x.data(), tokens, batch.data(), pool, *set.kernels);
            for (int64_t t = 0; t < tokens; ++t) {
                // Alone, and as the first of a pair.
                std::vector<float> alone(static_cast<size_t>(rows)),
                    pair(static_cast<size_t>(2 * rows));
                matmul(w, &x[t * k], 1, alone.data(), pool, *set.kernels);
                if (t + 1 < tokens) matmul(w, &x[t * k], 2, pair.data(), pool, *set.kernels);
                EXPECT_EQ(0, std::memcmp(alone.data(), &batch[t * rows], rows * sizeof(float)))
                    << "token " << t << " alone";
                if (t + 1 < tokens) {
                    EXPECT_EQ(0, std::memcmp(pair.data(), &batch[t * rows], rows * sizeof(float)))
                        << "token " << t << " in a pair";
                }
            }
        }
    }
}

// A batch of single-token products gives each product's matmul bits, whatever the mix of types
// (with and without a GEMV), shared inputs and thread counts.
TEST(MatmulVectors, GivesEachProductsMatmulBits) {
    for (const testing_util::KernelSet& set : testing_util::kernel_sets()) {
        SCOPED_TRACE(set.name);
        struct Shape {
            DType type;
            int64_t k, rows;
            int input;  // which of the two inputs of length k it reads
        };
        const Shape shapes[] = {{DType::kQ4_K, 512, 37, 0}, {DType::kQ4_K, 512, 8, 0},
                                {DType::kQ6_K, 512, 21, 1}, {DType::kQ2_K, 512, 5, 0},
                                {DType::kQ8_0, 512, 19, 1}, {DType::kF16, 512, 3, 0}};
        std::mt19937 rng(17);
        const std::vector<float> inputs = testing_util::random_floats(2 * 512, rng);
        std::vector<std::vector<uint8_t>> weights;
        std::vector<std::vector<float>> got, want;
        std::vector<VectorProduct> products;
        for (const Shape& sh : shapes) {
            weights.push_back(testing_util::make_weights(sh.type, sh.k, rng, sh.rows));
            got.emplace_back(static_cast<size_t>(sh.rows));
            want.emplace_back(static_cast<size_t>(sh.rows));
        }
        for (size_t i = 0; i < std::size(shapes); ++i) {
            TensorView w;
            w.type = shapes[i].type;
            w.ne[0] = shapes[i].k;
            w.ne[1] = shapes[i].rows;
            w.data = weights[i].data();
            products.push_back({w, &inputs[shapes[i].input * 512], got[i].data()});
        }
        for (int threads : {1, 2, 3}) {
            ThreadPool pool(threads);
            for (auto& g : got) std::fill(g.begin(), g.end(), -1.0f);
            matmul_vectors(products, pool, *set.kernels);
            for (size_t i = 0; i < products.size(); ++i) {
                matmul(products[i].w, products[i].x, 1, want[i].data(), pool, *set.kernels);
                EXPECT_EQ(0, std::memcmp(got[i].data(), want[i].data(), want[i].size() * sizeof(float)))
                    << "product " << i << ", " << threads << " threads";
            }
        }
    }
}

// Weights sharing one input: the bits of a matmul each, for one token (one pass of the pool) and
// for batches (one conversion of the input when the weights share a type), mixed types included.
TEST(MatmulSameInput, GivesEachWeightsMatmulBits) {
    for (const testing_util::KernelSet& set : testing_util::kernel_sets()) {
        for (bool mixed : {false, true}) {
            SCOPED_TRACE(set.name + (mixed ? " mixed" : " one type"));
            const int64_t k = 512;
            std::mt19937 rng(23);
            const DType types[] = {DType::kQ4_K, mixed ? DType::kQ6_K : DType::kQ4_K, DType::kQ4_K};
            const int64_t rows[] = {24, 9, 17};
            std::vector<std::vector<uint8_t>> weights;
            std::vector<SharedInputOutput> outs;
            std::vector<std::vector<float>> got(3);
            for (int i = 0; i < 3; ++i) weights.push_back(testing_util::make_weights(types[i], k, rng, rows[i]));
            for (int64_t tokens : {1, 3, 9}) {
                const std::vector<float> x = testing_util::random_floats(k * tokens, rng);
                outs.clear();
                for (int i = 0; i < 3; ++i) {
                    TensorView w;
                    w.type = types[i];
                    w.ne[0] = k;
                    w.ne[1] = rows[i];
                    w.data = weights[i].data();
                    got[i].assign(static_cast<size_t>(rows[i] * tokens), -1.0f);
                    outs.push_back({w, got[i].data()});
                }
                ThreadPool pool(2);
                matmul_same_input(outs, x.data(), tokens, pool, *set.kernels);
                for (int i = 0; i < 3; ++i) {
                    std::vector<float> want(got[i].size());
                    matmul(outs[i].w, x.data(), tokens, want.data(), pool, *set.kernels);
                    EXPECT_EQ(0, std::memcmp(got[i].data(), want.data(), want.size() * sizeof(float)))
                        << "weight " << i << ", " << tokens << " tokens";
                }
            }
        }
    }
}

// A row length that is not a multiple of the block size is a malformed tensor: rejected with
// Error, never read past.
TEST(Matmul, RejectsRowsThatAreNotBlockMultiples) {
    std::vector<uint8_t> data(1024);
    TensorView w;
    w.type = DType::kQ8_0;
    w.ne[0] = 48;
    w.ne[1] = 2;
    w.data = data.data();
    std::vector<float> x(48), y(2);
    ThreadPool pool(1);
    EXPECT_THROW(matmul(w, x.data(), 1, y.data(), pool), Error);
}

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
