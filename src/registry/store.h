// The local model store: a directory that holds pulled GGUF files and index.json, the list of
// registered models (name, source, sha256, size, quantization, date). The index is rewritten
// whole through a temporary file and a rename, under a lock, so a reader never sees half of it
// and two writers never lose each other's entries.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sobre::registry {

// Where a model came from.
struct Source {
    // A hub file: the hub's base URL, the repository (OWNER/NAME), the revision asked for and the
    // file's path in the repository. All empty for a local file.
    std::string hub;
    std::string repo;
    std::string revision;
    std::string file;
    // A local file: the absolute path it was registered from. Empty for a hub file.
    std::string path;

    bool is_hub() const { return !repo.empty(); }
};

struct Entry {
    std::string name;          // unique in the store; what `-m NAME` and `models rm NAME` take
    std::string file;          // relative to the store when the store owns the file, else absolute
    uint64_t size = 0;         // bytes
    std::string sha256;        // lowercase hex of the whole file
    std::string quantization;  // general.file_type by name ("Q4_K_M")
    std::string added;         // UTC, ISO 8601
    Source source;
};

// The store from the environment: $SOBRE_HOME, else $XDG_CACHE_HOME/sobre, else ~/.cache/sobre.
// Throws Error(kNotFound) when none of these variables is set.
std::string default_store_dir();

// Throws Error(kInvalidArgument) unless `name` is 1-128 characters of [A-Za-z0-9._:+@-] starting
// with a letter or digit (it must read unambiguously on a command line and in a table).
void check_model_name(std::string_view name);

class Store {
   public:
    // Creates nothing: a store without an index has no models. A relative `dir` is made absolute.
    explicit Store(std::string dir);
    const std::string& dir() const { return dir_; }

    // The registered models in the order they were added. Throws Error(kCorrupt) naming the index
    // when it cannot be read as ours.
    std::vector<Entry> entries() const;
    std::optional<Entry> find(std::string_view name) const;
    // Throws Error(kNotFound) naming the store and the names it has.
    Entry get(std::string_view name) const;

    // The absolute path of an entry's file.
    std::string path_of(const Entry& e) const;
    // True when the file lives in the store (pulled or copied there), so `remove` deletes it.
    bool owns(const Entry& e) const;
    // Where a pulled hub file is kept: DIR/models/OWNER/NAME/PATH. REQUIRES: a checked repo and path.
    std::string hub_path(std::string_view repo, std::string_view file) const;
    // Where `models add --copy` puts a file: DIR/models/local/FILE_NAME.
    std::string local_copy_path(std::string_view file_name) const;

    // Records `e`, creating the store if needed. An entry of the same name is replaced when
    // `may_replace(old)` is true; otherwise throws Error(kInvalidArgument) naming both.
    void put(const Entry& e, const std::function<bool(const Entry&)>& may_replace);
    // Throws what put() would for `name` (kInvalidArgument when an entry holds it and
    // `may_replace` refuses), without changing anything: a check before a long download.
    void check_name_free(std::string_view name, const std::function<bool(const Entry&)>& may_replace) const;
    // Removes the entry and, when the store owns it and no other entry names the same file, the
    // file. Returns the removed entry.
    // Throws Error(kNotFound) as get().
    Entry remove(std::string_view name);

   private:
    std::string index_path() const;
    std::vector<Entry> read_index() const;
    void write_index(const std::vector<Entry>& entries) const;

    std::string dir_;
};

// A file's size, sha256 and quantization, with `file` set to its absolute path; the rest of the
// entry is left to the caller. Hashes the whole file. Throws Error when it is missing or not a
// GGUF file.
Entry describe_file(const std::string& path);

// The outcome of re-hashing an entry's file.
struct Check {
    enum Status { kOk, kMissing, kSizeMismatch, kHashMismatch };
    Status status = kOk;
    uint64_t size = 0;   // the file's size now (0 when missing)
    std::string sha256;  // its hash now (empty unless hashed)
};
Check verify(const Store& store, const Entry& e);

}  // namespace sobre::registry
