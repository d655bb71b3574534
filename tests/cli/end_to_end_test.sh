#!/usr/bin/env bash
# The newcomer's path: make the bundled model, run it, inspect it, dump logits.
set -u
sobre=$1
models=$2/models
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0
check() {  # check NAME CONDITION-COMMAND...
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); else echo "FAIL $name"; failures=$((failures + 1)); fi
}

"$sobre" synth --preset tiny --type q8_0 -o "$work/tiny.gguf" 2>/dev/null
check synth-writes-file test -s "$work/tiny.gguf"
check synth-leaves-no-temp test ! -e "$work/tiny.gguf.tmp"

a=$("$sobre" run -m "$work/tiny.gguf" --tokens "1 300 301" -n 12 --seed 7 -t 2 --ignore-eos)
b=$("$sobre" run -m "$work/tiny.gguf" --tokens "1 300 301" -n 12 --seed 7 -t 2 --ignore-eos)
check run-is-deterministic test "$a" = "$b"
check run-prints-12-ids test "$(echo "$a" | wc -w)" -eq 12
g1=$("$sobre" run -m "$work/tiny.gguf" --tokens "1 300 301" -n 8 --temp 0 -t 1 --ignore-eos)
g2=$("$sobre" run -m "$work/tiny.gguf" --tokens "1 300 301" -n 8 --temp 0 -t 2 --ignore-eos)
check greedy-same-across-threads test "$g1" = "$g2"

t1=$("$sobre" run -m "$work/tiny.gguf" -p "Once upon a time" -n 8 --seed 3 -t 2 --ignore-eos)
t2=$("$sobre" run -m "$work/tiny.gguf" -p "Once upon a time" -n 8 --seed 3 -t 2 --ignore-eos)
check run-text-prompt-deterministic test -n "$t1" -a "$t1" = "$t2"

"$sobre" inspect "$work/tiny.gguf" >"$work/inspect.txt"
check inspect-arch grep -q "^architecture: llama" "$work/inspect.txt"
check inspect-tokenizer grep -q "^tokenizer: llama, pre default, 512 tokens" "$work/inspect.txt"
check inspect-tensor grep -qE "blk\.1\.ffn_down\.weight +q8_0 +\{384, 128\} +52224" "$work/inspect.txt"
check inspect-chat-template grep -q "chat template yes" "$work/inspect.txt"
check inspect-hybrid-state sh -c "'$sobre' inspect --kv-per-token '$models/qwen35-F32.gguf' | grep -q '^state_bytes_per_sequence: [1-9]'"

kv=$("$sobre" inspect --kv-per-token "$models/deepseek2-v3-Q8_0.gguf")
check kv-per-token-mla sh -c "echo '$kv' | grep -q '^kv_bytes_per_token: 640 '"
check kv-per-token-mha sh -c "echo '$kv' | grep -q '^mha_kv_bytes_per_token: 1536 '"

"$sobre" logits -m "$models/qwen2-Q8_0.gguf" --tokens-file "$models/qwen2-Q8_0.tokens" -o "$work/batch.f32" -t 2
"$sobre" logits -m "$models/qwen2-Q8_0.gguf" --tokens-file "$models/qwen2-Q8_0.tokens" -o "$work/seq.f32" -t 1 --one-by-one
check logits-size test "$(stat -c %s "$work/batch.f32")" -eq 81920
check logits-one-by-one-size test "$(stat -c %s "$work/seq.f32")" -eq 81920

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
