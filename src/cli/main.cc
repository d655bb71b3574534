// `sobre`: the command-line entry point. Errors are caught here, printed on one line, and
// mapped to exit codes: 2 for usage errors, 1 for everything else.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/common.h"
#include "core/error.h"

namespace {

bool is_command(CLI::App& app, const std::string& name) {
    for (const CLI::App* sub : app.get_subcommands({})) {
        if (sub->get_name() == name) return true;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"sobre: run open-weight LLMs (GGUF) on hardware you own"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "sobre 0.1.0");
    sobre::cli::add_inspect(app);
    sobre::cli::add_logits(app);
    sobre::cli::add_perplexity(app);
    sobre::cli::add_imatrix(app);
    sobre::cli::add_run(app);
    sobre::cli::add_synth(app);
    sobre::cli::add_quantize(app);
    sobre::cli::add_tokenize(app);
    sobre::cli::add_template(app);
    sobre::cli::add_bench(app);
    sobre::cli::add_pull(app);
    sobre::cli::add_models(app);
#ifdef SOBRE_HAVE_SERVER
    sobre::cli::add_serve(app);
    sobre::cli::add_audit(app);
#endif
    if (argc > 1 && argv[1][0] != '-' && !is_command(app, argv[1])) {
        std::string names;
        for (const CLI::App* sub : app.get_subcommands({})) names += (names.empty() ? "" : ", ") + sub->get_name();
        std::fprintf(stderr, "sobre: unknown command '%s' (commands: %s)\n", argv[1], names.c_str());
        return 2;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "sobre: %s (see sobre --help)\n", e.what());
        return 2;
    } catch (const sobre::Error& e) {
        std::fprintf(stderr, "sobre: %s\n", e.what());
        return e.kind() == sobre::ErrorKind::kInvalidArgument ? 2 : 1;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "sobre: out of memory\n");
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sobre: %s\n", e.what());
        return 1;
    }
    return 0;
}
