// Faults: open ones first, with cause and time to repair.
import { clear, el, fmtDuration, fmtTime, get, onChange, pill, serialised, t } from "./core.js";

const box = document.getElementById("faults");
const openOnly = document.getElementById("open-only");
const params = new URLSearchParams(location.search);

const render = serialised(async () => {
  const query = new URLSearchParams();
  if (openOnly.checked) query.set("open", "true");
  if (params.get("site")) query.set("site", params.get("site"));
  const faults = await get(`/faults?${query}`);
  if (!faults.length) return clear(box, el("p", { class: "muted" }, t("faults.none")));
  clear(box, el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, ["site.state", "faults.site", "faults.device", "faults.check", "faults.cause",
      "faults.opened", "faults.repair"].map((k) => el("th", {}, t(k))))),
    el("tbody", {}, faults.map((f) => {
      const repair = f.closed_at ? (new Date(f.closed_at) - new Date(f.opened_at)) / 1000 : null;
      return el("tr", { "data-fault": f.id, "data-device": f.device_id },
        el("td", {}, pill(f.closed_at ? "closed" : "open")),
        el("td", {}, el("a", { href: `/sites/${f.site_id}` }, f.site_id)),
        el("td", {}, f.device_id),
        el("td", { class: "nowrap" }, f.check_name ?? t("faults.device_down")),
        el("td", { class: "long-text" }, f.cause, f.reason ? el("div", { class: "muted" }, f.reason) : null),
        el("td", { class: "nowrap" }, fmtTime(f.opened_at)),
        el("td", { class: "num nowrap" }, repair === null ? "" : fmtDuration(repair)));
    })))));
});

openOnly.addEventListener("change", render);
render();
onChange(["faults"], render);
