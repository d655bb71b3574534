// Facts about the fixture models from ../shared/fixtures/models/MANIFEST.tsv, which llama.cpp's
// tools produced: the expected sha256, size and type of each file, never computed by sobre.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sobre::testing {

// Normalized ("a/../b" resolved), as the store records absolute paths.
inline std::string fixture_model_path(const std::string& name) {
    const std::filesystem::path p = std::string(SOBRE_FIXTURES_DIR) + "/models/" + name + ".gguf";
    return std::filesystem::absolute(p).lexically_normal().string();
}

inline std::string read_binary(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct ManifestRow {
    std::string weight_type;  // "Q8_0"
    uint64_t gguf_bytes = 0;
    std::string gguf_sha256;
};

// The row of `name` ("llama-Q8_0"). Throws std::runtime_error when there is none.
inline ManifestRow manifest_row(const std::string& name) {
    std::istringstream tsv(read_binary(std::string(SOBRE_FIXTURES_DIR) + "/models/MANIFEST.tsv"));
    const auto split = [](const std::string& line) {
        std::vector<std::string> cols;
        std::istringstream ss(line);
        for (std::string col; std::getline(ss, col, '\t');) cols.push_back(col);
        return cols;
    };
    std::string line;
    std::getline(tsv, line);
    const std::vector<std::string> head = split(line);
    const auto col = [&](const char* key) { return static_cast<size_t>(std::find(head.begin(), head.end(), key) - head.begin()); };
    while (std::getline(tsv, line)) {
        const std::vector<std::string> cols = split(line);
        if (cols.empty() || cols[0] != name) continue;
        return {cols.at(col("weight_type")), std::stoull(cols.at(col("gguf_bytes"))), cols.at(col("gguf_sha256"))};
    }
    throw std::runtime_error("MANIFEST.tsv has no row " + name);
}

}  // namespace sobre::testing
