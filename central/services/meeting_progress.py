"""How a started meeting moves on when a command of it finishes, and the room's preparation live.

Prepare answers as soon as the room's call part (codec, network) is ready; the other steps
(display, switcher, camera preset) go on beside the call and report each change as a
``prepare_step`` event, kept per site in ``MeetingSite.preparation``. In bridge mode a prepared
site dials at once; in host mode the host dials the far ends once none is still preparing (a
site added or redialled later is dialled on its own). The host's recorder starts when the host's
call is up, and only if the host has a recorder. Every failure leaves a ``problem_code`` (a
catalogue key the dashboard translates) and the raw text in ``problem`` as evidence.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from central.models import CommandRow, Meeting, MeetingSite, Recording, Site
from central.services.meetings import (
    CALL_UP,
    call_uri,
    links_of,
    loaded,
    multisite_capacity,
    recorder,
    send,
)

RECORDING_FIELDS = ("file", "size", "duration", "sha256")
#: what a preparation step can be: running, waiting (retrying after a refusal), done, failed
STEP_STATES = frozenset({"pending", "running", "waiting", "done", "failed"})


def fail(link: MeetingSite, code: str, raw: str | None, *, call: bool = True) -> None:
    """Mark the site's problem (and, with ``call``, its call) as failed."""
    if call:
        link.call_state = "failed"
    link.problem_code = code
    link.problem = raw


def after(session: Session, meeting: Meeting, link: MeetingSite, command: CommandRow,
          deadline_seconds: float, default_capacity: int) -> None:
    ok = command.state == "succeeded"
    raw = None if ok else f"{command.kind} {command.state}: {command.error or 'no reason given'}"
    handler = _HANDLERS.get(command.kind)
    if handler is not None:
        handler(session, meeting, link, command, ok, raw, deadline_seconds, default_capacity)


def _actor(meeting: Meeting) -> str:
    return meeting.started_by or "system"


# -- prepare ----------------------------------------------------------------------------------------
def _after_prepare(session: Session, meeting: Meeting, link: MeetingSite, command: CommandRow, ok: bool,
                   raw: str | None, deadline_seconds: float, default_capacity: int) -> None:
    if meeting.state != "started" or link.call_state == "dropped":
        return
    merge_steps(link, [{**step, "state": step.get("state", "running")}
                       for step in command.result.get("beside") or [] if isinstance(step, dict)],
                keep_newer=True)
    if command.state == "expired":
        fail(link, "prepare_expired", raw)
        if command.args.get("join") and meeting.mode == "host":
            return
    else:
        link.call_state = "prepared"
        # a failed prepare still lets the site try to join
        link.problem, link.problem_code = (None, None) if ok else (raw, "prepare_failed")
    if meeting.mode == "bridge":
        if command.state != "expired":
            send(session, meeting, link.site_id, "connect",
                 {"meeting_id": meeting.id, "mode": "bridge", "bridge_uri": meeting.bridge_uri},
                 _actor(meeting), deadline_seconds)
            link.call_state = "dialing"
        return
    if command.args.get("join") and link.site_id != meeting.host_site:
        host_dials(session, meeting, [link], deadline_seconds, default_capacity)   # added later
        return
    _maybe_host_dials(session, meeting, deadline_seconds, default_capacity)


def _maybe_host_dials(session: Session, meeting: Meeting, deadline_seconds: float,
                      default_capacity: int) -> None:
    links = links_of(session, meeting.id)
    if any(link.call_state == "preparing" for link in links):
        return
    host = next(link for link in links if link.site_id == meeting.host_site)
    if host.call_state != "prepared":
        return
    far = [link for link in links if link is not host and link.call_state == "prepared"]
    if not host_dials(session, meeting, far, deadline_seconds, default_capacity, initial=True):
        fail(host, "no_site_to_dial", "no site to dial")


def host_dials(session: Session, meeting: Meeting, far: list[MeetingSite], deadline_seconds: float,
               default_capacity: int, *, initial: bool = False, redial: bool = False) -> bool:
    """The host's ``connect`` to ``far`` (within its capacity); False when nobody is dialled.
    Outside the first dial the command names the sites it is for, so its failure fails them,
    not the host's other calls."""
    host_site = session.get(Site, meeting.host_site)
    assert host_site is not None
    capacity = multisite_capacity(session, host_site, default_capacity)
    _, links = loaded(session, meeting.id)
    in_call = 0 if initial else sum(
        1 for link in links.values()
        if link.site_id != meeting.host_site and link not in far and link.call_state in
        ("ringing", "connecting", CALL_UP))
    participants: list[dict[str, str]] = []
    for link in far:
        site = session.get(Site, link.site_id)
        uri = call_uri(session, site) if site is not None else None
        if uri is None:
            fail(link, "no_call_uri", "no call URI known for this site's codec")
        elif in_call + len(participants) >= capacity:
            fail(link, "over_capacity", f"over the host codec's multisite capacity ({capacity})")
        else:
            participants.append({"site": link.site_id, "uri": uri})
            link.call_state = "ringing"
    if not participants:
        return False
    args: dict[str, Any] = {"meeting_id": meeting.id, "mode": "host", "participants": participants}
    if not initial:
        args["for_sites"] = [p["site"] for p in participants]
    if redial:
        args["redial"] = True
    send(session, meeting, meeting.host_site, "connect", args, _actor(meeting), deadline_seconds)
    if initial:
        links[meeting.host_site].call_state = "dialing"
    return True


# -- call, recording, hang-up, mute ----------------------------------------------------------------
def _after_connect(session: Session, meeting: Meeting, link: MeetingSite, command: CommandRow, ok: bool,
                   raw: str | None, deadline_seconds: float, default_capacity: int) -> None:
    if meeting.state != "started":
        return
    for_sites = command.args.get("for_sites")
    if for_sites:     # the host dialled some far ends again: their own reports tell the rest
        if not ok:
            _, links = loaded(session, meeting.id)
            for site in for_sites:
                if site in links and links[site].call_state != CALL_UP:
                    fail(links[site], "connect_failed", raw)
        return
    if not ok:
        fail(link, "connect_expired" if command.state == "expired" else "connect_failed", raw)
        return
    reported = command.result.get("call_state")
    link.call_state = str(reported) if reported else CALL_UP
    link.problem = link.problem_code = None
    if link.site_id == meeting.host_site and link.recording is None:
        rec = recorder(session, link.site_id)
        if rec is None:
            return      # a host without a recorder records nothing: no recording row at all
        send(session, meeting, link.site_id, "record_start", {"meeting_id": meeting.id},
             _actor(meeting), deadline_seconds, rec.id)
        link.recording = "starting"


def _after_record_start(session: Session, meeting: Meeting, link: MeetingSite, command: CommandRow,
                        ok: bool, raw: str | None, deadline_seconds: float, default_capacity: int) -> None:
    if link.recording == "starting":
        link.recording = "recording" if ok else "failed"
    if not ok:
        fail(link, "record_failed", raw, call=False)


def _after_disconnect(session: Session, meeting: Meeting, link: MeetingSite, command: CommandRow, ok: bool,
                      raw: str | None, deadline_seconds: float, default_capacity: int) -> None:
    if not ok:
        fail(link, "disconnect_failed", raw)
    elif command.args.get("drop") or link.call_state == "dropped":
        link.call_state = "dropped"
    else:
        link.call_state = "disconnected"


def _after_mute(session: Session, meeting: Meeting, link: MeetingSite, command: CommandRow, ok: bool,
                raw: str | None, deadline_seconds: float, default_capacity: int) -> None:
    if ok:
        link.muted = bool(command.args.get("on"))
        if link.problem_code == "mute_failed":
            link.problem = link.problem_code = None
    else:
        fail(link, "mute_failed", raw, call=False)


def _after_record_stop(session: Session, meeting: Meeting, link: MeetingSite, command: CommandRow, ok: bool,
                       raw: str | None, deadline_seconds: float, default_capacity: int) -> None:
    if not ok:
        link.recording = "failed"
        fail(link, "record_failed", raw, call=False)
        return
    result = command.result
    missing = [name for name in RECORDING_FIELDS if name not in result]
    try:
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        recording = Recording(
            meeting_id=meeting.id, site_id=link.site_id, file=str(result["file"]), size=int(result["size"]),
            duration_s=float(result["duration"]), sha256=str(result["sha256"]).lower(),
        )
        if len(recording.sha256) != 64 or any(c not in "0123456789abcdef" for c in recording.sha256):
            raise ValueError("sha256 is not 64 hex digits")
    except (ValueError, TypeError) as exc:
        link.recording = "failed"
        fail(link, "record_failed", f"record_stop result unusable: {exc}", call=False)
        return
    session.add(recording)
    link.recording = "stopped"


_HANDLERS = {
    "prepare": _after_prepare, "connect": _after_connect, "record_start": _after_record_start,
    "record_stop": _after_record_stop, "disconnect": _after_disconnect, "mute": _after_mute,
}


# -- preparation beside the call -------------------------------------------------------------------
def _step_key(step: dict[str, Any]) -> tuple[str, str]:
    return str(step.get("device", "")), str(step.get("step", ""))


def merge_steps(link: MeetingSite, steps: list[dict[str, Any]], *, keep_newer: bool = False) -> None:
    """Upsert steps by (device, step); ``keep_newer`` leaves a step already reported alone (the
    prepare result may arrive after the step's own events)."""
    if not steps:
        return
    current = {_step_key(s): s for s in link.preparation or []}
    for step in steps:
        key = _step_key(step)
        if keep_newer and key in current:
            continue
        state = str(step.get("state", "running"))
        current[key] = {"device": key[0], "step": key[1], "role": str(step.get("role", "")),
                        "state": state if state in STEP_STATES else "running",
                        "reason": str(step.get("reason", ""))[:500],
                        "evidence": str(step.get("evidence", ""))[:2000]}
    link.preparation = list(current.values())     # a new list: JSON columns see only assignment


def on_prepare_step(session: Session, site_id: str, device: str | None, data: dict[str, Any]) -> None:
    """A ``prepare_step`` event: one step of the room's preparation changed."""
    meeting_id = data.get("meeting_id")
    if not meeting_id:
        return
    meeting, links = loaded(session, str(meeting_id))
    link = links.get(site_id)
    if meeting is None or link is None:
        return
    merge_steps(link, [{**data, "device": device or data.get("device", "")}])
