#!/usr/bin/env bash
# Prepare this machine and run `pulumi up` on one stack (default: dev, the calculator on the
# local Docker engine): the Pulumi CLI (installed into ~/.pulumi when missing), the virtualenv,
# what the lab needs here, the stack. Uses a local state backend in .pulumi-state/ when you are
# not logged in. For the Docker labs, a base image that cannot be pulled (no registry) is
# replaced for this run by the local one scripts/setup/base-image.sh builds.
# Usage: scripts/up.sh [stack] [pulumi up arguments, e.g. --yes]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/stack.sh
. scripts/lib/stack.sh

LOCAL_BASE_IMAGE=cloudlabs/base:bookworm

stack=${1:-dev}
[ $# -gt 0 ] && shift
require_stack_file "$stack"
ensure_pulumi_cli

bash scripts/setup/python.sh requirements.txt

# The base image a Docker lab builds FROM (its baseImage key, else the lab's default).
configured_base_image() {
    STACK_FILE="Pulumi.$stack.yaml" LAB="$1" .venv/bin/python - <<'PY'
import os

import yaml

from stacks.shared.catalogue import select

config = (yaml.safe_load(open(os.environ["STACK_FILE"])) or {}).get("config") or {}
model = select(os.environ["LAB"]).load().config
default = model.model_fields["base_image"].default
print(config.get("cloud-labs:baseImage") or default)
PY
}

# A copy of the stack's file with baseImage set to $1, for `pulumi up --config-file`.
config_file_with_base_image() {
    local out=.pulumi-state/run/Pulumi.$stack.yaml
    mkdir -p "$(dirname "$out")"
    STACK_FILE="Pulumi.$stack.yaml" OUT="$out" BASE_IMAGE="$1" .venv/bin/python - <<'PY'
import os

import yaml

data = yaml.safe_load(open(os.environ["STACK_FILE"])) or {}
data.setdefault("config", {})["cloud-labs:baseImage"] = os.environ["BASE_IMAGE"]
with open(os.environ["OUT"], "w") as out:
    yaml.safe_dump(data, out, sort_keys=False)
PY
    echo "$out"
}

run_args=()
lab=$(stack_lab "$stack")
case "$lab" in
    dev | docker-basics)
        bash scripts/setup/docker.sh
        base=$(configured_base_image "$lab")
        if ! docker image inspect "$base" >/dev/null 2>&1; then
            say "pulling the base image $base"
            if ! pull_error=$(docker pull "$base" 2>&1 >/dev/null); then
                say "cannot pull $base: ${pull_error##*$'\n'}"
                say "building the local base image $LOCAL_BASE_IMAGE (scripts/setup/base-image.sh)" \
                    "and using it for this run instead (baseImage=$LOCAL_BASE_IMAGE)"
                if ! built=$(bash scripts/setup/base-image.sh); then
                    say "scripts/setup/base-image.sh could not build $LOCAL_BASE_IMAGE (see above);" \
                        "give the stack a base image this engine has: pulumi config set baseImage IMAGE"
                    exit 1
                fi
                run_args+=(--config-file "$(config_file_with_base_image "$built")")
            fi
        fi
        ;;
esac

use_backend
pulumi stack select --create "$stack"
exec pulumi up --stack "$stack" "${run_args[@]}" "$@"
