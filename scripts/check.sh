#!/usr/bin/env bash
# Check a deployed stack: run the checks its lab declares (stacks/<lab>_checks.py) against
# its outputs and print a table (check, expected, observed, result, time), or JSON.
#
# Usage: scripts/check.sh <stack> [--outputs FILE] [--config FILE] [--json] [--list]
#                 [--wait SECONDS] [--interval SECONDS] [--only TEXT]
#                 [--identity KEY] [--ssh-option OPTION]...
# The outputs come from `pulumi stack output --json`, or from the JSON file given with
# --outputs; the config from Pulumi.<stack>.yaml (or --config). A failing check is retried
# for --wait seconds (default 300: guests still booting). Exit status 1 when a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
# shellcheck source=scripts/lib/stack.sh
. scripts/lib/stack.sh
pulumi_outputs_ready "$@"
bash scripts/setup/python.sh requirements.txt
exec .venv/bin/python -m checks "$@"
