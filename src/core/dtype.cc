#include "core/dtype.h"

#include <array>
#include <cctype>
#include <limits>

#include "core/error.h"
#include "core/quant_blocks.h"

namespace sobre {
namespace {

struct Row {
    DType id;
    DTypeTraits traits;
};

// One row per type we know the layout of. Types without to_float are sized (so a file holding
// them can be inspected) but cannot be computed with.
constexpr Row kRows[] = {
    {DType::kF32, {"f32", 1, 4, false, ref::to_float_f32, ref::from_float_f32, DType::kF32}},
    {DType::kF16, {"f16", 1, 2, false, ref::to_float_f16, ref::from_float_f16, DType::kF16}},
    {DType::kBF16, {"bf16", 1, 2, false, ref::to_float_bf16, ref::from_float_bf16, DType::kBF16}},
    {DType::kQ4_0,
     {"q4_0", kQK, sizeof(BlockQ4_0), true, ref::to_float_q4_0, ref::from_float_q4_0, DType::kQ8_0}},
    {DType::kQ4_1,
     {"q4_1", kQK, sizeof(BlockQ4_1), true, ref::to_float_q4_1, ref::from_float_q4_1, DType::kQ8_1}},
    {DType::kQ5_0,
     {"q5_0", kQK, sizeof(BlockQ5_0), true, ref::to_float_q5_0, ref::from_float_q5_0, DType::kQ8_0}},
    {DType::kQ5_1,
     {"q5_1", kQK, sizeof(BlockQ5_1), true, ref::to_float_q5_1, ref::from_float_q5_1, DType::kQ8_1}},
    {DType::kQ8_0,
     {"q8_0", kQK, sizeof(BlockQ8_0), true, ref::to_float_q8_0, ref::from_float_q8_0, DType::kQ8_0}},
    {DType::kQ8_1,
     {"q8_1", kQK, sizeof(BlockQ8_1), true, ref::to_float_q8_1, ref::from_float_q8_1, DType::kQ8_1}},
    {DType::kQ2_K,
     {"q2_K", kQKK, sizeof(BlockQ2_K), true, ref::to_float_q2_K, ref::from_float_q2_K,
      DType::kQ8_K}},
    {DType::kQ3_K,
     {"q3_K", kQKK, sizeof(BlockQ3_K), true, ref::to_float_q3_K, ref::from_float_q3_K,
      DType::kQ8_K}},
    {DType::kQ4_K,
     {"q4_K", kQKK, sizeof(BlockQ4_K), true, ref::to_float_q4_K, ref::from_float_q4_K,
      DType::kQ8_K}},
    {DType::kQ5_K,
     {"q5_K", kQKK, sizeof(BlockQ5_K), true, ref::to_float_q5_K, ref::from_float_q5_K,
      DType::kQ8_K}},
    {DType::kQ6_K,
     {"q6_K", kQKK, sizeof(BlockQ6_K), true, ref::to_float_q6_K, ref::from_float_q6_K,
      DType::kQ8_K}},
    {DType::kQ8_K,
     {"q8_K", kQKK, sizeof(BlockQ8_K), true, ref::to_float_q8_K, ref::from_float_q8_K, DType::kQ8_K}},
    // Known layouts we cannot compute with yet: files holding them load for `inspect`, and the
    // model loader names the type when a model needs it.
    {DType::kIQ2_XXS, {"iq2_xxs", kQKK, 66, true, nullptr, nullptr, DType::kQ8_K}},
    {DType::kIQ2_XS, {"iq2_xs", kQKK, 74, true, nullptr, nullptr, DType::kQ8_K}},
    {DType::kIQ3_XXS, {"iq3_xxs", kQKK, 98, true, nullptr, nullptr, DType::kQ8_K}},
    {DType::kIQ1_S, {"iq1_s", kQKK, 50, true, nullptr, nullptr, DType::kQ8_K}},
    {DType::kIQ4_NL, {"iq4_nl", kQK, 18, true, nullptr, nullptr, DType::kQ8_0}},
    {DType::kIQ3_S, {"iq3_s", kQKK, 110, true, nullptr, nullptr, DType::kQ8_K}},
    {DType::kIQ2_S, {"iq2_s", kQKK, 82, true, nullptr, nullptr, DType::kQ8_K}},
    {DType::kIQ4_XS, {"iq4_xs", kQKK, 136, true, nullptr, nullptr, DType::kQ8_K}},
    {DType::kIQ1_M, {"iq1_m", kQKK, 56, true, nullptr, nullptr, DType::kQ8_K}},
    {DType::kTQ1_0, {"tq1_0", kQKK, 54, true, nullptr, nullptr, DType::kQ8_K}},
    {DType::kTQ2_0, {"tq2_0", kQKK, 66, true, nullptr, nullptr, DType::kQ8_K}},
    {DType::kMXFP4, {"mxfp4", kQK, 17, true, nullptr, nullptr, DType::kQ8_0}},
    {DType::kI8, {"i8", 1, 1, false, nullptr, nullptr, DType::kI8}},
    {DType::kI16, {"i16", 1, 2, false, nullptr, nullptr, DType::kI16}},
    {DType::kI32, {"i32", 1, 4, false, nullptr, nullptr, DType::kI32}},
    {DType::kI64, {"i64", 1, 8, false, nullptr, nullptr, DType::kI64}},
    {DType::kF64, {"f64", 1, 8, false, nullptr, nullptr, DType::kF64}},
};

constexpr std::array<DTypeTraits, kNumDTypes> build_table() {
    std::array<DTypeTraits, kNumDTypes> t{};
    for (const Row& r : kRows) t[static_cast<uint32_t>(r.id)] = r.traits;
    return t;
}
constexpr std::array<DTypeTraits, kNumDTypes> kTable = build_table();
const DTypeTraits kUnknown{};

}  // namespace

const DTypeTraits& dtype_traits(DType t) {
    const auto i = static_cast<uint32_t>(t);
    return i < kNumDTypes ? kTable[i] : kUnknown;
}

FromFloatWeightedFn from_float_weighted(DType t) {
    switch (t) {
        case DType::kQ4_0: return ref::from_float_weighted_q4_0;
        case DType::kQ4_1: return ref::from_float_weighted_q4_1;
        case DType::kQ5_0: return ref::from_float_weighted_q5_0;
        case DType::kQ5_1: return ref::from_float_weighted_q5_1;
        case DType::kQ2_K: return ref::from_float_weighted_q2_K;
        case DType::kQ3_K: return ref::from_float_weighted_q3_K;
        case DType::kQ4_K: return ref::from_float_weighted_q4_K;
        case DType::kQ5_K: return ref::from_float_weighted_q5_K;
        case DType::kQ6_K: return ref::from_float_weighted_q6_K;
        default: return nullptr;
    }
}

bool dtype_known(uint32_t id) { return id < kNumDTypes && kTable[id].block_elems > 0; }

bool dtype_computable(DType t) { return dtype_traits(t).to_float != nullptr; }

std::string_view dtype_name(DType t) { return dtype_traits(t).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
    for (const Row& r : kRows) {
        const std::string_view n = r.traits.name;
        if (n.size() != name.size()) continue;
        bool same = true;
        for (size_t i = 0; i < n.size() && same; ++i) {
            same = std::tolower(static_cast<unsigned char>(n[i])) ==
                   std::tolower(static_cast<unsigned char>(name[i]));
        }
        if (same) return r.id;
    }
    return std::nullopt;
}

int64_t row_bytes(DType t, int64_t n) {
    const DTypeTraits& tr = dtype_traits(t);
    if (tr.block_elems <= 0) fail(ErrorKind::kUnsupported, "unknown tensor type id {}", static_cast<uint32_t>(t));
    if (n < 0 || n % tr.block_elems != 0) {
        fail(ErrorKind::kCorrupt, "row of {} elements is not a multiple of the {} block size {}", n,
             tr.name, tr.block_elems);
    }
    const int64_t blocks = n / tr.block_elems;
    if (blocks > std::numeric_limits<int64_t>::max() / tr.block_bytes) {
        fail(ErrorKind::kCorrupt, "row of {} {} elements overflows", n, tr.name);
    }
    return blocks * tr.block_bytes;
}

}  // namespace sobre
