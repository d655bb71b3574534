// `sobre_fake_hub [--cut-once N] [--corrupt] [--ignore-range] [--garbage] OWNER/NAME FILE...`: serves the files
// as repository OWNER/NAME of a local fake hub (fake_hub.h) for the CLI tests, prints the hub's
// URL on one line, and serves until killed.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "hub/fake_hub.h"
#include "registry/sha256.h"

int main(int argc, char** argv) {
    using namespace sobre::testing;
    CdnMode cdn = CdnMode::kNormal;
    size_t cut_at = 0;
    ListingMode listing = ListingMode::kNormal;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        if (std::strcmp(argv[i], "--cut-once") == 0 && i + 1 < argc) {
            cdn = CdnMode::kCutOnce;
            cut_at = std::stoul(argv[++i]);
        } else if (std::strcmp(argv[i], "--corrupt") == 0) {
            cdn = CdnMode::kCorrupt;
        } else if (std::strcmp(argv[i], "--ignore-range") == 0) {
            cdn = CdnMode::kIgnoreRange;
        } else if (std::strcmp(argv[i], "--garbage") == 0) {
            listing = ListingMode::kGarbage;
        } else {
            std::fprintf(stderr, "sobre_fake_hub: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (argc - i < 2) {
        std::fprintf(stderr, "usage: sobre_fake_hub [--cut-once N] [--corrupt] [--ignore-range] [--garbage] OWNER/NAME FILE...\n");
        return 2;
    }
    const std::string repo = argv[i++];
    std::vector<FakeFile> files;
    for (; i < argc; ++i) {
        const std::string data = read_binary(argv[i]);
        files.push_back({std::filesystem::path(argv[i]).filename().string(), data, sobre::registry::sha256_hex(data)});
    }
    FakeHub hub(repo, files);
    hub.set_cdn_mode(cdn, cut_at);
    hub.set_listing_mode(listing);
    std::printf("%s\n", hub.url().c_str());
    std::fflush(stdout);
    for (;;) ::pause();
}
