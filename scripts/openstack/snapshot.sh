#!/usr/bin/env bash
# A snapshot of an OpenStack server: an image taken from it (openstack server image create).
#
# The credentials are the standard OS_* variables (the stack passes its provider config as
# those, or the environment already holds them); nothing here prints them.
# create: takes the image IMAGE_NAME from SERVER_ID once, waiting until it is active, and
#         prints its id (only that). An image of that name carrying the same definition (its
#         property cloudlabs_definition) is kept; one with another definition is an error: a
#         snapshot is never re-taken under its name.
# delete: deletes the image create printed; nothing to do when it is gone.
#
# Usage: snapshot.sh create|delete
# Environment:
#   IMAGE_NAME              the image's name (required)
#   SERVER_ID               create: the server to snapshot
#   DEFINITION              create: the snapshot's definition (a digest)
#   DESCRIPTION             create, optional: kept as the image's property cloudlabs_description
#   PULUMI_COMMAND_STDOUT   delete: the image id create printed (set by pulumi-command)
#   OS_*                    the OpenStack credentials (OS_CLOUD, or OS_AUTH_URL and the rest)
set -euo pipefail

ACTION="${1:-create}"
: "${IMAGE_NAME:?set IMAGE_NAME to the name of the snapshot image}"

die() {
    echo "ERROR: $*" >&2
    exit 1
}

# property ID KEY: a property of image ID, empty without it.
property() {
    openstack image show "$1" -f json -c properties |
        python3 -c 'import json, sys; print((json.load(sys.stdin).get("properties") or {}).get(sys.argv[1], ""))' "$2"
}

create() {
    : "${SERVER_ID:?}" "${DEFINITION:?}"
    local found
    found="$(openstack image list --name "${IMAGE_NAME}" -f value -c ID)"
    if [[ -n "${found}" ]]; then
        [[ "$(wc -l <<<"${found}")" == 1 ]] || die "more than one image is named ${IMAGE_NAME}"
        [[ "$(property "${found}" cloudlabs_definition)" == "${DEFINITION}" ]] ||
            die "an image named ${IMAGE_NAME} exists with another definition; a snapshot is never re-taken: give the changed snapshot a new name"
        echo "${IMAGE_NAME} is already taken" >&2
        printf '%s\n' "${found}"
        return 0
    fi
    echo "taking ${IMAGE_NAME} from server ${SERVER_ID}" >&2
    openstack server image create --name "${IMAGE_NAME}" --wait \
        --property "cloudlabs_definition=${DEFINITION}" \
        --property "cloudlabs_description=${DESCRIPTION:-}" \
        -f value -c id "${SERVER_ID}"
}

delete() {
    local image="${PULUMI_COMMAND_STDOUT:-}"
    image="${image//[[:space:]]/}"
    if [[ -z "${image}" ]] || ! openstack image show "${image}" -f value -c id >/dev/null 2>&1; then
        echo "no image to delete for ${IMAGE_NAME}" >&2
        return 0
    fi
    echo "deleting ${IMAGE_NAME} (${image})" >&2
    openstack image delete "${image}"
}

case "${ACTION}" in
create) create ;;
delete) delete ;;
*) die "usage: $0 create|delete" ;;
esac
