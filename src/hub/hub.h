// A client of the Hugging Face hub's HTTP API (or of any server that speaks it):
//   GET {hub}/api/models/{repo}/tree/{revision}?recursive=true  file listing, JSON array of
//       {"type": "file", "path", "size", "oid", "lfs": {"oid": sha256, "size"}}, paginated with
//       a Link: <...>; rel="next" header (as huggingface_hub's list_repo_tree follows it);
//   GET {hub}/{repo}/resolve/{revision}/{path}  the file, usually by a redirect to a CDN.
// ref: llama.cpp common/hf-cache.cpp (get_repo_files reads the same listing and lfs.oid).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sobre::hub {

constexpr std::string_view kDefaultHub = "https://huggingface.co";

// "OWNER/NAME[:QUANT]" split and checked. Throws Error(kInvalidArgument) with an example.
struct RepoRef {
    std::string repo;   // OWNER/NAME
    std::string quant;  // empty when not given
};
RepoRef parse_repo_ref(std::string_view spec);

struct HubConfig {
    std::string base_url = std::string(kDefaultHub);  // no trailing slash
    std::string token;                                // sent as "Authorization: Bearer TOKEN"; may be empty
    std::string revision = "main";
};

// $HF_ENDPOINT when set (as huggingface_hub and llama.cpp read it), else kDefaultHub.
std::string default_hub_url();
// An http:// or https:// URL with any trailing '/' removed. Throws Error(kInvalidArgument).
std::string check_hub_url(std::string_view url);
// Throws Error(kInvalidArgument) for a token that cannot go in a header line, or a revision
// that is not a plain branch, tag or commit name.
void check_config(const HubConfig& config);

// One file of a repository.
struct HubFile {
    std::string path;    // in the repository ("Q4_K_M/model-Q4_K_M.gguf")
    uint64_t size = 0;   // bytes
    std::string sha256;  // the LFS object id: sha256 of the content; empty for a non-LFS file
};

// Lists every file of `repo` at config.revision, following pagination. Throws Error(kNotFound)
// for an unknown, private or gated repository (with a hint about the token), Error(kIo) when the
// hub cannot be reached, and Error(kCorrupt) when the answer is not a listing.
std::vector<HubFile> list_files(const HubConfig& config, std::string_view repo);

// The GGUF file `quant` selects: a .gguf file whose name contains it, case-insensitively;
// among several, the one whose quantization tag ("-Q4_K_M.gguf") is exactly it. Without a
// quant, the repository's only GGUF file. Projector files (mmproj) are never picked. Throws
// Error(kNotFound) listing the candidates when nothing or more than one file fits, and
// Error(kUnsupported) for a split GGUF (NAME-00001-of-00003.gguf).
const HubFile& pick_gguf(const std::vector<HubFile>& files, std::string_view repo, std::string_view quant);

// {hub}/{repo}/resolve/{revision}/{path}, with the path percent-encoded.
std::string file_url(const HubConfig& config, std::string_view repo, std::string_view path);
// The header lines for hub requests: the token, when there is one.
std::vector<std::string> auth_headers(const HubConfig& config);

}  // namespace sobre::hub
