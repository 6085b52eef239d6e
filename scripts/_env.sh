# Shared by scripts/demo and scripts/bench (and scripts/test, once the lead switches it):
# source it from the repo root, then call roomops_env to get a .venv with RoomOps installed
# and VPY set to the venv's python. It reinstalls only when pyproject.toml changed.
#   roomops_env          # runtime dependencies
#   roomops_env test     # with the test extras (stamp .venv/.roomops-installed, as scripts/test)
# shellcheck shell=bash

_roomops_fresh() {    # true when the stamp file exists and is newer than pyproject.toml
    [ -f "$1" ] && ! [ pyproject.toml -nt "$1" ]
}

roomops_env() {
    local extras=${1:-}
    local tag=${LOG_TAG:-scripts}
    local python=${PYTHON:-python3}
    if [ ! -x .venv/bin/python ]; then
        printf '[%s] creating .venv with %s\n' "$tag" "$($python --version)"
        "$python" -m venv .venv
    fi
    VPY="$(pwd)/.venv/bin/python"
    export VPY
    local test_stamp=.venv/.roomops-installed runtime_stamp=.venv/.roomops-installed-runtime
    if [ "$extras" = test ]; then
        _roomops_fresh "$test_stamp" && return 0
    else
        # a test install includes the runtime one
        _roomops_fresh "$test_stamp" && return 0
        _roomops_fresh "$runtime_stamp" && return 0
    fi
    printf '[%s] installing roomops%s into .venv\n' "$tag" "${extras:+[$extras]}"
    "$VPY" -m pip install --quiet --upgrade pip
    "$VPY" -m pip install --quiet -e ".${extras:+[$extras]}"
    if [ "$extras" = test ]; then touch "$test_stamp"; else touch "$runtime_stamp"; fi
}
