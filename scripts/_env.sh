# Shared by scripts/demo, scripts/bench, scripts/test and scripts/lock: source it from the repo
# root, then call roomops_env to get a .venv with RoomOps installed and VPY set to the venv's
# python. Dependencies come from the pinned, hashed lock files (requirements.lock,
# requirements-test.lock; regenerate them with scripts/lock), RoomOps itself is installed
# editable without dependencies. It reinstalls only when pyproject.toml or the lock changed.
#   roomops_env          # runtime dependencies
#   roomops_env test     # with the test extras (stamp .venv/.roomops-installed, as scripts/test)
# shellcheck shell=bash

_roomops_fresh() {    # true when the stamp file exists and is newer than pyproject.toml and the lock
    [ -f "$1" ] && ! [ pyproject.toml -nt "$1" ] && ! [ "$2" -nt "$1" ]
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
    local test_lock=requirements-test.lock runtime_lock=requirements.lock lock
    if [ "$extras" = test ]; then
        _roomops_fresh "$test_stamp" "$test_lock" && return 0
        lock=$test_lock
    else
        # a test install includes the runtime one
        _roomops_fresh "$test_stamp" "$test_lock" && return 0
        _roomops_fresh "$runtime_stamp" "$runtime_lock" && return 0
        lock=$runtime_lock
    fi
    printf '[%s] installing roomops%s into .venv from %s\n' "$tag" "${extras:+[$extras]}" "$lock"
    "$VPY" -m pip install --quiet --upgrade pip
    "$VPY" -m pip install --quiet --require-hashes --no-deps -r "$lock"
    "$VPY" -m pip install --quiet --no-deps -e .
    if [ "$extras" = test ]; then touch "$test_stamp"; else touch "$runtime_stamp"; fi
}
