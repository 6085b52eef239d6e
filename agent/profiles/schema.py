"""The three profile kinds as strict pydantic models: unknown keys are errors, types are not coerced.

- ``ModelProfile`` (profiles/models/<model>.yaml): what every unit of a model has in common.
- ``SiteProfile`` (profiles/sites/<site>.yaml): one room, its devices and what it should look like.
- ``VenueProfile`` (profiles/venues/<site>-<venue>.yaml): what changes when the site relocates.

Field comments are the reference for profile authors; ``roomops profiles schema`` exports them as
JSON Schema for editors. Cross-file rules (unknown model, duplicate address...) live in
``agent.profiles.checks``.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from agent.profiles.secrets import ENV_REF, FILE_REF, REFERENCE_HELP

_IDENT = re.compile(r"^[a-z][a-z0-9-]*$")


def _identifier(text: str) -> str:
    if not _IDENT.match(text):
        raise ValueError("must be lower-case letters, digits and '-', starting with a letter")
    return text


def _ipv4(text: str) -> str:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        raise ValueError("not an IPv4 address") from None
    return text


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)


def _host(text: str) -> str:
    """An IPv4 address or a DNS host name. Dotted digits must be an address: 999.0.10.1 is a typo,
    not a host name."""
    if text.startswith("[") and text.endswith("]"):       # an IPv6 literal as URLs write it
        try:
            ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise ValueError("not an IPv6 address") from None
        return text
    labels = text.rstrip(".").split(".")
    if all(label.isdigit() for label in labels):
        return _ipv4(text)
    if len(text) > 253 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise ValueError("not an IPv4 address or host name")
    return text


def _host_port(text: str) -> str:
    host, sep, port = text.rpartition(":") if ":" in text.rpartition("]")[2] else (text, "", "")
    if sep and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError("port must be 1..65535 (host[:port])")
    _host(host)
    return text


def _ipv4_network(text: str) -> str:
    try:
        ipaddress.IPv4Network(text, strict=True)
    except ValueError:
        raise ValueError("not an IPv4 network such as 127.1.2.0/24") from None
    return text


def _secret_ref(text: str) -> str:
    if not (ENV_REF.match(text) or FILE_REF.match(text)):
        raise ValueError(REFERENCE_HELP + " (a literal value is not allowed)")
    return text


def _timezone(text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone (use an IANA name such as Asia/Shanghai)") from None
    return text


def _central_url(text: str) -> str:
    found = re.match(r"^(https?|wss?)://([^\s/]+)", text)
    if not found:
        raise ValueError("must be an http(s):// or ws(s):// URL")
    try:
        _host_port(found.group(2).rpartition("@")[2])
    except ValueError as exc:
        raise ValueError(f"must be an http(s):// or ws(s):// URL with a valid host: {exc}") from None
    return text


def _sip_uri(text: str) -> str:
    if not re.match(r"^(sip:)?[^@\s]+@[^@\s]+$", text):
        raise ValueError("must look like name@domain")
    return text


Identifier = Annotated[str, AfterValidator(_identifier),
                       WithJsonSchema({"type": "string", "pattern": _IDENT.pattern})]
IPv4 = Annotated[str, AfterValidator(_ipv4), WithJsonSchema({"type": "string", "format": "ipv4"})]
Host = Annotated[str, AfterValidator(_host), WithJsonSchema({"type": "string"})]
HostPort = Annotated[str, AfterValidator(_host_port), WithJsonSchema({"type": "string"})]
IPv4Net = Annotated[str, AfterValidator(_ipv4_network), WithJsonSchema({"type": "string"})]
SecretText = Annotated[str, AfterValidator(_secret_ref), WithJsonSchema(
    {"type": "string", "pattern": r"^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|secret:[A-Za-z0-9_.\-/]+)$"})]
TimeZone = Annotated[str, AfterValidator(_timezone), WithJsonSchema({"type": "string"})]
CentralUrl = Annotated[str, AfterValidator(_central_url), WithJsonSchema({"type": "string", "format": "uri"})]
SipUri = Annotated[str, AfterValidator(_sip_uri), WithJsonSchema({"type": "string"})]
Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=0)]

TransportName = Literal["ssh", "telnet", "tcp", "udp", "serial", "https", "http"]
RoleName = Literal["codec", "camera", "switcher", "display", "recorder", "router", "power"]
IP_TRANSPORTS = frozenset({"ssh", "telnet", "tcp", "udp", "https", "http"})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LocalizedName(Strict):
    zh: str
    en: str


# -- device models --------------------------------------------------------------------------------
class TransportDefaults(Strict):
    port: Port | None = None               # default port on the network (ssh 22, telnet 23, pjlink 4352)
    baudrate: int | None = None            # serial only: factory default rate


class ModelCredentials(Strict):
    # how the unit authenticates: name + password (SSH, Poly, APC), password only (PJLink,
    # Extron), or not at all (VISCA). Site credentials that do not apply are ignored.
    login: Literal["user-password", "password", "none"] = "user-password"
    username: str = ""                     # factory login name ("admin"); passwords never live here


class Capabilities(Strict):
    multisite: Count | None = None         # codec: far sites it can host in one call (0 = point-to-point)
    max_call_rate_kbps: Count | None = None
    presets: Count | None = None           # camera/codec presets; switcher global presets
    cameras: Count | None = None
    inputs: Count | None = None            # switcher/display/recorder inputs
    outputs: Count | None = None
    outlets: Count | None = None           # PDU
    lamps: Count | None = None             # projector lamps
    interfaces: list[str] | None = None    # router interfaces, uplink first
    storage_gb: Count | None = None        # recorder


class ModelProfile(Strict):
    id: Identifier                         # equals the file name without .yaml
    vendor: str
    name: str                              # marketing name, e.g. "Webex Room Kit"
    driver: str                            # a key of drivers.registry.DRIVERS
    roles: Annotated[list[RoleName], Field(min_length=1)]
    transports: Annotated[dict[TransportName, TransportDefaults], Field(min_length=1)]  # first = default
    credentials: ModelCredentials = ModelCredentials()
    boot_time: Seconds                     # how long a reboot or power-on takes
    timeout: Seconds = 5.0                 # default command deadline
    capabilities: Capabilities = Capabilities()
    # no ``selftest:`` list: which checks run is the driver's answer to the site's expectations
    # (``roomops profiles show SITE`` lists them per device), never a second list that can lie
    #: how the unit can be restarted remotely: "command" (its own restart command); a PDU outlet
    #: wired in the site profile adds a power cycle. None: it has a restart command.
    reboot_methods: list[Literal["command"]] | None = None
    options: dict[str, Any] = {}           # driver/simulator knobs (documented per driver)
    notes: str = ""


# -- sites ----------------------------------------------------------------------------------------
class Credentials(Strict):
    username: str | None = None
    password: SecretText | None = None     # ${ENV_NAME} or secret:name, never the value


class OutletWire(Strict):
    pdu: Identifier                        # local id of the PDU device feeding this one
    outlet: Annotated[int, Field(ge=1)]


class Identity(Strict):
    serial: str | None = None              # what identify() must report: how a device is found again
    mac: str | None = None
    hostname: str | None = None
    firmware: str | None = None


class NetworkSettings(Strict):
    netmask: IPv4 = "255.255.255.0"        # the address itself is the device's ``address``
    gateway: IPv4 | None = None
    dns: list[IPv4] = []


class SipSettings(Strict):
    uri: SipUri                            # e.g. urumqi@roomops.example
    registrar: Host                        # host name or address of the SIP registrar/proxy
    username: str | None = None
    password: SecretText | None = None
    transport: Literal["tcp", "udp", "tls"] = "tcp"


class DeviceDesired(Strict):
    network: NetworkSettings | None = None      # codec/any IP device: IP configuration to apply
    sip: SipSettings | None = None              # codec only
    routes: dict[int, int] | None = None        # switcher: output -> input
    presets: dict[int, str] | None = None       # camera/codec/switcher: number -> name
    input: str | None = None                    # display input (PJLink code such as "31" = DIGITAL 1)
    power: bool | None = None                   # display/camera power before a meeting
    main_source: int | None = None              # codec main video source
    volume: Annotated[int, Field(ge=0, le=100)] | None = None  # codec


class DeviceExpect(Strict):
    registered: bool | None = None
    hd_rate_kbps: Count | None = None
    min_uplink_mbps: Annotated[float, Field(gt=0)] | None = None
    test_uri: SipUri | None = None
    ping_target: Host | None = None


class DeviceProfile(Strict):
    id: Identifier                         # local id; the full id is "<site>.<id>"
    model: Identifier                      # a file in profiles/models/
    name: str | None = None                # human label, e.g. "Front camera"
    transport: TransportName | None = None     # default: the model's first transport
    address: IPv4 | None = None            # network devices
    port: Port | None = None               # default: site port_map / model default
    serial_device: str | None = None       # serial devices: path (relative = repo root) or pyserial URL
    baudrate: int | None = None
    credentials: Credentials | None = None
    known_hosts: str | None = None
    trust_on_first_use: bool | None = None
    timeout: Seconds | None = None
    boot_time: Seconds | None = None
    identity: Identity = Identity()
    outlet: OutletWire | None = None       # which PDU outlet feeds this device
    via: Identifier | None = None          # device it is controlled through (camera via codec)
    options: dict[str, Any] = {}           # per-device driver knobs, over the model's
    desired: DeviceDesired = DeviceDesired()
    expect: DeviceExpect = DeviceExpect()  # per-device additions to the site's expectations


class SiteDefaults(Strict):
    credentials: Credentials | None = None
    timeout: Seconds | None = None
    boot_time: Seconds | None = None
    known_hosts: str | None = None
    trust_on_first_use: bool | None = None
    port_map: dict[Port, Port] = {}        # model default port -> port at this site (e.g. 22: 2222)


class RoomSettings(Strict):
    camera_preset: Annotated[int, Field(ge=0)] | None = None   # recalled when the room is prepared
    volume: Annotated[int, Field(ge=0, le=100)] | None = None
    microphones_muted: bool = False


class SiteExpect(Strict):
    registered: bool = True                # codec registered to its SIP registrar
    hd_rate_kbps: Annotated[int, Field(ge=64)] = 1920   # call rate at or above which a call counts as HD
    min_uplink_mbps: Annotated[float, Field(gt=0)]      # uplink bandwidth needed before a meeting
    test_uri: SipUri | None = None         # optional test call target (e.g. the bridge)
    ping_target: Host | None = None        # router: what the uplink check pings (address or host name)
    ntp_server: HostPort | None = None     # "host[:port]" for the clock-in-sync check


class SiteProfile(Strict):
    id: Identifier                         # equals the file name without .yaml
    name: LocalizedName
    timezone: TimeZone
    central_url: CentralUrl
    central_token: SecretText | None = None    # the agent's token for the central link
    bridge_uri: SipUri | None = None       # the MCU every site dials in bridge mode
    demo: bool = False                     # simulator credentials: secrets file generated on first use
    secrets_file: str | None = None        # relative paths are resolved against the repo root
    defaults: SiteDefaults = SiteDefaults()
    room: RoomSettings = RoomSettings()
    expect: SiteExpect
    devices: Annotated[list[DeviceProfile], Field(min_length=1)]


# -- venues ---------------------------------------------------------------------------------------
class VenueNetwork(Strict):
    subnet: IPv4Net                        # address plan of the new venue, e.g. 127.1.2.0/24
    gateway: IPv4
    dns: list[IPv4] = []


class SwitcherWiring(Strict):
    routes: dict[int, int]                 # output -> input as cabled at the new venue
    labels: dict[int, str] = {}            # input number -> what is plugged in


class VenueProfile(Strict):
    id: Identifier                         # equals the file name without .yaml
    site: Identifier                       # the site this venue is for
    name: LocalizedName
    location: str | None = None            # street address, building, room
    network: VenueNetwork
    sip_registrar: Host | None = None
    addresses: dict[Identifier, IPv4]      # device local id -> address at the new venue
    wiring: dict[Identifier, SwitcherWiring] = {}   # switcher local id -> wiring


KINDS: dict[str, type[Strict]] = {"model": ModelProfile, "site": SiteProfile, "venue": VenueProfile}
