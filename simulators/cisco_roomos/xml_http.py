"""The Cisco codec's xAPI over HTTP(S): ``/getxml``, ``/putxml`` and the session cookie
(protocols.md section 1: the interface Cisco TMS and most integrations use).

- ``POST /xmlapi/session/begin`` with HTTP Basic auth -> 204 and ``Set-Cookie: SessionId=...``;
  ``/xmlapi/session/end`` forgets it. Every other request needs the cookie or Basic auth (401).
- ``GET /getxml?location=/Status/SIP`` -> ``<Status><SIP><Registration item="1">...``: list
  items carry ``item``; an unknown location answers ``<Status status="Error">`` with ``Reason``
  and ``XPath`` [unverified layout].
- ``POST /putxml`` with ``<Command><Dial command="True"><Number>x</Number></Dial></Command>``
  -> ``<Command><DialResult status="OK"><CallId>2</CallId>...``; a setting
  ``<Configuration><SIP><URI>x</URI></SIP></Configuration>`` -> ``<Configuration status="OK"/>``
  [unverified]. Sessions are gone after a reboot (the unit lost them). Fault knob
  ``no-session-api``: the session URLs answer 404, as on software without them.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import xml.etree.ElementTree as ET
from typing import Any

from simulators.cisco_roomos.model import CiscoXapiModel, Leaf, XapiError
from simulators.https_server import HttpRequest, HttpResponse


class XmlHttpApi(CiscoXapiModel):
    """The HTTP front of the xAPI model."""

    def http_sessions(self) -> set[str]:
        found = getattr(self, "_http_sessions", None)
        if found is None:
            found = self._http_sessions = set()
        return found

    def handle_http(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path.startswith("/xmlapi/session/") and "no-session-api" in self.faults.extra:
            return HttpResponse(404, b"", "text/plain")   # older software: Basic auth only
        if path == "/xmlapi/session/begin" and request.method == "POST":
            if not self._basic_ok(request):
                return HttpResponse(401, headers={"WWW-Authenticate": 'Basic realm="codec"'})
            token = secrets.token_hex(16)
            self.http_sessions().add(token)
            return HttpResponse(204, headers={"Set-Cookie": f"SessionId={token}; Path=/; HttpOnly"})
        if not (self._cookie_ok(request) or self._basic_ok(request)):
            return HttpResponse(401, headers={"WWW-Authenticate": 'Basic realm="codec"'})
        if path == "/xmlapi/session/end" and request.method == "POST":
            self.http_sessions().discard(self._cookie(request))
            return HttpResponse(204)
        if path == "/getxml" and request.method == "GET":
            return self._getxml(request.query.get("location", ""))
        if path == "/putxml" and request.method == "POST":
            return self._putxml(request.body)
        return HttpResponse(404, b"", "text/plain")

    # auth --------------------------------------------------------------------------------------
    @staticmethod
    def _cookie(request: HttpRequest) -> str:
        for part in request.header("cookie").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "SessionId":
                return value
        return ""

    def _cookie_ok(self, request: HttpRequest) -> bool:
        token = self._cookie(request)
        return bool(token) and token in self.http_sessions() and not self.faults.reject_password

    def _basic_ok(self, request: HttpRequest) -> bool:
        scheme, _, token = request.header("authorization").partition(" ")
        if scheme.lower() != "basic" or self.faults.reject_password:
            return False
        try:
            user, _, given = base64.b64decode(token).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user.encode(), self.username.encode()) and hmac.compare_digest(
            given.encode(), self.password.encode())

    # getxml / putxml -----------------------------------------------------------------------------
    def _getxml(self, location: str) -> HttpResponse:
        words = [w for w in location.strip("/").split("/") if w]
        if not words or words[0].lower() not in ("status", "configuration"):
            return self._xml(_error("Status", XapiError("Status", "No match on address expression.",
                                                          location.strip("/"))))
        kind = "Status" if words[0].lower() == "status" else "Configuration"
        leaves = self.status_leaves() if kind == "Status" else self.config_leaves()
        try:
            found = self.select(leaves, words[1:], kind)
        except XapiError as err:
            return self._xml(_error(kind, err))
        return self._xml(tree(kind, found))

    def _putxml(self, body: bytes) -> HttpResponse:
        if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
            return HttpResponse(400, b"", "text/plain")
        try:
            doc = ET.fromstring(body)
        except ET.ParseError:
            return HttpResponse(400, b"", "text/plain")
        after: list[Any] = []
        if doc.tag == "Configuration":
            try:
                for path, value in _leaves_of(doc):
                    self.set_configuration(path, value, after)
            except XapiError as err:
                return self._xml(_error("Configuration", err))
            ok = ET.Element("Configuration", status="OK")
            return self._xml(ok, after)
        if doc.tag != "Command":
            return HttpResponse(400, b"", "text/plain")
        path, args = _command_of(doc)
        result = ET.Element("Command")
        try:
            name, fields = self.run_command(path, args, after)
        except XapiError as err:
            elem = ET.SubElement(result, err.kind or "Result", status="Error")
            ET.SubElement(elem, "Reason").text = err.reason
            if err.xpath:
                ET.SubElement(elem, "XPath").text = err.xpath
            return self._xml(result)
        elem = ET.SubElement(result, name, status="OK")
        for key, value in fields.items():
            if isinstance(value, list):
                for n, item in enumerate(value, 1):
                    entry = ET.SubElement(elem, key, item=str(n))
                    for ik, iv in item.items():
                        ET.SubElement(entry, ik).text = str(iv)
            else:
                ET.SubElement(elem, key).text = str(value)
        return self._xml(result, after)

    @staticmethod
    def _xml(doc: ET.Element, after: list[Any] | None = None) -> HttpResponse:
        body = ET.tostring(doc, encoding="utf-8", xml_declaration=True) + b"\r\n"
        return HttpResponse(200, body, after=list(after or []))


def tree(kind: str, leaves: list[Leaf]) -> ET.Element:
    """Leaves as the xAPI document: a number after a name is that element's ``item``."""
    root = ET.Element(kind)
    for path, value in leaves:
        node = root
        i = 0
        while i < len(path):
            tag = path[i]
            item = path[i + 1] if i + 1 < len(path) and path[i + 1].isdigit() else None
            match = next((c for c in node if c.tag == tag and c.get("item") == item), None)
            if match is None:
                match = ET.SubElement(node, tag, item=item) if item else ET.SubElement(node, tag)
            node = match
            i += 2 if item else 1
        node.text = str(value)
    return root


def _error(kind: str, err: XapiError) -> ET.Element:
    elem = ET.Element(kind, status="Error")
    ET.SubElement(elem, "Reason").text = err.reason
    if err.xpath:
        ET.SubElement(elem, "XPath").text = err.xpath
    return elem


def _leaves_of(elem: ET.Element, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    out: list[tuple[tuple[str, ...], str]] = []
    for child in elem:
        here = (*path, child.tag) + ((child.get("item", ""),) if child.get("item") else ())
        out += _leaves_of(child, here) if len(child) else [(here, (child.text or "").strip())]
    return out


def _command_of(doc: ET.Element) -> tuple[list[str], dict[str, str]]:
    """The command's path and parameters: the element marked ``command="True"``, else the end
    of the chain of single elements."""
    marked = next((e for e in doc.iter() if e.get("command", "").lower() == "true"), None)
    chain: list[ET.Element] = []
    node = doc
    while True:
        children = list(node)
        if marked is not None:
            step = next((c for c in children if marked in c.iter()), None)
        else:
            step = children[0] if len(children) == 1 else None
        if step is None:
            break
        chain.append(step)
        node = step
        if node is marked:
            break
    args = {c.tag.lower(): (c.text or "").strip() for c in node if len(c) == 0} if marked is not None else {}
    return [e.tag for e in chain], args
