#include "server/auth.h"

#include <fstream>

#include "core/error.h"
#include "registry/sha256.h"

namespace sobre::server {
namespace {

// Compares without an early exit so the time does not tell how much of a hash matched.
bool same(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

bool is_hex64(const std::string& s) {
    if (s.size() != 64) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

}  // namespace

void ApiKeys::add_key(const std::string& key) {
    if (key.empty()) fail(ErrorKind::kInvalidArgument, "--api-key: the key is empty");
    hashes_.push_back(registry::sha256_hex(key));
}

void ApiKeys::add_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) fail(ErrorKind::kNotFound, "{}: cannot open the API keys file", path);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        if (line.rfind("sha256:", 0) == 0) {
            const std::string hex = line.substr(7);
            if (!is_hex64(hex)) fail(ErrorKind::kInvalidArgument, "{}:{}: 'sha256:' must be followed by 64 lowercase hex digits", path, n);
            hashes_.push_back(hex);
        } else {
            hashes_.push_back(registry::sha256_hex(line));
        }
    }
}

std::optional<std::string> ApiKeys::check(const std::string& authorization) const {
    const std::string prefix = "Bearer ";
    if (authorization.rfind(prefix, 0) != 0) return std::nullopt;
    const std::string hash = registry::sha256_hex(authorization.substr(prefix.size()));
    bool found = false;
    for (const std::string& h : hashes_) found = same(h, hash) || found;
    if (!found) return std::nullopt;
    return "key-" + hash.substr(0, 12);
}

}  // namespace sobre::server
