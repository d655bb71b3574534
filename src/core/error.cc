#include "core/error.h"

#include <cstdio>
#include <cstdlib>

namespace sobre {

void check_failed(const char* file, int line, const char* cond) {
    std::fprintf(stderr, "%s:%d: internal check failed: %s\n", file, line, cond);
    std::abort();
}

}  // namespace sobre
