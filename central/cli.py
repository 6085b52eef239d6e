"""``roomops central serve | init | user add | site add | token issue``."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from typing import Any

from sqlalchemy import Engine, func, select

from central import migrate
from central.backup import cli as backup_cli
from central.db import make_engine, make_session_factory, transaction
from central.models import User
from central.services import accounts, audit
from central.settings import Settings

CLI_ACTOR = "cli"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("central", help="the central control server")
    parser.add_argument("--data-dir", help="data directory (default $ROOMOPS_DATA_DIR, else XDG data)")
    parser.add_argument("--database-url", help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db")
    sub = parser.add_subparsers(dest="central_command", metavar="ACTION")
    sub.required = True

    serve = sub.add_parser("serve", help="serve the API, agent hub and dashboard with uvicorn")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"],
                       help="default info ($ROOMOPS_LOG_LEVEL)")
    serve.add_argument("--log-format", default=None, choices=["text", "json"],
                       help="text (default) or json: one JSON object a line ($ROOMOPS_LOG_FORMAT)")
    serve.add_argument("--access-log", action="store_true", help="also log every HTTP request")
    serve.set_defaults(func=cmd_serve)

    init = sub.add_parser("init", help="create or upgrade the database and the first admin")
    init.add_argument("--admin", default="admin", help="first admin's username (default admin)")
    init.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    init.set_defaults(func=cmd_init)

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="user_command", metavar="ACTION")
    user.required = True
    user_add = user.add_parser("add", help="add a user")
    user_add.add_argument("username")
    user_add.add_argument("--role", action="append", required=True,
                          choices=["viewer", "secretariat", "engineer", "admin"], help="repeat for several")
    user_add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    user_add.set_defaults(func=cmd_user_add)

    site = sub.add_parser("site", help="manage sites").add_subparsers(dest="site_command", metavar="ACTION")
    site.required = True
    site_add = site.add_parser("add", help="add a site")
    site_add.add_argument("site_id")
    site_add.add_argument("--name", default="")
    site_add.add_argument("--name-zh", default="")
    site_add.add_argument("--timezone", default="Asia/Shanghai")
    site_add.add_argument("--codec-uri", help="the room codec's call URI (host mode dials it)")
    site_add.add_argument("--multisite-capacity", type=int, help="far ends the codec can host")
    site_add.set_defaults(func=cmd_site_add)

    token = sub.add_parser("token", help="agent tokens").add_subparsers(dest="token_command",
                                                                        metavar="ACTION")
    token.required = True
    issue = token.add_parser("issue", help="issue a site token (printed once, stored hashed)")
    issue.add_argument("--site", required=True)
    issue.set_defaults(func=cmd_token_issue)

    backup_cli.register(sub, settings_from)


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    return Settings.from_env(**overrides)


def _engine(settings: Settings) -> Engine:
    engine = make_engine(settings.resolved_database_url())
    migrate.upgrade(engine)
    return engine


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise SystemExit("no terminal to ask for a password: pass --password-stdin")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise SystemExit("the passwords differ")
    return first


def _fail(message: str) -> int:
    print(f"roomops central: {message}", file=sys.stderr)
    return 2


def cmd_serve(args: argparse.Namespace) -> int:
    from central.app import create_app
    from central.logsetup import configure
    from central.serve import serve
    from central.settings import ConfigError

    configure(args.log_level, args.log_format, access_log=args.access_log)
    settings = settings_from(args)
    try:
        app = create_app(settings)
    except ConfigError as exc:
        return _fail(str(exc))
    level = logging.getLevelName(logging.getLogger().level).lower()
    serve(app, host=settings.host, port=settings.port, log_level=level, access_log=args.access_log)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    engine = _engine(settings)
    settings.resolved_secret_key()          # created now (0600) rather than on first serve
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        users = session.scalar(select(func.count()).select_from(User)) or 0
    if users:
        print(f"database at revision {migrate.current_revision(engine)}; users exist, no admin created")
        return 0
    password = read_password(args.password_stdin)
    try:
        with transaction(sessions) as session:
            accounts.create_user(session, args.admin, password, ["admin"])
            audit.record(session, actor=CLI_ACTOR, action="user.add", target=args.admin, outcome="succeeded",
                         detail={"roles": ["admin"]})
    except accounts.AccountError as exc:
        return _fail(str(exc))
    print(f"database ready (revision {migrate.current_revision(engine)}); admin {args.admin!r} created")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    sessions = make_session_factory(_engine(settings_from(args)))
    password = read_password(args.password_stdin)
    try:
        with transaction(sessions) as session:
            accounts.create_user(session, args.username, password, args.role)
            audit.record(session, actor=CLI_ACTOR, action="user.add", target=args.username,
                         outcome="succeeded", detail={"roles": sorted(args.role)})
    except accounts.AccountError as exc:
        return _fail(str(exc))
    print(f"user {args.username!r} added with roles {', '.join(sorted(set(args.role)))}")
    return 0


def cmd_site_add(args: argparse.Namespace) -> int:
    sessions = make_session_factory(_engine(settings_from(args)))
    try:
        with transaction(sessions) as session:
            accounts.create_site(session, args.site_id, name=args.name, name_zh=args.name_zh,
                                 timezone=args.timezone, codec_uri=args.codec_uri,
                                 multisite_capacity=args.multisite_capacity)
            audit.record(session, actor=CLI_ACTOR, action="site.add", target=args.site_id,
                         outcome="succeeded")
    except accounts.AccountError as exc:
        return _fail(str(exc))
    print(f"site {args.site_id!r} added")
    return 0


def cmd_token_issue(args: argparse.Namespace) -> int:
    sessions = make_session_factory(_engine(settings_from(args)))
    try:
        with transaction(sessions) as session:
            row, secret = accounts.issue_site_token(session, args.site, CLI_ACTOR)
            audit.record(session, actor=CLI_ACTOR, action="token.issue", target=args.site,
                         outcome="succeeded", detail={"token_id": row.id})
    except accounts.AccountError as exc:
        return _fail(str(exc))
    print(f"token {row.id} for site {args.site!r} (shown once, only its hash is stored):", file=sys.stderr)
    print(secret)
    return 0
