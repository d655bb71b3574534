// `sobre pull OWNER/NAME[:QUANT]`: downloads a GGUF file from a Hugging Face-compatible hub into
// the model store, verified against the hub's sha256, and registers it. The only subcommand that
// touches the network.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/common.h"
#include "core/error.h"
#include "hub/pull.h"

namespace sobre::cli {
namespace {

// A one-line progress bar on stderr, redrawn at most ten times a second.
class ProgressBar {
   public:
    explicit ProgressBar(std::string label) : label_(std::move(label)) {}

    void update(uint64_t done, uint64_t total) {
        const auto now = std::chrono::steady_clock::now();
        if (!started_) {
            started_ = true;
            start_time_ = now;
            start_bytes_ = done;
        }
        if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
        if (drawn_ && done == last_done_) return;
        last_draw_ = now;
        last_done_ = done;
        drawn_ = true;
        constexpr int kWidth = 24;
        const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
        const int fill = static_cast<int>(frac * kWidth);
        const double secs = std::chrono::duration<double>(now - start_time_).count();
        const double rate = secs > 0 ? static_cast<double>(done - start_bytes_) / secs : 0.0;
        std::fprintf(stderr, "\r%s [%s%s] %3d%% %s / %s %s/s\033[K", label_.c_str(), std::string(fill, '#').c_str(),
                     std::string(kWidth - fill, '-').c_str(), static_cast<int>(frac * 100), format_bytes(done).c_str(),
                     format_bytes(total).c_str(), format_bytes(static_cast<uint64_t>(rate)).c_str());
        std::fflush(stderr);
    }

    // Ends the bar's line, so what follows starts on its own.
    void end_line() {
        if (drawn_) std::fputc('\n', stderr);
        drawn_ = false;
    }

   private:
    std::string label_;
    bool started_ = false;
    bool drawn_ = false;
    uint64_t start_bytes_ = 0;
    uint64_t last_done_ = 0;
    std::chrono::steady_clock::time_point start_time_{};
    std::chrono::steady_clock::time_point last_draw_{};
};

struct PullArgs {
    std::string spec;
    std::string hub = hub::default_hub_url();
    std::string token;
    std::string revision = "main";
    std::string name;
    std::string store;
    int attempts = 4;
};

void run_pull(const PullArgs& a) {
    hub::PullOptions o;
    o.hub.base_url = hub::check_hub_url(a.hub);
    o.hub.revision = a.revision;
    o.hub.token = a.token;
    if (o.hub.token.empty()) {
        if (const char* env = std::getenv("HF_TOKEN")) o.hub.token = env;
    }
    o.name = a.name;
    o.attempts = a.attempts;
    registry::Store store(store_dir(a.store));
    // Progress and notes only on a terminal: in a script stderr carries errors alone.
    const bool tty = ::isatty(STDERR_FILENO) == 1;
    auto bar = std::make_shared<ProgressBar>(a.spec);
    if (tty) {
        o.progress = [bar](uint64_t done, uint64_t total) { bar->update(done, total); };
        o.note = [bar](const std::string& line) {
            bar->end_line();
            std::fprintf(stderr, "%s\n", line.c_str());
        };
    }
    try {
        const hub::PullResult r = hub::pull(store, a.spec, o);
        bar->end_line();
        std::printf("%s %s (%s, %s), sha256 %s: %s\n", r.downloaded ? "pulled" : "already present:", r.entry.name.c_str(),
                    r.entry.quantization.c_str(), format_bytes(r.entry.size).c_str(), r.entry.sha256.c_str(),
                    store.path_of(r.entry).c_str());
    } catch (...) {
        bar->end_line();
        throw;
    }
}

}  // namespace

void add_pull(CLI::App& app) {
    auto a = std::make_shared<PullArgs>();
    CLI::App* cmd = app.add_subcommand("pull", "Download a GGUF model from a Hugging Face-compatible hub into the store");
    cmd->add_option("repo", a->spec, "OWNER/NAME[:QUANT], e.g. Qwen/Qwen3-0.6B-GGUF:Q8_0")->required();
    cmd->add_option("--hub", a->hub, "hub base URL (default: $HF_ENDPOINT or https://huggingface.co)");
    cmd->add_option("--token", a->token, "hub access token for private or gated repositories (default: $HF_TOKEN)");
    cmd->add_option("--revision", a->revision, "branch, tag or commit (default main)");
    cmd->add_option("--name", a->name, "name in the store (default: the file name without .gguf)");
    cmd->add_option("--attempts", a->attempts, "transfers tried, each resuming the last (default 4)")->check(CLI::Range(1, 100));
    add_store_option(cmd, a->store);
    cmd->callback([a] { run_pull(*a); });
}

}  // namespace sobre::cli
