#!/usr/bin/env bash
# RoomOps offline installer: run from an unpacked roomops-<version>-offline bundle, as root.
# Needs no network: everything comes from this folder.
#
#   ./install.sh --central [--database-url URL] [--admin NAME] [--admin-password-file F]
#                [--port 8080] [--nightly-backup KEEP]
#   ./install.sh --agent SITE --profile SITE.yaml [--token-file F] [--secrets-file F]
#   common: [--prefix DIR] [--user roomops] [--python python3] [--no-systemd]
#
# Idempotent: a second run changes nothing that is in place and says so. Installing a newer
# bundle is an upgrade: the data stays, the previous version's venv stays for a roll-back, central
# is backed up and migrated once, and if the new version does not come up healthy (/healthz) the
# installer switches back and restores the backup by itself.
set -euo pipefail

BUNDLE=$(cd "$(dirname "$0")" && pwd)
VERSION=$(cat "$BUNDLE/VERSION")
MODE="" SITE="" PREFIX="" RUN_USER=roomops PYTHON=python3 SYSTEMD=auto
DATABASE_URL="" ADMIN=admin ADMIN_PASSWORD_FILE="" PORT=8080 NIGHTLY_KEEP=""
PROFILE="" TOKEN_FILE="" SECRETS_FILE="" HEALTH_TIMEOUT=${ROOMOPS_HEALTH_TIMEOUT:-60}

say()  { printf '[install] %s\n' "$*"; }
fail() { printf '[install] error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --central) MODE=central ;;
        --agent) MODE=agent; SITE=${2:?--agent needs a site id}; shift ;;
        --prefix) PREFIX=${2:?}; shift ;;
        --user) RUN_USER=${2:?}; shift ;;
        --python) PYTHON=${2:?}; shift ;;
        --no-systemd) SYSTEMD=no ;;
        --database-url) DATABASE_URL=${2:?}; shift ;;
        --admin) ADMIN=${2:?}; shift ;;
        --admin-password-file) ADMIN_PASSWORD_FILE=${2:?}; shift ;;
        --port) PORT=${2:?}; shift ;;
        --nightly-backup) NIGHTLY_KEEP=${2:?}; shift ;;
        --profile) PROFILE=${2:?}; shift ;;
        --token-file) TOKEN_FILE=${2:?}; shift ;;
        --secrets-file) SECRETS_FILE=${2:?}; shift ;;
        -h|--help) usage ;;
        *) fail "unknown option $1 (--help lists them)" ;;
    esac
    shift
done
[ -n "$MODE" ] || usage
[[ -z "$SITE" || "$SITE" =~ ^[a-z0-9][a-z0-9_-]{0,63}$ ]] || fail "site id '$SITE' is not a plain name"
[ "$(id -u)" = 0 ] || fail "run as root (it creates a system user, directories and units)"
PREFIX=${PREFIX%/}
OPT=$PREFIX/opt/roomops
ETC=$PREFIX/etc/roomops
VAR=$PREFIX/var/lib/roomops
BACKUPS=$PREFIX/var/backups/roomops
UNITS=$PREFIX/etc/systemd/system
NEW_VENV=$OPT/venvs/$VERSION
CURRENT=$OPT/current
if [ "$SYSTEMD" = auto ]; then
    if [ -z "$PREFIX" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        SYSTEMD=yes
    else
        SYSTEMD=no
    fi
fi

# -- 1. the bundle is whole ------------------------------------------------------------------------
(cd "$BUNDLE" && sha256sum --quiet --strict -c SHA256SUMS) || fail "the bundle is damaged (SHA256SUMS)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || fail "$PYTHON is missing or older than 3.11"
say "bundle roomops $VERSION checked ($(wc -l <"$BUNDLE/SHA256SUMS") files)"

# -- 2. user and directories ---------------------------------------------------------------------
if id -u "$RUN_USER" >/dev/null 2>&1; then
    say "user $RUN_USER: present"
else
    useradd --system --home-dir "$VAR" --no-create-home --shell /usr/sbin/nologin "$RUN_USER"
    getent group dialout >/dev/null && usermod -a -G dialout "$RUN_USER"
    say "user $RUN_USER: created (system user, no login)"
fi
GROUP=$(id -gn "$RUN_USER")
install -d -m 0755 "$OPT" "$OPT/venvs"
install -d -m 0750 -o root -g "$GROUP" "$ETC" "$ETC/profiles"
install -d -m 0750 -o "$RUN_USER" -g "$GROUP" "$VAR"
install -d -m 0700 -o "$RUN_USER" -g "$GROUP" "$BACKUPS"

# -- 3. the venv of this version, from the bundle's wheels only -------------------------------------
# Each side gets its own extra: roomops[central] (no device drivers) or roomops[agent] (no web
# server, database or PDF stack). Central and an agent on one machine share the venv of a version:
# the second install adds its side's libraries to it.
case "$MODE" in
    central) SIDE_MODULE=central.app ;;
    agent) SIDE_MODULE=agent.runtime ;;
esac
venv_ok() { [ -x "$1/bin/roomops" ] && "$1/bin/python" -c "import $SIDE_MODULE" 2>/dev/null; }
install_side() {   # install_side VENV: roomops[MODE] at exactly the locked, hash-checked versions
    # requirements-MODE.lock is the part of the lock this side needs (scripts/bundle resolved it).
    PIP_NO_INDEX=1 "$1/bin/python" -m pip install --quiet --no-index --no-deps \
        --find-links "$BUNDLE/wheels" -r "$BUNDLE/requirements-$MODE.lock"
    "$1/bin/python" -m pip install --quiet --no-index --no-deps "$BUNDLE"/wheels/roomops-*.whl
}
if venv_ok "$NEW_VENV"; then
    say "venv $NEW_VENV: present"
elif [ -x "$NEW_VENV/bin/roomops" ] && "$NEW_VENV/bin/python" -c 'import roomops' 2>/dev/null; then
    install_side "$NEW_VENV"
    venv_ok "$NEW_VENV" || fail "the venv does not import RoomOps' $MODE"
    say "venv $NEW_VENV: roomops[$MODE] added"
else
    rm -rf "$NEW_VENV"
    "$PYTHON" -m venv "$NEW_VENV"
    install_side "$NEW_VENV"
    venv_ok "$NEW_VENV" || fail "the new venv does not import RoomOps' $MODE"
    say "venv $NEW_VENV: roomops[$MODE] installed from $(ls "$BUNDLE/wheels" | wc -l) wheels"
fi
PREVIOUS=""
if [ -L "$CURRENT" ]; then PREVIOUS=$(readlink "$CURRENT"); fi
[ "$PREVIOUS" = "$NEW_VENV" ] && PREVIOUS=""

install -d -m 0755 "$OPT/fonts"
install -m 0644 "$BUNDLE"/fonts/* "$OPT/fonts/"
# Model profiles follow the version; sites, venues and secrets are the operator's and stay.
install -d -m 0750 -o root -g "$GROUP" "$ETC/profiles/models" "$ETC/profiles/sites" "$ETC/profiles/venues"
install -m 0640 -o root -g "$GROUP" "$BUNDLE"/profiles/models/*.yaml "$ETC/profiles/models/"

put_secret() {   # put_secret SOURCE TARGET: copy a secret file, 0600 and owned by the service user
    install -m 0600 -o "$RUN_USER" -g "$GROUP" "$1" "$2"
}

switch_to() { ln -sfn "$1" "$CURRENT.tmp" && mv -T "$CURRENT.tmp" "$CURRENT"; }

unit() {   # unit NAME: the bundle's unit with the prefix written into its paths
    install -d -m 0755 "$UNITS"
    sed -e "s#/opt/roomops#$OPT#g" -e "s#/etc/roomops#$ETC#g" -e "s#/var/lib/roomops#$VAR#g" \
        -e "s#/var/backups/roomops#$BACKUPS#g" -e "s#^User=roomops#User=$RUN_USER#" \
        "$BUNDLE/deploy/systemd/$1" > "$UNITS/$1.new"
    if cmp -s "$UNITS/$1.new" "$UNITS/$1" 2>/dev/null; then
        rm "$UNITS/$1.new"; say "unit $1: unchanged"
    else
        mv "$UNITS/$1.new" "$UNITS/$1"; say "unit $1: written"
    fi
}

keep_two_venvs() {   # the running version and the one before it; older ones go
    local keep_a keep_b
    keep_a=$(readlink "$CURRENT"); keep_b=${PREVIOUS:-$keep_a}
    for dir in "$OPT"/venvs/*; do
        [ "$dir" = "$keep_a" ] || [ "$dir" = "$keep_b" ] || { rm -rf "$dir"; say "old venv removed: $dir"; }
    done
}

# -- 4a. central ----------------------------------------------------------------------------------
central_env() { set -a; . "$ETC/central.env"; set +a; }

healthy() {   # healthy VENV PORT: start that version against the real data on a spare port
    local venv=$1 port=$2 pid rc=1 deadline
    ( central_env; exec "$venv/bin/roomops" central serve --host 127.0.0.1 --port "$port" \
        --log-level warning ) >"$VAR/install-healthcheck.log" 2>&1 &
    pid=$!
    deadline=$((SECONDS + HEALTH_TIMEOUT))
    while [ $SECONDS -lt $deadline ]; do
        if "$venv/bin/python" - "$port" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
        then rc=0; break; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5   # polling a server we just started, not a device
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return $rc
}

spare_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

install_central() {
    if [ -f "$ETC/central.env" ]; then
        say "settings $ETC/central.env: kept"
    else
        local tmp; tmp=$(mktemp)
        {
            echo "# RoomOps central settings (ROOMOPS_*: see central/settings.py). Mode 0600."
            echo "ROOMOPS_DATA_DIR=$VAR/central"
            echo "ROOMOPS_DATABASE_URL=$DATABASE_URL"
            echo "ROOMOPS_SECRET_KEY=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))')"
            echo "ROOMOPS_RECORDINGS_DIR=$VAR/recordings"
            echo "ROOMOPS_CJK_FONT=$OPT/fonts/wqy-zenhei.ttc"
            echo "ROOMOPS_PORT=$PORT"
        } > "$tmp"
        put_secret "$tmp" "$ETC/central.env"; rm -f "$tmp"
        say "settings $ETC/central.env: written (secret key generated, mode 0600)"
    fi
    install -d -m 0750 -o "$RUN_USER" -g "$GROUP" "$VAR/central" "$VAR/recordings"

    local had_data=no backup_dir=""
    if [ -n "$PREVIOUS" ] && [ -x "$PREVIOUS/bin/roomops" ]; then
        had_data=yes
        backup_dir=$(as_user "$PREVIOUS" central backup "$BACKUPS/pre-upgrade" --keep 3 | sed -n 's/^backup written to \([^:]*\):.*/\1/p')
        say "backup before the upgrade: $backup_dir"
    fi

    local password_file=$ADMIN_PASSWORD_FILE
    if [ -z "$password_file" ]; then
        password_file=$ETC/admin-password
        if [ ! -f "$password_file" ]; then
            "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(18))' > "$password_file.tmp"
            put_secret "$password_file.tmp" "$password_file"; rm -f "$password_file.tmp"
            say "first admin's password: generated into $password_file (0600)"
        fi
    fi
    # init creates or migrates the database (PostgreSQL: under central's migration lock) and the
    # first admin only when there is no user yet.
    as_user "$NEW_VENV" central init --admin "$ADMIN" --password-stdin < "$password_file" | sed 's/^/[install] /'

    if healthy "$NEW_VENV" "$(spare_port)"; then
        say "roomops $VERSION answers /healthz on the installed data"
    else
        rollback "roomops $VERSION did not answer /healthz (see $VAR/install-healthcheck.log)" "$backup_dir"
    fi
    switch_to "$NEW_VENV"
    unit roomops-central.service
    if [ -n "$NIGHTLY_KEEP" ]; then
        unit roomops-backup.service
        sed -i "s#--keep [0-9]*#--keep $NIGHTLY_KEEP#" "$UNITS/roomops-backup.service"
        unit roomops-backup.timer
    fi
    if [ "$SYSTEMD" = yes ]; then
        systemctl daemon-reload
        systemctl enable --quiet roomops-central.service
        [ -n "$NIGHTLY_KEEP" ] && systemctl enable --now --quiet roomops-backup.timer
        systemctl restart roomops-central.service
        if ! healthy_running; then
            switch_to "$PREVIOUS"; systemctl restart roomops-central.service || true
            rollback "roomops-central did not come up healthy after the restart" "$backup_dir"
        fi
        say "roomops-central: running $VERSION"
    fi
    [ "$had_data" = yes ] && say "upgrade: data kept, previous version kept at $PREVIOUS for a roll-back"
    keep_two_venvs
}

healthy_running() {
    local deadline=$((SECONDS + HEALTH_TIMEOUT))
    while [ $SECONDS -lt $deadline ]; do
        "$NEW_VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/healthz', timeout=2)" 2>/dev/null && return 0
        sleep 1   # waiting for systemd's restart of our own server
    done
    return 1
}

rollback() {   # rollback WHY BACKUP_DIR: put the previous version and its data back, then fail
    local why=$1 backup_dir=$2
    if [ -z "$PREVIOUS" ]; then
        fail "$why; nothing to roll back to (first install)"
    fi
    if [ -n "$backup_dir" ]; then
        as_user "$PREVIOUS" central restore "$backup_dir" --replace | sed 's/^/[install] /' \
            || say "restore of $backup_dir failed: restore it by hand"
    fi
    switch_to "$PREVIOUS"
    rm -rf "$NEW_VENV"
    fail "$why; rolled back to $(basename "$PREVIOUS") with the data as it was"
}

as_user() {   # as_user VENV ARGS...: run roomops of that venv as the service user, with central's settings
    local venv=$1; shift
    if [ "$RUN_USER" = "$(id -un)" ]; then
        ( central_env; exec "$venv/bin/roomops" "$@" )
    else
        ( central_env; exec setpriv --reuid "$RUN_USER" --regid "$GROUP" --init-groups \
            "$venv/bin/roomops" "$@" )
    fi
}

# -- 4b. a site agent -----------------------------------------------------------------------------
install_agent() {
    local site_file=$ETC/profiles/sites/$SITE.yaml
    if [ -n "$PROFILE" ]; then
        install -m 0640 -o root -g "$GROUP" "$PROFILE" "$site_file"
        say "site profile $site_file: installed"
    elif [ -f "$site_file" ]; then
        say "site profile $site_file: kept"
    else
        fail "no site profile for $SITE: pass --profile FILE"
    fi
    if [ -d "$(dirname "${PROFILE:-/nonexistent}")/../venues" ]; then
        for venue in "$(dirname "$PROFILE")/../venues/$SITE"-*.yaml; do
            [ -f "$venue" ] && install -m 0640 -o root -g "$GROUP" "$venue" "$ETC/profiles/venues/"
        done
    fi
    [ -n "$SECRETS_FILE" ] && { put_secret "$SECRETS_FILE" "$ETC/secrets.yaml"; say "secrets: installed (0600)"; }
    if [ -n "$TOKEN_FILE" ]; then
        put_secret "$TOKEN_FILE" "$ETC/$SITE.token"; say "token $ETC/$SITE.token: installed (0600)"
    elif [ -f "$ETC/$SITE.token" ]; then
        say "token $ETC/$SITE.token: kept"
    else
        say "no token yet: put the one from 'roomops central token issue --site $SITE' in $ETC/$SITE.token (0600)"
    fi
    install -d -m 0750 -o "$RUN_USER" -g "$GROUP" "$VAR/$SITE"
    # The profile is checked by the new version before it becomes the running one.
    if ! "$NEW_VENV/bin/roomops" profiles validate "$site_file" | sed 's/^/[install] /'; then
        if [ -n "$PREVIOUS" ]; then switch_to "$PREVIOUS"; rm -rf "$NEW_VENV"; fi
        fail "the site profile does not validate with roomops $VERSION${PREVIOUS:+; kept $(basename "$PREVIOUS")}"
    fi
    switch_to "$NEW_VENV"
    unit roomops-agent@.service
    if [ "$SYSTEMD" = yes ]; then
        systemctl daemon-reload
        systemctl enable --quiet "roomops-agent@$SITE.service"
        if [ -f "$ETC/$SITE.token" ]; then systemctl restart "roomops-agent@$SITE.service"; fi
        say "roomops-agent@$SITE: enabled"
    fi
    keep_two_venvs
}

case "$MODE" in
    central) install_central ;;
    agent) install_agent ;;
esac
say "done: roomops $VERSION ($MODE${SITE:+ $SITE}) at $OPT, settings in $ETC, data in $VAR"
