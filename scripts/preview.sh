#!/usr/bin/env bash
# Preview one stack with its diff and the policy pack (policy/): what CI runs on every pull
# request. Prepares what the preview needs first: the Pulumi CLI (installed into ~/.pulumi when
# missing), the program's and the pack's virtualenvs, the backend, the stack. A stack listed in
# ci/stacks.yaml needs the environment variables named there (backend and cloud credentials);
# a missing one stops the preview, naming it (never its value).
# Usage: scripts/preview.sh [--prepare] <stack> [pulumi preview arguments]
#   --prepare   do everything but the preview itself (CI's preview step runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/stack.sh
. scripts/lib/stack.sh

prepare_only=no
if [ "${1:-}" = --prepare ]; then
    prepare_only=yes
    shift
fi
if [ $# -lt 1 ]; then
    say "usage: scripts/preview.sh [--prepare] <stack> [pulumi preview arguments]"
    exit 2
fi
stack=$1
shift
require_stack_file "$stack"

bash scripts/setup/python.sh requirements.txt
CLOUDLABS_VENV=policy/venv bash scripts/setup/python.sh policy/requirements.txt

mapfile -t missing < <(.venv/bin/python scripts/ci/stacks.py missing "$stack")
if [ "${#missing[@]}" -gt 0 ]; then
    say "cannot preview $stack: these variables are not set (ci/stacks.yaml lists them):"
    printf '  %s\n' "${missing[@]}" >&2
    exit 3
fi

ensure_pulumi_cli
use_backend
pulumi stack select --create "$stack"
if [ "$prepare_only" = yes ]; then
    say "$stack is ready: pulumi preview --stack $stack --diff --policy-pack policy"
    exit 0
fi
exec pulumi preview --stack "$stack" --diff --policy-pack policy "$@"
