// The approved weights: a file of SHA-256 hashes that `sobre serve --allowed-models` checks a
// model against before loading it.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <string_view>

namespace sobre::registry {

class AllowList {
   public:
    // Reads one entry per line: 64 hex digits, optionally followed by whitespace and a name
    // (so `sha256sum` output is accepted as is, "*file" included); blank lines and lines starting
    // with '#' are skipped. Throws Error(kNotFound / kIo) for the file, and
    // Error(kInvalidArgument) naming PATH:LINE for a line that is not a hash, or when the file
    // lists no hash at all.
    static AllowList load(const std::string& path);

    // True when `sha256` (lowercase hex) is listed.
    bool allows(std::string_view sha256) const;
    size_t size() const { return hashes_.size(); }
    const std::string& path() const { return path_; }

   private:
    std::string path_;
    std::set<std::string, std::less<>> hashes_;
};

}  // namespace sobre::registry
