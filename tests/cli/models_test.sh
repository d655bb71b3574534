#!/usr/bin/env bash
# The model store from the command line: pull from a local fake hub (whole, resumed, corrupted,
# garbage), models list/show/add/verify/rm, -m NAME in run and serve, serve --allowed-models.
# Expected hashes come from sha256sum, not from sobre.
set -u
sobre=$1
models=$2/models
fake_hub=$3
work=$(mktemp -d)
export SOBRE_HOME=$work/store
unset HF_TOKEN HF_ENDPOINT http_proxy all_proxy ALL_PROXY  # the fake hub is on 127.0.0.1
hub_pid=""
serve_pid=""
cleanup() {
    [[ -n $hub_pid ]] && kill "$hub_pid" 2>/dev/null
    [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
failures=0
passed=0
check() {  # check NAME CONDITION-COMMAND...
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); else echo "FAIL $name"; failures=$((failures + 1)); fi
}
# Waits up to 20 s for FILE to contain TEXT.
wait_for() {
    for _ in $(seq 200); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
start_hub() {  # start_hub [fake hub options] REPO FILE...
    : >"$work/hub.url"
    "$fake_hub" "$@" >"$work/hub.url" &
    hub_pid=$!
    wait_for "$work/hub.url" "http://" || { echo "fake hub did not start"; exit 1; }
    hub=$(head -1 "$work/hub.url")
}
stop_hub() {
    kill "$hub_pid"
    wait "$hub_pid" 2>/dev/null
    hub_pid=""
}
one_line() { [[ $(wc -l <"$1") -eq 1 ]] && grep -qF -- "$2" "$1"; }

repo=fixture/llama-GGUF
stored=$SOBRE_HOME/models/$repo
sha_q8=$(sha256sum "$models/llama-Q8_0.gguf" | cut -d' ' -f1)
sha_q4=$(sha256sum "$models/llama-Q4_0.gguf" | cut -d' ' -f1)

# A whole pull; stderr is not a terminal, so it carries no progress bar.
start_hub "$repo" "$models/llama-Q8_0.gguf" "$models/llama-Q4_0.gguf"
first_hub=$hub
"$sobre" pull "$repo:q8_0" --hub "$hub" >"$work/out" 2>"$work/err"
check pull-exit test $? -eq 0
check pull-says-what grep -qF "pulled llama-Q8_0 (Q8_0, 901.7 KiB), sha256 $sha_q8: $stored/llama-Q8_0.gguf" "$work/out"
check pull-quiet-stderr test ! -s "$work/err"
check pull-stored-file cmp -s "$stored/llama-Q8_0.gguf" "$models/llama-Q8_0.gguf"
check pull-no-part test ! -e "$stored/llama-Q8_0.gguf.part"
"$sobre" pull "$repo:Q8_0" --hub "$hub" >"$work/out" 2>&1
check pull-again-present grep -qF "already present: llama-Q8_0" "$work/out"
"$sobre" pull "$repo" --hub "$hub" >"$work/out" 2>"$work/err"
check pull-ambiguous-exit test $? -eq 2
check pull-ambiguous-lists one_line "$work/err" "several GGUF files: llama-Q8_0.gguf, llama-Q4_0.gguf; name one with :QUANT"
stop_hub

# A corrupted transfer is detected, deleted and not registered.
start_hub --corrupt "$repo" "$models/llama-Q4_0.gguf"
"$sobre" pull "$repo:Q4_0" --hub "$hub" >"$work/out" 2>"$work/err"
check corrupt-exit test $? -eq 1
check corrupt-says one_line "$work/err" "sha256 mismatch: the hub publishes $sha_q4"
check corrupt-deleted test ! -e "$stored/llama-Q4_0.gguf.part" -a ! -e "$stored/llama-Q4_0.gguf"
stop_hub

# A transfer cut midway resumes with a Range request within the same pull.
start_hub --cut-once 200000 "$repo" "$models/llama-Q4_0.gguf"
"$sobre" pull "$repo:Q4_0" --hub "$hub" >"$work/out" 2>"$work/err"
check resumed-exit test $? -eq 0
check resumed-file cmp -s "$stored/llama-Q4_0.gguf" "$models/llama-Q4_0.gguf"
stop_hub

# A hub that answers garbage.
start_hub --garbage "$repo" "$models/llama-Q4_0.gguf"
"$sobre" pull "$repo:Q4_0" --hub "$hub" >"$work/out" 2>"$work/err"
check garbage-exit test $? -eq 1
check garbage-says one_line "$work/err" "the hub's answer is not a file listing (a JSON array); it starts with '<html>"
stop_hub

# list and show.
"$sobre" models list >"$work/list"
check list-q8 grep -qE "^llama-Q8_0 +Q8_0 +901.7 KiB +${sha_q8:0:12} +[0-9T:Z-]+ +$first_hub/$repo@main:llama-Q8_0.gguf$" "$work/list"
check list-q4 grep -qE "^llama-Q4_0 +Q4_0 " "$work/list"
"$sobre" models show llama-Q8_0 >"$work/show"
check show-sha grep -qx "sha256: $sha_q8" "$work/show"
check show-repo grep -qx "repo: $repo" "$work/show"
check show-file grep -qx "hub_file: llama-Q8_0.gguf" "$work/show"
check show-quant grep -qx "quantization: Q8_0" "$work/show"

# -m NAME runs the stored file.
a=$("$sobre" run -m llama-Q8_0 --tokens "1 300 301" -n 6 --temp 0 -t 1 --ignore-eos 2>/dev/null)
b=$("$sobre" run -m "$models/llama-Q8_0.gguf" --tokens "1 300 301" -n 6 --temp 0 -t 1 --ignore-eos 2>/dev/null)
check run-by-name test -n "$a" -a "$a" = "$b"

# add registers a local file in place; rm then keeps it.
"$sobre" models add "$models/llama-Q4_K_M.gguf" --name local-q4km >"$work/out"
check add-says grep -qF "added local-q4km (Q4_K_M, 547.3 KiB), sha256 $(sha256sum "$models/llama-Q4_K_M.gguf" | cut -d' ' -f1)" "$work/out"
"$sobre" models rm local-q4km >"$work/out"
check rm-keeps-local test -e "$models/llama-Q4_K_M.gguf"
check rm-local-says grep -qF "kept, as it was registered in place" "$work/out"

# verify finds a changed file; rm deletes a pulled one.
"$sobre" models verify >"$work/out" 2>"$work/err"
check verify-ok test $? -eq 0
check verify-ok-lines test "$(grep -c ': ok$' "$work/out")" -eq 2
printf 'X' | dd of="$stored/llama-Q4_0.gguf" bs=1 seek=4096 conv=notrunc status=none
"$sobre" models verify >"$work/out" 2>"$work/err"
check verify-bad-exit test $? -eq 1
check verify-bad-line grep -qF "llama-Q4_0: SHA256 MISMATCH $stored/llama-Q4_0.gguf hashes to" "$work/out"
check verify-good-line grep -qx "llama-Q8_0: ok" "$work/out"
check verify-bad-err one_line "$work/err" "1 of 2 models in $SOBRE_HOME failed verification"
"$sobre" models rm llama-Q4_0 >/dev/null
check rm-deletes test ! -e "$stored/llama-Q4_0.gguf"
check rm-unlisted sh -c "! '$sobre' models list | grep -q llama-Q4_0"

# serve --allowed-models: sha256sum output is an allow-list; a model not on it never loads.
sha256sum "$models/llama-Q8_0.gguf" >"$work/allowed"
"$sobre" serve -m "$models/llama-Q4_0.gguf" --allowed-models "$work/allowed" --port 0 >"$work/out" 2>"$work/err"
check refused-exit test $? -eq 2
check refused-says one_line "$work/err" "sha256 $sha_q4 is not in the allowed list $work/allowed; only approved weights run"
"$sobre" serve -m llama-Q8_0 --allowed-models "$work/allowed" --port 0 -t 1 >"$work/out" 2>"$work/err" &
serve_pid=$!
check allowed-serves wait_for "$work/err" "sobre: serving llama-Q8_0 (sha256 $sha_q8) on http://127.0.0.1:"
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null
serve_pid=""

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
