// Shared helpers for the chat-template tests: table rows whose expected strings were produced by
// Jinja2 in Hugging Face's environment, and a render call with strftime_now pinned.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "chat/template.h"
#include "core/error.h"

namespace sobre::chat::testing_util {

struct RenderCase {
    const char* name;
    const char* tmpl;
    const char* context;  // JSON object
    const char* expected;
};

// 2025-01-15 12:00:00, a Wednesday: the moment the fixtures pin strftime_now to.
inline RenderOptions pinned_options() {
    RenderOptions o;
    std::tm t{};
    t.tm_year = 2025 - 1900;
    t.tm_mon = 0;
    t.tm_mday = 15;
    t.tm_hour = 12;
    t.tm_wday = 3;
    t.tm_yday = 14;
    o.now = t;
    return o;
}

inline std::string render(const std::string& tmpl, const std::string& context = "{}",
                          const RenderOptions& options = pinned_options()) {
    return Template(tmpl).render(nlohmann::ordered_json::parse(context), options);
}

// Renders and returns the Error it must throw; fails the test when it renders.
inline Error render_error(const std::string& tmpl, const std::string& context = "{}",
                          const RenderOptions& options = pinned_options()) {
    try {
        const std::string out = render(tmpl, context, options);
        ADD_FAILURE() << "expected an error, rendered: " << out.substr(0, 200);
    } catch (const Error& e) {
        return e;
    }
    return Error(ErrorKind::kInvalidArgument, "");
}

inline std::string case_name(const ::testing::TestParamInfo<RenderCase>& info) {
    return info.param.name;
}

}  // namespace sobre::chat::testing_util
