// A self-test's checks as a table, each with its reason, measurements and evidence one click away.
import { el, pill, t } from "./core.js";

function measured(values) {
  const entries = Object.entries(values ?? {});
  if (!entries.length) return "";
  return entries.map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
}

/** The raw text behind a check: the device's reason (when a summary stands in for it) and the
 * transcript tail. */
function evidenceOf(check) {
  return [check.summary ? check.reason : null, ...(check.evidence ?? [])].filter(Boolean);
}

export function checksTable(checks, { open = false } = {}) {
  return el("div", { class: "table-wrap" }, el("table", { class: "checks" },
    el("thead", {}, el("tr", {},
      ["site.device", "site.check", "site.status", "site.reason"].map((k) => el("th", {}, t(k))))),
    el("tbody", {}, checks.map((check) => el("tr", { "data-check": check.name, "data-status": check.status,
      "data-code": check.code ?? "" },
      el("td", { title: check.device }, check.device_name ?? check.device),
      el("td", { title: check.name }, check.check_name ?? check.name),
      el("td", {}, pill(check.status)),
      el("td", {},
        // a failure in plain words (reason code); the device's own text is the engineer's evidence
        check.summary ? el("div", { class: "check-summary" }, check.summary) : (check.reason || ""),
        measured(check.measured) ? el("div", { class: "muted" }, `${t("site.measured")}: ${measured(check.measured)}`) : null,
        evidenceOf(check).length
          ? el("details", { open: open && check.status === "fail" },
            el("summary", {}, t("site.evidence")), el("pre", { class: "evidence" }, evidenceOf(check).join("\n")))
          : null))))));
}
