// `sobre bench`: prompt-processing (pp) and generation (tg) throughput, like llama-bench, plus
// what a bandwidth-bound engine needs to judge itself: model load time, peak RSS, weight bytes
// read per generated token and the read bandwidth that implies. --json prints llama-bench's
// field names (so the same tooling reads both) plus ours.
// ref: llama.cpp tools/llama-bench/llama-bench.cpp (test order, warm-up, field names).
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/common.h"
#include "core/clock.h"
#include "core/error.h"
#include "gguf/quantize.h"
#include "kernels/cpu/isa.h"
#include "model/model.h"
#include "runtime/kv_cache.h"

namespace sobre::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
    std::string model;
    int n_prompt = 512;
    int n_gen = 128;
    int reps = 5;
    int threads = default_threads();
    bool json = false;
};

// One llama-bench test row: pp (n_prompt tokens in one batch) or tg (n_gen tokens one by one).
struct TestResult {
    int n_prompt = 0;
    int n_gen = 0;
    std::vector<double> samples_ns;  // one per repetition
    std::string time;                // ISO 8601 start time, as llama-bench's test_time

    int tokens() const { return n_prompt + n_gen; }
    std::vector<double> samples_ts() const {
        std::vector<double> ts;
        for (double ns : samples_ns) ts.push_back(1e9 * tokens() / ns);
        return ts;
    }
};

double mean(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// Sample standard deviation (n - 1), as llama-bench.
double stddev(const std::vector<double>& v) {
    if (v.size() < 2) return 0;
    const double m = mean(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / static_cast<double>(v.size() - 1));
}

int64_t peak_rss_bytes() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<int64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

std::string cpu_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            const size_t colon = line.find(':');
            if (colon != std::string::npos)
                return line.substr(line.find_first_not_of(' ', colon + 1));
        }
    }
    return "unknown";
}

// Facts about the file that the bandwidth figures need.
struct WeightStats {
    int64_t params = 0;          // elements of every tensor
    int64_t tensor_bytes = 0;    // bytes of every tensor (llama-bench's model_size)
    double bytes_per_token = 0;  // weight bytes one generated token reads
    std::string type_name;       // llama.cpp file type name ("Q8_0"), or the most used type
};

// A generated token reads every matrix once, except the token embedding (one row; unless the
// output is tied to it, in which case the output matmul reads it whole) and the routed experts
// (only n_expert_used of n_expert, on average). 1-D tensors (norms, biases) are read too.
WeightStats weight_stats(const model::Model& m) {
    const gguf::File& f = m.file();
    const std::string arch = m.info().arch;
    const double expert_share = [&] {
        const auto used = f.get_u32(arch + ".expert_used_count");
        const auto count = f.get_u32(arch + ".expert_count");
        return used && count && *count > 0 ? static_cast<double>(*used) / *count : 1.0;
    }();
    const bool tied = f.find_tensor("output.weight") == nullptr;
    WeightStats s;
    std::vector<std::pair<DType, int64_t>> by_type;
    for (const gguf::TensorInfo& t : f.tensors()) {
        s.params += t.n_elements();
        s.tensor_bytes += static_cast<int64_t>(t.n_bytes);
        double read = static_cast<double>(t.n_bytes);
        if (t.name == "token_embd.weight" && !tied) read = static_cast<double>(t.row_bytes());
        if (t.name.find("_exps.") != std::string::npos) read *= expert_share;
        s.bytes_per_token += read;
        if (t.n_dims >= 2) {
            auto it = std::find_if(by_type.begin(), by_type.end(),
                                   [&](const auto& p) { return p.first == t.type; });
            if (it == by_type.end()) by_type.emplace_back(t.type, 0), it = by_type.end() - 1;
            it->second += t.n_elements();
        }
    }
    if (const auto ftype = f.get_u32("general.file_type")) {
        // Aliases share a file type (Q4_K = Q4_K_M): the longest name is the specific one.
        for (const gguf::QuantTarget& q : gguf::quant_targets()) {
            if (q.ftype == *ftype && q.name.size() > s.type_name.size())
                s.type_name = std::string(q.name);
        }
    }
    if (s.type_name.empty() && !by_type.empty()) {
        const auto top =
            std::max_element(by_type.begin(), by_type.end(),
                             [](const auto& a, const auto& b) { return a.second < b.second; });
        s.type_name = std::string(dtype_name(top->first));
        for (char& c : s.type_name)
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return s;
}

std::string size_label(int64_t params) {
    if (params >= 1000000000) return fmt::format("{:.1f}B", static_cast<double>(params) / 1e9);
    return fmt::format("{:.0f}M", static_cast<double>(params) / 1e6);
}

class Runner {
   public:
    Runner(model::Model& m, int threads, int64_t n_ctx)
        : model_(m),
          kv_(m.info().kv, n_ctx),
          pool_(threads),
          logits_(static_cast<size_t>(m.info().n_vocab)),
          rng_(1234) {}

    // n random tokens at positions [0, n) in one batch; logits of the last only.
    double prompt(int n) {
        model::Batch b;
        std::uniform_int_distribution<int32_t> tok(0,
                                                   static_cast<int32_t>(model_.info().n_vocab - 1));
        for (int i = 0; i < n; ++i) b.add(tok(rng_), i, 0, i + 1 == n);
        const auto t0 = Clock::now();
        model_.forward(b, kv_, pool_, logits_.data());
        return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    }

    // n tokens one at a time from position 0 (an empty cache, as llama-bench's tg test).
    double generate(int n) {
        model::Batch b;
        std::uniform_int_distribution<int32_t> tok(0,
                                                   static_cast<int32_t>(model_.info().n_vocab - 1));
        int32_t next = tok(rng_);
        const auto t0 = Clock::now();
        for (int i = 0; i < n; ++i) {
            b.clear();
            b.add(next, i, 0, true);
            model_.forward(b, kv_, pool_, logits_.data());
            next = static_cast<int32_t>(std::max_element(logits_.begin(), logits_.end()) -
                                        logits_.begin());
        }
        return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    }

    int64_t kv_bytes() const { return kv_.bytes_per_token() * kv_.capacity(0); }

   private:
    model::Model& model_;
    runtime::KvCache kv_;
    ThreadPool pool_;
    std::vector<float> logits_;
    std::mt19937 rng_;
};

void print_table(const BenchArgs& a, const model::Model& m, const WeightStats& w,
                 const std::vector<TestResult>& tests, double load_ms, int64_t kv_bytes) {
    const std::string model_type =
        fmt::format("{} {} {}", m.info().arch, size_label(w.params), w.type_name);
    const std::string backend = fmt::format("CPU ({})", kernels::isa_name(kernels::detect_isa()));
    std::printf("| %-28s | %10s | %8s | %-12s | %7s | %8s | %20s |\n", "model", "size", "params",
                "backend", "threads", "test", "t/s");
    std::printf("| %s | %s: | %s: | %s | %s: | %s: | %s: |\n", std::string(28, '-').c_str(),
                std::string(9, '-').c_str(), std::string(7, '-').c_str(),
                std::string(12, '-').c_str(), std::string(6, '-').c_str(),
                std::string(7, '-').c_str(), std::string(19, '-').c_str());
    for (const TestResult& t : tests) {
        const std::vector<double> ts = t.samples_ts();
        const std::string name =
            t.n_prompt ? fmt::format("pp{}", t.n_prompt) : fmt::format("tg{}", t.n_gen);
        std::printf("| %-28s | %6.2f GiB | %6.2f B | %-12s | %7d | %8s | %20s |\n",
                    model_type.c_str(), static_cast<double>(w.tensor_bytes) / (1 << 30),
                    static_cast<double>(w.params) / 1e9, backend.c_str(), a.threads, name.c_str(),
                    fmt::format("{:.2f} ± {:.2f}", mean(ts), stddev(ts)).c_str());
    }
    std::printf("\nload %.1f ms, peak RSS %.1f MiB (file %.1f MiB, KV cache %.1f MiB)\n", load_ms,
                static_cast<double>(peak_rss_bytes()) / (1 << 20),
                static_cast<double>(w.tensor_bytes) / (1 << 20),
                static_cast<double>(kv_bytes) / (1 << 20));
    for (const TestResult& t : tests) {
        if (t.n_gen == 0) continue;
        const double tg = mean(t.samples_ts());
        std::printf("tg%d: %.1f MiB of weights read per token -> %.1f GB/s\n", t.n_gen,
                    w.bytes_per_token / (1 << 20), w.bytes_per_token * tg / 1e9);
    }
}

// A JSON string literal (quotes, backslashes and control characters escaped).
std::string json_string(std::string_view v) {
    std::string out = "\"";
    for (const char c : v) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string json_array(const std::vector<double>& v, bool integral) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) {
        out += (i ? ", " : "") +
               (integral ? fmt::format("{}", static_cast<int64_t>(v[i])) : fmt::format("{}", v[i]));
    }
    return out + "]";
}

// One object per test, llama-bench's fields first (the ones that make sense for a CPU engine),
// then ours. Written by hand: the CLI has no JSON library of its own.
void print_json(const BenchArgs& a, const model::Model& m, const WeightStats& w,
                const std::vector<TestResult>& tests, double load_ms, int64_t kv_bytes) {
    std::printf("[\n");
    for (size_t i = 0; i < tests.size(); ++i) {
        const TestResult& t = tests[i];
        const std::vector<double> ts = t.samples_ts();
        std::vector<std::pair<std::string, std::string>> f = {
            {"build_commit", json_string("unknown")},
            {"build_number", "0"},
            {"cpu_info", json_string(cpu_name())},
            {"gpu_info", json_string("")},
            {"backends", json_string("CPU")},
            {"model_filename", json_string(a.model)},
            {"model_type", json_string(fmt::format("{} {} {}", m.info().arch, size_label(w.params),
                                                   w.type_name))},
            {"model_size", fmt::format("{}", w.tensor_bytes)},
            {"model_n_params", fmt::format("{}", w.params)},
            {"n_batch", fmt::format("{}", std::max(a.n_prompt, 1))},
            {"n_ubatch", fmt::format("{}", std::max(a.n_prompt, 1))},
            {"n_threads", fmt::format("{}", a.threads)},
            {"type_k", json_string("f16")},
            {"type_v", json_string("f16")},
            {"n_gpu_layers", "0"},
            {"use_mmap", "true"},
            {"n_prompt", fmt::format("{}", t.n_prompt)},
            {"n_gen", fmt::format("{}", t.n_gen)},
            {"n_depth", "0"},
            {"test_time", json_string(t.time)},
            {"avg_ns", fmt::format("{}", static_cast<int64_t>(mean(t.samples_ns)))},
            {"stddev_ns", fmt::format("{}", static_cast<int64_t>(stddev(t.samples_ns)))},
            {"avg_ts", fmt::format("{}", mean(ts))},
            {"stddev_ts", fmt::format("{}", stddev(ts))},
            {"samples_ns", json_array(t.samples_ns, true)},
            {"samples_ts", json_array(ts, false)},
            // Ours.
            {"isa", json_string(kernels::isa_name(kernels::detect_isa()))},
            {"load_ms", fmt::format("{}", load_ms)},
            {"peak_rss_bytes", fmt::format("{}", peak_rss_bytes())},
            {"kv_cache_bytes", fmt::format("{}", kv_bytes)},
            {"weight_bytes_per_token", fmt::format("{}", static_cast<int64_t>(w.bytes_per_token))},
        };
        if (t.n_gen > 0)
            f.emplace_back("weight_read_gbps",
                           fmt::format("{}", w.bytes_per_token * mean(ts) / 1e9));
        std::printf("  {\n");
        for (size_t k = 0; k < f.size(); ++k) {
            std::printf("    \"%s\": %s%s\n", f[k].first.c_str(), f[k].second.c_str(),
                        k + 1 < f.size() ? "," : "");
        }
        std::printf("  }%s\n", i + 1 < tests.size() ? "," : "");
    }
    std::printf("]\n");
}

void run_bench(const BenchArgs& a) {
    if (a.n_prompt == 0 && a.n_gen == 0)
        fail(ErrorKind::kInvalidArgument, "-p and -n are both 0: nothing to measure");
    const auto t0 = Clock::now();
    const std::unique_ptr<model::Model> m = model::load_model(a.model);
    const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    const int64_t n_ctx = std::max(a.n_prompt, a.n_gen) + 1;
    if (n_ctx > m->info().n_ctx_train) {
        fail(ErrorKind::kResourceExhausted, "-p/-n of {} tokens exceed the model's context of {}",
             n_ctx - 1, m->info().n_ctx_train);
    }
    const WeightStats w = weight_stats(*m);
    Runner r(*m, a.threads, n_ctx);
    // Warm-up, as llama-bench: one full prompt and one generated token (this also faults the
    // mapped weights in, so load time stays the mmap's and the first sample is not penalized).
    if (a.n_prompt > 0) r.prompt(a.n_prompt);
    if (a.n_gen > 0) r.generate(1);
    std::vector<TestResult> tests;
    if (a.n_prompt > 0) tests.push_back({a.n_prompt, 0, {}, utc_timestamp()});
    if (a.n_gen > 0) tests.push_back({0, a.n_gen, {}, utc_timestamp()});
    for (TestResult& t : tests) {
        for (int i = 0; i < a.reps; ++i)
            t.samples_ns.push_back(t.n_prompt ? r.prompt(t.n_prompt) : r.generate(t.n_gen));
    }
    if (a.json) {
        print_json(a, *m, w, tests, load_ms, r.kv_bytes());
    } else {
        print_table(a, *m, w, tests, load_ms, r.kv_bytes());
    }
}

}  // namespace

void add_bench(CLI::App& app) {
    auto args = std::make_shared<BenchArgs>();
    CLI::App* cmd =
        app.add_subcommand("bench", "Measure prompt and generation speed (like llama-bench)");
    cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
    cmd->add_option("-p,--n-prompt", args->n_prompt, "prompt tokens per pp test (0: skip)")
        ->check(CLI::Range(0, 1 << 20));
    cmd->add_option("-n,--n-gen", args->n_gen, "generated tokens per tg test (0: skip)")
        ->check(CLI::Range(0, 1 << 20));
    cmd->add_option("-r,--repetitions", args->reps, "repetitions of each test")
        ->check(CLI::Range(1, 1000));
    cmd->add_option("-t,--threads", args->threads, "threads")->check(CLI::Range(1, 1024));
    cmd->add_flag("--json", args->json,
                  "print a JSON array with llama-bench's field names plus ours");
    cmd->callback([args] { run_bench(*args); });
}

}  // namespace sobre::cli
