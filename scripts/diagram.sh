#!/usr/bin/env bash
# Draw a stack's topology (networks, subnets, routers, VMs and containers with their
# addresses, forwards, floating IPs, security-group edges) as DOT, SVG and PNG with Graphviz.
#
# Usage: scripts/diagram.sh <stack> [--config FILE] [--outputs FILE] [--out DIR]
#        scripts/diagram.sh --shipped     every shipped stack into docs/diagrams/ (the README's)
# From the stack's validated config and, when it is deployed, its outputs (`pulumi stack
# output --json` when the Pulumi CLI is there, or the JSON file of --outputs). Graphviz:
# scripts/setup/checks.sh installs it (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
args=("$@")
if [ "$1" != --shipped ] && command -v pulumi >/dev/null 2>&1; then
    case " $* " in
        *" --outputs "* | *" --outputs="*) ;;
        *)
            # shellcheck source=scripts/lib/stack.sh
            . scripts/lib/stack.sh
            use_backend
            args+=(--pulumi)
            ;;
    esac
fi
bash scripts/setup/python.sh requirements.txt
exec .venv/bin/python -m diagram "${args[@]}"
