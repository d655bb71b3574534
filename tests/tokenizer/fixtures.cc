#include "tokenizer/fixtures.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "gguf/reader.h"

namespace sobre::tokenizer::testing {

std::string fixtures_dir() { return SOBRE_FIXTURES_DIR; }

std::string vocab_path(std::string_view name) {
    return fixtures_dir() + "/vocab/ggml-vocab-" + std::string(name) + ".gguf";
}

const Tokenizer& vocab(std::string_view name) {
    static std::mutex mu;
    static std::map<std::string, std::unique_ptr<Tokenizer>, std::less<>> cache;
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(name);
    if (it == cache.end()) {
        const gguf::File file = gguf::File::open(vocab_path(name));
        it = cache.emplace(std::string(name), Tokenizer::from_gguf(file)).first;
    }
    return *it->second;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        ADD_FAILURE() << "cannot read " << path;
        return {};
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool whole_utf8(const std::string& s) {
    for (size_t i = 0; i < s.size();) {
        const auto b = static_cast<uint8_t>(s[i]);
        uint32_t cp = 0;
        size_t n = 0;
        if (b < 0x80) {
            n = 1, cp = b;
        } else if ((b & 0xE0) == 0xC0) {
            n = 2, cp = b & 0x1Fu;
        } else if ((b & 0xF0) == 0xE0) {
            n = 3, cp = b & 0x0Fu;
        } else if ((b & 0xF8) == 0xF0) {
            n = 4, cp = b & 0x07u;
        } else {
            return false;
        }
        if (i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k) {
            const auto c = static_cast<uint8_t>(s[i + k]);
            if ((c & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (c & 0x3Fu);
        }
        static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n;
    }
    return true;
}

std::vector<std::string> read_inp(const std::string& path) {
    constexpr std::string_view kSep = "\n__ggml_vocab_test__\n";
    const std::string raw = read_file(path);
    std::vector<std::string> tests;
    size_t pos = 0;
    while (pos < raw.size()) {
        const size_t next = raw.find(kSep, pos);
        if (next == std::string::npos) {
            tests.push_back(raw.substr(pos));
            break;
        }
        tests.push_back(raw.substr(pos, next - pos));
        pos = next + kSep.size();
    }
    return tests;
}

std::vector<std::vector<int32_t>> read_out(const std::string& path) {
    std::istringstream in(read_file(path));
    std::vector<std::vector<int32_t>> lines;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::vector<int32_t> ids;
        int64_t id = 0;
        while (words >> id) ids.push_back(static_cast<int32_t>(id));
        lines.push_back(std::move(ids));
    }
    return lines;
}

}  // namespace sobre::tokenizer::testing
