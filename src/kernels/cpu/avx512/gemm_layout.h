// The packed forms this level's GEMM and GEMV share: the weight panel per super-block and the
// packed activation row that prep_act writes and both the tiles (gemm.cc) and the k-quant GEMV
// (gemv_k.cc) read. Include only from avx512/ TUs.
#pragma once

#include <cstdint>
#include <type_traits>

namespace sobre::kernels::avx512 {

constexpr int kPanelRows = 16;

enum class MinKind { kNone, kLegacy, kK };

constexpr int64_t pad64(int64_t b) { return (b + 63) / 64 * 64; }

// Panel, per super-block of sb = group * groups elements:
//   codes   sb / 4 vectors of 64 bytes: dword i of vector q = codes 4q..4q+3 of row i
//   legacy: f32 scale d [16], f32 min m [16] (q4_1/q5_1)
//   k:      int32 scales [groups][16], mins (with a min) as int16 pairs of groups (2p, 2p + 1)
//           [groups / 2][16] in room for [groups][16] int32,
//           f32 d [16], f32 -dmin [16] (with a min)
// Packed activation row: qs (n int8) | f32 d per super-block | aux per group: int32 -c * sum(a)
// (legacy, c != 0), f32 s (q4_1/q5_1), sum(a) (k-quants: int16 with mins, else int32). Parts start 64-byte aligned.
template <int kGroupElems, int kGroupCount, int kCodeOffset, MinKind kMinKind>
struct Layout {
    static constexpr int kGroup = kGroupElems;
    static constexpr int kGroups = kGroupCount;
    static constexpr int kOffset_ = kCodeOffset;
    static constexpr MinKind kMin_ = kMinKind;
    static constexpr int kSB = kGroup * kGroups;
    static constexpr bool kHasMin = kMinKind != MinKind::kNone;
    static constexpr bool kK = kGroupCount > 1;
    static constexpr int kMinVecs = kHasMin ? 2 : 1;
    // Per-group activation sums: int16 where they meet int16 mins (|sum| <= 32 * 128), int32
    // where they scale a code offset.
    using GroupSum = std::conditional_t<kMinKind == MinKind::kK, int16_t, int32_t>;
    static constexpr int64_t kPanelSB =
        int64_t{kSB} * kPanelRows + int64_t{kGroups} * 64 * kMinVecs + (kK ? 64 * kMinVecs : 0);

    static int64_t panel_bytes(int64_t n) { return n / kSB * kPanelSB; }
    static int64_t d_offset(int64_t n) { return pad64(n); }
    static int64_t aux_offset(int64_t n) { return d_offset(n) + pad64(n / kSB * 4); }
    static int64_t act_bytes(int64_t n) { return aux_offset(n) + pad64(n / kGroup * 4); }
};

}  // namespace sobre::kernels::avx512
