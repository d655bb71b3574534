// Tamper-evident audit trail: one JSON line per request, each carrying the SHA-256 of the line
// before it, fsynced before the response completes.
#pragma once

#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace sobre::server {

class AuditLog {
   public:
    // Opens (creating or appending to) `path`; the chain continues from its last line.
    // Throws Error(kIo) / Error(kCorrupt) when the file cannot be opened or its last line is
    // not an audit line.
    explicit AuditLog(const std::string& path);
    ~AuditLog();
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    // Appends `entry` plus "prev" (the previous line's SHA-256) and syncs it to disk.
    // Thread-safe. Throws Error(kIo) when the write or sync fails.
    void append(nlohmann::json entry);

    // Checks a whole file: returns "" when every line chains to the one before it, else a one-line
    // description of the first broken or edited line.
    static std::string verify(const std::string& path);

   private:
    std::mutex mu_;
    int fd_ = -1;
    std::string path_;
    std::string prev_;  // SHA-256 of the last line written
};

// The "prev" value of the first line of a log.
inline constexpr const char* kAuditGenesis = "0000000000000000000000000000000000000000000000000000000000000000";

}  // namespace sobre::server
