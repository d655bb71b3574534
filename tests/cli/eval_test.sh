#!/usr/bin/env bash
# `sobre quantize --imatrix` against llama-quantize --imatrix byte for byte (the sha256s and
# commands in tests/data/imatrix/quantize_sha256.tsv), and the plumbing of `sobre perplexity`
# and `sobre imatrix`: what they print, against llama.cpp's numbers in tests/data/eval.
set -u
sobre=$(realpath "$1")
models=$(realpath "$2")/models
data=$(realpath "$3")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0

fail() { echo "FAIL $*"; failures=$((failures + 1)); }
# near GOT WANT REL: |GOT - WANT| <= REL * |WANT|
near() { awk -v g="$1" -v w="$2" -v r="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; a = w < 0 ? -w : w; exit !(d <= r * a) }'; }

# 1. quantize --imatrix: run from the imatrix folder, as llama-quantize was (the --imatrix
#    argument is recorded in the output).
cd "$data/imatrix" || exit 1
while IFS=$'\t' read -r model type sha; do
    [[ -z $model || $model == \#* ]] && continue
    if ! "$sobre" quantize --imatrix "$model-F32.imatrix.gguf" "$models/$model-F32.gguf" "$work/q.gguf" "$type" -t 2 \
        2>"$work/stderr"; then
        fail "quantize $model $type:"; cat "$work/stderr"; continue
    fi
    got=$(sha256sum "$work/q.gguf" | cut -d' ' -f1)
    if [[ $got != "$sha" ]]; then fail "quantize $model $type: sha256 $got, llama-quantize wrote $sha"; continue; fi
    passed=$((passed + 1))
done <quantize_sha256.tsv

# 2. perplexity: llama-perplexity's lines, its numbers within 0.1% (perplexity_llama.tsv row 1).
cd "$data" || exit 1
if "$sobre" perplexity -m "$models/qwen3-F32.gguf" -f eval_text.txt -c 128 --chunks 8 -t 2 >"$work/ppl" 2>/dev/null &&
    grep -qE '^(\[[0-9]+\][0-9]+\.[0-9]{4},){8}$' "$work/ppl" &&
    ppl=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\) +\/- [0-9.]*$/\1/p' "$work/ppl") && [[ -n $ppl ]] &&
    near "$ppl" 555.5339 0.001; then
    passed=$((passed + 1))
else
    fail "perplexity:"; cat "$work/ppl"
fi

# 3. KL divergence: a base file, then the table and report (kld_llama.tsv: qwen3-Q2_K).
if "$sobre" perplexity -m "$models/qwen3-F32.gguf" -f eval_text.txt -c 128 --chunks 8 -t 2 \
        --kl-divergence-base "$work/base.kld" >/dev/null 2>&1 &&
    "$sobre" perplexity -m "$models/qwen3-Q2_K.gguf" -t 2 --kl-divergence-base "$work/base.kld" --kl-divergence \
        >"$work/kld" 2>/dev/null &&
    grep -q '^chunk             PPL               ln(PPL(Q)/PPL(base))' "$work/kld" &&
    [[ $(grep -cE '^ +[0-9]+ +[0-9.]+ ± ' "$work/kld") -eq 8 ]] &&
    kld=$(sed -n 's/^Mean    KLD: *\([0-9.]*\) ± .*/\1/p' "$work/kld") && [[ -n $kld ]] && near "$kld" 0.015999 0.002 &&
    grep -q '^Same top p: ' "$work/kld"; then
    passed=$((passed + 1))
else
    fail "kl-divergence:"; cat "$work/kld"
fi

# 4. imatrix: collected, written, and taken by quantize.
if "$sobre" imatrix -m "$models/qwen3moe-F32.gguf" -f eval_text.txt -o "$work/moe.imatrix.gguf" -c 128 --chunks 8 -t 2 \
        >"$work/imatrix" 2>"$work/stderr" &&
    grep -q '^Final estimate: PPL = ' "$work/imatrix" &&
    grep -q "wrote $work/moe.imatrix.gguf: 16 entries over 8 chunks of 128 tokens" "$work/stderr" &&
    "$sobre" quantize --imatrix "$work/moe.imatrix.gguf" "$models/qwen3moe-F32.gguf" "$work/q.gguf" Q4_K_M -t 2 2>/dev/null; then
    passed=$((passed + 1))
else
    fail "imatrix:"; cat "$work/imatrix" "$work/stderr"
fi

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
