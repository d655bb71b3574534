// API keys: kept only as SHA-256 hashes; a request's key is identified by a short id (the first
// hex digits of its hash) in logs and audit lines, never by the key itself.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sobre::server {

class ApiKeys {
   public:
    // Keys given on the command line.
    void add_key(const std::string& key);
    // A file with one entry per line: a plain key, or "sha256:<64 hex>" for a key stored hashed;
    // blank lines and lines starting with '#' are skipped. Throws Error naming the file and line.
    void add_file(const std::string& path);
    bool enabled() const { return !hashes_.empty(); }
    // The key id when `authorization` ("Bearer <key>") names a known key; nullopt otherwise.
    std::optional<std::string> check(const std::string& authorization) const;

   private:
    std::vector<std::string> hashes_;
};

}  // namespace sobre::server
