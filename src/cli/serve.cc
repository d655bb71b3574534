// `sobre serve` and `sobre audit verify`.
#include <csignal>
#include <cstdio>
#include <memory>

#include "cli/common.h"
#include "core/error.h"
#include "server/audit.h"
#include "server/server.h"

namespace sobre::cli {

void add_serve(CLI::App& app) {
    auto o = std::make_shared<server::ServerOptions>();
    o->threads = default_threads();
    CLI::App* cmd = app.add_subcommand("serve", "Serve the OpenAI-compatible HTTP API and the chat page");
    cmd->add_option("-m,--model", o->model_path, "GGUF model file, or a model name in the store")->required();
    cmd->add_option("--alias", o->model_alias, "model id in the API (default: the file name)");
    cmd->add_option("--host", o->host, "address to bind (default 127.0.0.1: this machine only)");
    cmd->add_option("--port", o->port, "port (0: any free port, printed at start)")->check(CLI::Range(0, 65535));
    cmd->add_option("--api-key", o->api_keys, "accepted API key (repeatable); /v1 routes then require it");
    cmd->add_option("--api-keys-file", o->api_keys_file, "file of accepted keys, one per line (plain or sha256:<hex>)");
    cmd->add_option("--allowed-models", o->allowed_models,
                    "file of approved model sha256s (sha256sum format works): refuse any other model");
    cmd->add_option("--audit-log", o->audit_log, "append one hash-chained JSON line per request to this file");
    cmd->add_flag("--audit-content", o->audit_content, "include prompt and completion text in the audit log");
    cmd->add_option("--np,--parallel", o->parallel, "sequences decoded together")->check(CLI::Range(1, 256));
    cmd->add_option("-c,--ctx-size", o->ctx, "context per sequence")->check(CLI::Range(16, 1 << 24));
    cmd->add_option("--kv-blocks", o->kv_blocks, "KV cache budget in blocks of 16 positions (default: parallel x ctx)");
    cmd->add_option("--max-queue", o->max_queue, "waiting requests before answering 503");
    cmd->add_option("--state-checkpoints", o->state_checkpoints,
                    "models with recurrent state (Qwen3.5/Next, DeepSeek-V4): states kept for prefix reuse (default 2 per sequence)")
        ->check(CLI::Range(0, 4096));
    cmd->add_option("-t,--threads", o->threads, "threads")->check(CLI::Range(1, 1024));
    cmd->callback([o] {
        std::signal(SIGPIPE, SIG_IGN);  // a client that disconnects must not end the server
        std::string name;
        o->model_path = resolve_model(o->model_path, &name);
        if (o->model_alias.empty()) o->model_alias = name;  // a store name is the id in the API
        server::Server srv(*o);
        if (o->port == 0) srv.bind_any_port();
        srv.run();
    });
}

void add_audit(CLI::App& app) {
    auto path = std::make_shared<std::string>();
    CLI::App* cmd = app.add_subcommand("audit", "Audit-log tools");
    CLI::App* verify = cmd->add_subcommand("verify", "Check the hash chain of an audit log");
    cmd->require_subcommand(1);
    verify->add_option("file", *path, "audit log")->required();
    verify->callback([path] {
        const std::string broken = server::AuditLog::verify(*path);
        if (broken.empty()) {
            std::printf("%s: ok\n", path->c_str());
            return;
        }
        fail(ErrorKind::kCorrupt, "{}: {}", *path, broken);
    });
}

}  // namespace sobre::cli
