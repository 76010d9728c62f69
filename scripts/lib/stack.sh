# shellcheck shell=bash
# What scripts/up.sh and scripts/preview.sh share: the stack file, the Pulumi CLI (installed
# into ~/.pulumi when missing), the virtualenv, the backend. Source it from the project's root:
#
#   # shellcheck source=scripts/lib/stack.sh
#   . scripts/lib/stack.sh
#
# Messages go to stderr; nothing here prints a secret's value.

# The Pulumi CLI the project is tested with (the SDK in requirements.txt has the same version).
PULUMI_CLI_VERSION="$(cat .pulumi-version)"
PULUMI_INSTALLER_URL=https://get.pulumi.com/install.sh
PULUMI_INSTALL_ROOT="${HOME}/.pulumi"

say() { printf '%s\n' "$*" >&2; }

# require_stack_file STACK: stop (exit 2) listing the shipped stacks when STACK has no file.
require_stack_file() {
    local f
    if [ ! -f "Pulumi.$1.yaml" ]; then
        say "no stack file Pulumi.$1.yaml; shipped stacks:"
        for f in Pulumi.*.yaml; do f=${f#Pulumi.}; say "  ${f%.yaml}"; done
        exit 2
    fi
}

# stack_lab STACK: the lab the stack's file names (its cloud-labs:lab key).
stack_lab() {
    sed -n 's/^[[:space:]]*cloud-labs:lab:[[:space:]]*//p' "Pulumi.$1.yaml" | tr -d "\"'"
}

_manual_install() {
    say ""
    say "Install it by hand, then run this again:"
    say ""
    say "    curl -fsSL https://get.pulumi.com | sh -s -- --version ${PULUMI_CLI_VERSION}"
    say "    export PATH=\"\$HOME/.pulumi/bin:\$PATH\""
}

# ensure_pulumi_cli: put the Pulumi CLI on PATH, installing the tested version into
# ~/.pulumi with the official installer when it is missing; stop (exit 127) saying what
# failed and how to install by hand when that is not possible.
ensure_pulumi_cli() {
    if command -v pulumi >/dev/null 2>&1; then
        return 0
    fi
    if [ -x "${PULUMI_INSTALL_ROOT}/bin/pulumi" ]; then
        export PATH="${PULUMI_INSTALL_ROOT}/bin:${PATH}"
        say "using the Pulumi CLI in ~/.pulumi/bin (not on your PATH)"
        return 0
    fi
    say "The Pulumi CLI is not installed: installing Pulumi ${PULUMI_CLI_VERSION} into ~/.pulumi" \
        "with the official installer (${PULUMI_INSTALLER_URL})"
    if ! command -v curl >/dev/null 2>&1; then
        say "cannot download the installer: curl is not installed (apt-get install curl)."
        _manual_install
        exit 127
    fi
    local dir rc=0
    dir="$(mktemp -d)"
    if ! curl -fsSL --retry 2 -o "${dir}/install.sh" "${PULUMI_INSTALLER_URL}" 2>"${dir}/curl.err"; then
        say "could not download the Pulumi installer from ${PULUMI_INSTALLER_URL}:" \
            "$(tail -n 1 "${dir}/curl.err")"
        rm -rf "${dir}"
        _manual_install
        exit 127
    fi
    sh "${dir}/install.sh" --version "${PULUMI_CLI_VERSION}" --install-root "${PULUMI_INSTALL_ROOT}" \
        --no-edit-path >"${dir}/install.log" 2>&1 || rc=$?
    if [ "${rc}" -ne 0 ] || [ ! -x "${PULUMI_INSTALL_ROOT}/bin/pulumi" ]; then
        say "the Pulumi installer failed (exit ${rc}); its last lines:"
        tail -n 5 "${dir}/install.log" >&2
        rm -rf "${dir}"
        _manual_install
        exit 127
    fi
    rm -rf "${dir}"
    export PATH="${PULUMI_INSTALL_ROOT}/bin:${PATH}"
    say "installed Pulumi $("${PULUMI_INSTALL_ROOT}/bin/pulumi" version 2>/dev/null || true) into" \
        "${PULUMI_INSTALL_ROOT}/bin; add it to your PATH: export PATH=\"\$HOME/.pulumi/bin:\$PATH\""
}

# use_backend: the backend the environment names (PULUMI_BACKEND_URL, or Pulumi Cloud with
# PULUMI_ACCESS_TOKEN), the one you are logged in to, else local state in .pulumi-state/.
use_backend() {
    if [ -n "${PULUMI_BACKEND_URL:-}" ] || [ -n "${PULUMI_ACCESS_TOKEN:-}" ]; then
        return 0
    fi
    if ! pulumi whoami >/dev/null 2>&1; then
        mkdir -p .pulumi-state
        export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
        # Secrets in local state are encrypted with this passphrase; set it to protect them.
        export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
        say "not logged in to a Pulumi backend: using local state in .pulumi-state/"
    fi
}

# pulumi_outputs_ready ARGS...: unless ARGS give the outputs (--outputs FILE), make
# `pulumi stack output` work (scripts/bench.sh, check.sh and diagram.sh read a deployed stack's
# outputs): stop (exit 127) when the CLI is missing, else pick the backend (use_backend).
pulumi_outputs_ready() {
    case " $* " in
        *" --outputs "* | *" --outputs="*) return 0 ;;
    esac
    if ! command -v pulumi >/dev/null 2>&1; then
        say "the Pulumi CLI is not installed: give the stack's outputs with --outputs FILE"
        exit 127
    fi
    use_backend
}
