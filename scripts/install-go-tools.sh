#!/usr/bin/env bash
# Installs the Go interop tools (grpcurl, ghz, h2spec) into the repo-local .interop/bin with `go install`.
# Idempotent: a tool already at its pinned version is not rebuilt. Needs `go` on PATH (or in /usr/local/go/bin).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.interop/bin"
mkdir -p "$bin"
export GOBIN="$bin"
export PATH="$PATH:/usr/local/go/bin"
# Keep Go's caches out of the repo but stable across runs, so reinstalls are fast.
export GOPATH="${GOPATH:-$HOME/go}"
export GOFLAGS="${GOFLAGS:-} -trimpath"

if ! command -v go >/dev/null 2>&1; then
  echo "install-go-tools: go is not installed; skipping grpcurl/ghz/h2spec" >&2
  exit 1
fi

# name  module@version (pinned). h2spec's v2 tags predate Go modules, hence +incompatible.
tools=(
  "grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3"
  "ghz     github.com/bojand/ghz/cmd/ghz@v0.120.0"
  "h2spec  github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible"
)

for entry in "${tools[@]}"; do
  read -r name module <<<"$entry"
  stamp="$bin/.$name.version"
  if [[ -x "$bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$module" ]]; then
    echo "install-go-tools: $name already installed ($module)"
    continue
  fi
  echo "install-go-tools: go install $module"
  go install "$module"
  echo "$module" >"$stamp"
done
