#!/usr/bin/env bash
# Benchmark a deployed stack's guests against this host: run the suite (bench/) here and on
# every guest of the stack (ssh for VMs, docker exec for containers), one machine at a time,
# then write the comparison (report.md, ratios.png) under results/<stack>/<date>/.
#
# Usage: scripts/bench.sh <stack> [--quick] [--outputs FILE] [--against RUN_DIR] [--lab LAB]
#                 [--host-ssh "ssh user@kvm-host" | --host-document FILE | --no-host]
#                 [--blas-core NAME] [--results DIR]
# The stack's outputs come from `pulumi stack output --json`, or from the JSON file given with
# --outputs (or in CLOUDLABS_BENCH_OUTPUTS). The host needs the suite's tools:
# scripts/setup/bench.sh installs them (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
stack=$1
shift
args=("$stack" "$@")
if [ -n "${CLOUDLABS_BENCH_OUTPUTS:-}" ]; then
    args+=(--outputs "$CLOUDLABS_BENCH_OUTPUTS")
fi
# shellcheck source=scripts/lib/stack.sh
. scripts/lib/stack.sh
pulumi_outputs_ready "${args[@]}"

bash scripts/setup/python.sh requirements.txt
exec .venv/bin/python -m bench lab "${args[@]}"
