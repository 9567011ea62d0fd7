#!/usr/bin/env bash
# Builds the real `hubble` CLI and `hubble-relay` from the cilium/cilium Go module (the module proxy refuses
# github.com/cilium/hubble, and `go install` of the cilium module trips on a replace line hubble does not use)
# into ${PORTCULLIS_TOOLS:-$HOME/.cache/portcullis}/hubble-<version>/, outside the repo so CI re-runs reuse it.
# Idempotent: nothing is built while both binaries are there. Also leaves the module (and its api/v1 protos,
# which scripts/generate-hubble.mjs reads) in Go's module cache.
set -euo pipefail

version="v1.20.2"
module="github.com/cilium/cilium"
out="${PORTCULLIS_TOOLS:-$HOME/.cache/portcullis}/hubble-$version"
export PATH="$PATH:/usr/local/go/bin"
export GOPATH="${GOPATH:-$HOME/go}"

if ! command -v go >/dev/null 2>&1; then
  echo "install-hubble: go is not installed" >&2
  exit 1
fi

# The protos must be in the module cache even when the binaries are cached (a fresh GOPATH, a cleaned cache).
dir="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ -z "$dir" || ! -d "$dir" ]]; then
  echo "install-hubble: go mod download $module@$version gave no module directory" >&2
  exit 1
fi

if [[ -x "$out/hubble" && -x "$out/hubble-relay" ]]; then
  echo "install-hubble: hubble and hubble-relay $version already in $out"
  exit 0
fi

mkdir -p "$out"
cd "$dir"
started=$SECONDS
# Build one binary at a time (2-core machines) into a temp name, so an interrupted build is not taken as done.
for cmd in hubble hubble-relay; do
  echo "install-hubble: go build ./$cmd ($version)"
  go build -trimpath -ldflags "-X $module/hubble/pkg.Version=$version -X $module/pkg/version.ciliumVersion=$version" \
    -o "$out/.$cmd.tmp" "./$cmd"
  mv "$out/.$cmd.tmp" "$out/$cmd"
done
echo "install-hubble: built hubble and hubble-relay $version in $out ($((SECONDS - started)) s)"
