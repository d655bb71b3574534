// `sobre models list|show|add|verify|rm`: the local model store (registry/store.h).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/clock.h"
#include "cli/common.h"
#include "core/error.h"
#include "hub/hub.h"
#include "registry/store.h"

namespace sobre::cli {
namespace {

namespace fs = std::filesystem;
using registry::Entry;
using registry::Store;

std::string source_text(const Entry& e) {
    if (!e.source.is_hub()) return e.source.path;
    return fmt::format("{}{}@{}:{}", e.source.hub == hub::kDefaultHub ? "" : e.source.hub + "/", e.source.repo,
                       e.source.revision, e.source.file);
}

void list_models(const Store& store) {
    const std::vector<Entry> entries = store.entries();
    if (entries.empty()) {
        std::printf("no models in %s\n", store.dir().c_str());
        return;
    }
    size_t width = 4;
    for (const Entry& e : entries) width = std::max(width, e.name.size());
    const int w = static_cast<int>(width);
    std::printf("%-*s  %-9s  %10s  %-12s  %-20s  %s\n", w, "NAME", "QUANT", "SIZE", "SHA256", "ADDED", "SOURCE");
    for (const Entry& e : entries) {
        std::printf("%-*s  %-9s  %10s  %-12s  %-20s  %s\n", w, e.name.c_str(), e.quantization.c_str(),
                    format_bytes(e.size).c_str(), e.sha256.substr(0, 12).c_str(), e.added.c_str(), source_text(e).c_str());
    }
}

void show_model(const Store& store, const std::string& name) {
    const Entry e = store.get(name);
    std::printf("name: %s\nfile: %s\nsize: %llu (%s)\nsha256: %s\nquantization: %s\nadded: %s\n", e.name.c_str(),
                store.path_of(e).c_str(), static_cast<unsigned long long>(e.size), format_bytes(e.size).c_str(),
                e.sha256.c_str(), e.quantization.c_str(), e.added.c_str());
    if (e.source.is_hub()) {
        std::printf("hub: %s\nrepo: %s\nrevision: %s\nhub_file: %s\n", e.source.hub.c_str(), e.source.repo.c_str(),
                    e.source.revision.c_str(), e.source.file.c_str());
    } else {
        std::printf("source: %s\n", e.source.path.c_str());
    }
}

// Copies `from` into the store through a temporary file and a rename. Throws
// Error(kInvalidArgument) when another model already owns a file of that name there.
std::string copy_into(const Store& store, const std::string& from) {
    const std::string dest = store.local_copy_path(fs::path(from).filename().string());
    for (const Entry& e : store.entries()) {
        if (store.path_of(e) == dest) fail(ErrorKind::kInvalidArgument, "{} is already in the store as '{}'", dest, e.name);
    }
    const std::string tmp = fmt::format("{}.tmp.{}", dest, ::getpid());
    std::error_code ec;
    fs::create_directories(fs::path(dest).parent_path(), ec);
    if (!ec) fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::rename(tmp, dest, ec);
    if (ec) {
        fs::remove(tmp);
        fail(ErrorKind::kIo, "{}: cannot copy into the store: {}", dest, ec.message());
    }
    return dest;
}

void add_model(Store& store, const std::string& path, std::string name, bool copy) {
    Entry e = registry::describe_file(path);
    if (name.empty()) name = fs::path(e.file).stem().string();
    registry::check_model_name(name);
    e.name = name;
    e.source.path = e.file;
    e.added = utc_timestamp();
    // The same name may be given again to the same file (after it changed, say).
    const auto may_replace = [&](const Entry& old) { return old.source.path == e.source.path; };
    store.check_name_free(e.name, may_replace);
    if (copy) e.file = copy_into(store, e.file);
    store.put(e, may_replace);
    std::printf("added %s (%s, %s), sha256 %s: %s\n", e.name.c_str(), e.quantization.c_str(), format_bytes(e.size).c_str(),
                e.sha256.c_str(), e.file.c_str());
}

// One line per model; throws Error(kCorrupt) when any failed.
void verify_models(const Store& store, const std::vector<std::string>& names) {
    std::vector<Entry> entries;
    if (names.empty()) {
        entries = store.entries();
    } else {
        for (const std::string& n : names) entries.push_back(store.get(n));
    }
    if (entries.empty()) std::printf("no models in %s\n", store.dir().c_str());
    size_t bad = 0;
    for (const Entry& e : entries) {
        const registry::Check c = registry::verify(store, e);
        const std::string path = store.path_of(e);
        switch (c.status) {
            case registry::Check::kOk: std::printf("%s: ok\n", e.name.c_str()); break;
            case registry::Check::kMissing: std::printf("%s: MISSING %s\n", e.name.c_str(), path.c_str()); break;
            case registry::Check::kSizeMismatch:
                std::printf("%s: SIZE MISMATCH %s is %llu bytes, recorded %llu\n", e.name.c_str(), path.c_str(),
                            static_cast<unsigned long long>(c.size), static_cast<unsigned long long>(e.size));
                break;
            case registry::Check::kHashMismatch:
                std::printf("%s: SHA256 MISMATCH %s hashes to %s, recorded %s\n", e.name.c_str(), path.c_str(),
                            c.sha256.c_str(), e.sha256.c_str());
                break;
        }
        if (c.status != registry::Check::kOk) ++bad;
    }
    std::fflush(stdout);
    if (bad) fail(ErrorKind::kCorrupt, "{} of {} models in {} failed verification", bad, entries.size(), store.dir());
}

void remove_model(Store& store, const std::string& name) {
    const bool owned = store.owns(store.get(name));
    const Entry e = store.remove(name);
    std::printf("removed %s (%s %s)\n", e.name.c_str(), owned ? "deleted" : "kept, as it was registered in place:",
                store.path_of(e).c_str());
}

}  // namespace

void add_models(CLI::App& app) {
    struct Args {
        std::string store, name, file;
        std::vector<std::string> names;
        bool copy = false;
    };
    auto a = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("models", "The local model store: list, show, add, verify, rm");
    cmd->require_subcommand(1);
    const auto store = [a] { return Store(store_dir(a->store)); };

    CLI::App* list = cmd->add_subcommand("list", "List the models in the store");
    add_store_option(list, a->store);
    list->callback([store] { list_models(store()); });

    CLI::App* show = cmd->add_subcommand("show", "Show everything recorded about one model");
    show->add_option("name", a->name, "model name")->required();
    add_store_option(show, a->store);
    show->callback([a, store] { show_model(store(), a->name); });

    CLI::App* add = cmd->add_subcommand("add", "Register a local GGUF file (in place, or copied with --copy)");
    add->add_option("file", a->file, "GGUF file")->required();
    add->add_option("--name", a->name, "name in the store (default: the file name without .gguf)");
    add->add_flag("--copy", a->copy, "copy the file into the store (rm then deletes the copy)");
    add_store_option(add, a->store);
    add->callback([a, store] {
        Store s = store();
        add_model(s, a->file, a->name, a->copy);
    });

    CLI::App* verify = cmd->add_subcommand("verify", "Re-hash model files and report any that changed (exit 1)");
    verify->add_option("names", a->names, "models to check (default: all)");
    add_store_option(verify, a->store);
    verify->callback([a, store] { verify_models(store(), a->names); });

    CLI::App* rm = cmd->add_subcommand("rm", "Remove a model: its entry, and its file when the store owns it");
    rm->add_option("name", a->name, "model name")->required();
    add_store_option(rm, a->store);
    rm->callback([a, store] {
        Store s = store();
        remove_model(s, a->name);
    });
}

}  // namespace sobre::cli
