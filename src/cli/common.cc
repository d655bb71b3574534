#include "cli/common.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "registry/store.h"

namespace sobre::cli {

std::vector<int32_t> parse_token_ids(std::string_view text, std::string_view what) {
    std::vector<int32_t> ids;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        size_t j = i;
        while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
        if (j == i) break;
        const std::string_view word = text.substr(i, j - i);
        int32_t id = 0;
        const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), id);
        if (ec != std::errc() || end != word.data() + word.size()) {
            fail(ErrorKind::kInvalidArgument, "{}: '{}' (token #{}) is not a token id", what, word, ids.size());
        }
        ids.push_back(id);
        i = j;
    }
    return ids;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo, "{}: cannot open: {}", path, std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) fail(ErrorKind::kIo, "{}: read failed", path);
    return ss.str();
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
    const std::string tmp = path + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) fail(ErrorKind::kIo, "{}: cannot create: {}", tmp, std::strerror(errno));
    const bool ok = std::fwrite(data, 1, size, f) == size && std::fflush(f) == 0 && fsync(fileno(f)) == 0;
    const int err = errno;
    std::fclose(f);
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        fail(ErrorKind::kIo, "{}: write failed: {}", path, std::strerror(ok ? errno : err));
    }
}

std::string resolve_model(const std::string& arg, std::string* name) {
    std::error_code ec;
    if (std::filesystem::exists(arg, ec)) return arg;
    std::string dir;
    try {
        dir = registry::default_store_dir();
    } catch (const Error&) {
        return arg;  // no store configured: nothing can be named
    }
    const registry::Store store(dir);
    const auto entry = store.find(arg);
    if (!entry) return arg;
    if (name) *name = entry->name;
    return store.path_of(*entry);
}

void add_store_option(CLI::App* cmd, std::string& dir) {
    cmd->add_option("--store", dir, "model store directory (default: $SOBRE_HOME, $XDG_CACHE_HOME/sobre or ~/.cache/sobre)");
}

std::string store_dir(const std::string& option) { return option.empty() ? registry::default_store_dir() : option; }

std::string format_bytes(uint64_t bytes) {
    constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) return fmt::format("{} B", bytes);
    double v = static_cast<double>(bytes);
    int unit = 0;
    while (v >= 1024.0 && unit < 4) {
        v /= 1024.0;
        ++unit;
    }
    return fmt::format("{:.1f} {}", v, kUnits[unit]);
}

void check_writable(const std::string& path) {
    const std::string tmp = path + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) fail(ErrorKind::kIo, "{}: cannot create: {}", tmp, std::strerror(errno));
    std::fclose(f);
    std::remove(tmp.c_str());
}

int default_threads() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace sobre::cli
