#!/usr/bin/env bash
# Prepare this machine and run `pulumi up` on one stack (default: dev, the calculator on the
# local Docker engine). Uses a local state backend in .pulumi-state/ when you are not logged in.
# Usage: scripts/up.sh [stack] [pulumi up arguments, e.g. --yes]
set -euo pipefail
cd "$(dirname "$0")/.."

stack=${1:-dev}
[ $# -gt 0 ] && shift
if [ ! -f "Pulumi.$stack.yaml" ]; then
    echo "no stack file Pulumi.$stack.yaml; shipped stacks:" >&2
    for f in Pulumi.*.yaml; do f=${f#Pulumi.}; echo "  ${f%.yaml}" >&2; done
    exit 2
fi
if ! command -v pulumi >/dev/null 2>&1; then
    cat >&2 <<'MSG'
The Pulumi CLI is not installed. Install it with:

    curl -fsSL https://get.pulumi.com | sh

then open a new shell (or run: export PATH="$HOME/.pulumi/bin:$PATH") and run this again.
MSG
    exit 127
fi

bash scripts/setup/python.sh requirements.txt

lab=$(sed -n 's/^[[:space:]]*cloud-labs:lab:[[:space:]]*//p' "Pulumi.$stack.yaml" | tr -d "\"'")
case "$lab" in
    dev | docker-basics) bash scripts/setup/docker.sh ;;
esac

if ! pulumi whoami >/dev/null 2>&1; then
    mkdir -p .pulumi-state
    export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
    # Secrets in local state are encrypted with this passphrase; set it to protect them.
    export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
    echo "not logged in to a Pulumi backend: using local state in .pulumi-state/" >&2
fi
pulumi stack select --create "$stack"
exec pulumi up --stack "$stack" "$@"
