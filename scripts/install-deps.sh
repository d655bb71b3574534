#!/usr/bin/env bash
# Installs everything sobre needs to build and test, from Debian 12 packages only.
set -euo pipefail
packages=(
  g++ cmake make                  # toolchain
  libfmt-dev libcli11-dev         # formatting, command line
  nlohmann-json3-dev libpcre2-dev # JSON, Unicode regex (tokenizers)
  libgtest-dev libbenchmark-dev   # tests, micro-benchmarks
  libcpp-httplib-dev libssl-dev   # HTTP server, SHA-256
  libcurl4-openssl-dev            # downloads (sobre pull)
  clang libclang-rt-14-dev        # libFuzzer target (the fuzz preset)
  chromium                        # the chat page test (headless, driven by playwright-core)
)
# Node.js for the end-to-end tests: taken as found (this machine's may come from elsewhere than
# Debian, bundling npm); Debian's packages otherwise.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# npm packages of the end-to-end tests (the official OpenAI client), pinned by package-lock.json.
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ ! -d "$here/tests/e2e/node_modules/openai" ]]; then
  npm ci --prefix "$here/tests/e2e" --no-audit --no-fund --loglevel=error
fi
