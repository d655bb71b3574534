#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <set>

#include "core/error.h"
#include "gguf/writer.h"
#include "model/fixtures.h"
#include "model/model.h"

namespace sobre {
namespace {

TEST(ArchTable, NamesAreUnique) {
    std::set<std::string_view> names;
    for (const model::ArchSpec& a : model::all_archs()) EXPECT_TRUE(names.insert(a.gguf_name).second) << a.gguf_name;
}

TEST(ArchTable, EveryArchHasAFixtureThatBindsEveryTensor) {
    std::set<std::string> covered;
    for (const std::string& name : testing::supported_fixture_models()) {
        const auto m = model::load_model(testing::models_dir() + "/" + name + ".gguf");
        covered.insert(m->info().arch);
    }
    for (const model::ArchSpec& a : model::all_archs()) EXPECT_TRUE(covered.count(std::string(a.gguf_name))) << a.gguf_name;
}

TEST(ArchTable, UnsupportedArchitectureNamesTheSupportedOnes) {
    const std::string path =
        (std::filesystem::temp_directory_path() / ("sobre_mamba_" + std::to_string(getpid()) + ".gguf")).string();
    gguf::Writer w;
    w.set("general.architecture", gguf::Value::of_string("mamba"));
    w.write(path);
    try {
        model::load_model(path);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
        EXPECT_EQ(std::string(e.what()),
                  path + ": architecture 'mamba' is not supported (supported: " + model::supported_arch_list() + ")");
    }
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace sobre
