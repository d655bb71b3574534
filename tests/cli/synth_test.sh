#!/usr/bin/env bash
# `sobre synth` presets of mixture-of-experts models: each cut to 2 layers with narrow widths
# (--set) must load and run in sobre, and `sobre inspect` must report the expert layout of the
# model's published config.json. The per-tensor types of a file-type mix must be the ones the
# llama-quantize rules give the same tensors: synthesizing Q4_K_M directly must match
# `sobre quantize` of the F32 synthesis (whose byte-identity to llama-quantize the quantize
# tests pin down), plus spot checks taken from llama.cpp's use_more_bits rule.
set -u
sobre=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0
check() {  # check NAME CONDITION-COMMAND...
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); else echo "FAIL $name"; failures=$((failures + 1)); fi
}
has_line() {  # has_line FILE TEXT: FILE has a line starting with TEXT
    grep -qF -- "$2" "$1" || { echo "  $1 lacks: $2"; return 1; }
}
finite_logits() {  # finite_logits MODEL: prefill logits exist and hold no NaN or infinity
    echo "1 300 301 302" >"$work/prompt.tokens"
    "$sobre" logits -m "$1" --tokens-file "$work/prompt.tokens" -o "$work/logits.f32" -t 2 2>/dev/null &&
        [[ -s "$work/logits.f32" ]] && ! od -An -f "$work/logits.f32" | grep -qiE 'nan|inf'
}

# Narrow widths keep each file small; counts (experts, heads, groups, shared, dense lead) stay
# the preset's. Q8_0 needs rows that are multiples of 32.
narrow=(--set vocab=512 --set n_embd=128 --set n_ff=256 --set n_ff_exp=32)
mla=(--set kv_lora_rank=64 --set qk_nope=32 --set v_head_dim=32)
# preset | extra --set | `inspect` lines from config.json (experts, used, shared, leading dense
# layers clipped to 1 by the 2-layer cut, groups used/total, gating, norm_topk_prob, scaling)
moe_case() {
    local preset=$1 expect_heads=$2 expect_moe=$3
    shift 3
    local f="$work/$preset.gguf"
    "$sobre" synth --preset "$preset" --layers 2 "${narrow[@]}" "$@" --type Q8_0 -t 2 -o "$f" 2>/dev/null
    check "$preset-writes" test -s "$f"
    "$sobre" inspect "$f" >"$work/$preset.txt" 2>&1
    check "$preset-layers" has_line "$work/$preset.txt" "n_layer: 2"
    check "$preset-heads" has_line "$work/$preset.txt" "n_head: $expect_heads"
    check "$preset-moe" has_line "$work/$preset.txt" "moe: $expect_moe"
    check "$preset-finite-logits" finite_logits "$f"
    rm -f "$f"
}
moe_case qwen3-30b-a3b 32 "128 experts, 8 used, ff 32, 0 shared, 0 dense lead, groups 1/1, gating softmax, norm yes"
moe_case deepseek-v2-lite 16 "64 experts, 6 used, ff 32, 2 shared, 1 dense lead, groups 1/1, gating softmax, norm no, scale 1" "${mla[@]}"
moe_case deepseek-v3 128 "256 experts, 8 used, ff 32, 1 shared, 1 dense lead, groups 4/8, gating sigmoid, norm yes, scale 2.5" "${mla[@]}" --set q_lora_rank=64
moe_case kimi-k2 64 "384 experts, 8 used, ff 32, 1 shared, 1 dense lead, groups 1/1, gating sigmoid, norm yes, scale 2.827" "${mla[@]}" --set q_lora_rank=64
moe_case glm-4.5-air 96 "128 experts, 8 used, ff 32, 1 shared, 1 dense lead, groups 1/1, gating sigmoid, norm yes, scale 1"
moe_case minimax-m2 48 "256 experts, 8 used, ff 32, 0 shared, 0 dense lead, groups 1/1, gating sigmoid, norm yes, scale 0"
check deepseek-v3-mla has_line "$work/deepseek-v3.txt" "mla: q_lora_rank 64, kv_lora_rank 64, qk_nope 32, qk_rope 64, v_head_dim 32"
check deepseek-v2-lite-no-q-lora has_line "$work/deepseek-v2-lite.txt" "mla: q_lora_rank 0,"
check glm-4.5-air-partial-rope has_line "$work/glm-4.5-air.txt" "rope: neox n_dims=64 base=1000000"
check deepseek-v3-yarn has_line "$work/deepseek-v3.txt" "freq_scale=0.025"

# The tensor lines of `inspect` (name, type, shape, bytes), sorted.
tensor_lines() { "$sobre" inspect "$1" | grep -E '^  (token_embd|output|blk)\.' | sort; }
mix_case() {
    local name=$1
    shift
    "$sobre" synth "$@" --type F32 -t 2 -o "$work/$name-f32.gguf" 2>/dev/null
    "$sobre" synth "$@" --type Q4_K_M -t 2 -o "$work/$name-q4km.gguf" 2>/dev/null
    "$sobre" quantize "$work/$name-f32.gguf" "$work/$name-quantized.gguf" Q4_K_M -t 2 >/dev/null 2>&1
    tensor_lines "$work/$name-q4km.gguf" >"$work/$name-synth.txt"
    tensor_lines "$work/$name-quantized.gguf" >"$work/$name-quantized.txt"
    check "$name-mix-as-quantize" diff "$work/$name-synth.txt" "$work/$name-quantized.txt"
    check "$name-mix-has-tensors" test "$(wc -l <"$work/$name-synth.txt")" -gt 20
}
type_of() { grep -E "^  $2 " "$work/$1-synth.txt" | awk '{print $2}'; }
mix_case qwen3moe --preset qwen3-30b-a3b --layers 4 --set vocab=512 --set n_embd=256 --set n_expert=16 \
    --set n_ff_exp=256 --set n_head=4 --set n_head_kv=2
# use_more_bits(i, 4) holds for layers 2 and 3 only: attn_v and ffn_down get q6_K there.
check mix-output-q6_K test "$(type_of qwen3moe output.weight)" = q6_K
check mix-embd-q4_K test "$(type_of qwen3moe token_embd.weight)" = q4_K
check mix-attn-v-0-q4_K test "$(type_of qwen3moe blk.0.attn_v.weight)" = q4_K
check mix-attn-v-3-q6_K test "$(type_of qwen3moe blk.3.attn_v.weight)" = q6_K
check mix-down-1-q4_K test "$(type_of qwen3moe blk.1.ffn_down_exps.weight)" = q4_K
check mix-down-2-q6_K test "$(type_of qwen3moe blk.2.ffn_down_exps.weight)" = q6_K
check mix-router-f32 test "$(type_of qwen3moe blk.0.ffn_gate_inp.weight)" = f32
# DeepSeek's 128-wide attn_k_b rows do not fit q4_K blocks: llama-quantize's fallback is q5_0.
mix_case deepseek2 --preset deepseek-v2-lite --layers 3 --set vocab=512 --set n_embd=256 --set n_ff=256 \
    --set n_expert=16 --set n_ff_exp=256 --set kv_lora_rank=128
check mix-k_b-fallback-q5_0 test "$(type_of deepseek2 blk.1.attn_k_b.weight)" = q5_0

# Same seed, same bytes, whatever the thread count; another seed, other bytes.
"$sobre" synth --preset tiny -t 1 -o "$work/a.gguf" 2>/dev/null
"$sobre" synth --preset tiny -t 3 -o "$work/b.gguf" 2>/dev/null
"$sobre" synth --preset tiny --seed 2 -o "$work/c.gguf" 2>/dev/null
check deterministic-across-threads cmp -s "$work/a.gguf" "$work/b.gguf"
check seed-changes-weights sh -c "! cmp -s '$work/a.gguf' '$work/c.gguf'"

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
