// `sobre tokenize` and `sobre detokenize`: a model's tokenizer from the command line.
//   sobre tokenize -m MODEL (-p TEXT | -f FILE) [--bos] [--parse-special] [--pieces]
//   sobre detokenize -m MODEL --ids "1 2 3" [--special]
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/common.h"
#include "core/error.h"
#include "gguf/reader.h"
#include "tokenizer/tokenizer.h"

namespace sobre::cli {
namespace {

struct TokenizeArgs {
    std::string model;
    std::string prompt;
    std::string file;
    bool bos = false;
    bool parse_special = false;
    bool pieces = false;
};

struct DetokenizeArgs {
    std::string model;
    std::string ids;
    bool special = false;
};

std::unique_ptr<tokenizer::Tokenizer> load_tokenizer(const std::string& path) {
    const gguf::File file = gguf::File::open(path);
    return tokenizer::Tokenizer::from_gguf(file);
}

// Length of the well-formed UTF-8 sequence at s[i]; 0 if there is none.
size_t utf8_char(const std::string& s, size_t i) {
    const auto b = static_cast<unsigned char>(s[i]);
    const size_t n = b >= 0xC2 && b <= 0xDF   ? 2
                     : b >= 0xE0 && b <= 0xEF ? 3
                     : b >= 0xF0 && b <= 0xF4 ? 4
                                              : 0;
    if (n == 0 || i + n > s.size()) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    const unsigned char lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
    if (b1 < lo || b1 > hi) return 0;
    for (size_t k = 2; k < n; ++k) {
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
    }
    return n;
}

// A piece made printable on one line: C escapes for control characters, backslash and quote,
// \xNN for bytes that are not whole UTF-8 characters (a piece may end inside one).
std::string escape_piece(const std::string& piece) {
    std::string out;
    for (size_t i = 0; i < piece.size();) {
        const auto c = static_cast<unsigned char>(piece[i]);
        if (c >= 0x80) {
            const size_t n = utf8_char(piece, i);
            if (n > 0) {
                out.append(piece, i, n);
                i += n;
                continue;
            }
        }
        switch (c) {
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\\': out += "\\\\"; break;
            case '\'': out += "\\'"; break;
            default:
                out += c < 0x20 || c >= 0x7F ? fmt::format("\\x{:02X}", c)
                                             : std::string(1, static_cast<char>(c));
        }
        ++i;
    }
    return out;
}

void run_tokenize(const TokenizeArgs& a) {
    const std::string text = a.file.empty() ? a.prompt : read_file(a.file);
    const auto tok = load_tokenizer(a.model);
    const std::vector<int32_t> ids = tok->encode(text, a.bos, a.parse_special);
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i > 0) line += ' ';
        line += std::to_string(ids[i]);
    }
    std::printf("%s\n", line.c_str());
    if (!a.pieces) return;
    for (const int32_t id : ids) {
        std::printf("%d '%s'\n", id, escape_piece(tok->token_to_piece(id, true)).c_str());
    }
}

void run_detokenize(const DetokenizeArgs& a) {
    const std::vector<int32_t> ids = parse_token_ids(a.ids, "--ids");
    const auto tok = load_tokenizer(a.model);
    const std::string text = tok->decode(ids, a.special);
    std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace

void add_tokenize(CLI::App& app) {
    auto args = std::make_shared<TokenizeArgs>();
    CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text, on one line");
    cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
    CLI::Option* prompt = cmd->add_option("-p,--prompt", args->prompt, "text to tokenize");
    CLI::Option* file =
        cmd->add_option("-f,--file", args->file, "file to tokenize (all of it, nothing stripped)");
    prompt->excludes(file);
    cmd->add_flag("--bos", args->bos, "add BOS / EOS as the model's metadata asks");
    cmd->add_flag("--parse-special", args->parse_special,
                  "text spelling a control token becomes that token");
    cmd->add_flag("--pieces", args->pieces, "after the ids, print each id and its piece on a line");
    cmd->callback([args, prompt, file] {
        if (prompt->count() == 0 && file->count() == 0) {
            fail(ErrorKind::kInvalidArgument, "tokenize: give the text with -p TEXT or -f FILE");
        }
        run_tokenize(*args);
    });

    auto dargs = std::make_shared<DetokenizeArgs>();
    CLI::App* dcmd =
        app.add_subcommand("detokenize", "Print the text of token ids (nothing added)");
    dcmd->add_option("-m,--model", dargs->model, "GGUF model file")->required();
    dcmd->add_option("--ids", dargs->ids, "token ids, separated by spaces")->required();
    dcmd->add_flag("--special", dargs->special, "render control tokens (BOS, <|im_end|>, ...)");
    dcmd->callback([dargs] { run_detokenize(*dargs); });
}

}  // namespace sobre::cli
