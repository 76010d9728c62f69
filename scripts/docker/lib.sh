# shellcheck shell=bash
# Shared helpers of the scripts in scripts/docker/. Source it, do not run it:
#
#   # shellcheck source-path=SCRIPTDIR source=lib.sh
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Exactly that line: components/hostexec.py puts this file's text in its place when it sends a
# script to a host, so the script still travels as one text; from a clone it is sourced.
# Provides: usage, remove_tag.

# The script's usage, for an action it does not know.
usage() {
    echo "usage: $0 create|delete" >&2
    exit 2
}

# remove_tag IMAGE: removes the tag IMAGE (repository:tag); the engine forgets the image when no
# other tag holds it. Nothing to do when the tag is already gone.
remove_tag() {
    if ! docker image inspect "$1" >/dev/null 2>&1; then
        echo "$1 is already gone" >&2
        return 0
    fi
    echo "removing $1" >&2
    docker image rm "$1" >/dev/null
}
