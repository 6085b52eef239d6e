"""Remote commands from central: each command id runs at most once, every outcome is reported.

The record of a command is written (``running``) before it starts, so a repeat of the id, even
after an agent restart, never runs it again: a finished command answers with its stored result,
one that was cut short by a restart is reported failed rather than re-run (a reboot or a dial
must not happen twice). Handlers are ``async (agent, command) -> dict``; they raise
``CommandFailed`` (with partial results) or a ``DeviceError``.

A command this agent cannot carry out in full (a kind it does not know, or a field a newer central
added) is not run at all: it is answered ``failed`` with ``result.unsupported`` and the reason.
The store's writes go through the agent's disk writer; ``begin`` waits for its commit, so a
command is on disk before it runs, and the records of this run are kept in memory too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent import command_args
from agent.disk import DiskWriter, connect
from contracts.messages import COMMAND_KINDS, SCHEMA_MINOR, SCHEMA_VERSION, Command, CommandResult, utcnow
from drivers.errors import DeviceError

log = logging.getLogger(__name__)

Handler = Callable[[Any, Command], Awaitable[dict[str, Any]]]
FINAL = ("succeeded", "failed", "expired")


class CommandFailed(Exception):
    """A command did not achieve its goal; ``result`` says how far it got."""

    def __init__(self, message: str, result: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = dict(result or {})


@dataclass(frozen=True)
class CommandRecord:
    command_id: str
    kind: str
    device: str | None
    state: str
    result: dict[str, Any]
    error: str | None
    finished_at: datetime | None


class CommandStore:
    """SQLite record of every command id seen (WAL, synchronous=FULL), written by the disk writer."""

    def __init__(self, path: str | Path, writer: DiskWriter | None = None) -> None:
        self._own_writer = writer is None
        self.writer = writer or DiskWriter("agent-commands")
        self._lock = threading.Lock()
        self._db = connect(path)
        self._db.execute("""CREATE TABLE IF NOT EXISTS commands (
            command_id TEXT PRIMARY KEY, kind TEXT NOT NULL, device TEXT, state TEXT NOT NULL,
            result TEXT NOT NULL DEFAULT '{}', error TEXT, received TEXT NOT NULL, finished TEXT)""")
        #: records written since start (the disk may lag a commit behind; this never does)
        self._recent: dict[str, CommandRecord] = {}

    def get(self, command_id: str) -> CommandRecord | None:
        with self._lock:
            recent = self._recent.get(command_id)
            if recent is not None:
                return recent
            row = self._db.execute("SELECT command_id, kind, device, state, result, error, finished "
                                   "FROM commands WHERE command_id = ?", (command_id,)).fetchone()
        if row is None:
            return None
        finished = datetime.fromisoformat(row[6]) if row[6] else None
        return CommandRecord(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], finished)

    async def begin(self, cmd: Command) -> bool:
        """Record the command as running, on disk; False if the id was already known."""
        if self.get(cmd.command_id) is not None:
            return False
        with self._lock:
            self._recent[cmd.command_id] = CommandRecord(cmd.command_id, cmd.kind, cmd.device, "running", {},
                                                         None, None)
        received = utcnow().isoformat()
        values = (cmd.command_id, cmd.kind, cmd.device, received)
        written = await self.writer.run(self._db, lambda db: db.execute(
            "INSERT OR IGNORE INTO commands (command_id, kind, device, state, received) "
            "VALUES (?, ?, ?, 'running', ?)", values).rowcount)
        return written == 1

    def finish(self, command_id: str, state: str, result: Mapping[str, Any], error: str | None) -> datetime:
        at = utcnow()
        stored = json.dumps(dict(result), default=str)
        with self._lock:
            known = self._recent.get(command_id)
            if known is not None:
                self._recent[command_id] = CommandRecord(command_id, known.kind, known.device, state,
                                                         json.loads(stored), error, at)
            self.writer.submit(self._db, lambda db: db.execute(
                "UPDATE commands SET state = ?, result = ?, error = ?, finished = ? WHERE command_id = ?",
                (state, stored, error, at.isoformat(), command_id)))
        return at

    def close(self) -> None:
        if self._own_writer:
            self.writer.close()
        else:
            self.writer.barrier().result(timeout=30)
        with self._lock:
            self._db.close()


class CommandRunner:
    """Accepts commands from the link and runs them as tasks; results go to ``emit``."""

    def __init__(self, agent: Any, store: CommandStore, handlers: Mapping[str, Handler],
                 emit: Callable[[CommandResult], None]) -> None:
        self.agent = agent
        self.store = store
        self.handlers = dict(handlers)
        self._emit = emit
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def submit(self, cmd: Command) -> None:
        """Persist and start ``cmd`` (returns at once); a known id is answered from the record."""
        site = self.agent.site.id
        known = self.store.get(cmd.command_id)
        if known is not None:
            if known.state in FINAL:
                self._emit(CommandResult(site=site, command_id=cmd.command_id, state=known.state,  # type: ignore[arg-type]
                                         result={**known.result, "repeat": True}, error=known.error,
                                         finished_at=known.finished_at))
            elif cmd.command_id not in self._tasks:
                self._finish(cmd, "failed", {}, "the agent restarted while this command ran; not run again")
            return
        unsupported = self.unsupported(cmd)
        if unsupported is not None:
            if await self.store.begin(cmd):
                log.warning("command %s (%s) refused: %s", cmd.command_id, cmd.kind, unsupported)
                self._finish(cmd, "failed", {"unsupported": True}, f"unsupported: {unsupported}")
            return
        if cmd.deadline <= datetime.now(UTC):
            await self.store.begin(cmd)
            self._finish(cmd, "expired", {}, "deadline passed before the command arrived")
            return
        if not await self.store.begin(cmd):
            return
        self._emit(CommandResult(site=site, command_id=cmd.command_id, state="running"))
        task = asyncio.create_task(self._execute(cmd), name=f"command-{cmd.kind}-{cmd.command_id}")
        self._tasks[cmd.command_id] = task
        task.add_done_callback(lambda _t, cid=cmd.command_id: self._tasks.pop(cid, None))

    def unsupported(self, cmd: Command) -> str | None:
        """Why this agent cannot carry ``cmd`` out in full, or None."""
        here = f"this agent (schema {SCHEMA_VERSION}.{SCHEMA_MINOR})"
        if cmd.kind not in self.handlers:
            known = "known to central but not implemented" if cmd.kind in COMMAND_KINDS else "unknown"
            return f"command kind {cmd.kind!r} is {known} on {here}"
        extra = cmd.unknown_fields()
        if extra:
            return f"{here} does not know the command field(s) {', '.join(extra[:10])}"
        return None

    async def refuse_unreadable(self, command_id: str, reason: str) -> None:
        """A command frame this agent could not even parse: answered with an unsupported result."""
        if self.store.get(command_id) is not None:
            return
        stub = Command.model_construct(command_id=command_id, msg_id=command_id, kind="?", device=None,
                                       args={}, deadline=utcnow(), site=self.agent.site.id)
        if await self.store.begin(stub):
            self._finish(stub, "failed", {"unsupported": True}, f"unsupported: {reason}")

    async def wait(self, command_id: str) -> None:
        task = self._tasks.get(command_id)
        if task is not None:
            await task

    async def _execute(self, cmd: Command) -> None:
        handler = self.handlers[cmd.kind]      # submit() refused kinds without a handler
        try:
            cmd = cmd.model_copy(update={"args": command_args.validate(cmd.kind, cmd.args)})
        except command_args.BadArguments as exc:
            self._finish(cmd, "failed", {}, f"bad command arguments: {exc}")
            return
        remaining = (cmd.deadline - datetime.now(UTC)).total_seconds()
        try:
            result = await asyncio.wait_for(handler(self.agent, cmd), max(remaining, 0.001))
        except TimeoutError:
            self._finish(cmd, "expired", {}, f"not finished by its deadline ({remaining:.0f}s)")
        except CommandFailed as exc:
            self._finish(cmd, "failed", exc.result, str(exc))
        except DeviceError as exc:
            self._finish(cmd, "failed", {}, f"{exc.reason}: {exc}")
        except (KeyError, ValueError, TypeError) as exc:
            self._finish(cmd, "failed", {}, f"bad command arguments: {exc}")
        except Exception as exc:  # noqa: BLE001 - every failure is reported to central, never lost
            log.exception("command %s (%s) crashed", cmd.command_id, cmd.kind)
            self._finish(cmd, "failed", {}, f"internal error: {exc!r}")
        else:
            self._finish(cmd, "succeeded", result, None)

    def _finish(self, cmd: Command, state: str, result: Mapping[str, Any], error: str | None) -> None:
        at = self.store.finish(cmd.command_id, state, result, error)
        log.info("command %s %s: %s%s", cmd.kind, cmd.command_id, state, f" ({error})" if error else "")
        self._emit(CommandResult(site=self.agent.site.id, command_id=cmd.command_id, state=state,  # type: ignore[arg-type]
                                 result=json.loads(json.dumps(dict(result), default=str)), error=error,
                                 finished_at=at))

    async def cancel_all(self) -> None:
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
