#!/usr/bin/env bash
# Build a cloud-init NoCloud seed ISO (volume label "cidata": user-data, meta-data and
# network-config) with whichever of genisoimage, mkisofs, xorriso or cloud-localds is present.
# Idempotent: the file name carries a hash of the content, so an existing ISO is kept.
#
# Environment:
#   SEED_PATH            the ISO to write (a leading ~/ means the home directory)
#   SEED_USER_DATA       the user-data document (#cloud-config)
#   SEED_META_DATA       the meta-data document (instance-id, local-hostname)
#   SEED_NETWORK_CONFIG  optional: the network-config document (netplan version 2)
set -euo pipefail

die() { printf 'seed-create: %s\n' "$*" >&2; exit 1; }
expand() { if [[ $1 == \~/* ]]; then printf '%s\n' "${HOME}/${1#\~/}"; else printf '%s\n' "$1"; fi; }

iso="$(expand "${SEED_PATH:?SEED_PATH is required}")"
if [[ -s "${iso}" ]]; then
    printf '%s\n' "${iso}"
    exit 0
fi
: "${SEED_USER_DATA:?SEED_USER_DATA is required}" "${SEED_META_DATA:?SEED_META_DATA is required}"

work="$(mktemp -d)"
trap 'rm -rf -- "${work}"' EXIT
printf '%s' "${SEED_USER_DATA}" >"${work}/user-data"
printf '%s' "${SEED_META_DATA}" >"${work}/meta-data"
files=("${work}/user-data" "${work}/meta-data")
if [[ -n "${SEED_NETWORK_CONFIG:-}" ]]; then
    printf '%s' "${SEED_NETWORK_CONFIG}" >"${work}/network-config"
    files+=("${work}/network-config")
fi

mkdir -p "$(dirname -- "${iso}")"
out="${iso}.part"
if command -v genisoimage >/dev/null; then
    genisoimage -quiet -output "${out}" -volid cidata -joliet -rock "${files[@]}"
elif command -v mkisofs >/dev/null; then
    mkisofs -quiet -output "${out}" -volid cidata -joliet -rock "${files[@]}"
elif command -v xorriso >/dev/null; then
    xorriso -as mkisofs -quiet -output "${out}" -volid cidata -joliet -rock "${files[@]}"
elif command -v cloud-localds >/dev/null; then
    if [[ -n "${SEED_NETWORK_CONFIG:-}" ]]; then
        cloud-localds --network-config="${work}/network-config" "${out}" "${work}/user-data" "${work}/meta-data"
    else
        cloud-localds "${out}" "${work}/user-data" "${work}/meta-data"
    fi
else
    die "no ISO tool found: install genisoimage, xorriso or cloud-image-utils (cloud-localds) on the VirtualBox host"
fi
mv -- "${out}" "${iso}"
printf '%s\n' "${iso}"
