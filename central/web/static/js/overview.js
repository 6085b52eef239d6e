// Overview: one large card per site, its state readable from across the room.
import { clear, el, fmtAgo, lang, fmtClock, fmtTime, get, items, onChange, pill, serialised, siteName, t } from "./core.js";

const grid = document.getElementById("sites");

/** ok / degraded / down for the card's top border, from the agent link and the devices. */
function siteVerdict(site) {
  if (!site.agent_connected) return "down";
  return site.verdict || "unknown";
}

/** The time alone for a meeting today, with the date for a later one. */
function whenNext(iso) {
  return new Date(iso).toDateString() === new Date().toDateString() ? fmtClock(iso) : fmtTime(iso);
}

function readiness(site) {
  const next = site.next_meeting;
  if (!next) return el("span", { class: "muted" }, t("common.none"));
  return el("span", {},
    el("a", { href: `/meetings/${next.id}` }, `${whenNext(next.start)} ${next.title}`), " ",
    pill(next.readiness || "pending", t(`state.${next.readiness || "pending"}`)));
}

function card(site) {
  const verdict = siteVerdict(site);
  const selftest = site.last_selftest;
  const faults = site.open_faults ?? 0;
  const name = siteName(site);
  const other = name === site.id ? "" : site.id;
  return el("article", { class: `card v-${verdict}`, "data-site": site.id, "data-verdict": verdict },
    el("header", {},
      el("a", { class: "site-name", href: `/sites/${site.id}` }, name, other ? el("small", {}, other) : null),
      pill(verdict)),
    el("dl", {},
      el("dt", {}, t("overview.agent")),
      el("dd", { "data-field": "agent" },
        pill(site.agent_connected ? "up" : "down",
          site.agent_connected ? t("overview.agent_up") : t("overview.agent_down"))),
      el("dt", {}, t("overview.devices")),
      el("dd", { "data-field": "devices" },
        el("span", { class: `big-number ${site.devices_down ? "bad" : ""} ${site.agent_connected ? "" : "muted"}` },
          t("overview.devices_up", { up: site.devices_up ?? 0, total: site.devices_total ?? 0 }))),
      el("dt", {}, t("overview.faults")),
      el("dd", { "data-field": "faults" },
        el("a", { class: `big-number ${faults ? "bad" : ""}`, href: `/faults?site=${site.id}` }, String(faults))),
      (site.problems ?? []).length ? el("dt", {}, t("overview.why")) : null,
      (site.problems ?? []).length ? el("dd", { "data-field": "why" }, el("ul", { class: "why" },
        site.problems.slice(0, 3).map((p) => el("li", { "data-code": p.code },
          p.device_name ? `${p.device_name}${lang === "en" ? ": " : "："}${p.title}` : p.title)),
        site.problems.length > 3 ? el("li", { class: "muted" }, `+${site.problems.length - 3}`) : null)) : null,
      el("dt", {}, t("overview.readiness")),
      el("dd", { "data-field": "readiness" }, readiness(site)),
      el("dt", {}, t("overview.last_selftest")),
      el("dd", { "data-field": "selftest" },
        selftest
          ? el("span", { title: fmtTime(selftest.finished_at) }, pill(selftest.verdict), " ", fmtAgo(selftest.finished_at))
          : el("span", { class: "muted" }, t("common.never"))),
      el("dt", {}, t("overview.last_seen")),
      el("dd", { class: "muted" }, site.agent_connected ? t("live.connected") : fmtAgo(site.last_seen))));
}

const render = serialised(async () => {
  const sites = items(await get("/dashboard/sites"), "sites");
  if (!sites.length) {
    clear(grid, el("p", { class: "muted" }, t("overview.no_sites")));
    return;
  }
  clear(grid, sites.map(card));
});

render();
onChange(["sites", "devices", "faults", "selftests", "meetings"], render);
