#include "registry/allowlist.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "registry/sha256.h"

namespace sobre::registry {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

}  // namespace

AllowList AllowList::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo, "{}: cannot open: {}", path, std::strerror(errno));
    AllowList list;
    list.path_ = path;
    std::string raw;
    for (size_t n = 1; std::getline(in, raw); ++n) {
        std::string_view line = trim(raw);
        if (line.empty() || line[0] == '#') continue;
        // sha256sum escapes file names that hold a backslash or newline by starting the line with '\'.
        if (line[0] == '\\') line.remove_prefix(1);
        size_t end = 0;
        while (end < line.size() && !std::isspace(static_cast<unsigned char>(line[end]))) ++end;
        std::string hash(line.substr(0, end));
        for (char& c : hash) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!is_sha256_hex(hash)) {
            fail(ErrorKind::kInvalidArgument, "{}:{}: expected a sha256 (64 hex digits) first, got '{}'", path, n,
                 line.substr(0, std::min<size_t>(end, 80)));
        }
        list.hashes_.insert(std::move(hash));
    }
    if (in.bad()) fail(ErrorKind::kIo, "{}: read failed", path);
    if (list.hashes_.empty()) fail(ErrorKind::kInvalidArgument, "{}: lists no sha256, so no model could run", path);
    return list;
}

bool AllowList::allows(std::string_view sha256) const { return hashes_.find(sha256) != hashes_.end(); }

}  // namespace sobre::registry
