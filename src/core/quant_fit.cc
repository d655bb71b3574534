// The shared scale searches of the reference quantizers. Built with -ffp-contract=off, like
// every file whose floats must round as ggml's C code does (see quant_kquants.cc).
#include "core/quant_fit.h"

#include <algorithm>
#include <cmath>

namespace sobre::ref::fit {

float signed_max(const float* x, int n, float* amax) {
    float max = 0.0f;
    *amax = 0.0f;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > *amax) {
            *amax = ax;
            max = x[i];
        }
    }
    return max;
}

namespace {

float weighted_error(int n, float scale, float min, const float* x, const float* w,
                     const uint8_t* L, bool use_mad) {
    float error = 0;
    for (int i = 0; i < n; ++i) {
        float diff = scale * static_cast<float>(L[i]) + min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        error += w[i] * diff;
    }
    return error;
}

}  // namespace

float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min,
                    ScanParams p) {
    float min = x[0];
    float max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        std::fill(L, L + n, uint8_t{0});
        *neg_min = -min;
        return 0.0f;
    }
    float iscale = static_cast<float>(nmax) / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; ++i) {
        L[i] = static_cast<uint8_t>(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
    }
    float best_error = weighted_error(n, scale, min, x, w, L, p.use_mad);
    uint8_t aux[32];  // n <= 32
    for (int is = 0; is <= p.nstep; ++is) {
        iscale =
            (p.rmin + p.rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
        float sum_l = 0;
        float sum_l2 = 0;
        float sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
            aux[i] = static_cast<uint8_t>(l);
            const float fl = static_cast<float>(l);
            sum_l += w[i] * fl;
            sum_l2 += w[i] * fl * fl;
            sum_xl += w[i] * fl * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        const float error = weighted_error(n, this_scale, this_min, x, w, aux, p.use_mad);
        if (error < best_error) {
            std::copy(aux, aux + n, L);
            best_error = error;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
}

float fit_scale_q3(int n, int nmax, const float* x, int8_t* L) {
    float amax = 0;
    const float max = signed_max(x, n, &amax);
    if (amax < kGroupMaxEps) {
        std::fill(L, L + n, int8_t{0});
        return 0.0f;
    }
    const float iscale = static_cast<float>(-nmax) / max;
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = static_cast<int8_t>(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * static_cast<float>(l);
        suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            const float li = static_cast<float>(L[i]);
            float slx = sumlx - w * x[i] * li;
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * li * li;
            const int new_l = std::clamp(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (new_l == L[i]) continue;
            const float nl = static_cast<float>(new_l);
            slx += w * x[i] * nl;
            sl2 += w * nl * nl;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<int8_t>(new_l);
                sumlx = slx;
                suml2 = sl2;
                ++n_changed;
            }
        }
        if (n_changed == 0) break;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

namespace {

// Sums of the weighted fit of x ~= (1 / iscale) * l over the codes l that iscale rounds to
// (weights qw, or x^2 when qw is null).
struct QxSums {
    float sumlx = 0;
    float suml2 = 0;
};

QxSums qx_sums(int n, int nmax, float iscale, const float* x, const float* qw, int8_t* L) {
    QxSums s;
    for (int i = 0; i < n; ++i) {
        const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        if (L != nullptr) L[i] = static_cast<int8_t>(l + nmax);
        const float w = qw != nullptr ? qw[i] : x[i] * x[i];
        s.sumlx += w * x[i] * static_cast<float>(l);
        s.suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    return s;
}

}  // namespace

float fit_scale_qx(int n, int nmax, const float* x, int8_t* L, const float* qw) {
    float amax = 0;
    const float max = signed_max(x, n, &amax);
    if (amax < kGroupMaxEps) {
        std::fill(L, L + n, int8_t{0});
        return 0.0f;
    }
    const QxSums first = qx_sums(n, nmax, static_cast<float>(-nmax) / max, x, qw, L);
    float scale = first.suml2 != 0.0f ? first.sumlx / first.suml2 : 0.0f;
    float best = scale * first.sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
        const QxSums s = qx_sums(n, nmax, iscale, x, qw, nullptr);
        if (s.suml2 > 0 && s.sumlx * s.sumlx > best * s.suml2) {
            qx_sums(n, nmax, iscale, x, qw, L);
            scale = s.sumlx / s.suml2;
            best = scale * s.sumlx;
        }
    }
    return scale;
}

float fit_scale_qp(int n, int nmax, const float* x, uint8_t* L, const float* qw) {
    float max = 0;
    for (int i = 0; i < n; ++i) max = max > x[i] ? max : x[i];
    if (max < kGroupMaxEps) {
        std::fill(L, L + n, uint8_t{0});
        return 0.0f;
    }
    // Codes are stored as uint8_t before any clamp, as in ggml (they are in range for the
    // non-negative scales the k-quants pass).
    float iscale = static_cast<float>(nmax) / max;
    for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nearest_int(iscale * x[i]));
    const float scale = 1 / iscale;
    float best_mse = 0;
    for (int i = 0; i < n; ++i) {
        const float diff = x[i] - scale * static_cast<float>(L[i]);
        best_mse += qw[i] * diff * diff;
    }
    for (int is = -4; is <= 4; ++is) {
        if (is == 0) continue;
        const float iscale_is = (0.1f * static_cast<float>(is) + static_cast<float>(nmax)) / max;
        const float scale_is = 1 / iscale_is;
        float mse = 0;
        for (int i = 0; i < n; ++i) {
            const int l = std::min(nmax, nearest_int(iscale_is * x[i]));
            const float diff = x[i] - scale_is * static_cast<float>(l);
            mse += qw[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = std::min(nmax, nearest_int(iscale * x[i]));
        L[i] = static_cast<uint8_t>(l);
        const float fl = static_cast<float>(l);
        sumlx += qw[i] * x[i] * fl;
        suml2 += qw[i] * fl * fl;
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = qw[i];
            const float li = static_cast<float>(L[i]);
            float slx = sumlx - w * x[i] * li;
            float sl2 = suml2 - w * li * li;
            if (!(slx > 0 && sl2 > 0)) continue;
            const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
            if (new_l == L[i]) continue;
            const float nl = static_cast<float>(new_l);
            slx += w * x[i] * nl;
            sl2 += w * nl * nl;
            if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<uint8_t>(new_l);
                sumlx = slx;
                suml2 = sl2;
                ++n_changed;
            }
        }
        if (n_changed == 0) break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

}  // namespace sobre::ref::fit
