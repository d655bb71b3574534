// Template parser: Jinja2's grammar (precedence, tests, filters, tuples, statements) over the
// lexer's tokens. ref: jinja2/parser.py (Jinja2 3.1).
#pragma once

#include <memory>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/lexer.h"

namespace sobre::chat::jinja {

// Blocks and expressions nested deeper than this are refused, so parsing and rendering never
// exhaust the stack on hostile input.
constexpr int kMaxParseDepth = 128;

// Parses a token stream (ending in kEof). Throws Error(kInvalidArgument) "template line N: ..."
// for syntax errors: unknown tags, unclosed blocks, misplaced break/continue, bad targets.
// Unknown filters and tests are not syntax errors: they fail when rendering reaches them, as in
// Jinja2, so a template with an unsupported filter on an untaken branch still renders.
std::unique_ptr<Program> parse(std::vector<Token> tokens);

}  // namespace sobre::chat::jinja
