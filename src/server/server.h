// `sobre serve`: an OpenAI-compatible HTTP server over one model, with API keys, an audit trail,
// Prometheus metrics and a chat page. Binds 127.0.0.1 unless told otherwise; makes no outbound
// connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sobre::server {

struct ServerOptions {
    std::string model_path;
    std::string model_alias;          // id in /v1/models (default: the file name)
    std::string host = "127.0.0.1";
    int port = 8080;
    std::vector<std::string> api_keys;
    std::string api_keys_file;
    std::string allowed_models;       // file of approved sha256s; empty: any model may load
    std::string audit_log;            // empty: no audit trail
    bool audit_content = false;       // include prompt and completion text in audit lines
    int parallel = 4;                 // sequences decoded together
    int64_t ctx = 4096;               // context per sequence
    int64_t kv_blocks = 0;            // KV budget in blocks of 16 positions (0: parallel x ctx)
    size_t max_queue = 64;            // waiting requests beyond this get 503
    int state_checkpoints = 0;        // hybrid models: saved recurrent states for prefix reuse (0: 2 per sequence)
    int threads = 0;                  // 0: hardware threads
    size_t max_body_bytes = 8 << 20;  // larger request bodies get 413
};

class Server {
   public:
    // Loads the model, tokenizer and chat template. Throws Error naming what is wrong.
    explicit Server(const ServerOptions& options);
    ~Server();
    // Binds and serves until stop(). Throws Error(kIo) when the address cannot be bound.
    void run();
    // Binds to an ephemeral port on the host and returns it (tests); then call run().
    int bind_any_port();
    void stop();

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sobre::server
