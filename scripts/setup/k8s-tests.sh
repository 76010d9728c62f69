#!/usr/bin/env bash
# What the openstack-k8s tests run besides the Python packages (kubernetes-validate comes from
# requirements-dev.txt): openssl computes the CA pin the way kubeadm's documentation does.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/setup/lib.sh
. scripts/setup/lib.sh
apt_install openssl
