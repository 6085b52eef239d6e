"""The offices on a map of China with their live status, as inline SVG (dashboard) from the
geometry in ``central.reports.geo``. Status per site, from what central knows now:

- ``offline``: the agent is not connected (what the devices do is unknown);
- ``down``: a device is down; ``degraded``: a device reports a problem; ``ok``: all up;
- ``unknown``: connected but no device has reported yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import Device, Site
from central.reports import geo
from central.reports.document import site_label

STATUSES = ("ok", "degraded", "down", "offline", "unknown")
COLOURS = {"ok": "#1a7f37", "degraded": "#bf8700", "down": "#cf222e", "offline": "#6e7781",
           "unknown": "#8c959f"}
#: legend wording (zh-CN, en)
LEGEND = {"ok": ("正常", "ready"), "degraded": ("降级", "degraded"), "down": ("设备离线", "device down"),
          "offline": ("代理离线", "agent offline"), "unknown": ("未知", "unknown")}
INSET_TITLE = ("南海诸岛", "South China Sea Islands")
WIDTH = 640.0


@dataclass
class SitePin:
    site_id: str
    label: str
    status: str
    position: tuple[float, float] | None


def status_of(site: Site, devices: list[Device]) -> str:
    if not site.agent_connected:
        return "offline"
    reported = [d for d in devices if d.up is not None]
    if not reported:
        return "unknown"
    if any(d.up is False for d in reported):
        return "down"
    if any(d.verdict == "degraded" for d in reported):
        return "degraded"
    return "ok"


def pins(session: Session, lang: str) -> list[SitePin]:
    devices: dict[str, list[Device]] = {}
    for device in session.scalars(select(Device)):
        devices.setdefault(device.site_id, []).append(device)
    return [SitePin(s.id, site_label(s.name, s.name_zh, s.id, lang), status_of(s, devices.get(s.id, [])),
                    geo.city_of(s.id, s.name, s.name_zh))
            for s in session.scalars(select(Site).order_by(Site.created_at, Site.id))]


def _path(points: tuple[geo.Point, ...], project: geo.Projection) -> str:
    xy = [project(p) for p in points]
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + " Z"


def render(site_pins: list[SitePin], lang: str) -> str:
    """The map as an ``<svg>`` element (no scripts, no external references)."""
    zh = lang == "zh-CN"
    project = geo.Projection(WIDTH)
    height = project.height
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0f} {height + 34:.0f}" '
           f'role="img" class="site-map" aria-label={quoteattr("站点分布" if zh else "Sites on the map")}>',
           '<g class="outline" fill="#eef2f6" stroke="#57606a" stroke-width="1">']
    out += [f'<path d="{_path(shape, project)}"/>' for shape in geo.OUTLINE]
    out.append("</g>")
    box = (WIDTH - 92, height - 128, 84, 118)
    out.append(f'<g class="inset"><rect x="{box[0]:.1f}" y="{box[1]:.1f}" width="{box[2]}" height="{box[3]}" '
               'fill="#fff" stroke="#57606a" stroke-width="0.8"/>')
    for a, b in geo.INSET_DASHES:
        (x1, y1), (x2, y2) = project.inset(a, box), project.inset(b, box)
        out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#57606a" '
                   'stroke-width="1.2"/>')
    out.append(f'<text x="{box[0] + box[2] / 2:.1f}" y="{box[1] - 4:.1f}" font-size="9" '
               f'text-anchor="middle" fill="#57606a">{escape(INSET_TITLE[0 if zh else 1])}</text></g>')
    unplaced: list[SitePin] = []
    for pin in site_pins:
        if pin.position is None:
            unplaced.append(pin)
            continue
        x, y = project(pin.position)
        legend = LEGEND[pin.status][0 if zh else 1]
        out.append(f'<g class="pin status-{pin.status}" data-site={quoteattr(pin.site_id)} '
                   f'data-status="{pin.status}"><title>{escape(pin.label)}: {escape(legend)}</title>'
                   f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{COLOURS[pin.status]}" stroke="#fff" '
                   f'stroke-width="2"/><text x="{x + 10:.1f}" y="{y + 4:.1f}" font-size="13" '
                   f'fill="#1f2328">{escape(pin.label)}</text></g>')
    x = 8.0
    for status in STATUSES:
        text = LEGEND[status][0 if zh else 1]
        out.append(f'<g class="legend"><circle cx="{x + 5:.1f}" cy="{height + 20:.1f}" r="5" '
                   f'fill="{COLOURS[status]}"/><text x="{x + 14:.1f}" y="{height + 24:.1f}" font-size="11" '
                   f'fill="#57606a">{escape(text)}</text></g>')
        x += 22 + 7.5 * len(text) * (1.6 if zh else 0.9)
    if unplaced:
        names = "、".join(p.label for p in unplaced) if zh else ", ".join(p.label for p in unplaced)
        note = f"未标注位置：{names}" if zh else f"not placed (no known city): {names}"
        out.append(f'<text x="8" y="14" font-size="11" fill="#57606a">{escape(note)}</text>')
    out.append("</svg>")
    return "".join(out)
