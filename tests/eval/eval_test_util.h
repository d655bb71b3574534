// Shared by the eval tests: paths, the reference tables, and a fixture model with its tokens of
// the test text.
#pragma once

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "eval/chunks.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace sobre::eval::testing {

inline const std::string kModels = std::string(SOBRE_FIXTURES_DIR) + "/models";
inline const std::string kData = SOBRE_TEST_DATA_DIR;
inline const std::string kText = kData + "/eval_text.txt";

// The data rows of a tab-separated reference table ('#' lines are comments), split into fields.
inline std::vector<std::vector<std::string>> read_table(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::vector<std::string>> rows;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> cols;
        std::istringstream ls(line);
        for (std::string col; std::getline(ls, col, '\t');) cols.push_back(col);
        rows.push_back(cols);
    }
    return rows;
}

// A fixture model and the tokens of the test text as the model's tokenizer gives them.
struct Loaded {
    std::unique_ptr<model::Model> model;
    std::unique_ptr<tokenizer::Tokenizer> tok;
    std::vector<int32_t> tokens;

    int32_t bos() const { return tok->add_bos() ? tok->bos() : -1; }
};

inline Loaded load(const std::string& name) {
    Loaded l;
    l.model = model::load_model(kModels + "/" + name + ".gguf");
    l.tok = tokenizer::Tokenizer::from_gguf(l.model->file());
    l.tokens = tokenize_eval_text(*l.tok, read_eval_text(kText));
    return l;
}

// The scale and minimum at the head of a compressed log-probability row (eval/kld.h).
inline float row_scale(const uint16_t* row) {
    float f = 0;
    std::memcpy(&f, row, sizeof f);
    return f;
}

inline float row_min(const uint16_t* row) {
    float f = 0;
    std::memcpy(&f, row + 2, sizeof f);
    return f;
}

// A per-process scratch file name.
inline std::string scratch_file(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("sobre_eval_test." + std::to_string(getpid()) + "." + name))
        .string();
}

}  // namespace sobre::eval::testing
