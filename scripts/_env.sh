# Shared by scripts/demo, scripts/bench, scripts/test and scripts/lock: source it from the repo
# root, then call roomops_env to get a .venv with RoomOps installed and VPY set to the venv's
# python. Dependencies come from the pinned, hashed lock files (requirements.lock,
# requirements-test.lock; regenerate them with scripts/lock), RoomOps itself is installed
# editable with its `all` extra (agent and central side by side; the lock already holds every
# dependency). It reinstalls only when pyproject.toml or the lock changed.
#   roomops_env          # runtime dependencies
#   roomops_env test     # with the test extras (stamp .venv/.roomops-installed, as scripts/test)
#   roomops_cjk_font     # the CJK font PDF reports embed (Debian fonts-wqy-zenhei); exits 1 if
#                        # it is missing and cannot be installed
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
    "$VPY" -m pip install --quiet --no-deps -e ".[all]"
    if [ "$extras" = test ]; then touch "$test_stamp"; else touch "$runtime_stamp"; fi
}

ROOMOPS_CJK_FONT_FILE=/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc

roomops_cjk_font() {
    local tag=${LOG_TAG:-scripts}
    [ -f "$ROOMOPS_CJK_FONT_FILE" ] && return 0
    if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
        printf '[%s] PDF reports need a CJK font: install the Debian package fonts-wqy-zenhei ' "$tag" >&2
        printf '(sudo apt-get install fonts-wqy-zenhei) or point ROOMOPS_CJK_FONT at a .ttf/.ttc\n' >&2
        exit 1
    fi
    printf '[%s] apt-get install fonts-wqy-zenhei (the CJK font of the PDF reports)\n' "$tag"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei fontconfig >/dev/null
    if [ ! -f "$ROOMOPS_CJK_FONT_FILE" ]; then
        printf '[%s] fonts-wqy-zenhei installed but %s is missing\n' "$tag" "$ROOMOPS_CJK_FONT_FILE" >&2
        exit 1
    fi
}
