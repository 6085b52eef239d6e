// Audit log: who did what to which target, when, and how it ended.
import { clear, el, fmtTime, get, onChange, pill, serialised, t } from "./core.js";

const box = document.getElementById("audit");

const render = serialised(async () => {
  const entries = await get("/audit?limit=300");
  if (!entries.length) return clear(box, el("p", { class: "muted" }, t("audit.none")));
  clear(box, el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, ["audit.at", "audit.actor", "audit.action", "audit.target", "audit.outcome"]
      .map((k) => el("th", {}, t(k))))),
    el("tbody", {}, entries.map((e) => el("tr", { "data-audit": e.id },
      el("td", {}, fmtTime(e.at)),
      el("td", {}, e.actor),
      el("td", {}, e.action),
      el("td", {}, e.target),
      el("td", {}, pill(e.outcome),
        e.detail && e.detail.error ? el("div", { class: "muted" }, e.detail.error) : null)))))));
});

render();
onChange(["audit"], render);
