// Activation quantizers and float row operations of every ISA level against the scalar
// reference. Quantizers must produce the reference's bytes exactly (same rounding rules);
// the float ops within tolerances derived from their arithmetic.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "kernels/kernel_test_util.h"

namespace sobre::kernels {
namespace {

using testing_util::kernel_sets;
using testing_util::KernelSet;
using testing_util::random_floats;
using testing_util::reference_kernels;
using testing_util::row_size;

std::string set_name(const testing::TestParamInfo<const KernelSet*>& info) {
    return info.param->name;
}

class PerIsa : public testing::TestWithParam<const KernelSet*> {};

std::vector<const KernelSet*> all_sets() {
    std::vector<const KernelSet*> v;
    for (const KernelSet& s : kernel_sets()) v.push_back(&s);
    return v;
}

// Rows that exercise the rounding rules: random values, exact ties (x * (1/d) lands on k + 0.5
// when the block's largest magnitude is 127), all-zero blocks, and a block whose largest
// magnitude appears with both signs (q8_K keeps the first).
std::vector<float> tricky_row(int64_t n, std::mt19937& rng) {
    std::vector<float> x = random_floats(n, rng);
    for (int64_t b = 0; b * 32 < n; ++b) {
        float* blk = &x[static_cast<size_t>(b * 32)];
        const int64_t len = std::min<int64_t>(32, n - b * 32);
        switch (b % 4) {
            case 1:
                for (int64_t i = 0; i < len; ++i)
                    blk[i] = static_cast<float>(i % 2 ? i : -i) + 0.5f;
                blk[0] = 127.0f;
                break;
            case 2:
                for (int64_t i = 0; i < len; ++i) blk[i] = 0.0f;
                break;
            case 3:
                blk[0] = -9.0f;
                if (len > 5) blk[5] = 9.0f;
                break;
            default:
                break;
        }
    }
    return x;
}

TEST_P(PerIsa, QuantizersMatchReferenceBytes) {
    const CpuKernels& k = *GetParam()->kernels;
    const CpuKernels& ref = reference_kernels();
    std::mt19937 rng(31);
    for (DType act : testing_util::kActTypes) {
        const int64_t block = dtype_traits(act).block_elems;
        const std::vector<int64_t> sizes =
            block == 1 ? std::vector<int64_t>{1, 7, 15, 16, 17, 33, 64, 100, 1000}
                       : std::vector<int64_t>{block, 2 * block, 3 * block, 9 * block};
        for (int64_t n : sizes) {
            const std::vector<float> x = tricky_row(n, rng);
            std::vector<uint8_t> want(row_size(act, n)), got(row_size(act, n), 0xaa);
            ref.quantize_act[testing_util::idx(act)](x.data(), want.data(), n);
            k.quantize_act[testing_util::idx(act)](x.data(), got.data(), n);
            EXPECT_EQ(want, got) << dtype_name(act) << " n=" << n;
        }
    }
}

// |got - want| <= rel * |want| + abs, element by element.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel,
                  double abs, const std::string& what) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_NEAR(got[i], want[i], rel * std::fabs(want[i]) + abs) << what << " element " << i;
    }
}

// The SIMD exp is within a few ulp of std::exp; softmax adds one division's rounding and the
// sum's (a few ulp of 1 / sum). 1e-6 relative covers that with margin.
TEST_P(PerIsa, SoftmaxMatchesReference) {
    const CpuKernels& k = *GetParam()->kernels;
    std::mt19937 rng(7);
    for (int64_t n : {1, 2, 15, 16, 17, 100, 513}) {
        std::vector<float> want = random_floats(n, rng);
        for (float& v : want) v *= 3.0f;
        std::vector<float> got = want;
        reference_kernels().ops.softmax(want.data(), n, 0.125f);
        k.ops.softmax(got.data(), n, 0.125f);
        expect_close(got, want, 1e-6, 1e-12, "softmax n=" + std::to_string(n));
    }
}

TEST_P(PerIsa, SwigluMatchesReference) {
    const CpuKernels& k = *GetParam()->kernels;
    std::mt19937 rng(8);
    for (int64_t n : {1, 9, 16, 31, 3072}) {
        std::vector<float> g = random_floats(n, rng), u = random_floats(n, rng);
        g[0] = -100.0f;  // e^100 overflows to inf: silu is -0
        if (n > 1) g[1] = 100.0f;
        std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
        reference_kernels().ops.swiglu(g.data(), u.data(), want.data(), n);
        k.ops.swiglu(g.data(), u.data(), got.data(), n);
        expect_close(got, want, 1e-6, 1e-30, "swiglu n=" + std::to_string(n));
    }
}

TEST_P(PerIsa, RmsNormMatchesReference) {
    const CpuKernels& k = *GetParam()->kernels;
    std::mt19937 rng(9);
    for (int64_t n : {1, 7, 16, 128, 1025}) {
        const std::vector<float> x = random_floats(n, rng), w = random_floats(n, rng);
        for (const float* weight : {w.data(), static_cast<const float*>(nullptr)}) {
            std::vector<float> want(static_cast<size_t>(n)), got = x;
            reference_kernels().ops.rms_norm(x.data(), weight, want.data(), n, 1e-6f);
            k.ops.rms_norm(got.data(), weight, got.data(), n, 1e-6f);  // in place
            expect_close(got, want, 4e-7, 0, "rms_norm n=" + std::to_string(n));
        }
    }
}

TEST_P(PerIsa, AxpyF16MatchesReference) {
    const CpuKernels& k = *GetParam()->kernels;
    std::mt19937 rng(10);
    for (int64_t n : {1, 8, 15, 64, 130}) {
        const std::vector<float> v = random_floats(n, rng);
        std::vector<uint16_t> h(static_cast<size_t>(n));
        for (size_t i = 0; i < h.size(); ++i) h[i] = fp32_to_fp16(v[i]);
        const std::vector<float> out0 = random_floats(n, rng);
        std::vector<float> want = out0, got = out0;
        reference_kernels().ops.axpy_f16(0.37f, h.data(), want.data(), n);
        k.ops.axpy_f16(0.37f, h.data(), got.data(), n);
        // A fused multiply-add may round once where the reference rounds twice.
        for (size_t i = 0; i < want.size(); ++i) {
            const double bound = 2e-7 * (std::fabs(want[i]) + std::fabs(0.37 * fp16_to_fp32(h[i])));
            EXPECT_NEAR(got[i], want[i], bound) << "axpy n=" << n << " element " << i;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Isa, PerIsa, testing::ValuesIn(all_sets()), set_name);

}  // namespace
}  // namespace sobre::kernels
