#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "tokenizer/encode.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/vocab.h"

namespace sobre::tokenizer {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// SPM sees spaces as U+2581; one is put in front of text that starts a fragment when the
// vocabulary asks (add_space_prefix), so "Hello" and " Hello" both begin with "▁Hello".
std::string escape_spaces(std::string_view text, bool prefix) {
    std::string out;
    out.reserve(text.size() + 8);
    if (prefix) out += kSpaceMarker;
    for (char c : text) {
        if (c == ' ') {
            out += kSpaceMarker;
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
    std::unique_ptr<Tokenizer> t(new Tokenizer());
    t->vocab_ = std::make_unique<Vocab>(load_vocab(file));
    if (t->vocab_->kind == VocabKind::kBpe) {
        t->splitter_ = std::make_unique<RegexSplitter>(t->vocab_->pre_spec->patterns);
    }
    t->pieces_.reserve(t->vocab_->tokens.size());
    for (int32_t id = 0; id < t->vocab_->n_tokens(); ++id) {
        t->pieces_.push_back(render_piece(*t->vocab_, id));
    }
    return t;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
    const Vocab& v = *vocab_;
    std::vector<int32_t> out;
    if (add_special && v.add_bos) out.push_back(v.bos);
    bool after_special = true;  // SPM: the text start counts as following a special token
    for (const Fragment& f : split_special(v, text, parse_special)) {
        if (f.token != kNoToken) {
            out.push_back(f.token);
            after_special = true;
            continue;
        }
        const std::string_view raw = text.substr(f.begin, f.end - f.begin);
        if (v.kind == VocabKind::kSpm) {
            encode_spm(v, escape_spaces(raw, v.add_space_prefix && after_special), out);
        } else {
            encode_bpe(v, *splitter_, raw, out);
        }
        after_special = false;
    }
    if (add_special && v.add_eos) out.push_back(v.eos);
    return out;
}

int32_t Tokenizer::n_tokens() const { return vocab_->n_tokens(); }
const std::string& Tokenizer::token_text(int32_t id) const {
    return vocab_->tokens.at(static_cast<size_t>(id)).text;
}
int32_t Tokenizer::bos() const { return vocab_->bos; }
int32_t Tokenizer::eos() const { return vocab_->eos; }
int32_t Tokenizer::eot() const { return vocab_->eot; }
int32_t Tokenizer::unk() const { return vocab_->unk; }
int32_t Tokenizer::pad() const { return vocab_->pad; }
bool Tokenizer::add_bos() const { return vocab_->add_bos; }
bool Tokenizer::add_eos() const { return vocab_->add_eos; }
bool Tokenizer::is_eog(int32_t id) const { return vocab_->eog.count(id) != 0; }
const std::string& Tokenizer::model() const { return vocab_->model; }
const std::string& Tokenizer::pre() const { return vocab_->pre; }

bool Tokenizer::is_control(int32_t id) const {
    return id >= 0 && id < vocab_->n_tokens() && vocab_->has(id, kAttrControl | kAttrUnknown);
}

}  // namespace sobre::tokenizer
