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

// Parses whitespace-separated decimal token ids. Throws Error(kInvalidArgument) naming `what`
// and the offending word.
std::vector<int32_t> parse_token_ids(std::string_view text, std::string_view what);
// Reads a whole file. Throws Error(kNotFound / kIo) naming it.
std::string read_file(const std::string& path);
// Writes bytes to `path` through a temporary file and a rename, so a failure leaves nothing.
void write_file_atomic(const std::string& path, const void* data, size_t size);
// Fails early, before a long computation, when `path` could not be written later: creates and
// removes PATH.tmp (the temporary name the atomic writers use). Throws Error(kIo) naming it.
void check_writable(const std::string& path);
// The default thread count: the machine's hardware threads.
int default_threads();

}  // namespace sobre::cli
