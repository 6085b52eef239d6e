"""The Cisco codec's xAPI on a byte stream (SSH shell, Telnet/TCP, RS-232): login, terminal
and JSON output, per-session echo, output mode and feedback registrations.

After the SSH login the shell prints the banner (``Welcome to``, ``Cisco Codec Release ...``,
``SW Release Date``, ``*r Login successful``, blank line, ``OK``). Commands are lines; echo is
on until ``echo off``; output is terminal mode until ``xPreferences OutputMode JSON`` (CE8.1 and
later: a ``TC...`` firmware answers with the usage text instead). Output mode, echo and
``xFeedback`` registrations belong to the session and vanish on reconnect. Over plain TCP
(``transport: tcp`` or ``telnet``) the unit asks ``login:`` / ``Password:`` first, as its Telnet
service does. On RS-232 the port asks the same once something is typed when
``SerialPort LoginRequired`` is on (``serial_login``), and nothing at all when it is off; the
line has no connection to lose, so its session lasts until ``bye``.

Terminal replies: ``*s``/``*c``/``*r`` lines, ``** end``, blank line, ``OK`` (``ERROR`` after an
error block, [unverified] layout ``*r <Name> (status=Error):`` / ``*r <Name> Reason: "..."`` /
``*r <Name> XPath: "..."``); unknown commands get ``Command not recognized.``. JSON replies are
one pretty-printed object per request carrying ``"ResultId"`` when the request ended with
``| resultId="<id>"``. Feedback (``*s``/``*e`` blocks ending ``** end``, or ``{"Status":...}`` /
``{"Event":...}`` objects) is pushed to sessions that registered a matching path.
"""

from __future__ import annotations

import json
import re
from typing import Any

from simulators.cisco_roomos.model import CiscoXapiModel, Leaf, Lit, XapiError
from simulators.codec_common import broadcast, writer_of
from simulators.harness import ConnectionClosed, SimConnection

CRLF = "\r\n"
_RESULT_ID = re.compile(r'\s*\|\s*resultId="([^"]*)"\s*$', re.I)
_ARG = re.compile(r'(\w+)\s*:\s*("([^"]*)"|\S+)')
_EOL = re.compile(rb"\r\n|\n|\r")


class TerminalSessions(CiscoXapiModel):
    """Stream sessions (terminal and JSON output) on top of the xAPI model."""

    # session -------------------------------------------------------------------------------------
    #: ``ssh codec 'xStatus ...'``: protocols.md is silent on exec requests; we take one, answer
    #: that one command in terminal mode and close, as a shell-less client expects.
    accepts_exec = True

    def handle_stream(self, conn: SimConnection) -> None:
        out = writer_of(conn)
        command = conn.state.get("exec")
        if command is not None:
            conn.state.update(echo=False, mode="terminal", feedback=[])
            if str(command).strip():
                self.execute(conn, str(command).strip())
            return
        conn.state.update(echo=True, mode="terminal", feedback=[])
        if self.transport == "serial":
            if self.serial_login and not self._serial_login(conn):
                return
        elif self.transport != "ssh" and not self._telnet_login(conn):
            return
        if self.transport != "serial" or self.serial_login:
            out.send(f"Welcome to {self.settings['system.name']}{CRLF}"
                     f"Cisco Codec Release {self.release}{CRLF}SW Release Date: 2024-01-01{CRLF}"
                     f"*r Login successful{CRLF}{CRLF}OK{CRLF}{CRLF}")
        while True:
            raw = conn.read_until(_EOL)
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            if self.down:
                return
            if conn.state["echo"]:
                out.send(line + CRLF)
            self.execute(conn, line)

    def _telnet_login(self, conn: SimConnection) -> bool:
        for _attempt in range(3):
            conn.send_raw("login: ")
            user = conn.read_until(re.compile(rb"\r\n|\n|\r"), timeout=60).decode("utf-8", "replace").strip()
            conn.send_raw("Password: ")
            given = conn.read_until(re.compile(rb"\r\n|\n|\r"), timeout=60).decode("utf-8", "replace").strip()
            if user == self.username and given == self.password and not self.faults.reject_password:
                conn.send_raw(CRLF)
                return True
            conn.send_raw(CRLF + "Login incorrect" + CRLF)
        conn.close()
        return False

    def _serial_login(self, conn: SimConnection) -> bool:
        """A logged-out console: whatever is typed brings ``login:``; a wrong password again."""
        conn.read_until(_EOL)
        while True:
            conn.send_raw("login: ")
            user = conn.read_until(_EOL).decode("utf-8", "replace").strip()
            if not user:
                continue
            conn.send_raw("Password: ")
            given = conn.read_until(_EOL, timeout=60).decode("utf-8", "replace").strip()
            if user == self.username and given == self.password and not self.faults.reject_password:
                conn.send_raw(CRLF)
                return True
            conn.send_raw(CRLF + "Login incorrect" + CRLF)

    def execute(self, conn: SimConnection, line: str) -> None:
        out = writer_of(conn)
        result_id = None
        m = _RESULT_ID.search(line)
        if m:
            result_id, line = m.group(1), line[: m.start()]
        words = line.split()
        verb = words[0].lower()
        json_mode = conn.state["mode"] == "json"
        after: list[Any] = []
        try:
            if verb == "echo" and len(words) == 2 and words[1].lower() in ("on", "off"):
                conn.state["echo"] = words[1].lower() == "on"
                out.send("OK" + CRLF)
                return
            if verb == "bye":
                conn.close()
                raise ConnectionClosed("bye")
            if verb == "xpreferences":
                out.send(self.preferences(conn, words[1:]))
                return
            if verb == "xstatus":
                leaves = self.select(self.status_leaves(), words[1:], "Status")
                out.send(self.render(conn, "s", "Status", leaves, result_id))
            elif verb == "xconfiguration":
                out.send(self.configuration(conn, line, result_id, after))
            elif verb == "xcommand":
                name, fields = self.command(conn, line, words[1:], after)
                out.send(self.render_result(conn, name, fields, result_id))
            elif verb == "xfeedback":
                out.send(self.feedback(conn, words[1:], result_id))
            else:
                out.send("Command not recognized." + CRLF)   # also in JSON mode [unverified]
                return
        except XapiError as err:
            out.send(self.render_error(json_mode, err, result_id))
            return
        for action in after:
            action()

    # xPreferences / xFeedback ----------------------------------------------------------------------
    def preferences(self, conn: SimConnection, args: list[str]) -> str:
        modes = ("terminal", "xml") if self.tc else ("terminal", "xml", "json")
        if len(args) == 2 and args[0].lower() == "outputmode" and args[1].lower() in modes:
            conn.state["mode"] = args[1].lower()
            return "OK" + CRLF
        return f"xpreferences usage:{CRLF}xpreferences outputmode <{'/'.join(modes)}>{CRLF}OK{CRLF}"

    def feedback(self, conn: SimConnection, args: list[str], result_id: str | None) -> str:
        regs: list[str] = conn.state["feedback"]  # type: ignore[assignment]
        sub = args[0].lower() if args else ""
        if sub == "register" and len(args) == 2:
            if len(regs) >= 38:
                raise XapiError("FeedbackRegisterResult", "Maximum number of feedback expressions reached")
            regs.append(args[1].strip("/").lower())
        elif sub == "deregister" and len(args) == 2:
            path = args[1].strip("/").lower()
            if path in regs:
                regs.remove(path)
        elif sub == "deregisterall":
            regs.clear()
        elif sub == "list":
            if conn.state["mode"] == "json":
                return self._json({"CommandResponse": {"FeedbackListResult": {
                    "status": "OK", "Expression": [{"id": str(i), "Value": "/" + r} for i, r in
                                                   enumerate(regs, 1)]}}}, result_id)
            return "".join(f"/{r}{CRLF}" for r in regs) + f"** end{CRLF}{CRLF}OK{CRLF}"
        else:
            raise XapiError("Feedback", "Unknown xFeedback command")
        if conn.state["mode"] == "json":
            return self._json({"CommandResponse": {"FeedbackResult": {"status": "OK"}}}, result_id)
        return f"** end{CRLF}{CRLF}OK{CRLF}"

    # status / configuration -----------------------------------------------------------------------
    def configuration(self, conn: SimConnection, line: str, result_id: str | None, after: list[Any]) -> str:
        body = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""
        if ":" not in body:
            leaves = self.select(self.config_leaves(), body.split(), "Configuration")
            return self.render(conn, "c", "Configuration", leaves, result_id)
        path_text, _, value_text = body.partition(":")
        value = value_text.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        self.set_configuration(tuple(path_text.split()), value, after)
        if conn.state["mode"] == "json":
            return self._json({"CommandResponse": {"Configuration": {"status": "OK"}}}, result_id)
        return f"** end{CRLF}{CRLF}OK{CRLF}"

    # xCommand ----------------------------------------------------------------------------------------
    def command(self, conn: SimConnection, line: str, words: list[str], after: list[Any]
                ) -> tuple[str, dict[str, Any]]:
        path: list[str] = []
        for w in words:
            if ":" in w:
                break
            path.append(w)
        args = {m.group(1).lower(): (m.group(3) if m.group(3) is not None else m.group(2))
                for m in _ARG.finditer(line)}
        return self.run_command(path, args, after)

    # rendering ---------------------------------------------------------------------------------------
    @staticmethod
    def _fmt(value: Any) -> str:
        if isinstance(value, Lit | int):
            return str(value)
        return '"' + str(value).replace('"', '\\"') + '"'

    def render(self, conn: SimConnection, prefix: str, kind: str, leaves: list[Leaf],
               result_id: str | None) -> str:
        if conn.state["mode"] == "json":
            return self._json({kind: self._tree(leaves)}, result_id)
        lead = f"*{prefix} " + ("xConfiguration " if prefix == "c" else "")
        lines = [f"{lead}{' '.join(path)}: {self._fmt(v)}" for path, v in leaves]
        return CRLF.join([*lines, "** end", "", "OK"]) + CRLF

    def render_result(self, conn: SimConnection, name: str, fields: dict[str, Any],
                      result_id: str | None) -> str:
        if conn.state["mode"] == "json":
            body: dict[str, Any] = {"status": "OK"}
            for k, v in fields.items():
                body[k] = [{"id": str(n), **{ik: {"Value": str(iv)} for ik, iv in item.items()}}
                           for n, item in enumerate(v, 1)] if isinstance(v, list) else {"Value": str(v)}
            return self._json({"CommandResponse": {name: body}}, result_id)
        lines = [f"*r {name} (status=OK):"]
        for k, v in fields.items():
            if isinstance(v, list):   # list items (CallHistory entries): one line per field
                lines += [f"*r {name} {k} {n} {ik}: {self._fmt(iv)}" for n, item in enumerate(v, 1)
                          for ik, iv in item.items()]
            else:
                lines.append(f"*r {name} {k}: {self._fmt(v)}")
        return CRLF.join([*lines, "** end", "", "OK"]) + CRLF

    def render_error(self, json_mode: bool, err: XapiError, result_id: str | None) -> str:
        if json_mode:
            body: dict[str, Any] = {"status": "Error", "Reason": {"Value": err.reason}}
            if err.xpath:
                body["XPath"] = {"Value": err.xpath}
            if err.kind in ("Status", "Configuration"):
                return self._json({err.kind: body}, result_id)
            return self._json({"CommandResponse": {err.kind: body}}, result_id)
        lines = [f"*r {err.kind} (status=Error):", f'*r {err.kind} Reason: "{err.reason}"']
        if err.xpath:
            lines.append(f'*r {err.kind} XPath: "{err.xpath}"')
        return CRLF.join([*lines, "** end", "", "ERROR"]) + CRLF

    @staticmethod
    def _tree(leaves: list[Leaf]) -> dict[str, Any]:
        root: dict[str, Any] = {}
        for path, value in leaves:
            node: Any = root
            i = 0
            while i < len(path):
                key = path[i]
                last = i == len(path) - 1
                nxt = path[i + 1] if not last else None
                if nxt is not None and nxt.isdigit():
                    items = node.setdefault(key, [])
                    item = next((it for it in items if it["id"] == nxt), None)
                    if item is None:
                        item = {"id": nxt}
                        items.append(item)
                    node = item
                    i += 2
                    if i == len(path):
                        break
                    continue
                if last:
                    node[key] = {"Value": str(value)}
                else:
                    node = node.setdefault(key, {})
                i += 1
        return root

    @staticmethod
    def _json(obj: dict[str, Any], result_id: str | None) -> str:
        if result_id is not None:
            obj["ResultId"] = result_id
        return json.dumps(obj, indent=2).replace("\n", CRLF) + CRLF

    # feedback ----------------------------------------------------------------------------------------
    def push_status(self, leaves: list[Leaf], ghost_call: str | None = None) -> None:
        def build(conn: SimConnection) -> str | None:
            regs: list[str] = conn.state.get("feedback", [])  # type: ignore[assignment]
            mine = [(p, v) for p, v in leaves if any(("status/" + "/".join(p).lower()).startswith(r)
                                                     for r in regs)]
            ghost = ghost_call is not None and any(
                "status/call".startswith(r) or r.startswith("status/call") for r in regs)
            if not mine and not ghost:
                return None
            if conn.state.get("mode") == "json":
                tree = self._tree(mine)
                if ghost:
                    tree.setdefault("Call", []).append({"id": ghost_call, "ghost": "True"})
                return self._json({"Status": tree}, None)
            lines = [f"*s {' '.join(p)}: {self._fmt(v)}" for p, v in mine]
            if ghost:
                lines.append(f"*s Call {ghost_call} (ghost=True):")
            return CRLF.join([*lines, "** end"]) + CRLF

        broadcast(self, build)

    def push_event(self, name: str, fields: list[tuple[str, Any]]) -> None:
        def build(conn: SimConnection) -> str | None:
            regs: list[str] = conn.state.get("feedback", [])  # type: ignore[assignment]
            if not any(f"event/{name.lower()}".startswith(r) for r in regs):
                return None
            if conn.state.get("mode") == "json":
                return self._json({"Event": {name: {k: {"Value": str(v)} for k, v in fields}}}, None)
            lines = [f"*e {name} {k}: {self._fmt(v)}" for k, v in fields]
            return CRLF.join([*lines, "** end"]) + CRLF

        broadcast(self, build)
