#!/usr/bin/env bash
# Bad input to the CLI: one-line error naming the problem, exit 2 for usage errors and 1 for the
# rest, and nothing written to -o.
set -u
sobre=$1
models=$2/models
data=$3  # tests/data
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOBRE_HOME=$work/store
failures=0
passed=0

# expect NAME WANT_EXIT WANT_TEXT -- command...
expect() {
    local name=$1 want=$2 text=$3
    shift 4
    rm -f "$work/out.f32"
    "$@" >"$work/stdout" 2>"$work/stderr"
    local got=$?
    local lines
    lines=$(wc -l <"$work/stderr")
    if [[ $got -ne $want ]]; then
        echo "FAIL $name: exit $got, want $want"; cat "$work/stderr"; failures=$((failures + 1)); return
    fi
    if [[ $lines -ne 1 ]] || ! grep -qF -- "$text" "$work/stderr"; then
        echo "FAIL $name: want one line containing '$text', got:"; cat "$work/stderr"; failures=$((failures + 1)); return
    fi
    if ls "$work"/out.f32* >/dev/null 2>&1; then
        echo "FAIL $name: output file written"; failures=$((failures + 1)); return
    fi
    passed=$((passed + 1))
}

tokens=$models/llama-F32.tokens
echo "1 2 3" >"$work/ok.tokens"
echo "1 2 x3" >"$work/bad.tokens"
echo "1 600 3" >"$work/range.tokens"
echo "this is not a gguf file" >"$work/text.gguf"
head -c 1000 "$models/llama-F32.gguf" >"$work/truncated.gguf"
# A well-formed GGUF (v3, no tensors) whose architecture no engine row knows.
printf 'GGUF\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x14\x00\x00\x00\x00\x00\x00\x00general.architecture\x08\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00mamba' >"$work/mamba.gguf"

expect missing-model 1 "/no/such/model.gguf" -- "$sobre" logits -m /no/such/model.gguf --tokens-file "$tokens" -o "$work/out.f32"
expect not-gguf 1 "not a GGUF file" -- "$sobre" logits -m "$work/text.gguf" --tokens-file "$tokens" -o "$work/out.f32"
expect truncated 1 "truncated.gguf" -- "$sobre" logits -m "$work/truncated.gguf" --tokens-file "$tokens" -o "$work/out.f32"
expect unsupported-arch 1 "architecture 'mamba' is not supported (supported: llama" -- "$sobre" logits -m "$work/mamba.gguf" --tokens-file "$tokens" -o "$work/out.f32"
expect missing-tokens-file 1 "/no/such/tokens" -- "$sobre" logits -m "$models/llama-F32.gguf" --tokens-file /no/such/tokens -o "$work/out.f32"
expect bad-token-word 2 "'x3'" -- "$sobre" logits -m "$models/llama-F32.gguf" --tokens-file "$work/bad.tokens" -o "$work/out.f32"
expect token-out-of-range 2 "token id 600" -- "$sobre" logits -m "$models/llama-F32.gguf" --tokens-file "$work/range.tokens" -o "$work/out.f32"
expect over-long-prompt 1 "longer than the context of 8" -- "$sobre" logits -m "$models/llama-F32.gguf" --tokens-file "$tokens" -c 8 -o "$work/out.f32"
expect missing-flag 2 "--tokens-file" -- "$sobre" logits -m "$models/llama-F32.gguf" -o "$work/out.f32"
expect unknown-subcommand 2 "frobnicate" -- "$sobre" frobnicate
expect run-both-prompts 2 "exactly one of -p TEXT and --tokens IDS" -- "$sobre" run -m "$models/llama-F32.gguf" -p "hi" --tokens "1 2" -n 2
expect run-token-range 2 "token id 9999" -- "$sobre" run -m "$models/llama-F32.gguf" --tokens "1 9999" -n 2
expect run-over-long 1 "longer than the context of 2" -- "$sobre" run -m "$models/llama-F32.gguf" --tokens "1 2 3" -c 2 -n 2
expect synth-bad-type 2 "--type 'q9_9'" -- "$sobre" synth --preset tiny --type q9_9 -o "$work/out.f32"
expect synth-bad-preset 2 "--preset 'nope'" -- "$sobre" synth --preset nope -o "$work/out.f32"
expect synth-unknown-set-key 2 "--set: unknown key 'n_foo'" -- "$sobre" synth --preset tiny --set n_foo=1 -o "$work/out.f32"
expect synth-set-not-key-value 2 "--set 'vocab' is not key=value" -- "$sobre" synth --preset tiny --set vocab -o "$work/out.f32"
expect synth-set-bad-value 2 "--set vocab=12: must be an integer in [262," -- "$sobre" synth --preset tiny --set vocab=12 -o "$work/out.f32"
expect synth-set-wrong-arch 2 "--set n_expert: applies to mixture-of-experts models only" -- "$sobre" synth --preset tiny --set n_expert=4 -o "$work/out.f32"
expect synth-inconsistent-shape 2 "n_group = 3 must divide n_expert = 256" -- "$sobre" synth --preset deepseek-v3 --set n_group=3 -o "$work/out.f32"
expect synth-dense-lead 2 "n_dense_lead = 2 leaves no MoE layer among 2 layers" -- "$sobre" synth --preset deepseek-v3 --layers 2 --set n_dense_lead=2 -o "$work/out.f32"
expect synth-unfit-rows 1 "rows of 100 elements" -- "$sobre" synth --preset tiny --set n_embd=100 --type Q8_0 -o "$work/out.f32"
expect inspect-missing 1 "/no/such.gguf" -- "$sobre" inspect /no/such.gguf
# An output path in a missing directory: the error names it and no temporary file stays behind.
expect unwritable-output 1 "/no/such/dir/out.f32" -- "$sobre" logits -m "$models/llama-F32.gguf" --tokens-file "$work/ok.tokens" -o /no/such/dir/out.f32

expect quantize-unknown-type 2 "unknown quantization type 'Q7_K'" -- "$sobre" quantize "$models/llama-F32.gguf" "$work/out.f32" Q7_K
expect quantize-requantize 2 "--allow-requantize" -- "$sobre" quantize "$models/llama-Q8_0.gguf" "$work/out.f32" Q4_K_M
expect quantize-imatrix-missing 1 "$work/imatrix.gguf" -- "$sobre" quantize "$models/llama-F32.gguf" "$work/out.f32" Q4_K_M --imatrix "$work/imatrix.gguf"
expect quantize-imatrix-not-gguf 1 "legacy .dat format is not read" -- "$sobre" quantize "$models/llama-F32.gguf" "$work/out.f32" Q4_K_M --imatrix "$work/text.gguf"
expect quantize-imatrix-a-model 1 "missing imatrix metadata" -- "$sobre" quantize "$models/llama-F32.gguf" "$work/out.f32" Q4_K_M --imatrix "$models/llama-F32.gguf"
expect quantize-imatrix-other-model 2 "is the imatrix for another model?" -- "$sobre" quantize "$models/qwen2-F32.gguf" "$work/out.f32" Q4_K_M --imatrix "$data/imatrix/qwen3-F32.imatrix.gguf"
expect quantize-not-gguf 1 "text.gguf" -- "$sobre" quantize "$work/text.gguf" "$work/out.f32" Q8_0

# The hub client and the model store.
expect pull-not-a-repo 2 "'notarepo' is not a hub repository (want OWNER/NAME[:QUANT]" -- "$sobre" pull notarepo
expect pull-bad-quant 2 "'owner/name:Q4/K' is not a hub repository" -- "$sobre" pull owner/name:Q4/K
expect pull-bad-hub 2 "hub URL 'ftp://example.com' is not an http:// or https:// URL" -- "$sobre" pull owner/name --hub ftp://example.com
expect pull-unreachable 1 "GET http://127.0.0.1:1/api/models/owner/name/tree/main?recursive=true: Couldn't connect" -- "$sobre" pull owner/name:Q8_0 --hub http://127.0.0.1:1
expect pull-bad-token 2 "the hub token holds spaces or control characters" -- "$sobre" pull owner/name --token "a b" --hub http://127.0.0.1:1
expect pull-bad-name 2 "model name 'has space' is not valid" -- "$sobre" pull owner/name --name "has space" --hub http://127.0.0.1:1
expect models-show-missing 1 "no model named 'nope' in the store $work/store (models: none)" -- "$sobre" models show nope
expect models-rm-missing 1 "no model named 'nope'" -- "$sobre" models rm nope
expect models-add-not-gguf 1 "text.gguf" -- "$sobre" models add "$work/text.gguf"
expect models-add-missing 1 "/no/such.gguf" -- "$sobre" models add /no/such.gguf
expect models-add-bad-name 2 "model name '-x' is not valid" -- "$sobre" models add "$models/llama-Q8_0.gguf" --name=-x
expect models-no-subcommand 2 "A subcommand is required" -- "$sobre" models
mkdir -p "$work/badstore" && echo '{"version": 1, "models": {' >"$work/badstore/index.json"
expect models-corrupt-index 1 "$work/badstore/index.json: not valid JSON" -- "$sobre" models list --store "$work/badstore"
expect serve-allowed-missing 1 "/no/such/allowed: cannot open" -- "$sobre" serve -m "$models/llama-Q8_0.gguf" --allowed-models /no/such/allowed --port 0
printf '# approved\nnot-a-hash  model.gguf\n' >"$work/allowed-bad"
expect serve-allowed-bad-line 2 "$work/allowed-bad:2: expected a sha256 (64 hex digits) first, got 'not-a-hash'" -- "$sobre" serve -m "$models/llama-Q8_0.gguf" --allowed-models "$work/allowed-bad" --port 0
printf '# nothing approved yet\n' >"$work/allowed-empty"
expect serve-allowed-empty 2 "lists no sha256" -- "$sobre" serve -m "$models/llama-Q8_0.gguf" --allowed-models "$work/allowed-empty" --port 0
sha256sum "$models/llama-Q4_0.gguf" >"$work/allowed-q4"
expect serve-not-allowed 2 "is not in the allowed list $work/allowed-q4; only approved weights run" -- "$sobre" serve -m "$models/llama-Q8_0.gguf" --allowed-models "$work/allowed-q4" --port 0
expect run-unknown-name 1 "no-such-model" -- "$sobre" run -m no-such-model --tokens "1 2" -n 1

# perplexity and imatrix (eval/): the text must hold two chunks; -b must fit -c; the base file
# must be one; nothing is written on failure.
head -c 300 "$data/eval_text.txt" >"$work/short.txt"
expect ppl-short-text 2 "short.txt: the text is" -- "$sobre" perplexity -m "$models/qwen3-F32.gguf" -f "$work/short.txt" -c 128
expect ppl-missing-text 1 "/no/such.txt" -- "$sobre" perplexity -m "$models/qwen3-F32.gguf" -f /no/such.txt
expect ppl-no-text 2 "-f FILE" -- "$sobre" perplexity -m "$models/qwen3-F32.gguf"
expect ppl-bad-batch 2 "-b 200: the batch must be below the context (128) or a multiple of it" -- "$sobre" perplexity -m "$models/qwen3-F32.gguf" -f "$data/eval_text.txt" -c 128 -b 200
expect ppl-tiny-context 2 "-c 2" -- "$sobre" perplexity -m "$models/qwen3-F32.gguf" -f "$data/eval_text.txt" -c 2
expect ppl-bad-chunks 2 "--chunks 0" -- "$sobre" perplexity -m "$models/qwen3-F32.gguf" -f "$data/eval_text.txt" --chunks 0
expect kld-without-base 2 "--kl-divergence needs --kl-divergence-base" -- "$sobre" perplexity -m "$models/qwen3-F32.gguf" --kl-divergence
expect kld-not-a-base 2 "not a log-probability file" -- "$sobre" perplexity -m "$models/qwen3-F32.gguf" --kl-divergence --kl-divergence-base "$work/text.gguf"
expect kld-missing-base 1 "/no/such.kld" -- "$sobre" perplexity -m "$models/qwen3-F32.gguf" --kl-divergence --kl-divergence-base /no/such.kld
expect kld-base-short-text 2 "the text is" -- "$sobre" perplexity -m "$models/qwen3-F32.gguf" -f "$work/short.txt" -c 128 --kl-divergence-base "$work/out.f32"
expect kld-base-unwritable 1 "/no/such/dir/base.kld" -- "$sobre" perplexity -m "$models/qwen3-F32.gguf" -f "$data/eval_text.txt" -c 128 --chunks 2 --kl-divergence-base /no/such/dir/base.kld
expect imatrix-short-text 2 "short.txt: the text is" -- "$sobre" imatrix -m "$models/qwen3-F32.gguf" -f "$work/short.txt" -c 128 -o "$work/out.f32"
expect imatrix-not-gguf-model 1 "not a GGUF file" -- "$sobre" imatrix -m "$work/text.gguf" -f "$data/eval_text.txt" -o "$work/out.f32"
expect imatrix-unwritable 1 "/no/such/dir/i.gguf" -- "$sobre" imatrix -m "$models/qwen3-F32.gguf" -f "$data/eval_text.txt" -c 128 --chunks 2 -o /no/such/dir/i.gguf

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
