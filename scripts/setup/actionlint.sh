#!/usr/bin/env bash
# actionlint (the GitHub Actions workflow linter) at a pinned version, built from source with
# `go install` through the Go module proxy into .tools/bin/actionlint. The tests run it on
# .github/workflows/ with shellcheck on the workflows' run: blocks.
#
# Idempotent: a binary of the pinned version is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
LOG_TAG=actionlint
# shellcheck source=scripts/setup/lib.sh
. scripts/setup/lib.sh

VERSION=v1.7.12
BIN_DIR="$PWD/.tools/bin"
started=$SECONDS

if "$BIN_DIR/actionlint" -version 2>/dev/null | head -n 1 | grep -qx "$VERSION"; then
    log "actionlint $VERSION already built"
    exit 0
fi
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
    apt_install golang-go
fi
command -v go >/dev/null 2>&1 || die "no Go toolchain to build actionlint with"
log "go install github.com/rhysd/actionlint/cmd/actionlint@$VERSION ($(go version))"
mkdir -p "$BIN_DIR"
GOBIN="$BIN_DIR" GOFLAGS=-modcacherw go install "github.com/rhysd/actionlint/cmd/actionlint@$VERSION" ||
    die "could not build actionlint $VERSION (needs a Go toolchain recent enough for it and the Go module proxy)"
log "built $("$BIN_DIR/actionlint" -version | head -n 1) in $((SECONDS - started))s"
