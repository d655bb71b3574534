#include "model/fixtures.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gguf/reader.h"
#include "model/model.h"

namespace sobre::testing {

std::string models_dir() { return std::string(SOBRE_FIXTURES_DIR) + "/models"; }

std::vector<std::string> supported_fixture_models() {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(models_dir())) {
        if (entry.path().extension() != ".gguf") continue;
        const gguf::File f = gguf::File::open(entry.path().string());
        const auto arch = f.get_string("general.architecture");
        if (arch && model::find_arch(*arch)) names.push_back(entry.path().stem().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<int32_t> read_ids(const std::string& path) {
    std::ifstream in(path);
    std::vector<int32_t> ids;
    int32_t id;
    while (in >> id) ids.push_back(id);
    return ids;
}

std::vector<float> read_f32(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<float> out(bytes.size() / sizeof(float));
    std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(out.size() * sizeof(float)),
              reinterpret_cast<char*>(out.data()));
    return out;
}

}  // namespace sobre::testing
