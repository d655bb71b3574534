#include "hub/hub.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "core/error.h"
#include "hub/http.h"
#include "registry/sha256.h"

namespace sobre::hub {
namespace {

using json = nlohmann::json;

constexpr int kMaxPages = 1000;

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

bool ends_with_nocase(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && upper(s.substr(s.size() - suffix.size())) == upper(suffix);
}

std::string_view base_name(std::string_view path) {
    const size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// One part of a repo id, as huggingface_hub's validate_repo_id accepts it: 1-96 of [A-Za-z0-9_.-],
// starting and ending with a letter, digit or '_', without "--" or "..".
bool valid_repo_part(std::string_view s) {
    const auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    if (s.empty() || s.size() > 96 || !word(s.front()) || !word(s.back())) return false;
    if (s.find("--") != std::string_view::npos || s.find("..") != std::string_view::npos) return false;
    return std::all_of(s.begin(), s.end(), [&](char c) { return word(c) || c == '-' || c == '.'; });
}

// RFC 3986 percent-encoding of everything but unreserved characters (and '/' when keep_slash).
std::string percent_encode(std::string_view s, bool keep_slash) {
    std::string out;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            out += ch;
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

// A split GGUF part "NAME-00001-of-00003.gguf": the part count, else 0.
int split_count(std::string_view path) {
    constexpr std::string_view kOf = "-of-";
    const std::string_view name = base_name(path);
    if (name.size() <= 20 || !ends_with_nocase(name, ".gguf")) return 0;  // -NNNNN-of-NNNNN.gguf is 20
    const std::string_view tail = name.substr(name.size() - 20, 15);   // -NNNNN-of-NNNNN
    const auto digits = [](std::string_view d) {
        return std::all_of(d.begin(), d.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    };
    if (tail[0] != '-' || tail.substr(6, 4) != kOf || !digits(tail.substr(1, 5)) || !digits(tail.substr(10, 5))) return 0;
    return std::atoi(std::string(tail.substr(10, 5)).c_str());
}

// The path without a split suffix: what the parts of one split model share.
std::string split_key(std::string_view path) {
    if (split_count(path) == 0) return std::string(path);
    return std::string(path.substr(0, path.size() - 20));
}

// True when the file's name (split suffix and .gguf removed) ends in "-QUANT" or ".QUANT".
bool exact_tag(std::string_view path, std::string_view quant) {
    std::string stem = split_key(base_name(path));
    if (split_count(path) == 0) stem.resize(stem.size() - 5);  // ".gguf"
    const std::string tag = upper(quant);
    const std::string u = upper(stem);
    return u.size() > tag.size() && u.compare(u.size() - tag.size(), tag.size(), tag) == 0 &&
           (u[u.size() - tag.size() - 1] == '-' || u[u.size() - tag.size() - 1] == '.');
}

// A listing path we are willing to store under: relative, no "..", "." or empty component.
bool safe_path(std::string_view p) {
    if (p.empty() || p.front() == '/' || p.size() > 1024) return false;
    if (std::any_of(p.begin(), p.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == '\\'; })) return false;
    size_t start = 0;
    while (start <= p.size()) {
        const size_t end = std::min(p.find('/', start), p.size());
        const std::string_view part = p.substr(start, end - start);
        if (part.empty() || part == "." || part == "..") return false;
        start = end + 1;
    }
    return true;
}

// The next page's URL, always on the origin of base_url: a link to another host (a mirror that
// repeats huggingface.co's absolute links, or a hostile hub) keeps only its path and query, so
// the token never goes to a host the user did not name.
std::string same_origin(const std::string& link, const std::string& base_url) {
    if (link.empty()) return link;
    const size_t scheme = link.find("://");
    const size_t path = scheme == std::string::npos ? 0 : link.find('/', scheme + 3);
    if (path == std::string::npos) return base_url;
    // base_url may carry a path prefix of its own (a mirror under /hf); the hub's links never do.
    const size_t base_path = base_url.find('/', base_url.find("://") + 3);
    return (base_path == std::string::npos ? base_url : base_url.substr(0, base_path)) + link.substr(path);
}

HubFile parse_entry(const json& item, const std::string& where) {
    if (!item.is_object() || !item.contains("path") || !item["path"].is_string()) {
        fail(ErrorKind::kCorrupt, "{}: an entry has no \"path\" string", where);
    }
    HubFile f;
    f.path = item["path"].get<std::string>();
    const json& size = item.contains("lfs") ? item["lfs"].value("size", json()) : item.value("size", json());
    if (!size.is_number_unsigned()) fail(ErrorKind::kCorrupt, "{}: '{}' has no byte size", where, f.path);
    f.size = size.get<uint64_t>();
    if (item.contains("lfs")) {
        const json& oid = item["lfs"].value("oid", json());
        if (!oid.is_string() || !registry::is_sha256_hex(oid.get<std::string>())) {
            fail(ErrorKind::kCorrupt, "{}: '{}' has no sha256 in \"lfs\".\"oid\"", where, f.path);
        }
        f.sha256 = oid.get<std::string>();
    }
    return f;
}

// Appends the files of one listing page to `out`.
void parse_page(const std::string& body, const std::string& where, std::vector<HubFile>& out) {
    const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_array()) {
        std::string start;
        for (const char ch : body.substr(0, 40)) start += std::isprint(static_cast<unsigned char>(ch)) ? ch : ' ';
        fail(ErrorKind::kCorrupt, "{}: the hub's answer is not a file listing (a JSON array); it starts with '{}'", where,
             start);
    }
    try {
        for (const json& item : doc) {
            if (item.is_object() && item.value("type", "") != "file") continue;  // directories
            out.push_back(parse_entry(item, where));
        }
    } catch (const json::exception&) {  // a field of the wrong JSON type
        fail(ErrorKind::kCorrupt, "{}: the hub's file listing has entries of an unexpected shape", where);
    }
}

std::string list_names(const std::vector<const HubFile*>& files) {
    std::string names;
    std::vector<std::string> seen;
    for (const HubFile* f : files) {
        const std::string key = split_key(f->path);
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
        seen.push_back(key);
        names += (names.empty() ? "" : ", ") + (split_count(f->path) ? key + "-*.gguf" : f->path);
    }
    return names;
}

}  // namespace

RepoRef parse_repo_ref(std::string_view spec) {
    RepoRef ref;
    const size_t colon = spec.find(':');
    ref.repo = std::string(spec.substr(0, colon));
    if (colon != std::string_view::npos) ref.quant = std::string(spec.substr(colon + 1));
    const size_t slash = ref.repo.find('/');
    const bool repo_ok = slash != std::string::npos && valid_repo_part(std::string_view(ref.repo).substr(0, slash)) &&
                         valid_repo_part(std::string_view(ref.repo).substr(slash + 1));
    const bool quant_ok = colon == std::string_view::npos ||
                          (!ref.quant.empty() && ref.quant.size() <= 64 &&
                           std::all_of(ref.quant.begin(), ref.quant.end(), [](char c) {
                               return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
                           }));
    if (!repo_ok || !quant_ok) {
        fail(ErrorKind::kInvalidArgument, "'{}' is not a hub repository (want OWNER/NAME[:QUANT], e.g. Qwen/Qwen3-0.6B-GGUF:Q8_0)",
             spec);
    }
    return ref;
}

std::string default_hub_url() {
    const char* env = std::getenv("HF_ENDPOINT");
    return env && *env ? std::string(env) : std::string(kDefaultHub);
}

std::string check_hub_url(std::string_view url) {
    std::string out(url);
    while (!out.empty() && out.back() == '/') out.pop_back();
    const bool scheme = out.rfind("http://", 0) == 0 || out.rfind("https://", 0) == 0;
    const size_t host = out.find("://") + 3;
    const bool clean = std::none_of(out.begin(), out.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == '?' || c == '#';
    });
    if (!scheme || out.size() <= host || !clean) {
        fail(ErrorKind::kInvalidArgument, "hub URL '{}' is not an http:// or https:// URL", url);
    }
    return out;
}

void check_config(const HubConfig& config) {
    const std::string& t = config.token;
    if (std::any_of(t.begin(), t.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
        fail(ErrorKind::kInvalidArgument, "the hub token holds spaces or control characters");
    }
    const std::string& r = config.revision;
    const bool ok = !r.empty() && r.size() <= 128 && r.find("..") == std::string::npos && r.front() != '/' &&
                    std::all_of(r.begin(), r.end(), [](char c) {
                        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/';
                    });
    if (!ok) fail(ErrorKind::kInvalidArgument, "revision '{}' is not a branch, tag or commit name", r);
}

std::vector<std::string> auth_headers(const HubConfig& config) {
    if (config.token.empty()) return {};
    return {"Authorization: Bearer " + config.token};
}

std::vector<HubFile> list_files(const HubConfig& config, std::string_view repo) {
    std::string url = fmt::format("{}/api/models/{}/tree/{}?recursive=true", config.base_url, repo,
                                  percent_encode(config.revision, false));
    const std::string where = fmt::format("{}/api/models/{}/tree/{}", config.base_url, repo, config.revision);
    std::vector<HubFile> files;
    for (int page = 0; !url.empty(); ++page) {
        if (page == kMaxPages) fail(ErrorKind::kCorrupt, "{}: more than {} pages of listing", where, kMaxPages);
        const HttpResponse res = http_get(url, auth_headers(config));
        if (res.status != 200) {
            const bool hint = (res.status == 401 || res.status == 403) && config.token.empty();
            fail(http_error_kind(res.status), "{}: {}{}", where, http_error_text(res.status, res.body),
                 hint ? " (a private or gated repository needs a token: --token or HF_TOKEN)" : "");
        }
        parse_page(res.body, where, files);
        url = same_origin(res.next_url, config.base_url);
    }
    return files;
}

const HubFile& pick_gguf(const std::vector<HubFile>& files, std::string_view repo, std::string_view quant) {
    std::vector<const HubFile*> ggufs;
    for (const HubFile& f : files) {
        const std::string name = upper(base_name(f.path));
        if (ends_with_nocase(name, ".gguf") && name.find("MMPROJ") == std::string::npos) ggufs.push_back(&f);
    }
    if (ggufs.empty()) fail(ErrorKind::kNotFound, "{} has no GGUF file", repo);
    std::vector<const HubFile*> fit;
    for (const HubFile* f : ggufs) {
        if (upper(base_name(f->path)).find(upper(quant)) != std::string::npos) fit.push_back(f);
    }
    if (fit.empty()) fail(ErrorKind::kNotFound, "{} has no GGUF file matching '{}' (files: {})", repo, quant, list_names(ggufs));
    if (fit.size() > 1 && !quant.empty()) {
        std::vector<const HubFile*> exact;
        std::copy_if(fit.begin(), fit.end(), std::back_inserter(exact), [&](const HubFile* f) { return exact_tag(f->path, quant); });
        if (!exact.empty()) fit = exact;
    }
    const std::string key = split_key(fit[0]->path);
    const bool one_model = std::all_of(fit.begin(), fit.end(), [&](const HubFile* f) { return split_key(f->path) == key; });
    if (!one_model) {
        fail(ErrorKind::kInvalidArgument, "{}: {} several GGUF files: {}; name one with :QUANT", repo,
             quant.empty() ? std::string("there are") : fmt::format("'{}' matches", quant), list_names(fit));
    }
    if (const int parts = split_count(fit[0]->path); parts > 1) {
        fail(ErrorKind::kUnsupported, "{}: {} is split in {} parts ({}); split GGUF files are not supported yet", repo,
             key + ".gguf", parts, fit[0]->path);
    }
    if (!safe_path(fit[0]->path)) fail(ErrorKind::kCorrupt, "{}: the hub lists an unsafe file path '{}'", repo, fit[0]->path);
    return *fit[0];
}

std::string file_url(const HubConfig& config, std::string_view repo, std::string_view path) {
    return fmt::format("{}/{}/resolve/{}/{}", config.base_url, repo, percent_encode(config.revision, false),
                       percent_encode(path, true));
}

}  // namespace sobre::hub
