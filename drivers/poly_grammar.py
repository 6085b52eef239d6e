"""The Poly (Polycom) API's fixed texts: welcome line, notification grammar, causes and the
configuration commands (protocols.md section 2), shared by the driver's session and calls."""

from __future__ import annotations

import re

WELCOME = "Hi, my name is"
#: How many finished calls (id -> cause) the driver remembers.
FINISHED_CAP = 50
#: Q.850 cause values seen in callstatus notifications [unverified mapping of text].
CAUSES: dict[str, str] = {"1": "unallocated number", "16": "normal clearing", "17": "user busy",
                          "19": "no answer", "21": "call rejected", "38": "network out of order"}
NOTIFICATION_PREFIXES = ("notification:", "listen ", "cs:", "active:", "cleared:", "ended:",
                          "dialstring[", "Control event:", "event:")
CALLSTATUS = re.compile(r"^notification:callstatus:(incoming|outgoing):(\d+):(.*):([^:]*):"
                         r"(opened|ringing|connecting|connected|disconnecting|disconnected):(\d*):(\d*):(\w*)$")
LOGIN_PROMPT = re.compile(r"(User(name)?|Password)\s*:\s*$", re.I)
CALLINFO = re.compile(r"^callinfo:(\d+):(.*):([^:]*):(\d+):(\w+):(\w+):(incoming|outgoing):(\w*)$")
CONFIG_COMMANDS: dict[str, tuple[str, str]] = {
    # key -> (get command, set command template); replies start with the command's name
    "network.ipv4.address": ("ipaddress get", 'ipaddress set "{v}"'),
    "network.ipv4.mask": ("subnetmask get", 'subnetmask set "{v}"'),
    "network.ipv4.gateway": ("defaultgateway get", 'defaultgateway set "{v}"'),
    "network.dns": ("dnsserver get 1", 'dnsserver set 1 "{v}"'),
    "sip.uri": ("systemsetting get sipaddress", 'systemsetting sipaddress "{v}"'),
    "sip.proxy": ("systemsetting get sipregistrarserver", 'systemsetting sipregistrarserver "{v}"'),
    "sip.username": ("systemsetting get sipusername", 'systemsetting sipusername "{v}"'),
    "sip.password": ("", 'systemsetting sippassword "{v}"'),
    "h323.gatekeeper": ("gatekeeperip get", 'gatekeeperip set "{v}"'),
    "h323.alias": ("h323name get", 'h323name set "{v}"'),
    "system.name": ("systemname get", 'systemname set "{v}"'),
}


def strip_prompt(line: str) -> str:
    text = line.strip()
    while text.startswith("->"):
        text = text[2:].lstrip()
    return text
