// `sobre quantize` (gguf/quantize.h) against llama-quantize: for every fixture that
// MANIFEST.tsv says llama-quantize wrote from an F32 model, quantizing the same F32 model with
// the same type must give the same tensors, byte for byte (and the same file). Plus the bad
// inputs, which must fail with one clear Error and leave nothing behind.
#include "gguf/quantize.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "gguf/imatrix.h"
#include "gguf/writer.h"

namespace sobre::gguf {
namespace {

namespace fs = std::filesystem;

const std::string kModels = std::string(SOBRE_FIXTURES_DIR) + "/models";

// A scratch directory per test process, removed at exit.
const fs::path& scratch() {
    static const fs::path dir = [] {
        fs::path d =
            fs::temp_directory_path() / ("sobre_quantize_test." + std::to_string(getpid()));
        fs::create_directories(d);
        return d;
    }();
    static const struct Cleanup {
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(dir, ec);
        }
    } cleanup;
    return dir;
}

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// ---------------------------------------------------------------------------------------------
// Golden: our output equals llama-quantize's.

struct GoldenCase {
    std::string input;     // "llama-F32.gguf"
    std::string expected;  // "llama-Q4_K_M.gguf"
    std::string type;      // "Q4_K_M"
};

std::ostream& operator<<(std::ostream& os, const GoldenCase& c) { return os << c.expected; }

// Rows of MANIFEST.tsv whose producer is "llama-quantize IN OUT TYPE NTHREADS (...)".
std::vector<GoldenCase> golden_cases() {
    std::ifstream in(kModels + "/MANIFEST.tsv");
    std::string line;
    std::getline(in, line);
    std::vector<std::string> header;
    std::istringstream hs(line);
    for (std::string col; std::getline(hs, col, '\t');) header.push_back(col);
    const auto producer_col = std::find(header.begin(), header.end(), "producer") - header.begin();
    std::vector<GoldenCase> cases;
    while (std::getline(in, line)) {
        std::vector<std::string> cols;
        std::istringstream ls(line);
        for (std::string col; std::getline(ls, col, '\t');) cols.push_back(col);
        if (static_cast<size_t>(producer_col) >= cols.size()) continue;
        std::istringstream words(cols[static_cast<size_t>(producer_col)]);
        std::string tool;
        GoldenCase c;
        words >> tool >> c.input >> c.expected >> c.type;
        if (tool == "llama-quantize") cases.push_back(c);
    }
    return cases;
}

std::string case_name(const testing::TestParamInfo<GoldenCase>& info) {
    std::string name = info.param.expected.substr(0, info.param.expected.rfind('.'));
    for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    }
    return name;
}

// First differing 256-byte-aligned offset, for a readable failure.
std::string first_difference(const TensorInfo& want, const TensorInfo& got) {
    const size_t n = std::min(want.n_bytes, got.n_bytes);
    for (size_t i = 0; i < n; ++i) {
        if (want.data[i] != got.data[i]) {
            const int64_t row_bytes = want.row_bytes();
            return "first difference at byte " + std::to_string(i) + " (row " +
                   std::to_string(static_cast<int64_t>(i) / row_bytes) + ")";
        }
    }
    return "sizes differ";
}

void expect_same_tensors(const File& want, const File& got) {
    ASSERT_EQ(want.tensors().size(), got.tensors().size());
    for (size_t i = 0; i < want.tensors().size(); ++i) {
        const TensorInfo& w = want.tensors()[i];
        const TensorInfo& g = got.tensors()[i];
        ASSERT_EQ(w.name, g.name) << "tensor #" << i;
        EXPECT_EQ(dtype_name(w.type), dtype_name(g.type)) << w.name;
        EXPECT_EQ(w.shape_string(), g.shape_string()) << w.name;
        if (w.type != g.type || w.n_bytes != g.n_bytes) continue;
        EXPECT_TRUE(std::memcmp(w.data, g.data, w.n_bytes) == 0)
            << w.name << " (" << dtype_name(w.type) << "): " << first_difference(w, g);
    }
}

class QuantizeGolden : public testing::TestWithParam<GoldenCase> {};

TEST_P(QuantizeGolden, MatchesLlamaQuantize) {
    const GoldenCase& c = GetParam();
    const std::string out = (scratch() / c.expected).string();
    QuantizeOptions opt;
    opt.threads = 2;
    quantize_file(kModels + "/" + c.input, out, c.type, opt);
    const File want = File::open(kModels + "/" + c.expected);
    const File got = File::open(out);
    expect_same_tensors(want, got);
    // Same metadata (order included) and layout: the whole file is identical.
    EXPECT_TRUE(read_bytes(out) == read_bytes(kModels + "/" + c.expected)) << "file bytes differ";
    fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, QuantizeGolden, testing::ValuesIn(golden_cases()), case_name);

TEST(QuantizeGoldenManifest, CoversEveryType) {
    std::vector<std::string> types;
    for (const GoldenCase& c : golden_cases()) types.push_back(c.type);
    for (const char* t : {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_M", "Q4_K_M",
                          "Q5_K_M", "Q6_K", "F16", "BF16"}) {
        EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << t;
    }
}

// ---------------------------------------------------------------------------------------------
// Type names and per-tensor rules.

TEST(QuantizeTargets, NamesAreCaseInsensitiveWithAliases) {
    EXPECT_EQ(find_quant_target("q4_k_m").ftype, 15u);
    EXPECT_EQ(find_quant_target("Q4_K").ftype, 15u);
    EXPECT_EQ(find_quant_target("Q3_K").ftype, 12u);
    EXPECT_EQ(find_quant_target("Q5_K").ftype, 17u);
    EXPECT_EQ(find_quant_target("bf16").base, DType::kBF16);
    for (const QuantTarget& t : quant_targets()) {
        EXPECT_NE(dtype_traits(t.base).from_float, nullptr) << t.name;
    }
}

TEST(QuantizeTargets, UnknownTypeListsTheValidOnes) {
    try {
        find_quant_target("Q7_K");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
        const std::string msg = e.what();
        EXPECT_NE(msg.find("'Q7_K'"), std::string::npos) << msg;
        EXPECT_NE(msg.find("Q4_K_M"), std::string::npos) << msg;
        EXPECT_NE(msg.find("BF16"), std::string::npos) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
}

// A small synthetic model: matrices of the given row lengths, one norm, written in F32.
struct Matrix {
    std::string name;
    int64_t cols, rows;
    float fill = 0.0f;  // NaN makes a bad tensor
};

std::string write_model(const std::string& file, const std::vector<Matrix>& mats,
                        std::vector<std::pair<std::string, Value>> extra_kv = {}) {
    Writer w;
    w.set("general.architecture", Value::of_string("llama"));
    w.set("llama.block_count", Value::of_u32(1));
    for (auto& [k, v] : extra_kv) w.set(k, v);
    auto add = [&](const std::string& name, std::vector<int64_t> shape, float fill) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        w.add_tensor(name, DType::kF32, shape, [n, fill](ByteSink& out) {
            std::mt19937 rng(7);
            std::normal_distribution<float> dist(0.0f, 1.0f);
            for (int64_t i = 0; i < n; ++i) {
                const float v = std::isnan(fill) && i == n / 2 ? fill : dist(rng);
                out.write(&v, sizeof v);
            }
        });
    };
    add("blk.0.attn_norm.weight", {64}, 1.0f);
    for (const Matrix& m : mats) add(m.name, {m.cols, m.rows}, m.fill);
    const std::string path = (scratch() / file).string();
    w.write(path);
    return path;
}

DType planned(const std::vector<TensorPlan>& plan, const std::string& name) {
    for (const TensorPlan& p : plan) {
        if (p.in->name == name) return p.type;
    }
    ADD_FAILURE() << "no tensor " << name;
    return DType::kF32;
}

TEST(QuantizePlan, FallsBackForRowsThatAreNotABlockMultiple) {
    const std::string path = write_model("fallback.gguf", {{"blk.0.attn_q.weight", 96, 4},
                                                           {"blk.0.ffn_up.weight", 40, 4},
                                                           {"blk.0.ffn_gate.weight", 256, 4},
                                                           {"output.weight", 96, 4}});
    const File f = File::open(path);
    const auto plan = plan_quantization(f, find_quant_target("Q4_K_M"));
    EXPECT_EQ(planned(plan, "blk.0.attn_q.weight"), DType::kQ5_0);  // q4_K -> q5_0
    EXPECT_EQ(planned(plan, "blk.0.ffn_up.weight"), DType::kF16);   // not even 32: f16
    EXPECT_EQ(planned(plan, "blk.0.ffn_gate.weight"), DType::kQ4_K);
    EXPECT_EQ(planned(plan, "output.weight"), DType::kQ8_0);          // output: q8_0 if odd
    EXPECT_EQ(planned(plan, "blk.0.attn_norm.weight"), DType::kF32);  // 1-D stays
    // Q8_0 has no fallback in llama-quantize: a row of 40 is an error, as there.
    EXPECT_THROW(plan_quantization(f, find_quant_target("Q8_0")), Error);
}

TEST(QuantizePlan, F16KeepsVectorsAndConvertsEveryMatrix) {
    const std::string path = write_model("f16.gguf", {{"blk.0.ffn_up.weight", 40, 4}});
    const File f = File::open(path);
    const auto plan = plan_quantization(f, find_quant_target("F16"));
    EXPECT_EQ(planned(plan, "blk.0.ffn_up.weight"), DType::kF16);
    EXPECT_EQ(planned(plan, "blk.0.attn_norm.weight"), DType::kF32);
}

// The mixes the fixtures do not cover, on synthetic llama models (zero weights: only the plan
// is checked). Expected types are worked out by hand from llama-quantize's rules; with 16
// layers, use_more_bits() picks layers 0, 1, 4, 7, 10, 13, 14, 15.
struct Layers {
    int n_layer = 16;
    int n_head_kv = 2;  // of 8 heads
    int n_expert = 0;
};

std::string write_layers(const std::string& file, const Layers& l) {
    Writer w;
    w.set("general.architecture", Value::of_string("llama"));
    w.set("llama.block_count", Value::of_u32(static_cast<uint32_t>(l.n_layer)));
    w.set("llama.attention.head_count", Value::of_u32(8));
    w.set("llama.attention.head_count_kv", Value::of_u32(static_cast<uint32_t>(l.n_head_kv)));
    if (l.n_expert > 0) {
        w.set("llama.expert_count", Value::of_u32(static_cast<uint32_t>(l.n_expert)));
    }
    auto add = [&](const std::string& name, std::vector<int64_t> shape) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        w.add_tensor(name, DType::kF32, shape, [n](ByteSink& out) {
            const std::vector<float> zeros(static_cast<size_t>(n));
            out.write(zeros.data(), zeros.size() * sizeof(float));
        });
    };
    add("token_embd.weight", {256, 4});
    add("output.weight", {256, 4});
    for (int il = 0; il < l.n_layer; ++il) {
        const std::string b = "blk." + std::to_string(il) + ".";
        add(b + "attn_q.weight", {256, 4});
        add(b + "attn_k.weight", {256, 4});
        add(b + "attn_v.weight", {256, 4});
        add(b + "attn_output.weight", {256, 4});
        if (l.n_expert > 0) {
            add(b + "ffn_down_exps.weight", {256, 4, l.n_expert});
        } else {
            add(b + "ffn_down.weight", {256, 4});
        }
    }
    const std::string path = (scratch() / file).string();
    w.write(path);
    return path;
}

// The planned types of the tensors whose names contain `part`, in output order.
std::string types_of(const std::vector<TensorPlan>& plan, const std::string& part) {
    std::string out;
    for (const TensorPlan& p : plan) {
        if (p.in->name.find(part) == std::string::npos) continue;
        if (!out.empty()) out += ' ';
        out += dtype_name(p.type);
    }
    return out;
}

std::string repeat(const std::string& type, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
        if (i > 0) out += ' ';
        out += type;
    }
    return out;
}

struct MixCase {
    const char* type;
    const char* attn_v;       // layers 0..15
    const char* ffn_down;     // layers 0..15
    const char* attn_output;  // every layer
    const char* attn_q;       // every layer
};

TEST(QuantizePlan, MixesGiveSensitiveTensorsMoreBits) {
    const File f = File::open(write_layers("mix16.gguf", {}));
    const std::string k6 =
        "q6_K q6_K q4_K q4_K q6_K q4_K q4_K q6_K q4_K q4_K q6_K q4_K q4_K q6_K q6_K q6_K";
    const std::string k56 =
        "q6_K q6_K q5_K q5_K q6_K q5_K q5_K q6_K q5_K q5_K q6_K q5_K q5_K q6_K q6_K q6_K";
    const MixCase cases[] = {
        {"Q2_K", "q4_K", "q3_K", "q3_K", "q2_K"},  // attn_v: q4_K as gqa = 8 / 2 >= 4
        {"Q3_K_S", "q3_K", "q3_K", "q3_K", "q3_K"}, {"Q3_K_M", "2q5_K", "1q5_K", "q4_K", "q3_K"},
        {"Q3_K_L", "q5_K", "q5_K", "q5_K", "q3_K"}, {"Q4_K_S", "4q5_K", "2q5_K", "q4_K", "q4_K"},
        {"Q5_K_S", "q5_K", "q5_K", "q5_K", "q5_K"}, {"Q6_K", "q6_K", "q6_K", "q6_K", "q6_K"},
    };
    // "Nq5_K": the first N layers get q5_K, the rest the base type (q4_K).
    auto layers = [](const std::string& spec) {
        if (!std::isdigit(static_cast<unsigned char>(spec[0]))) return repeat(spec, 16);
        const int n = spec[0] - '0';
        return repeat(spec.substr(1), n) + " " + repeat("q4_K", 16 - n);
    };
    for (const MixCase& c : cases) {
        const auto plan = plan_quantization(f, find_quant_target(c.type));
        EXPECT_EQ(types_of(plan, "attn_v"), layers(c.attn_v)) << c.type;
        EXPECT_EQ(types_of(plan, "ffn_down"), layers(c.ffn_down)) << c.type;
        EXPECT_EQ(types_of(plan, "attn_output"), repeat(c.attn_output, 16)) << c.type;
        EXPECT_EQ(types_of(plan, "attn_q"), repeat(c.attn_q, 16)) << c.type;
        EXPECT_EQ(planned(plan, "output.weight"), DType::kQ6_K) << c.type;
    }
    const auto m = plan_quantization(f, find_quant_target("Q4_K_M"));
    EXPECT_EQ(types_of(m, "attn_v"), k6);
    EXPECT_EQ(types_of(m, "ffn_down"), k6);
    EXPECT_EQ(types_of(m, "token_embd"), "q4_K");  // untied: the base type
    const auto m5 = plan_quantization(f, find_quant_target("Q5_K_M"));
    EXPECT_EQ(types_of(m5, "attn_v"), k56);
    EXPECT_EQ(types_of(m5, "ffn_down"), k56);
}

TEST(QuantizePlan, GroupedQueryAnd70BAndEightExperts) {
    // 8 heads sharing 2 kv heads (gqa 4): Q2_K gives attn_v q4_K instead of q3_K.
    const File gqa = File::open(write_layers("gqa.gguf", {.n_layer = 16, .n_head_kv = 2}));
    EXPECT_EQ(types_of(plan_quantization(gqa, find_quant_target("Q2_K")), "attn_v"),
              repeat("q4_K", 16));
    const File mha = File::open(write_layers("mha.gguf", {.n_layer = 16, .n_head_kv = 8}));
    EXPECT_EQ(types_of(plan_quantization(mha, find_quant_target("Q2_K")), "attn_v"),
              repeat("q3_K", 16));
    // A llama of 80 layers with GQA is llama.cpp's 70B: q3_K/q4_K attn_v become q5_K.
    const File big = File::open(write_layers("70b.gguf", {.n_layer = 80, .n_head_kv = 1}));
    EXPECT_EQ(types_of(plan_quantization(big, find_quant_target("Q4_K_S")), "attn_v"),
              repeat("q5_K", 80));
    // Eight experts: attn_v and attn_k q8_0, attn_output q5_K, ffn_down by its layer name.
    const File moe = File::open(write_layers("moe8.gguf", {.n_layer = 16, .n_expert = 8}));
    const auto plan = plan_quantization(moe, find_quant_target("Q4_K_M"));
    EXPECT_EQ(types_of(plan, "attn_v"), repeat("q8_0", 16));
    EXPECT_EQ(types_of(plan, "attn_k"), repeat("q8_0", 16));
    EXPECT_EQ(types_of(plan, "attn_output"), repeat("q5_K", 16));
    EXPECT_EQ(types_of(plan, "ffn_down_exps"),
              "q6_K q6_K q4_K q4_K q6_K q4_K q4_K q6_K q4_K q4_K q6_K q4_K q4_K q6_K q6_K q6_K");
}

// ---------------------------------------------------------------------------------------------
// Bad input: one Error, nothing written.

void expect_nothing_written(const std::string& out) {
    EXPECT_FALSE(fs::exists(out)) << out;
    EXPECT_FALSE(fs::exists(out + ".tmp")) << out << ".tmp";
}

template <class Fn>
Error expect_error(ErrorKind kind, Fn fn) {
    try {
        fn();
    } catch (const Error& e) {
        EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        return e;
    }
    ADD_FAILURE() << "no error";
    return Error(kind, "");
}

TEST(QuantizeBadInput, UnknownTypeWritesNothing) {
    const std::string out = (scratch() / "unknown.gguf").string();
    expect_error(ErrorKind::kInvalidArgument,
                 [&] { quantize_file(kModels + "/llama-F32.gguf", out, "Q4_K_X", {}); });
    expect_nothing_written(out);
}

TEST(QuantizeBadInput, RequantizingNeedsTheFlag) {
    const std::string out = (scratch() / "requant.gguf").string();
    const Error e = expect_error(ErrorKind::kInvalidArgument, [&] {
        quantize_file(kModels + "/llama-Q8_0.gguf", out, "Q4_0", {});
    });
    EXPECT_NE(std::string(e.what()).find("--allow-requantize"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("q8_0"), std::string::npos) << e.what();
    expect_nothing_written(out);
}

TEST(QuantizeBadInput, RequantizesWithTheFlag) {
    const std::string out = (scratch() / "requant_ok.gguf").string();
    QuantizeOptions opt;
    opt.allow_requantize = true;
    quantize_file(kModels + "/llama-Q8_0.gguf", out, "Q4_0", opt);
    // Same types as llama-quantize chose from the F32 model; the values went through q8_0.
    const File want = File::open(kModels + "/llama-Q4_0.gguf");
    const File got = File::open(out);
    ASSERT_EQ(want.tensors().size(), got.tensors().size());
    for (size_t i = 0; i < want.tensors().size(); ++i) {
        EXPECT_EQ(want.tensors()[i].name, got.tensors()[i].name);
        EXPECT_EQ(want.tensors()[i].type, got.tensors()[i].type) << want.tensors()[i].name;
    }
    fs::remove(out);
}

// ---------------------------------------------------------------------------------------------
// --imatrix (the byte-for-byte comparison with llama-quantize --imatrix is tests/cli/eval_test.sh).

const std::string kImatrixDir = std::string(SOBRE_TEST_DATA_DIR) + "/imatrix";

TEST(QuantizePlan, AnImatrixGuardsTheFirstFfnDownLayersOfQ4_0AndQ5_0) {
    const File f = File::open(write_layers("imatrix16.gguf", {.n_layer = 16}));
    // llama-quantize gives the first n_layer / 8 ffn_down layers the _1 type, with an imatrix only.
    EXPECT_EQ(types_of(plan_quantization(f, find_quant_target("Q4_0"), true), "ffn_down"),
              "q4_1 q4_1 " + repeat("q4_0", 14));
    EXPECT_EQ(types_of(plan_quantization(f, find_quant_target("Q4_0")), "ffn_down"), repeat("q4_0", 16));
    EXPECT_EQ(types_of(plan_quantization(f, find_quant_target("Q5_0"), true), "ffn_down"),
              "q5_1 q5_1 " + repeat("q5_0", 14));
    EXPECT_EQ(types_of(plan_quantization(f, find_quant_target("Q4_K_M"), true), "ffn_down"),
              types_of(plan_quantization(f, find_quant_target("Q4_K_M")), "ffn_down"));
}

TEST(QuantizeBadInput, ImatrixOfAnotherModelIsRefused) {
    // qwen3's attn_output rows are 128 long, qwen2's 256: llama-quantize's size check fails.
    const std::string out = (scratch() / "imatrix-other.gguf").string();
    QuantizeOptions opt;
    opt.imatrix = kImatrixDir + "/qwen3-F32.imatrix.gguf";
    const Error e = expect_error(ErrorKind::kInvalidArgument, [&] {
        quantize_file(kModels + "/qwen2-F32.gguf", out, "Q4_K_M", opt);
    });
    const std::string msg = e.what();
    EXPECT_NE(msg.find("blk.0.attn_output.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("another model"), std::string::npos) << msg;
    expect_nothing_written(out);
}

TEST(QuantizeBadInput, ImatrixNamingNoTensorIsRefused) {
    Imatrix m;
    m.datasets = {"text.txt"};
    m.chunk_count = 1;
    m.chunk_size = 4;
    m.entries["blk.0.no_such.weight"] = {std::vector<float>(256, 1.0f), {4}};
    const std::string imatrix = (scratch() / "foreign.imatrix.gguf").string();
    write_imatrix(imatrix, m);
    const std::string out = (scratch() / "imatrix-none.gguf").string();
    QuantizeOptions opt;
    opt.imatrix = imatrix;
    const Error e = expect_error(ErrorKind::kInvalidArgument, [&] {
        quantize_file(kModels + "/qwen3-F32.gguf", out, "Q4_K_M", opt);
    });
    EXPECT_NE(std::string(e.what()).find("none of its 1 entries"), std::string::npos) << e.what();
    expect_nothing_written(out);
}

TEST(QuantizeBadInput, ImatrixThatIsNotOneIsRefused) {
    const std::string out = (scratch() / "imatrix-bad.gguf").string();
    QuantizeOptions opt;
    opt.imatrix = kModels + "/qwen3-F32.gguf";  // a GGUF, but a model
    Error e = expect_error(ErrorKind::kCorrupt, [&] { quantize_file(kModels + "/qwen3-F32.gguf", out, "Q4_0", opt); });
    EXPECT_NE(std::string(e.what()).find("missing imatrix metadata"), std::string::npos) << e.what();
    opt.imatrix = kModels + "/README.md";  // not GGUF: the legacy .dat format, which we do not read
    e = expect_error(ErrorKind::kUnsupported, [&] { quantize_file(kModels + "/qwen3-F32.gguf", out, "Q4_0", opt); });
    EXPECT_NE(std::string(e.what()).find("legacy .dat"), std::string::npos) << e.what();
    opt.imatrix = (scratch() / "no-such.imatrix.gguf").string();
    expect_error(ErrorKind::kNotFound, [&] { quantize_file(kModels + "/qwen3-F32.gguf", out, "Q4_0", opt); });
    expect_nothing_written(out);
}

TEST(QuantizeImatrix, WeighsTheQuantizationAndRecordsTheFile) {
    // The bytes are checked against llama-quantize by the CLI test; here: the imatrix changes the
    // weights it covers, not the others, and the output records it as llama-quantize does.
    const std::string plain = (scratch() / "plain.gguf").string();
    const std::string weighted = (scratch() / "weighted.gguf").string();
    quantize_file(kModels + "/qwen3-F32.gguf", plain, "Q4_K_M", {});
    QuantizeOptions opt;
    opt.imatrix = kImatrixDir + "/qwen3-F32.imatrix.gguf";
    quantize_file(kModels + "/qwen3-F32.gguf", weighted, "Q4_K_M", opt);
    const File a = File::open(plain);
    const File b = File::open(weighted);
    for (const TensorInfo& t : a.tensors()) {
        const TensorInfo* u = b.find_tensor(t.name);
        ASSERT_NE(u, nullptr) << t.name;
        ASSERT_EQ(u->type, t.type) << t.name;
        const bool same = std::memcmp(t.data, u->data, t.n_bytes) == 0;
        const bool covered = t.name.starts_with("blk.") && t.type != DType::kF32;
        EXPECT_EQ(same, !covered) << t.name;
    }
    EXPECT_EQ(b.get_string("quantize.imatrix.file"), opt.imatrix);
    EXPECT_EQ(b.get_string("quantize.imatrix.dataset"), "eval_text.txt");
    EXPECT_EQ(b.get_u32("quantize.imatrix.entries_count"), 14u);
    EXPECT_EQ(b.get_u32("quantize.imatrix.chunks_count"), 8u);
    EXPECT_EQ(b.metadata().back().first, "quantize.imatrix.chunks_count");
}

TEST(QuantizeBadInput, MissingInputIsNotFound) {
    const std::string out = (scratch() / "missing.gguf").string();
    expect_error(ErrorKind::kNotFound, [&] {
        quantize_file((scratch() / "no-such-model.gguf").string(), out, "Q8_0", {});
    });
    expect_nothing_written(out);
}

TEST(QuantizeBadInput, NanMidwayLeavesAnExistingOutputUntouched) {
    const std::string in = write_model(
        "nan.gguf", {{"blk.0.attn_q.weight", 256, 8}, {"blk.0.ffn_up.weight", 256, 8, NAN}});
    const std::string out = (scratch() / "nan-out.gguf").string();
    std::ofstream(out) << "previous contents";
    const Error e =
        expect_error(ErrorKind::kCorrupt, [&] { quantize_file(in, out, "Q4_K_M", {}); });
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_up.weight"), std::string::npos) << e.what();
    EXPECT_EQ(read_bytes(out), "previous contents");
    EXPECT_FALSE(fs::exists(out + ".tmp"));
}

TEST(QuantizeBadInput, SplitModelIsRefused) {
    const std::string in = write_model("split.gguf", {{"blk.0.attn_q.weight", 256, 8}},
                                       {{"split.count", Value::of_u32(2)}});
    const std::string out = (scratch() / "split-out.gguf").string();
    expect_error(ErrorKind::kUnsupported, [&] { quantize_file(in, out, "Q8_0", {}); });
    expect_nothing_written(out);
}

TEST(Quantize, BytesDoNotDependOnTheThreadCount) {
    const std::string in = kModels + "/qwen3moe-F32.gguf";
    const std::string a = (scratch() / "t1.gguf").string();
    const std::string b = (scratch() / "t3.gguf").string();
    QuantizeOptions opt;
    opt.threads = 1;
    quantize_file(in, a, "Q3_K_S", opt);
    opt.threads = 3;
    size_t calls = 0;
    opt.progress = [&](const QuantizeProgress& p) {
        EXPECT_EQ(p.index, calls++);
        EXPECT_LT(p.index, p.count);
    };
    quantize_file(in, b, "Q3_K_S", opt);
    EXPECT_EQ(calls, File::open(in).tensors().size());
    EXPECT_TRUE(read_bytes(a) == read_bytes(b));
}

// ---------------------------------------------------------------------------------------------
// The k-quant reference quantizers on data the fixtures do not cover.

struct KQuantCase {
    DType type;
    float max_rel_rms;  // bound on rms(dequant - x) / rms(x) for N(0, 1) data
};

class KQuantRoundTrip : public testing::TestWithParam<KQuantCase> {};

TEST_P(KQuantRoundTrip, StaysCloseAndKeepsZeros) {
    const DTypeTraits& tr = dtype_traits(GetParam().type);
    constexpr int64_t kN = 4 * 256;
    std::vector<float> x(kN);
    std::mt19937 rng(11);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (float& v : x) v = dist(rng);
    std::fill(x.begin() + 256, x.begin() + 512, 0.0f);     // an all-zero super-block
    std::fill(x.begin() + 512, x.begin() + 768, 0.4375f);  // a constant one
    std::vector<uint8_t> q(static_cast<size_t>(row_bytes(GetParam().type, kN)));
    std::vector<float> y(kN);
    tr.from_float(x.data(), q.data(), kN);
    tr.to_float(q.data(), y.data(), kN);
    double err = 0, ref = 0;
    for (int64_t i = 0; i < kN; ++i) {
        if (i >= 256 && i < 768) continue;
        err += (y[i] - x[i]) * (y[i] - x[i]);
        ref += x[i] * x[i];
    }
    EXPECT_LT(std::sqrt(err / ref), GetParam().max_rel_rms) << tr.name;
    for (int64_t i = 256; i < 512; ++i) ASSERT_EQ(y[i], 0.0f) << tr.name << " element " << i;
    for (int64_t i = 512; i < 768; ++i) ASSERT_NEAR(y[i], 0.4375f, 0.02f) << tr.name << " " << i;
}

std::string kquant_name(const testing::TestParamInfo<KQuantCase>& p) {
    return std::string(dtype_name(p.param.type));
}

INSTANTIATE_TEST_SUITE_P(Types, KQuantRoundTrip,
                         testing::Values(KQuantCase{DType::kQ2_K, 0.35f},
                                         KQuantCase{DType::kQ3_K, 0.18f},
                                         KQuantCase{DType::kQ4_K, 0.09f},
                                         KQuantCase{DType::kQ5_K, 0.045f},
                                         KQuantCase{DType::kQ6_K, 0.022f}),
                         kquant_name);

}  // namespace
}  // namespace sobre::gguf
