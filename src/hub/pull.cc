#include "hub/pull.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/error.h"
#include "gguf/reader.h"
#include "hub/http.h"
#include "registry/quantization.h"
#include "registry/sha256.h"

namespace sobre::hub {
namespace {

namespace fs = std::filesystem;
using registry::Entry;

std::string default_name(std::string_view path) {
    std::string name = fs::path(std::string(path)).filename().string();
    if (name.size() > 5) name.resize(name.size() - 5);  // ".gguf", which pick_gguf ensured
    return name;
}

// Makes a rename in `dir` durable.
void sync_dir(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

// Throws Error(kResourceExhausted) when the disk holding `dir` has no room for `needed` bytes.
void check_free_space(const std::string& dir, uint64_t needed) {
    std::error_code ec;
    const fs::space_info space = fs::space(dir, ec);
    if (!ec && space.available < needed) {
        fail(ErrorKind::kResourceExhausted, "{}: {} more bytes are needed and {} are free", dir, needed, space.available);
    }
}

bool file_has_size(const std::string& path, uint64_t size) {
    std::error_code ec;
    return fs::file_size(path, ec) == size && !ec;
}

// Transfers until the part holds file.size bytes; a transfer that breaks off is retried from
// where it stopped. Throws the last Error when the attempts run out (the part is kept).
void fetch(const std::string& url, PartFile& part, const HubFile& file, const PullOptions& o) {
    const DownloadOptions d{auth_headers(o.hub), file.size, o.progress};
    for (int attempt = 1;; ++attempt) {
        if (part.size() > file.size) part.truncate();  // not the file the listing describes
        if (part.size() == file.size) return;
        try {
            download(url, part, d);
            if (part.size() != file.size) {
                fail(ErrorKind::kIo, "{}: the server ended the file after {} of {} bytes", url, part.size(), file.size);
            }
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::kIo) throw;
            if (attempt >= o.attempts) {
                fail(ErrorKind::kIo, "{}; {} of {} bytes are kept in {}: run the same pull again to resume", e.what(),
                     part.size(), file.size, part.path());
            }
            if (o.note) o.note(fmt::format("{}; resuming from byte {} (try {} of {})", e.what(), part.size(), attempt + 1, o.attempts));
            std::this_thread::sleep_for(o.retry_delay);
        }
    }
}

// Hashes the finished part and reads its quantization; deletes it when either fails.
std::string verify_part(const PartFile& part, const HubFile& file) {
    const std::string sha = registry::sha256_file_hex(part.path());
    if (sha != file.sha256) {
        std::remove(part.path().c_str());
        fail(ErrorKind::kCorrupt, "{}: sha256 mismatch: the hub publishes {}, the download hashes to {}; deleted {}",
             file.path, file.sha256, sha, part.path());
    }
    try {
        return registry::quantization_of(gguf::File::open(part.path()));
    } catch (const Error& e) {
        std::remove(part.path().c_str());
        fail(ErrorKind::kCorrupt, "{} (deleted it)", e.what());
    }
}

// The entry that already holds `dest` with the listed hash, when that file is on disk.
std::optional<Entry> stored_copy(const registry::Store& store, const std::string& dest, const HubFile& file) {
    for (const Entry& e : store.entries()) {
        if (store.path_of(e) == dest && e.sha256 == file.sha256 && file_has_size(dest, file.size)) return e;
    }
    return std::nullopt;
}

// Downloads `url` into DEST.part (resuming what is there), verifies it and renames it to `dest`.
// Returns its quantization; sets `resumed_from` to the bytes the part held at the start.
std::string download_verified(const std::string& url, const std::string& dest, const HubFile& file, const PullOptions& o,
                              uint64_t& resumed_from) {
    const std::string dir = fs::path(dest).parent_path().string();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) fail(ErrorKind::kIo, "{}: cannot create: {}", dir, ec.message());
    PartFile part(dest + ".part");
    resumed_from = part.size();
    check_free_space(dir, file.size - std::min(resumed_from, file.size));
    if (o.note) {
        o.note(resumed_from > 0 && resumed_from < file.size
                   ? fmt::format("resuming {} at byte {} of {}", file.path, resumed_from, file.size)
                   : fmt::format("pulling {} ({} bytes)", file.path, file.size));
    }
    fetch(url, part, file, o);
    part.sync();
    if (o.note) o.note("verifying sha256");
    std::string quantization = verify_part(part, file);
    if (std::rename(part.path().c_str(), dest.c_str()) != 0) {
        fail(ErrorKind::kIo, "{}: cannot rename to {}: {}", part.path(), dest, std::strerror(errno));
    }
    sync_dir(dir);
    return quantization;
}

}  // namespace

PullResult pull(registry::Store& store, std::string_view spec, const PullOptions& o) {
    const RepoRef ref = parse_repo_ref(spec);
    check_config(o.hub);
    if (!o.name.empty()) registry::check_model_name(o.name);
    const std::vector<HubFile> files = list_files(o.hub, ref.repo);
    const HubFile& file = pick_gguf(files, ref.repo, ref.quant);
    if (file.sha256.empty()) {
        fail(ErrorKind::kUnsupported, "{}: the hub publishes no sha256 for {} (not an LFS file), so it cannot be verified",
             ref.repo, file.path);
    }
    Entry entry;
    entry.name = o.name.empty() ? default_name(file.path) : o.name;
    try {
        registry::check_model_name(entry.name);
    } catch (const Error&) {
        fail(ErrorKind::kInvalidArgument, "'{}' does not make a model name; choose one with --name", entry.name);
    }
    entry.file = store.hub_path(ref.repo, file.path);
    entry.size = file.size;
    entry.sha256 = file.sha256;
    entry.source = {o.hub.base_url, ref.repo, o.hub.revision, file.path, ""};
    // A name may be given again to the same hub file (a re-pull, or a newer revision of it).
    const auto may_replace = [&](const Entry& old) {
        return old.source.hub == o.hub.base_url && old.source.repo == ref.repo && old.source.file == file.path;
    };
    store.check_name_free(entry.name, may_replace);

    PullResult result;
    if (const auto have = stored_copy(store, entry.file, file)) {
        if (have->name == entry.name) return {*have, false, 0};
        entry.quantization = have->quantization;  // a second name for a file already here
    } else {
        result.downloaded = true;
        entry.quantization = download_verified(file_url(o.hub, ref.repo, file.path), entry.file, file, o, result.resumed_from);
    }
    entry.added = utc_timestamp();
    store.put(entry, may_replace);
    result.entry = entry;
    return result;
}

}  // namespace sobre::hub
