// kernels::attend of every ISA level against a double-precision reference of the same math
// (q and k rounded to f16, softmax, weights rounded to f16, f16 values), with query groups of
// different context lengths, head sizes that are not multiples of the SIMD width, and key counts
// that leave partial tiles.
#include "kernels/cpu/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "kernels/kernel_test_util.h"

namespace sobre::kernels {
namespace {

using testing_util::KernelSet;

struct AttnCase {
    const KernelSet* set;
    int64_t dk, dv, n_q, n_keys;
};

void PrintTo(const AttnCase& c, std::ostream* os) {
    *os << c.set->name << " dk=" << c.dk << " dv=" << c.dv << " q=" << c.n_q
        << " keys=" << c.n_keys;
}

std::vector<AttnCase> cases() {
    std::vector<AttnCase> v;
    for (const KernelSet& s : testing_util::kernel_sets()) {
        for (const AttnCase& c : {AttnCase{&s, 128, 128, 2, 1}, AttnCase{&s, 128, 128, 4, 37},
                                  AttnCase{&s, 64, 64, 9, 16}, AttnCase{&s, 40, 24, 3, 70},
                                  AttnCase{&s, 576, 512, 2, 33}, AttnCase{&s, 128, 128, 16, 200},
                                  // Long enough that the tiled path takes 16 queries per pass.
                                  AttnCase{&s, 64, 64, 40, 9000}}) {
            v.push_back(c);
        }
    }
    return v;
}

std::string case_name(const testing::TestParamInfo<AttnCase>& info) {
    const AttnCase& c = info.param;
    return c.set->name + "_dk" + std::to_string(c.dk) + "_dv" + std::to_string(c.dv) + "_q" +
           std::to_string(c.n_q) + "_keys" + std::to_string(c.n_keys);
}

class Attend : public testing::TestWithParam<AttnCase> {};

// Scratch does not grow with queries x keys: a 512-token prefill of 8 query heads per KV head
// over 32K keys needs the scores of one pass of queries, not of all 4096.
TEST(AttendScratch, IsBoundedByOnePassOfQueries) {
    const int64_t keys = 32768;
    EXPECT_EQ(attend_query_chunk(keys), 16);
    EXPECT_LE(attend_scratch_floats(4096, keys, 128, 128), 16 * keys + 8192);
    EXPECT_EQ(attend_query_chunk(512), 128);  // 256 KiB of scores
}

TEST_P(Attend, MatchesDoubleReference) {
    const AttnCase& c = GetParam();
    std::mt19937 rng(static_cast<unsigned>(c.dk * 7 + c.n_keys));
    std::normal_distribution<float> dist(0.0f, 1.0f);
    // Keys and values in separate, non-contiguous rows (as a paged cache hands them out).
    std::vector<std::vector<uint16_t>> krow(c.n_keys), vrow(c.n_keys);
    std::vector<const uint16_t*> kp, vp;
    for (int64_t j = 0; j < c.n_keys; ++j) {
        krow[j].resize(static_cast<size_t>(c.dk) + 3);
        vrow[j].resize(static_cast<size_t>(c.dv) + 5);
        for (auto& h : krow[j]) h = fp32_to_fp16(dist(rng));
        for (auto& h : vrow[j]) h = fp32_to_fp16(dist(rng));
        kp.push_back(krow[j].data() + 1);  // unaligned
        vp.push_back(vrow[j].data() + 3);
    }
    std::vector<std::vector<float>> qv(c.n_q), ov(c.n_q);
    std::vector<const float*> qp;
    std::vector<float*> op;
    std::vector<int64_t> n_ctx;
    for (int64_t i = 0; i < c.n_q; ++i) {
        qv[i].resize(static_cast<size_t>(c.dk));
        for (float& x : qv[i]) x = 0.3f * dist(rng);
        ov[i].assign(static_cast<size_t>(c.dv), NAN);
        qp.push_back(qv[i].data());
        op.push_back(ov[i].data());
        n_ctx.push_back(i == 0 ? c.n_keys : 1 + (i * 7919) % c.n_keys);  // one query sees every key
    }
    AttnArgs a;
    a.head_dim_k = c.dk;
    a.head_dim_v = c.dv;
    a.n_keys = c.n_keys;
    a.k = kp.data();
    a.v = vp.data();
    a.n_q = c.n_q;
    a.q = qp.data();
    a.n_ctx = n_ctx.data();
    a.scale = 1.0f / std::sqrt(static_cast<float>(c.dk));
    a.out = op.data();
    std::vector<float> scratch(
        static_cast<size_t>(attend_scratch_floats(c.n_q, c.n_keys, c.dk, c.dv) + 16));
    const auto addr = reinterpret_cast<uintptr_t>(scratch.data());
    attend(a, scratch.data() + (64 - addr % 64) % 64 / sizeof(float), *c.set->kernels);

    for (int64_t i = 0; i < c.n_q; ++i) {
        const int64_t n = n_ctx[i];
        std::vector<double> s(static_cast<size_t>(n));
        double mx = -INFINITY;
        for (int64_t j = 0; j < n; ++j) {
            double d = 0;
            for (int64_t e = 0; e < c.dk; ++e)
                d += static_cast<double>(fp16_to_fp32(fp32_to_fp16(qv[i][e]))) *
                     fp16_to_fp32(kp[j][e]);
            s[j] = d * a.scale;
            mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (double& x : s) sum += (x = std::exp(x - mx));
        for (int64_t e = 0; e < c.dv; ++e) {
            double want = 0, mag = 0;
            for (int64_t j = 0; j < n; ++j) {
                const double w = s[j] / sum;
                want += w * fp16_to_fp32(vp[j][e]);
                mag += std::fabs(w * fp16_to_fp32(vp[j][e]));
            }
            // Weights are rounded to f16 (relative 2^-11 each) and summed in f32.
            EXPECT_NEAR(ov[i][e], want, mag * (1.0 / 1024) + 1e-6) << "query " << i << " dim " << e;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Levels, Attend, testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace sobre::kernels
