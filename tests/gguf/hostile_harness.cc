#include "hostile_harness.h"

#include <malloc.h>

#include <cstdlib>
#include <new>

// ---- Heap meter ---------------------------------------------------------------------------
// Global operator new/delete replaced for this test binary so a parse's peak live heap can be
// compared with the size of its input: a count that lies must not buy memory the file's bytes
// do not back, even where the allocation would succeed lazily under overcommit. Sizes come from
// malloc_usable_size so new and delete agree without a header; only the arming thread counts.

namespace sobre::gguf::hostile {

thread_local bool t_metering = false;
thread_local int64_t t_live = 0;
thread_local int64_t t_peak = 0;

void* metered_alloc(std::size_t n) {
    void* p = std::malloc(n ? n : 1);
    if (!p) throw std::bad_alloc();
    if (t_metering) {
        t_live += static_cast<int64_t>(malloc_usable_size(p));
        t_peak = std::max(t_peak, t_live);
    }
    return p;
}

void metered_free(void* p) noexcept {
    if (p && t_metering) t_live -= static_cast<int64_t>(malloc_usable_size(p));
    std::free(p);
}

}  // namespace sobre::gguf::hostile

using sobre::gguf::hostile::metered_alloc;
using sobre::gguf::hostile::metered_free;

void* operator new(std::size_t n) { return metered_alloc(n); }
void* operator new[](std::size_t n) { return metered_alloc(n); }
void operator delete(void* p) noexcept { metered_free(p); }
void operator delete[](void* p) noexcept { metered_free(p); }
void operator delete(void* p, std::size_t) noexcept { metered_free(p); }
void operator delete[](void* p, std::size_t) noexcept { metered_free(p); }
