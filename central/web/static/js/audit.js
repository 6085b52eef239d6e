// Audit log: who did what to which target, when, and how it ended.
import { clear, el, fmtTime, get, onChange, pill, serialised, t } from "./core.js";

const box = document.getElementById("audit");

/** The page an entry's target lives on: a meeting's id means little until it opens the meeting. */
function targetCell(entry) {
  const [kind] = entry.action.split(".");
  const target = entry.target ?? "";
  const id = target.split("/")[0];
  let href = null;
  if (["meeting", "recording"].includes(kind) && /^[0-9a-f]{32}$/.test(id)) href = `/meetings/${id}`;
  else if (kind === "device" && target.includes(".")) href = `/sites/${encodeURIComponent(target.split(".")[0])}`;
  else if (["site", "relocation", "token"].includes(kind) && /^[a-z0-9-]+$/.test(target)) href = `/sites/${target}`;
  return href ? el("a", { href }, target) : target;
}

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
      el("td", {}, targetCell(e)),
      el("td", {}, pill(e.outcome),
        e.detail && e.detail.error ? el("div", { class: "muted" }, e.detail.error) : null)))))));
});

render();
onChange(["audit"], render);
