// Error taxonomy for input and I/O problems (programmer errors are SOBRE_CHECK aborts).
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace sobre {

// Closed set of error kinds; the CLI maps them to exit codes, the server to HTTP statuses.
enum class ErrorKind : uint8_t {
    kInvalidArgument,    // bad flag or request field        -> exit 2
    kNotFound,           // missing file, model, key         -> exit 1
    kUnsupported,        // valid input we do not handle     -> exit 1
    kCorrupt,            // malformed, truncated or hostile file -> exit 1
    kIo,                 // OS error (errno text included)   -> exit 1
    kResourceExhausted,  // prompt over context, cache full  -> exit 1
};

// Thrown by parsing, loading and I/O code. The message is one line naming the file, key or
// field and the offending values.
class Error : public std::runtime_error {
   public:
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const noexcept { return kind_; }

   private:
    ErrorKind kind_;
};

template <class... Args>
[[noreturn]] void fail(ErrorKind kind, fmt::format_string<Args...> f, Args&&... args) {
    throw Error(kind, fmt::format(f, std::forward<Args>(args)...));
}

// Aborts with file:line on a broken invariant. Always on; never used for input validation.
[[noreturn]] void check_failed(const char* file, int line, const char* cond);

}  // namespace sobre

#define SOBRE_CHECK(cond) \
    ((cond) ? (void)0 : ::sobre::check_failed(__FILE__, __LINE__, #cond))
