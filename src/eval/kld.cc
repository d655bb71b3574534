#include "eval/kld.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "core/error.h"
#include "eval/chunks.h"
#include "eval/perplexity.h"

namespace sobre::eval {
namespace {

constexpr char kMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};
constexpr float kLogProbRange = 16.f;  // log-probs further below the best are stored as 0

// Round half to even through the float mantissa, as the reference's nearest_int.
int nearest_int(float v) {
    const float shifted = v + 12582912.0f;
    uint32_t bits = 0;
    std::memcpy(&bits, &shifted, sizeof bits);
    return static_cast<int>(bits & 0x7fffffu) - 0x400000;
}

int64_t scored_per_chunk(int64_t n_ctx) { return n_ctx - 1 - n_ctx / 2; }

// Mean and standard error of the mean of a running sum (0 error below 11 values).
std::pair<double, double> mean_and_error(double sum, double sum2, int64_t count) {
    if (count < 1) return {0.0, 0.0};
    const auto n = static_cast<double>(count);
    const double f = sum / n;
    double df = sum2 / n - f * f;
    df = df > 0 && count > 10 ? std::sqrt(df / (n - 1)) : 0.0;
    return {f, df};
}

double covariance(double suma, double sumb, double sumab, int64_t count) {
    if (count < 10) return 0.0;
    const auto n = static_cast<double>(count);
    return (sumab / n - (suma / n) * (sumb / n)) / (n - 1);
}

// The reference interpolates between neighbours in float.
float percentile(const std::vector<float>& sorted, float fraction) {
    if (fraction <= 0) return sorted.front();
    if (fraction >= 1) return sorted.back();
    float p = fraction * static_cast<float>(sorted.size() - 1);
    const auto ip = static_cast<size_t>(p);
    p -= static_cast<float>(ip);
    return (1 - p) * sorted[ip] + p * sorted[std::min(ip + 1, sorted.size() - 1)];
}

float median(const std::vector<float>& sorted) {
    const size_t n = sorted.size();
    return n % 2 == 0 ? 0.5f * (sorted[n / 2] + sorted[n / 2 - 1]) : sorted[n / 2];
}

}  // namespace

double compress_log_probs(const float* logits, int64_t n_vocab, int32_t token, uint16_t* row) {
    float max_logit = logits[0];
    float min_logit = logits[0];
    for (int64_t i = 1; i < n_vocab; ++i) {
        max_logit = std::max(max_logit, logits[i]);
        min_logit = std::min(min_logit, logits[i]);
    }
    min_logit = std::max(min_logit, max_logit - kLogProbRange);
    double sum_exp = 0.0;
    for (int64_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
    const auto log_sum_exp = static_cast<float>(std::log(sum_exp));
    const float min_log_prob = min_logit - max_logit - log_sum_exp;
    const float scale = (max_logit - min_logit) / 65535.f;
    std::memcpy(row, &scale, sizeof scale);
    std::memcpy(row + 2, &min_log_prob, sizeof min_log_prob);
    uint16_t* codes = row + 4;
    std::fill(codes, codes + (log_prob_row_u16s(n_vocab) - 4), uint16_t{0});
    if (scale != 0.0f) {
        const float inv_scale = 1 / scale;
        for (int64_t i = 0; i < n_vocab; ++i) {
            if (logits[i] > min_logit) codes[i] = static_cast<uint16_t>(nearest_int(inv_scale * (logits[i] - min_logit)));
        }
    }
    return max_logit + log_sum_exp - logits[token];
}

// ---------------------------------------------------------------------------------------------
// The file.

LogProbWriter::LogProbWriter(std::string path, const LogProbHeader& h)
    : path_(std::move(path)), tmp_(path_ + ".tmp"), row_u16s_(log_prob_row_u16s(h.n_vocab)) {
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (f_ == nullptr) fail(ErrorKind::kIo, "{}: cannot create: {}", tmp_, std::strerror(errno));
    write(kMagic, sizeof kMagic);
    write(&h.n_ctx, sizeof h.n_ctx);
    write(&h.n_vocab, sizeof h.n_vocab);
    write(&h.n_chunk, sizeof h.n_chunk);
    write(h.tokens.data(), h.tokens.size() * sizeof(int32_t));
}

LogProbWriter::~LogProbWriter() {
    if (f_ != nullptr) {
        std::fclose(f_);
        std::remove(tmp_.c_str());
    }
}

void LogProbWriter::write(const void* data, size_t n) {
    if (std::fwrite(data, 1, n, f_) != n) fail(ErrorKind::kIo, "{}: write failed: {}", tmp_, std::strerror(errno));
}

void LogProbWriter::write_rows(const uint16_t* rows, int64_t n_rows) {
    write(rows, static_cast<size_t>(n_rows * row_u16s_) * sizeof(uint16_t));
}

void LogProbWriter::commit() {
    const bool ok = std::fflush(f_) == 0;
    const int err = errno;
    std::fclose(f_);
    f_ = nullptr;
    if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
        std::remove(tmp_.c_str());
        fail(ErrorKind::kIo, "{}: write failed: {}", path_, std::strerror(ok ? errno : err));
    }
}

LogProbReader::LogProbReader(std::string path) : path_(std::move(path)) {
    f_ = std::fopen(path_.c_str(), "rb");
    if (f_ == nullptr) {
        fail(errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo, "{}: cannot open: {}", path_, std::strerror(errno));
    }
    char magic[sizeof kMagic] = {};
    int32_t dims[3] = {};
    if (std::fread(magic, 1, sizeof magic, f_) != sizeof magic || std::memcmp(magic, kMagic, sizeof kMagic) != 0 ||
        std::fread(dims, sizeof(int32_t), 3, f_) != 3) {
        fail(ErrorKind::kInvalidArgument, "{}: not a log-probability file (from --kl-divergence-base)", path_);
    }
    h_.n_ctx = dims[0];
    h_.n_vocab = dims[1];
    h_.n_chunk = dims[2];
    if (h_.n_ctx < 4 || h_.n_vocab < 1 || h_.n_chunk < 1) {
        fail(ErrorKind::kCorrupt, "{}: bad header (n_ctx {}, n_vocab {}, n_chunk {})", path_, h_.n_ctx, h_.n_vocab,
             h_.n_chunk);
    }
    const int64_t n_tokens = int64_t{h_.n_ctx} * h_.n_chunk;
    const int64_t rows = scored_per_chunk(h_.n_ctx) * h_.n_chunk;
    // In double: a hostile header must not overflow the arithmetic; any real file size is an
    // exact double, and a size beyond 2^53 bytes cannot match one.
    const double expected = static_cast<double>(sizeof kMagic) + 12 + 4.0 * static_cast<double>(n_tokens) +
                            2.0 * static_cast<double>(rows) * static_cast<double>(log_prob_row_u16s(h_.n_vocab));
    std::fseek(f_, 0, SEEK_END);
    const int64_t size = std::ftell(f_);
    if (static_cast<double>(size) != expected) {
        fail(ErrorKind::kCorrupt, "{}: is {} bytes; its header (n_ctx {}, n_vocab {}, {} chunks) needs {:.0f}", path_,
             size, h_.n_ctx, h_.n_vocab, h_.n_chunk, expected);
    }
    std::fseek(f_, static_cast<long>(sizeof kMagic) + 12, SEEK_SET);
    h_.tokens.resize(static_cast<size_t>(n_tokens));
    if (std::fread(h_.tokens.data(), sizeof(int32_t), h_.tokens.size(), f_) != h_.tokens.size()) {
        fail(ErrorKind::kIo, "{}: read failed", path_);
    }
}

LogProbReader::~LogProbReader() {
    if (f_ != nullptr) std::fclose(f_);
}

void LogProbReader::read_chunk(std::vector<uint16_t>& rows) {
    SOBRE_CHECK(chunks_read_ < h_.n_chunk);
    rows.resize(static_cast<size_t>(scored_per_chunk(h_.n_ctx) * log_prob_row_u16s(h_.n_vocab)));
    if (std::fread(rows.data(), sizeof(uint16_t), rows.size(), f_) != rows.size()) {
        fail(ErrorKind::kIo, "{}: reading the log-probs of chunk {} failed", path_, chunks_read_ + 1);
    }
    ++chunks_read_;
}

// ---------------------------------------------------------------------------------------------
// Statistics. Float and double are mixed exactly where the reference mixes them.

void KldStats::add(const float* logits, const uint16_t* base_row, int64_t n_vocab, int32_t token) {
    float max_logit = logits[0];
    int64_t imax = 0;
    for (int64_t i = 1; i < n_vocab; ++i) {
        if (logits[i] > max_logit) {
            max_logit = logits[i];
            imax = i;
        }
    }
    double sum_exp = 0.0;
    for (int64_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
    const auto log_sum_exp = static_cast<float>(std::log(sum_exp));
    float scale = 0;
    float min_log_prob = 0;
    std::memcpy(&scale, base_row, sizeof scale);
    std::memcpy(&min_log_prob, base_row + 2, sizeof min_log_prob);
    const uint16_t* codes = base_row + 4;

    const float nll = max_logit + log_sum_exp - logits[token];
    sum_nll += nll;
    sum_nll2 += nll * nll;
    const float nll_base = -(scale * codes[token] + min_log_prob);
    sum_nll_base += nll_base;
    sum_nll_base2 += nll_base * nll_base;
    sum_nll_nll_base += nll * nll_base;

    const float log_norm = max_logit + log_sum_exp;
    double kld = 0;
    int64_t imax_base = -1;
    float p_log_base_max = 0;
    for (int64_t i = 0; i < n_vocab; ++i) {
        const float p_log_base = scale * codes[i] + min_log_prob;
        if (i == 0 || p_log_base > p_log_base_max) {
            p_log_base_max = p_log_base;
            imax_base = i;
        }
        if (p_log_base > -kLogProbRange) kld += std::exp(p_log_base) * (p_log_base - logits[i] + log_norm);
    }
    sum_kld += kld;
    sum_kld2 += kld * kld;
    ++count;
    if (imax == imax_base) ++n_same_top;

    const float p_diff = std::exp(-nll) - std::exp(-nll_base);
    sum_p_diff += p_diff;
    const double p_diff2 = p_diff * p_diff;
    sum_p_diff2 += p_diff2;
    sum_p_diff4 += p_diff2 * p_diff2;
    max_p_diff = std::max(max_p_diff, std::fabs(p_diff));
    kld_values.push_back(static_cast<float>(kld));
    p_diff_values.push_back(p_diff);
}

KldStats measure_kld(model::Model& m, ThreadPool& pool, LogProbReader& base, int64_t n_batch, int32_t bos,
                     const KldProgress& progress) {
    const LogProbHeader& h = base.header();
    const int64_t n_vocab = m.info().n_vocab;
    if (h.n_vocab != n_vocab) {
        fail(ErrorKind::kInvalidArgument, "the base log-probabilities cover {} tokens but the model's vocabulary has {}; "
             "they come from another model family", h.n_vocab, n_vocab);
    }
    const int64_t n_ctx = h.n_ctx;
    const ChunkOptions o{n_ctx, n_batch >= n_ctx ? n_batch / n_ctx * n_ctx : n_batch, first_scored(n_ctx), bos};
    check_chunk_options(o);
    const int64_t row_u16s = log_prob_row_u16s(n_vocab);
    std::vector<uint16_t> rows;
    KldStats stats;
    for_each_chunk(m, pool, o, h.tokens, h.n_chunk, [&](int64_t c, const float* logits) {
        base.read_chunk(rows);
        score_chunk(logits, h.tokens.data() + c * n_ctx, n_ctx, n_vocab, [&](int64_t i, const float* row, int32_t next) {
            stats.add(row, &rows[i * row_u16s], n_vocab, next);
        });
        if (progress) progress(c, stats);
    });
    return stats;
}

std::string kld_table_header() {
    return "chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              Δp RMS"
           "            Same top p";
}

std::string format_kld_chunk(int64_t chunk, const KldStats& s) {
    const auto log_ppl = mean_and_error(s.sum_nll, s.sum_nll2, s.count);
    const double ppl = std::exp(log_ppl.first);
    const auto log_ppl_base = mean_and_error(s.sum_nll_base, s.sum_nll_base2, s.count);
    const double cov = covariance(s.sum_nll, s.sum_nll_base, s.sum_nll_nll_base, s.count);
    const double ratio = log_ppl.first - log_ppl_base.first;
    const double ratio_err =
        std::sqrt(log_ppl.second * log_ppl.second + log_ppl_base.second * log_ppl_base.second - 2.0 * cov);
    const auto kl = mean_and_error(s.sum_kld, s.sum_kld2, s.count);
    const auto p_diff_mse = mean_and_error(s.sum_p_diff2, s.sum_p_diff4, s.count);
    const double rms = std::sqrt(p_diff_mse.first);
    const double rms_err = 0.5 / rms * p_diff_mse.second;
    const double top = static_cast<double>(s.n_same_top) / static_cast<double>(s.count);
    const double top_err = std::sqrt(top * (1 - top) / static_cast<double>(s.count - 1));
    return fmt::format("{:4d}    {:9.4f} ± {:9.4f}    {:10.5f} ± {:10.5f}    {:10.5f} ± {:10.5f}    {:6.3f} ± {:6.3f} %"
                       "    {:6.3f} ± {:6.3f} %",
                       chunk, ppl, ppl * log_ppl.second, ratio, ratio_err, kl.first, kl.second, 100.0 * rms,
                       100.0 * rms_err, 100.0 * top, 100.0 * top_err);
}

std::string format_kld_report(const KldStats& s) {
    if (s.count < 100) return {};
    std::vector<float> kld = s.kld_values;
    std::vector<float> dp = s.p_diff_values;
    std::sort(kld.begin(), kld.end());
    std::sort(dp.begin(), dp.end());
    std::string r = "====== Perplexity statistics ======\n";
    const auto log_ppl = mean_and_error(s.sum_nll, s.sum_nll2, s.count);
    const double ppl = std::exp(log_ppl.first);
    const double ppl_err = ppl * log_ppl.second;
    r += fmt::format("Mean PPL(Q)                   : {:10.6f} ± {:10.6f}\n", ppl, ppl_err);
    const auto log_base = mean_and_error(s.sum_nll_base, s.sum_nll_base2, s.count);
    const double base = std::exp(log_base.first);
    const double base_err = base * log_base.second;
    r += fmt::format("Mean PPL(base)                : {:10.6f} ± {:10.6f}\n", base, base_err);
    const double cov = covariance(s.sum_nll, s.sum_nll_base, s.sum_nll_nll_base, s.count);
    r += fmt::format("Cor(ln(PPL(Q)), ln(PPL(base))): {:6.2f}%\n", 100.0 * cov / (log_ppl.second * log_base.second));
    const double ratio = log_ppl.first - log_base.first;
    const double ratio_err = std::sqrt(log_ppl.second * log_ppl.second + log_base.second * log_base.second - 2.0 * cov);
    r += fmt::format("Mean ln(PPL(Q)/PPL(base))     : {:10.6f} ± {:10.6f}\n", ratio, ratio_err);
    r += fmt::format("Mean PPL(Q)/PPL(base)         : {:10.6f} ± {:10.6f}\n", std::exp(ratio),
                     std::exp(ratio) * ratio_err);
    const double ppl_cov = ppl * base * cov;
    r += fmt::format("Mean PPL(Q)-PPL(base)         : {:10.6f} ± {:10.6f}\n", ppl - base,
                     std::sqrt(ppl_err * ppl_err + base_err * base_err - 2.0 * ppl_cov));

    r += "\n====== KL divergence statistics ======\n";
    const auto kl = mean_and_error(s.sum_kld, s.sum_kld2, s.count);
    r += fmt::format("Mean    KLD: {:10.6f} ± {:10.6f}\n", kl.first, kl.second);
    r += fmt::format("Maximum KLD: {:10.6f}\n", kld.back());
    const std::pair<const char*, float> kld_points[] = {{"99.9%", 0.999f}, {"99.0%", 0.990f}, {"95.0%", 0.950f},
                                                         {"90.0%", 0.900f}};
    for (const auto& [label, f] : kld_points) r += fmt::format("{}   KLD: {:10.6f}\n", label, percentile(kld, f));
    r += fmt::format("Median  KLD: {:10.6f}\n", median(kld));
    const std::pair<const char*, float> kld_low[] = {{"10.0%", 0.100f}, {" 5.0%", 0.050f}, {" 1.0%", 0.010f},
                                                      {" 0.1%", 0.001f}};
    for (const auto& [label, f] : kld_low) r += fmt::format("{}   KLD: {:10.6f}\n", label, percentile(kld, f));
    r += fmt::format("Minimum KLD: {:10.6f}\n", kld.front());

    r += "\n====== Token probability statistics ======\n";
    const auto mean_dp = mean_and_error(s.sum_p_diff, s.sum_p_diff2, s.count);
    r += fmt::format("Mean    Δp: {:6.3f} ± {:5.3f} %\n", 100.0 * mean_dp.first, 100.0 * mean_dp.second);
    r += fmt::format("Maximum Δp: {:6.3f}%\n", 100.0 * dp.back());
    const std::pair<const char*, float> dp_high[] = {
        {"99.9%", 0.999f}, {"99.0%", 0.990f}, {"95.0%", 0.950f}, {"90.0%", 0.900f}, {"75.0%", 0.750f}};
    for (const auto& [label, f] : dp_high) r += fmt::format("{}   Δp: {:6.3f}%\n", label, 100.0 * percentile(dp, f));
    r += fmt::format("Median  Δp: {:6.3f}%\n", 100.0 * median(dp));
    const std::pair<const char*, float> dp_low[] = {
        {"25.0%", 0.250f}, {"10.0%", 0.100f}, {" 5.0%", 0.050f}, {" 1.0%", 0.010f}, {" 0.1%", 0.001f}};
    for (const auto& [label, f] : dp_low) r += fmt::format("{}   Δp: {:6.3f}%\n", label, 100.0 * percentile(dp, f));
    r += fmt::format("Minimum Δp: {:6.3f}%\n", 100.0 * dp.front());
    const auto mse = mean_and_error(s.sum_p_diff2, s.sum_p_diff4, s.count);
    const double rms = std::sqrt(mse.first);
    r += fmt::format("RMS Δp    : {:6.3f} ± {:5.3f} %\n", 100.0 * rms, 100.0 * 0.5 / rms * mse.second);
    const double top = static_cast<double>(s.n_same_top) / static_cast<double>(s.count);
    r += fmt::format("Same top p: {:6.3f} ± {:5.3f} %\n", 100.0 * top,
                     100.0 * std::sqrt(top * (1.0 - top) / static_cast<double>(s.count - 1)));
    return r;
}

}  // namespace sobre::eval
