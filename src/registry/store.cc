#include "registry/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "gguf/reader.h"
#include "registry/quantization.h"
#include "registry/sha256.h"

namespace sobre::registry {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int kIndexVersion = 1;

// Holds an exclusive flock on DIR/index.lock while the index is read, changed and rewritten.
class IndexLock {
   public:
    explicit IndexLock(const std::string& dir) {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) fail(ErrorKind::kIo, "{}: cannot create the model store: {}", dir, ec.message());
        const std::string path = dir + "/index.lock";
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) fail(ErrorKind::kIo, "{}: cannot open: {}", path, std::strerror(errno));
        if (::flock(fd_, LOCK_EX) != 0) {
            const int err = errno;
            ::close(fd_);
            fail(ErrorKind::kIo, "{}: cannot lock: {}", path, std::strerror(err));
        }
    }
    ~IndexLock() { ::close(fd_); }  // closing releases the lock
    IndexLock(const IndexLock&) = delete;
    IndexLock& operator=(const IndexLock&) = delete;

   private:
    int fd_ = -1;
};

// Writes `text` to `path` through PATH.tmp.PID, fsync and rename: all or nothing.
void write_atomic(const std::string& path, const std::string& text) {
    const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail(ErrorKind::kIo, "{}: cannot create: {}", tmp, std::strerror(errno));
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
    }
    const bool ok = done == text.size() && ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int rename_err = errno;
        std::remove(tmp.c_str());
        fail(ErrorKind::kIo, "{}: write failed: {}", path, std::strerror(ok ? rename_err : err));
    }
}

std::string get_string(const json& j, const char* key, const std::string& where) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) fail(ErrorKind::kCorrupt, "{}: '{}' is missing or not a string", where, key);
    return it->get<std::string>();
}

// Optional string fields of a source: absent reads as empty.
std::string get_optional_string(const json& j, const char* key, const std::string& where) {
    return j.contains(key) ? get_string(j, key, where) : std::string();
}

json to_json(const Entry& e) {
    json source = json::object();
    if (e.source.is_hub()) {
        source = {{"hub", e.source.hub}, {"repo", e.source.repo}, {"revision", e.source.revision}, {"file", e.source.file}};
    } else {
        source = {{"path", e.source.path}};
    }
    return {{"name", e.name},     {"file", e.file},   {"size", e.size},           {"sha256", e.sha256},
            {"quantization", e.quantization}, {"added", e.added}, {"source", source}};
}

Entry from_json(const json& j, const std::string& where) {
    if (!j.is_object()) fail(ErrorKind::kCorrupt, "{}: not an object", where);
    Entry e;
    e.name = get_string(j, "name", where);
    e.file = get_string(j, "file", where);
    e.sha256 = get_string(j, "sha256", where);
    e.quantization = get_string(j, "quantization", where);
    e.added = get_string(j, "added", where);
    const auto size = j.find("size");
    if (size == j.end() || !size->is_number_unsigned()) fail(ErrorKind::kCorrupt, "{}: 'size' is missing or not a byte count", where);
    e.size = size->get<uint64_t>();
    if (!is_sha256_hex(e.sha256)) fail(ErrorKind::kCorrupt, "{}: 'sha256' is not 64 lowercase hex digits", where);
    const auto source = j.find("source");
    if (source == j.end() || !source->is_object()) fail(ErrorKind::kCorrupt, "{}: 'source' is missing or not an object", where);
    e.source.hub = get_optional_string(*source, "hub", where + " source");
    e.source.repo = get_optional_string(*source, "repo", where + " source");
    e.source.revision = get_optional_string(*source, "revision", where + " source");
    e.source.file = get_optional_string(*source, "file", where + " source");
    e.source.path = get_optional_string(*source, "path", where + " source");
    return e;
}

std::string names_of(const std::vector<Entry>& entries) {
    std::string names;
    for (const Entry& e : entries) names += (names.empty() ? "" : ", ") + e.name;
    return names.empty() ? "none" : names;
}

std::string describe_source(const Entry& e) {
    if (e.source.is_hub()) return fmt::format("{} {} from {}", e.source.repo, e.source.file, e.source.hub);
    return e.source.path;
}

[[noreturn]] void fail_name_taken(const Entry& old) {
    fail(ErrorKind::kInvalidArgument,
         "the name '{}' is taken by {}; choose another with --name, or remove it first (sobre models rm {})", old.name,
         describe_source(old), old.name);
}

}  // namespace

std::string default_store_dir() {
    const auto env = [](const char* name) -> std::string {
        const char* v = std::getenv(name);
        return v ? v : "";
    };
    if (const std::string home = env("SOBRE_HOME"); !home.empty()) return home;
    if (const std::string cache = env("XDG_CACHE_HOME"); !cache.empty()) return cache + "/sobre";
    if (const std::string home = env("HOME"); !home.empty()) return home + "/.cache/sobre";
    fail(ErrorKind::kNotFound, "no model store: set SOBRE_HOME (or HOME), or pass --store DIR");
}

void check_model_name(std::string_view name) {
    const auto allowed = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' || c == '+' || c == '@' ||
               c == '-';
    };
    const bool ok = !name.empty() && name.size() <= 128 && std::isalnum(static_cast<unsigned char>(name[0])) &&
                    std::all_of(name.begin(), name.end(), allowed);
    if (!ok) {
        fail(ErrorKind::kInvalidArgument,
             "model name '{}' is not valid (1-128 of A-Z a-z 0-9 . _ : + @ -, starting with a letter or digit)", name);
    }
}

Store::Store(std::string dir) {
    if (dir.empty()) fail(ErrorKind::kInvalidArgument, "the model store directory is empty");
    // Absolute, so the paths it hands out stay right whatever the working directory.
    std::error_code ec;
    dir_ = fs::absolute(dir, ec).lexically_normal().string();
    if (ec) fail(ErrorKind::kIo, "{}: {}", dir, ec.message());
    while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
}

std::string Store::index_path() const { return dir_ + "/index.json"; }

std::vector<Entry> Store::read_index() const {
    const std::string path = index_path();
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (errno == ENOENT) return {};
        fail(ErrorKind::kIo, "{}: cannot open: {}", path, std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    const json doc = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) fail(ErrorKind::kCorrupt, "{}: not valid JSON", path);
    if (!doc.is_object() || doc.value("version", 0) != kIndexVersion || !doc.contains("models") ||
        !doc["models"].is_array()) {
        fail(ErrorKind::kCorrupt, "{}: not a sobre model index (version {})", path, kIndexVersion);
    }
    std::vector<Entry> entries;
    for (const json& j : doc["models"]) {
        entries.push_back(from_json(j, fmt::format("{}: model #{}", path, entries.size() + 1)));
    }
    return entries;
}

void Store::write_index(const std::vector<Entry>& entries) const {
    json models = json::array();
    for (const Entry& e : entries) models.push_back(to_json(e));
    const json doc = {{"version", kIndexVersion}, {"models", models}};
    write_atomic(index_path(), doc.dump(2) + "\n");
}

std::vector<Entry> Store::entries() const { return read_index(); }

std::optional<Entry> Store::find(std::string_view name) const {
    for (Entry& e : read_index()) {
        if (e.name == name) return std::move(e);
    }
    return std::nullopt;
}

Entry Store::get(std::string_view name) const {
    const std::vector<Entry> entries = read_index();
    for (const Entry& e : entries) {
        if (e.name == name) return e;
    }
    fail(ErrorKind::kNotFound, "no model named '{}' in the store {} (models: {})", name, dir_, names_of(entries));
}

std::string Store::path_of(const Entry& e) const { return owns(e) ? dir_ + "/" + e.file : e.file; }

bool Store::owns(const Entry& e) const { return !e.file.empty() && e.file[0] != '/'; }

std::string Store::hub_path(std::string_view repo, std::string_view file) const {
    return fmt::format("{}/models/{}/{}", dir_, repo, file);
}

std::string Store::local_copy_path(std::string_view file_name) const {
    return fmt::format("{}/models/local/{}", dir_, file_name);
}

void Store::check_name_free(std::string_view name, const std::function<bool(const Entry&)>& may_replace) const {
    for (const Entry& old : read_index()) {
        if (old.name == name && !may_replace(old)) fail_name_taken(old);
    }
}

void Store::put(const Entry& e, const std::function<bool(const Entry&)>& may_replace) {
    check_model_name(e.name);
    SOBRE_CHECK(is_sha256_hex(e.sha256));
    Entry stored = e;
    // Files inside the store are recorded relative to it, so the store can be moved whole.
    const std::string prefix = dir_ + "/";
    if (stored.file.rfind(prefix, 0) == 0) stored.file = stored.file.substr(prefix.size());
    IndexLock lock(dir_);
    std::vector<Entry> entries = read_index();
    const auto it = std::find_if(entries.begin(), entries.end(), [&](const Entry& old) { return old.name == e.name; });
    if (it == entries.end()) {
        entries.push_back(stored);
    } else {
        if (!may_replace(*it)) fail_name_taken(*it);
        *it = stored;
    }
    write_index(entries);
}

Entry Store::remove(std::string_view name) {
    IndexLock lock(dir_);
    std::vector<Entry> entries = read_index();
    const auto it = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.name == name; });
    if (it == entries.end()) {
        fail(ErrorKind::kNotFound, "no model named '{}' in the store {} (models: {})", name, dir_, names_of(entries));
    }
    const Entry removed = *it;
    const bool shared = std::count_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.file == removed.file; }) > 1;
    if (owns(removed) && !shared) {
        const std::string path = path_of(removed);
        if (std::remove(path.c_str()) != 0 && errno != ENOENT) {
            fail(ErrorKind::kIo, "{}: cannot delete: {}", path, std::strerror(errno));
        }
    }
    entries.erase(it);
    write_index(entries);
    return removed;
}

Entry describe_file(const std::string& path) {
    std::error_code ec;
    const fs::path abs = fs::absolute(path, ec);
    if (ec) fail(ErrorKind::kIo, "{}: {}", path, ec.message());
    Entry e;
    e.file = abs.lexically_normal().string();
    {
        const gguf::File f = gguf::File::open(e.file);
        e.size = f.file_size();
        e.quantization = quantization_of(f);
    }
    e.sha256 = sha256_file_hex(e.file);
    return e;
}

Check verify(const Store& store, const Entry& e) {
    Check c;
    std::error_code ec;
    const std::string path = store.path_of(e);
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) {
        c.status = Check::kMissing;
        return c;
    }
    c.size = size;
    if (size != e.size) {
        c.status = Check::kSizeMismatch;
        return c;
    }
    c.sha256 = sha256_file_hex(path);
    c.status = c.sha256 == e.sha256 ? Check::kOk : Check::kHashMismatch;
    return c;
}

}  // namespace sobre::registry
