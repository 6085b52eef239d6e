"""The xAPI over HTTP(S): ``GET /getxml?location=/Status/...`` for status and configuration,
``POST /putxml`` with an XML document for commands and settings (protocols.md section 1;
the way Cisco TMS and most integrations drive a codec).

Documents: a status tree ``<Status><Call item="3"><Status>Connected</Status>...`` (list items
carry ``item``), a command ``<Command><Dial command="True"><Number>x</Number></Dial></Command>``
answered ``<Command><DialResult status="OK"><CallId>2</CallId>...``, a setting
``<Configuration><SIP><URI>x</URI></SIP></Configuration>``. A ``status="Error"`` anywhere
carries ``Reason``/``XPath`` and becomes ``CommandRejected`` [reply layout of settings and of
errors unverified: any element with ``status="Error"`` counts].

HTTP pushes nothing unless the unit is told to POST feedback to a server of ours; this channel
polls instead: ``Status/Call`` every ``poll_interval`` seconds while a caller waits on a call, and
for a call that vanished the cause from ``CallHistory Get`` (``DisconnectCauseType`` of the
entry with its ``CallId`` [unverified field names]).
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from urllib.parse import quote

from drivers.cisco_roomos.calls import calls_from_leaves
from drivers.cisco_roomos.channels import XapiChannel
from drivers.cisco_roomos.xapi import FeedbackSink, Leaf, Reply, Request, matches, parse_request
from drivers.codec_common import opt
from drivers.errors import CommandRejected, ConnectError, DeviceTimeout, Disconnected, ProtocolError
from drivers.roles import Endpoint
from drivers.transcript import Transcript
from drivers.transports.http import HttpReply, HttpTransport


def http_transport_for(endpoint: Endpoint, host: str, port: int, *, name: str, transcript: Transcript,
                       connect_timeout: float) -> HttpTransport:
    """The endpoint's HTTP(S) transport: pins in ``tls_fingerprint``, a CA in ``tls_ca_file``, or
    trust on first use recorded next to the SSH known_hosts file (``<known_hosts>.tls``)."""
    o = endpoint.options
    return HttpTransport(
        host, port, tls=endpoint.transport == "https", username=endpoint.username or "admin",
        password=endpoint.password, name=name, transcript=transcript, connect_timeout=connect_timeout,
        ca_file=str(opt(o, "tls_ca_file", "")), fingerprint=str(opt(o, "tls_fingerprint", "")),
        pin_file=pin_file_of(endpoint), trust_on_first_use=endpoint.trust_on_first_use)


def pin_file_of(endpoint: Endpoint) -> str:
    return f"{endpoint.known_hosts}.tls" if endpoint.known_hosts else ""


class HttpChannel(XapiChannel):
    mode = "xml"
    polls = True

    def __init__(self, http: HttpTransport, sink: FeedbackSink, device: str, *,
                 poll_interval: float = 0.2) -> None:
        super().__init__(sink, device)
        self.http = http
        self.poll_interval = poll_interval
        self._watched: set[str] = set()     # calls we know of (dialled, or seen by a poll)
        self._pause = threading.Event()     # waiting between polls is not waiting for a reply

    @property
    def is_open(self) -> bool:
        return self.http.is_open

    def close(self) -> None:
        self.http.close()

    # exchange --------------------------------------------------------------------------------
    def exchange(self, command: str, deadline: float) -> Reply:
        self.check_command(command)
        request = parse_request(command)
        if request is None:
            raise CommandRejected("not recognized", f"{command.split()[0]}: Command not recognized.",
                                  device=self.device, command=command)
        if request.kind == "feedback":
            return {}, []   # nothing is pushed over HTTP: calls are polled
        timeout = max(deadline - time.monotonic(), 0.01)
        if not request.is_config_set and request.kind in ("status", "configuration"):
            return {}, self._query(request, command, timeout)
        doc = self._document(self.http.request("POST", "/putxml", to_xml(request), timeout=timeout), command)
        self._reject_errors(doc, command)
        if request.kind == "configuration":
            return {}, []
        result = next(iter(doc), None)
        if result is None:
            raise ProtocolError("putxml reply without a result", device=self.device, data=ET.tostring(doc))
        fields = {child.tag: (child.text or "").strip() for child in result if len(child) == 0}
        fields["_result"] = result.tag
        if result.tag == "DialResult" and fields.get("CallId"):
            self._watched.add(fields["CallId"])
        return fields, []

    def _query(self, request: Request, command: str, timeout: float) -> list[Leaf]:
        root = "Status" if request.kind == "status" else "Configuration"
        # The location names elements; list items are picked from the answer by number.
        prefix: list[str] = []
        for word in request.path:
            if word.isdigit():
                break
            prefix.append(word)
        location = "/" + "/".join([root, *prefix])
        reply = self.http.request("GET", "/getxml?location=" + quote(location, safe="/"), timeout=timeout)
        doc = self._document(reply, command)
        self._reject_errors(doc, command)
        leaves = [leaf for leaf in flatten_xml(doc) if matches(leaf[0], request.path)]
        if request.kind == "status" and prefix[:1] == ["Call"]:
            self._watched |= {cid for cid, _ in calls_from_leaves(leaves)}
        if not leaves and request.path:
            raise CommandRejected("Error", "No match on address expression.", device=self.device,
                                  command=command)
        return leaves

    def _document(self, reply: HttpReply, command: str) -> ET.Element:
        if reply.status != 200:
            raise CommandRejected(str(reply.status), f"HTTP {reply.status}", device=self.device,
                                  command=command)
        body = reply.body
        if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
            raise ProtocolError("reply declares a DOCTYPE/ENTITY (refused)", device=self.device,
                                data=body[:200])
        try:
            return ET.fromstring(body)
        except ET.ParseError as exc:
            raise ProtocolError(f"unreadable XML reply: {exc}", device=self.device, data=body[:200]) from exc

    def _reject_errors(self, doc: ET.Element, command: str) -> None:
        for elem in doc.iter():
            status = elem.get("status")
            if status is not None and status.lower() != "ok":
                reason = (elem.findtext("Reason") or elem.findtext("XPath") or "error").strip()
                raise CommandRejected(status, reason, device=self.device, command=command)

    # feedback by polling ---------------------------------------------------------------------
    def flush_feedback(self) -> None:
        """Nothing arrives unasked over HTTP."""

    def wait_feedback(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self._pause.wait(min(self.poll_interval, remaining))
        self.poll_calls(deadline)
        return True

    def poll_calls(self, deadline: float) -> None:
        try:
            _, leaves = self.exchange("xStatus Call", max(deadline, time.monotonic() + 1.0))
        except CommandRejected:
            leaves = []    # no call
        now = {cid for cid, _ in calls_from_leaves(leaves)}
        self.sink.status(leaves)
        gone = self._watched - now
        self._watched = (self._watched | now) - gone
        for cid in sorted(gone):
            cause = self._cause_of(cid, deadline)
            if cause:
                self.sink.event("CallDisconnect", {"CallId": cid, "CauseType": cause})
            self.sink.call_gone(cid)

    def _cause_of(self, call_id: str, deadline: float) -> str:
        request = Request("command", ("CallHistory", "Get"), [("Limit", "10"), ("DetailLevel", "Full")])
        try:
            reply = self.http.request("POST", "/putxml", to_xml(request),
                                      timeout=max(deadline - time.monotonic(), 1.0))
            doc = self._document(reply, "xCommand CallHistory Get")
            self._reject_errors(doc, "xCommand CallHistory Get")
        except CommandRejected:
            return ""   # no call history on this unit: the call ended, cause unknown
        for entry in doc.iter("Entry"):
            if (entry.findtext("CallId") or "").strip() == call_id:
                return (entry.findtext("DisconnectCauseType") or "").strip()
        return ""

    def wait_dropped(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            try:
                self.http.request("GET", "/getxml?location=/Status/SystemUnit/Uptime",
                                  timeout=max(min(1.0, deadline - time.monotonic()), 0.05))
            except (ConnectError, Disconnected):
                return True
            except DeviceTimeout:
                continue   # going down may first mean not answering
            self._pause.wait(max(min(0.1, deadline - time.monotonic()), 0.0))
        return False


def flatten_xml(elem: ET.Element, path: tuple[str, ...] = ()) -> list[Leaf]:
    """An xAPI document (root excluded) to leaves; ``item`` attributes become path words."""
    out: list[Leaf] = []
    for child in elem:
        here = (*path, child.tag)
        item = child.get("item")
        if item is not None:
            here = (*here, item)
        if len(child) == 0:
            out.append((here, (child.text or "").strip()))
        else:
            out += flatten_xml(child, here)
    return out


def to_xml(request: Request) -> bytes:
    """A command or a setting as the putxml document."""
    root = ET.Element("Command" if request.kind == "command" else "Configuration")
    node = root
    words = list(request.path)
    i = 0
    while i < len(words):
        node = ET.SubElement(node, words[i])
        if i + 1 < len(words) and words[i + 1].isdigit():
            node.set("item", words[i + 1])
            i += 1
        i += 1
    if request.kind == "command":
        node.set("command", "True")
        for key, value in request.args:
            ET.SubElement(node, key).text = value
    else:
        node.text = request.value or ""
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
