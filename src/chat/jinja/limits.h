// Bounds on one template render: what stops a hostile or runaway template.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sobre::chat::jinja {

// Bounds on one render. Exceeding any of them throws Error(kResourceExhausted).
struct RenderLimits {
    size_t max_output_bytes = 16u << 20;    // the rendering, and any one string built on the way
    int64_t max_loop_iterations = 1000000;  // all for-loop iterations of the render together
    int64_t max_list_items = 1000000;       // any one list built by the template
    int max_call_depth = 64;                // nested macro calls (recursion)
    int max_eval_depth = 1000;              // nested evaluation: bounds the C++ stack
    int64_t max_steps = 50000000;           // expressions and statements evaluated
    uint64_t max_work_bytes = 1ull << 30;   // bytes of strings built in total
};

}  // namespace sobre::chat::jinja
