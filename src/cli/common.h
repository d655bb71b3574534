// Helpers shared by the `sobre` subcommands.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sobre::cli {

// Each subcommand registers itself and its callback on the app.
void add_inspect(CLI::App& app);
void add_logits(CLI::App& app);
void add_perplexity(CLI::App& app);
void add_imatrix(CLI::App& app);
void add_run(CLI::App& app);
void add_synth(CLI::App& app);
void add_serve(CLI::App& app);
void add_quantize(CLI::App& app);
void add_template(CLI::App& app);
void add_bench(CLI::App& app);
void add_tokenize(CLI::App& app);  // tokenize and detokenize
void add_audit(CLI::App& app);
void add_pull(CLI::App& app);
void add_models(CLI::App& app);  // models list, show, add, verify, rm

// Parses whitespace-separated decimal token ids. Throws Error(kInvalidArgument) naming `what`
// and the offending word.
std::vector<int32_t> parse_token_ids(std::string_view text, std::string_view what);
// Reads a whole file. Throws Error(kNotFound / kIo) naming it.
std::string read_file(const std::string& path);
// Writes bytes to `path` through a temporary file and a rename, so a failure leaves nothing.
void write_file_atomic(const std::string& path, const void* data, size_t size);
// What `-m` names: `arg` itself when it is an existing file, else the file of the model of that
// name in the default store (SOBRE_HOME...), else `arg` unchanged (the loader then reports it
// missing). `name` is set to the registry name when one was used. Nothing touches the network.
std::string resolve_model(const std::string& arg, std::string* name = nullptr);
// Adds `--store DIR` (default: SOBRE_HOME, XDG_CACHE_HOME/sobre or ~/.cache/sobre).
void add_store_option(CLI::App* cmd, std::string& dir);
// The store `--store` gave, else the default one.
std::string store_dir(const std::string& option);
// "1.5 GiB", "812.0 KiB", "17 B".
std::string format_bytes(uint64_t bytes);
// Fails early, before a long computation, when `path` could not be written later: creates and
// removes PATH.tmp (the temporary name the atomic writers use). Throws Error(kIo) naming it.
void check_writable(const std::string& path);
// The default thread count: the machine's hardware threads.
int default_threads();

}  // namespace sobre::cli
