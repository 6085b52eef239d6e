// Faults: open ones first. Each row says in plain words what is wrong and what to do (from the
// reason code, in the page language); the device's own text stays one click away for engineers.
import { clear, el, fmtDuration, fmtTime, get, onChange, pill, serialised, t } from "./core.js";

const box = document.getElementById("faults");
const openOnly = document.getElementById("open-only");
const params = new URLSearchParams(location.search);

/** The raw evidence (first sighting and the linked symptoms), collapsed. */
function evidence(fault) {
  const lines = [fault.cause, ...(fault.symptoms ?? []).map((s) => `${s.check_name}: ${s.reason || s.code}`)]
    .filter(Boolean);
  if (!lines.length) return null;
  return el("details", { class: "evidence-box" }, el("summary", {}, t("faults.evidence")),
    el("pre", { class: "evidence" }, lines.join("\n")));
}

function symptoms(fault) {
  const seen = (fault.symptoms ?? []).filter((s) => s.code !== fault.code || s.check !== fault.check_name);
  if (!seen.length) return null;
  return el("div", { class: "muted symptoms" }, `${t("faults.symptoms")}: `,
    [...new Set(seen.map((s) => s.check_name))].join("、"));
}

const render = serialised(async () => {
  const query = new URLSearchParams();
  if (openOnly.checked) query.set("open", "true");
  if (params.get("site")) query.set("site", params.get("site"));
  const faults = await get(`/faults?${query}`);
  if (!faults.length) return clear(box, el("p", { class: "muted" }, t("faults.none")));
  clear(box, el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, ["site.state", "faults.site", "faults.device", "faults.what", "faults.found_by",
      "faults.opened", "faults.repair"].map((k) => el("th", {}, t(k))))),
    el("tbody", {}, faults.map((f) => {
      const repair = f.closed_at ? (new Date(f.closed_at) - new Date(f.opened_at)) / 1000 : null;
      return el("tr", { "data-fault": f.id, "data-device": f.device_id, "data-code": f.code },
        el("td", {}, pill(f.closed_at ? "closed" : "open")),
        el("td", {}, el("a", { href: `/sites/${f.site_id}` }, f.site_name)),
        el("td", { title: f.device_id }, f.device_name),
        el("td", { class: "long-text" },
          el("strong", { class: "fault-title" }, f.title), el("div", { class: "fault-action" }, f.action),
          symptoms(f), f.reason ? el("div", { class: "muted" }, f.reason) : null, evidence(f)),
        el("td", { class: "nowrap" }, f.check_label),
        el("td", { class: "nowrap" }, fmtTime(f.opened_at)),
        el("td", { class: "num nowrap" }, repair === null ? "" : fmtDuration(repair)));
    })))));
});

openOnly.addEventListener("change", render);
render();
onChange(["faults"], render);
