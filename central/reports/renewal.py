"""The case for renewal, from the year's data: per site the measured uplink against what an HD call
needs, the codec and its generation, the resolution meetings actually ran at, whether the site's
address changed (as central saw its agent), and the recommendation that follows.

The rules are deliberately plain so a reader can check them against the figures beside them:
- *uplink*: the lowest measured upload below the HD need, or more than a tenth of the
  measurements below it, asks for a faster line;
- *codec*: a codec introduced ``CODEC_AGE_LIMIT`` years or more before the report year, or one that
  cannot send HD, asks for replacement; a model RoomOps does not know asks for its model to be
  recorded;
- *address*: a change of the agent's address during the year asks for a fixed address (or a VPN
  address that does not change);
- calls that ran mostly below HD are stated, with the typical resolution, as the evidence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import Device, EventRow, Site
from central.reports import addresses

if TYPE_CHECKING:       # annual builds the renewal section: import its types only for checking
    from central.reports.annual import SiteFigures

#: codec model (profile id, or the name the unit reports) -> (marketing name, year introduced, best
#: video it sends, its lines). Vendors' launch years; extend when a new model joins the profiles.
CODEC_GENERATIONS: dict[str, tuple[str, int, str, int]] = {
    "cisco-roomkit": ("Cisco Webex Room Kit", 2017, "1080p60", 1080),
    "cisco-sx20": ("Cisco TelePresence SX20", 2012, "1080p30", 1080),
    "poly-group500": ("Poly RealPresence Group 500", 2013, "1080p60", 1080),
    "polycom-hdx7000": ("Polycom HDX 7000", 2008, "720p30", 720),
    "polycom-vsx7000": ("Polycom VSX 7000", 2004, "4CIF (SD)", 576),
    "sony-pcs-xg80": ("Sony PCS-XG80", 2009, "720p30", 720),
}
CODEC_AGE_LIMIT = 10     # video codecs are commonly written off after 7-10 years
#: share of uplink measurements below the HD need from which the line is called too slow
BELOW_HD_SHARE = 0.1
HD_LINES = 720


@dataclass
class SiteRenewal:
    site_id: str
    name: str
    name_zh: str
    hd_need_mbps: float
    uplink_mean: float | None = None
    uplink_min: float | None = None
    uplink_measurements: int = 0
    uplink_below_hd: int = 0
    codec_model: str = ""
    codec_name: str = ""
    codec_introduced: int | None = None
    codec_best_video: str = ""
    codec_best_lines: int = 0
    codec_firmware: str = ""
    calls: int = 0
    calls_hd: int = 0
    #: resolution -> connected calls at it, most common first
    resolutions: dict[str, int] = field(default_factory=dict)
    addresses: list[str] = field(default_factory=list)
    address_changes: int = 0
    address_seen: bool = False
    #: reason codes, most important first: uplink, codec_old, codec_sd, codec_unknown, address,
    #: below_hd, measure_uplink; empty = nothing to renew on this evidence
    findings: list[str] = field(default_factory=list)

    @property
    def typical_resolution(self) -> str:
        return next(iter(self.resolutions), "")

    @property
    def renew(self) -> bool:
        return any(f in ("uplink", "codec_old", "codec_sd") for f in self.findings)


def _lines(resolution: str) -> int:
    """1280x720 -> 720; '' or garbage -> 0."""
    _, _, height = resolution.lower().partition("x")
    return int(height) if height.isdigit() else 0


def _codec(session: Session, site_id: str) -> Device | None:
    for device in session.scalars(select(Device).where(Device.site_id == site_id).order_by(Device.id)):
        if "codec" in (device.roles or []):
            return device
    return None


def _generation(device: Device | None) -> tuple[str, tuple[str, int, str, int] | None]:
    if device is None:
        return "", None
    reported = str((device.identity or {}).get("model") or "")
    for key in (device.model, reported, reported.lower().replace(" ", "-")):
        if key and key in CODEC_GENERATIONS:
            return device.model or reported, CODEC_GENERATIONS[key]
    return device.model or reported, None


def _resolutions(session: Session, site_id: str, lo: datetime,
                 hi: datetime) -> tuple[Counter[str], int, int]:
    """Connected calls of the year by resolution (one per call), and how many / how many HD."""
    per_call: dict[tuple[str, str], tuple[str, bool]] = {}
    events = session.scalars(select(EventRow).where(
        EventRow.site_id == site_id, EventRow.kind == "call_state", EventRow.at >= lo, EventRow.at < hi))
    for event in events:
        data = event.data or {}
        if data.get("state") != "connected":
            continue
        key = (str(data.get("meeting_id") or ""), str(data.get("call_id") or event.id))
        resolution = str(data.get("resolution") or "")
        per_call[key] = (resolution, bool(data.get("hd")) or _lines(resolution) >= HD_LINES)
    counts = Counter(r for r, _ in per_call.values() if r)
    return counts, len(per_call), sum(1 for _, hd in per_call.values() if hd)


def _findings(item: SiteRenewal, year: int) -> list[str]:
    found: list[str] = []
    if item.uplink_measurements == 0:
        found.append("measure_uplink")
    elif (item.uplink_min is not None and item.uplink_min < item.hd_need_mbps) or (
            item.uplink_below_hd > BELOW_HD_SHARE * item.uplink_measurements):
        found.append("uplink")
    if item.codec_introduced is None:
        found.append("codec_unknown")
    else:
        if year - item.codec_introduced >= CODEC_AGE_LIMIT:
            found.append("codec_old")
        if item.codec_best_lines < HD_LINES:
            found.append("codec_sd")
    if item.address_changes:
        found.append("address")
    if item.calls and item.calls_hd * 2 < item.calls:
        found.append("below_hd")
    return found


def build(session: Session, year: int, sites: list[Site], figures: list[SiteFigures], lo: datetime,
          hi: datetime, hd_need_mbps: float) -> list[SiteRenewal]:
    by_id = {f.site_id: f for f in figures}
    history = addresses.history(session, [s.id for s in sites], lo, hi)
    out: list[SiteRenewal] = []
    for site in sites:
        fig = by_id.get(site.id)
        item = SiteRenewal(site.id, site.name, site.name_zh, hd_need_mbps)
        if fig is not None:
            item.uplink_mean, item.uplink_min = fig.uplink.up_mean, fig.uplink.up_min
            item.uplink_measurements, item.uplink_below_hd = fig.uplink.measurements, fig.uplink.below_hd
        device = _codec(session, site.id)
        item.codec_model, generation = _generation(device)
        if device is not None:
            item.codec_firmware = str((device.identity or {}).get("firmware") or "")
        if generation is not None:
            item.codec_name, item.codec_introduced, item.codec_best_video, item.codec_best_lines = generation
        counts, item.calls, item.calls_hd = _resolutions(session, site.id, lo, hi)
        item.resolutions = dict(counts.most_common())
        seen = history[site.id]
        item.addresses, item.address_changes, item.address_seen = seen.addresses, seen.changes, bool(
            seen.addresses)
        item.findings = _findings(item, year)
        out.append(item)
    return out
