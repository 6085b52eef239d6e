"""Load, check and resolve profiles. All problems of a file come back together in one
``ProfileError``; nothing here prints or exits.

Layout: ``<root>/profiles/{models,sites,venues}/*.yaml``. ``<root>`` (the repo root for the
shipped profiles) is the folder that holds ``profiles/``; relative paths inside a profile
(``secrets_file``, ``serial_device``, ``known_hosts``) are resolved against it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agent.profiles.checks import check_model, check_site, check_venue
from agent.profiles.errors import Issue, IssueList, ProfileError
from agent.profiles.layering import Candidate, Choice, Located, Origin, choose
from agent.profiles.resolved import (
    OutletRef,
    ResolvedDevice,
    ResolvedModel,
    ResolvedSite,
    ResolvedVenue,
    desired_state_of,
)
from agent.profiles.salvage import parse_partial
from agent.profiles.schema import (
    DeviceProfile,
    ModelProfile,
    SiteProfile,
    VenueProfile,
)
from agent.profiles.secrets import SecretError, SecretRef, SecretStore

DEFAULT_BAUDRATE = 9600


# -- where things are -------------------------------------------------------------------------------
def profiles_dir_of(path: Path) -> Path:
    """``.../profiles`` for a file in ``.../profiles/<kind>/``; else the file's own folder's parent."""
    return path.resolve().parent.parent


def root_of(path: Path) -> Path:
    profiles = profiles_dir_of(path)
    return profiles.parent if profiles.name == "profiles" else path.resolve().parent


def under_root(root: Path, text: str) -> str:
    """A profile path: absolute and URLs (``socket://``, ``rfc2217://``) as given, else under root."""
    if "://" in text or os.path.isabs(text):
        return text
    return str(root / text)


# -- models ----------------------------------------------------------------------------------------
def load_model(path: str | Path) -> ResolvedModel:
    file = Path(path)
    model, lines, issues, pruned = parse_partial(ModelProfile, file)
    if model is not None:
        schema_issues = len(issues.items)
        check_model(model, file, issues)
        issues.drop_consequences(pruned, schema_issues)
    issues.raise_if_any()
    assert model is not None
    return ResolvedModel(model.id, str(file), model, lines)


def _load_models(names: Iterable[str],
                 models_dir: Path) -> tuple[dict[str, ResolvedModel | None], list[Issue]]:
    models: dict[str, ResolvedModel | None] = {}
    issues: list[Issue] = []
    for name in sorted(set(names)):
        file = models_dir / f"{name}.yaml"
        if not file.exists():
            models[name] = None
            continue
        try:
            models[name] = load_model(file)
        except ProfileError as exc:
            models[name] = None
            issues.extend(exc.issues)
    return models, issues


# -- sites -----------------------------------------------------------------------------------------
def load_site(path: str | Path, *, models_dir: str | Path | None = None,
              environ: Mapping[str, str] | None = None, check_secrets: bool = True) -> ResolvedSite:
    """Parse, cross-check and resolve a site profile. With ``check_secrets`` every reference must
    resolve (a demo site's missing simulator credentials are generated)."""
    file = Path(path)
    # one pass: schema problems, cross-key checks, models and secrets are all reported together
    site, lines, issues, pruned = parse_partial(SiteProfile, file)
    if site is None:
        issues.raise_if_any()
    assert site is not None
    schema_issues = len(issues.items)
    root = root_of(file)
    mdir = Path(models_dir) if models_dir is not None else profiles_dir_of(file) / "models"
    models, model_issues = _load_models((d.model for d in site.devices), mdir)
    check_site(site, file, models, mdir, issues)
    store = SecretStore(Path(under_root(root, site.secrets_file)) if site.secrets_file else None,
                        demo=site.demo, environ=environ)
    if check_secrets and (issues or model_issues):
        _check_secrets(site, store, issues)     # else below, once the devices resolved
    issues.drop_consequences(pruned, schema_issues)
    if model_issues or issues:
        raise ProfileError([*issues.items, *model_issues])
    doc = Located("device", str(file), lines)
    defaults = Located("site defaults", str(file), lines)
    devices = [_resolve_device(site, i, dev, models[dev.model], doc, defaults, root, store)  # type: ignore[arg-type]
               for i, dev in enumerate(site.devices)]
    if check_secrets:
        _check_secrets(site, store, issues)
        issues.raise_if_any()
    room = site.room.model_dump()
    return ResolvedSite(
        id=site.id, name_zh=site.name.zh, name_en=site.name.en, timezone=site.timezone,
        central_url=site.central_url, demo=site.demo, file=str(file), root=root, devices=devices,
        desired_state=desired_state_of(None, devices, room=room),
        expectations=site.expect.model_dump(exclude_none=True),
        central_token_ref=SecretRef.parse(site.central_token) if site.central_token else None,
        bridge_uri=site.bridge_uri or "", store=store)


def _resolve_device(site: SiteProfile, i: int, dev: DeviceProfile, model: ResolvedModel,
                    doc: Located, defaults: Located, root: Path, store: SecretStore) -> ResolvedDevice:
    at = ("devices", i)
    mdoc = Located("model", model.file, model.lines)
    prof = model.profile
    sd = site.defaults
    transport = choose(doc.at(dev.transport, *at, "transport"),
                       Candidate(model.transports[0], mdoc.origin(("transports", model.transports[0]))))
    model_port = prof.transports[transport.value].port
    port = choose(doc.at(dev.port, *at, "port"),
                  defaults.at(sd.port_map.get(model_port) if model_port else None, "defaults", "port_map",
                              model_port or 0),
                  mdoc.at(model_port, "transports", transport.value, "port"), default=0)
    serial_defaults = prof.transports.get("serial")
    baudrate = choose(doc.at(dev.baudrate, *at, "baudrate"),
                      mdoc.at(serial_defaults.baudrate if serial_defaults else None,
                              "transports", "serial", "baudrate"), default=DEFAULT_BAUDRATE)
    login = prof.credentials.login
    dev_cred = dev.credentials if login != "none" else None
    site_cred = sd.credentials if login != "none" else None
    if login != "user-password":
        username = Choice("", Origin("model", model.file, model.lines.get(("credentials", "login")),
                                     ("credentials", "login")))
    else:
        username = choose(doc.at(dev_cred.username if dev_cred else None, *at, "credentials", "username"),
                          defaults.at(site_cred.username if site_cred else None, "defaults",
                                      "credentials", "username"),
                          mdoc.at(prof.credentials.username or None, "credentials", "username"),
                          default="")
    password = choose(doc.at(dev_cred.password if dev_cred else None, *at, "credentials", "password"),
                      defaults.at(site_cred.password if site_cred else None, "defaults", "credentials",
                                  "password"))
    timeout = choose(doc.at(dev.timeout, *at, "timeout"), defaults.at(sd.timeout, "defaults", "timeout"),
                     mdoc.at(prof.timeout, "timeout"))
    boot_time = choose(doc.at(dev.boot_time, *at, "boot_time"),
                       defaults.at(sd.boot_time, "defaults", "boot_time"),
                       mdoc.at(prof.boot_time, "boot_time"))
    known_hosts = choose(doc.at(dev.known_hosts, *at, "known_hosts"),
                         defaults.at(sd.known_hosts, "defaults", "known_hosts"), default="")
    tofu = choose(doc.at(dev.trust_on_first_use, *at, "trust_on_first_use"),
                  defaults.at(sd.trust_on_first_use, "defaults", "trust_on_first_use"), default=False)
    choices: dict[str, Choice] = {
        "transport": transport, "port": port, "baudrate": baudrate, "username": username,
        "password": password, "timeout": timeout, "boot_time": boot_time, "known_hosts": known_hosts,
        "trust_on_first_use": tofu,
    }
    if dev.address is not None:
        choices["address"] = choose(doc.at(dev.address, *at, "address"))
    if dev.serial_device is not None:
        choices["serial_device"] = choose(doc.at(dev.serial_device, *at, "serial_device"))
    options: dict[str, Any] = {}
    for key in {**prof.options, **dev.options}:
        choice = choose(doc.at(dev.options.get(key), *at, "options", key),
                        mdoc.at(prof.options.get(key), "options", key))
        choices[f"options.{key}"] = choice
        options[key] = choice.value
    desired = dev.desired.model_dump(exclude_none=True)
    if "network" in desired and dev.address is not None:
        desired["network"] = {"address": dev.address, **desired["network"]}
    outlet = (OutletRef(f"{site.id}.{dev.outlet.pdu}", dev.outlet.pdu, dev.outlet.outlet)
              if dev.outlet else None)
    return ResolvedDevice(
        site_id=site.id, local_id=dev.id, model=model, name=dev.name or dev.id,
        transport=transport.value, host=dev.address or "", port=int(port.value),
        serial_device=under_root(root, dev.serial_device) if dev.serial_device else "",
        baudrate=int(baudrate.value), username=str(username.value),
        password_ref=SecretRef.parse(password.value) if password.value else None,
        timeout=float(timeout.value), boot_time=float(boot_time.value),
        known_hosts=under_root(root, known_hosts.value) if known_hosts.value else "",
        trust_on_first_use=bool(tofu.value), options=options,
        identity=dev.identity.model_dump(exclude_none=True), outlet=outlet, desired=desired,
        expect=_expectations(site, dev, model), via=f"{site.id}.{dev.via}" if dev.via else None,
        choices=choices, store=store)


def _expectations(site: SiteProfile, dev: DeviceProfile, model: ResolvedModel) -> dict[str, Any]:
    """What ``Driver.selftest_checks(expect)`` receives. Keys: serial (identity), registered,
    hd_rate (kbps), test_uri, sip_uri (codecs); min_uplink_mbps, ping_target (routers)."""
    expect: dict[str, Any] = {}
    if dev.identity.serial:
        expect["serial"] = dev.identity.serial
    if "codec" in model.roles:
        expect["registered"] = site.expect.registered
        expect["hd_rate"] = site.expect.hd_rate_kbps
        if site.expect.test_uri:
            expect["test_uri"] = site.expect.test_uri
        if dev.desired.sip is not None:
            expect["sip_uri"] = dev.desired.sip.uri
    if "router" in model.roles:
        expect["min_uplink_mbps"] = site.expect.min_uplink_mbps
        if site.expect.ping_target:
            expect["ping_target"] = site.expect.ping_target
    own = dev.expect.model_dump(exclude_none=True)
    if "hd_rate_kbps" in own:
        own["hd_rate"] = own.pop("hd_rate_kbps")
    expect.update(own)
    return expect


def _check_secrets(site: SiteProfile, store: SecretStore, issues: IssueList) -> None:
    refs: list[tuple[tuple[str | int, ...], str]] = []
    if site.central_token:
        refs.append((("central_token",), site.central_token))
    if site.defaults.credentials and site.defaults.credentials.password:
        refs.append((("defaults", "credentials", "password"), site.defaults.credentials.password))
    for i, dev in enumerate(site.devices):
        if dev.credentials and dev.credentials.password:
            refs.append((("devices", i, "credentials", "password"), dev.credentials.password))
        if dev.desired.sip and dev.desired.sip.password:
            refs.append((("devices", i, "desired", "sip", "password"), dev.desired.sip.password))
    reported: set[str] = set()
    for path, text in refs:
        try:
            store.check(SecretRef.parse(text))
        except SecretError as exc:
            message = str(exc)
            if message in reported and "secrets file" in message and "missing secret:" not in message:
                continue  # one file-permission complaint is enough
            reported.add(message)
            issues.add(path, message)


# -- venues ----------------------------------------------------------------------------------------
def load_venue(path: str | Path, site: ResolvedSite | str | Path) -> ResolvedVenue:
    """A venue profile checked against its site (a resolved site or a site profile path)."""
    if not isinstance(site, ResolvedSite):
        site = load_site(site, check_secrets=False)
    file = Path(path)
    venue, _, issues, pruned = parse_partial(VenueProfile, file)
    if venue is not None:
        schema_issues = len(issues.items)
        check_venue(venue, file, site, issues)
        issues.drop_consequences(pruned, schema_issues)
    issues.raise_if_any()
    assert venue is not None
    return ResolvedVenue(
        id=venue.id, site_id=venue.site, name_zh=venue.name.zh, name_en=venue.name.en, file=str(file),
        location=venue.location or "", subnet=venue.network.subnet, gateway=venue.network.gateway,
        dns=list(venue.network.dns), sip_registrar=venue.sip_registrar,
        addresses={f"{site.id}.{k}": v for k, v in venue.addresses.items()},
        routes={f"{site.id}.{k}": dict(w.routes) for k, w in venue.wiring.items()})


# -- any profile -----------------------------------------------------------------------------------
KIND_DIRS = {"models": "model", "sites": "site", "venues": "venue"}


def kind_of(path: Path) -> str:
    kind = KIND_DIRS.get(path.resolve().parent.name)
    if kind is None:
        raise ProfileError([Issue(str(path), None, (), "cannot tell the profile kind: put it in "
                                  "profiles/models/, profiles/sites/ or profiles/venues/")])
    return kind


def site_for_venue(path: Path) -> Path:
    """profiles/venues/<site>-<venue>.yaml -> profiles/sites/<site>.yaml (by the ``site:`` key)."""
    from agent.profiles.yamlfile import load_yaml

    data, _ = load_yaml(path)
    site_id = data.get("site") if isinstance(data, dict) else None
    if not isinstance(site_id, str):
        raise ProfileError([Issue(str(path), None, ("site",), "missing required key")])
    site_file = path.parent.parent / "sites" / f"{site_id}.yaml"   # as given: issues name it alike
    if not site_file.exists():
        raise ProfileError([Issue(str(path), None, ("site",), f"no site profile {site_file}")])
    return site_file


def validate_file(path: Path, *, environ: Mapping[str, str] | None = None) -> None:
    """Raise ``ProfileError`` with every problem of one profile file (of any kind)."""
    kind = kind_of(path)
    if kind == "model":
        load_model(path)
    elif kind == "site":
        load_site(path, environ=environ)
    else:
        site = load_site(site_for_venue(path), environ=environ, check_secrets=False)
        load_venue(path, site)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders searched recursively for *.yaml."""
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(p.rglob("*.yaml")) if p.is_dir() else [p])
    return out


def validate_paths(paths: Iterable[str | Path], *, environ: Mapping[str, str] | None = None) -> list[Issue]:
    """Every problem in every file, in one pass (an empty list means all valid)."""
    issues: list[Issue] = []
    seen: set[str] = set()
    for path in expand_paths(paths):
        try:
            validate_file(path, environ=environ)
        except ProfileError as exc:
            for issue in exc.issues:
                if str(issue) not in seen:  # a model shared by two sites reports once
                    seen.add(str(issue))
                    issues.append(issue)
    return issues


def origin_of(site: ResolvedSite, device_id: str, key: str) -> Choice:
    """Where ``key`` (transport, port, username, options.<name>...) of a device came from."""
    device = site.device(device_id)
    try:
        return device.choices[key]
    except KeyError:
        known = ", ".join(sorted(device.choices))
        raise KeyError(f"{device.id} has no setting {key!r}; known: {known}") from None


__all__ = ["Origin", "load_model", "load_site", "load_venue", "validate_paths", "validate_file", "origin_of"]
