// Every chat-template fixture case renders byte-exact (expected strings come from Hugging Face's
// apply_chat_template on Jinja2 3.1.2), and every expected_error case fails with an Error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/template.h"
#include "core/error.h"

namespace sobre::chat {
namespace {

namespace fs = std::filesystem;
const fs::path kDir = fs::path(SOBRE_FIXTURES_DIR) / "chat_templates";

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    EXPECT_TRUE(in) << p;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> case_names() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(kDir / "cases")) {
        if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

// strftime_now is pinned to this moment when the fixtures were generated.
RenderOptions fixture_options() {
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

class ChatFixture : public testing::TestWithParam<std::string> {};

TEST_P(ChatFixture, RendersLikeHuggingFace) {
    const auto c = nlohmann::ordered_json::parse(slurp(kDir / "cases" / (GetParam() + ".json")));
    const Template tmpl(slurp(kDir / c["template"].get<std::string>()));
    const nlohmann::ordered_json ctx = context_from_case(c);
    if (c["expected_error"].get<bool>()) {
        try {
            const std::string out = tmpl.render(ctx, fixture_options());
            ADD_FAILURE() << "rendered instead of failing (" << c["error_type"] << ": "
                          << c["error_message"] << "):\n"
                          << out;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("template line"), std::string::npos) << e.what();
        }
        return;
    }
    EXPECT_EQ(tmpl.render(ctx, fixture_options()), c["expected"].get<std::string>());
}

TEST(ChatFixtures, AllCasesPresent) {
    // 11 templates x 10 conversations; a missing directory would otherwise pass vacuously.
    EXPECT_EQ(case_names().size(), 110u);
}

std::string test_name(const testing::TestParamInfo<std::string>& param) {
    std::string n = param.param;
    for (char& ch : n) {
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
    }
    return n;
}

INSTANTIATE_TEST_SUITE_P(Cases, ChatFixture, testing::ValuesIn(case_names()), test_name);

}  // namespace
}  // namespace sobre::chat
