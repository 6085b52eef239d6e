// One site: devices (state, identity, firmware), engineer actions with their progress, self-test
// history with evidence, availability over time, and relocation with the plan shown before apply.
import {
  api, caps, clear, confirmAction, el, lang, fmtAgo, fmtTime, get, items, notice, onChange, pill, post,
  serialised,
  showError, siteName, t,
} from "./core.js";
import { checksTable } from "./checks.js";

const root = document.getElementById("site");
const siteId = root.dataset.site;
const FINAL = new Set(["succeeded", "failed", "expired"]);
const progress = new Map();      // command id -> {kind, target, state, error}
let site = { id: siteId };

// -- commands and their progress ------------------------------------------------------------------------
function renderProgress() {
  const list = document.getElementById("progress");
  clear(list, [...progress.entries()].reverse().map(([id, p]) => el("li", { "data-command": id, "data-state": p.state },
    pill(p.state), el("strong", {}, t(`kind.${p.kind}`)), el("span", {}, p.target),
    p.method ? el("span", { class: "method", "data-method": p.method }, p.method) : null,
    p.error ? el("span", { class: "muted" }, p.error) : null)));
}

async function follow(id) {
  const entry = progress.get(id);
  if (!entry || FINAL.has(entry.state)) return;
  try {
    const command = await get(`/commands/${id}`);
    entry.state = command.state;
    entry.error = command.error || (command.result && command.result.error) || "";
    entry.method = methodText(command);
  } catch (err) { entry.error = err.message_for_user ?? String(err); }
  renderProgress();
  if (!FINAL.has(entry.state)) setTimeout(() => follow(id), 1000);
  else render();
}

async function runCommand(path, body, kind, target) {
  try {
    const accepted = await post(path, body);
    const id = accepted.command_id ?? accepted.id;       // a self-test answers {id: run, command_id}
    progress.set(id, { kind, target, state: accepted.state ?? "queued", error: "" });
    renderProgress();
    follow(id);
    return accepted;
  } catch (err) {
    showError(err);
    return null;
  }
}

/** How a finished reboot was done, in words: a fallback to a power cut is never silent. */
function methodText(command) {
  const result = command.result ?? {};
  if (!["reboot", "power_cycle"].includes(command.kind) || !result.method) return "";
  if (result.fallback) return t("site.result_fallback");
  return result.method === "power_cycle" ? t("site.result_power_cycle") : t("site.result_reboot");
}

/** What the reboot button will do for this device: its own command, a power cut, or both. */
function rebootPlan(device) {
  const methods = (device.capabilities ?? {}).reboot_methods;
  if (!Array.isArray(methods)) return "command";       // an agent that does not say: as before
  if (methods.includes("command")) return methods.includes("power_cycle") ? "fallback" : "command";
  return methods.includes("power_cycle") ? "power" : "none";
}

async function deviceAction(device, kind) {
  // the engineer's dialog names the unit exactly: its name and its id
  const name = device.name ? `${device.name} (${device.id})` : device.id;
  const plan = kind === "reboot" ? rebootPlan(device) : null;
  const question = plan ? t(`site.confirm_reboot_${plan}`, { device: name }) : t(`site.confirm_${kind}`, { device: name });
  const reason = el("input", { name: "reason", maxlength: 500, "data-field": "reason" });
  const body = el("label", { class: "reason" }, t("site.reboot_reason"), " ", reason);
  const label = plan === "power" ? t("site.reboot_power") : t(`site.${kind}`);
  if (!(await confirmAction(question, { confirmLabel: label, danger: true, body }))) return;
  const payload = { kind };
  if (reason.value.trim()) payload.reason = reason.value.trim();
  await runCommand(`/devices/${device.id}/commands`, payload, kind, name);
}

async function selftest() {
  if (!(await confirmAction(t("site.confirm_selftest", { site: siteName(site) }), { confirmLabel: t("site.run_selftest") }))) return;
  await runCommand(`/sites/${siteId}/selftests`, {}, "selftest", siteName(site));
}

// -- devices ---------------------------------------------------------------------------------------------
function deviceState(device) {
  if (device.up === null || device.up === undefined) return "unknown";
  if (!device.up) return "down";
  return device.verdict === "degraded" ? "degraded" : "up";
}

function canPowerCycle(devices, device) {
  // A PDU outlet feeds the device when the site has a power outlet role (the agent knows the wiring).
  return devices.some((d) => (d.roles ?? []).includes("power") || (d.roles ?? []).includes("pdu")) &&
    !(device.roles ?? []).includes("power") && !(device.roles ?? []).includes("pdu");
}

/**
 * What is known of each device's identity: the agent's hello carries only what its profile says
 * (often just the serial); a self-test's inventory holds what the unit itself reported (vendor,
 * model, firmware). The newest run that saw a device wins; an empty answer never hides a known value.
 */
function measuredIdentities(runs) {
  const found = new Map();
  for (const run of runs) {                 // newest first
    for (const entry of run.inventory ?? []) {
      if (found.has(entry.id)) continue;
      found.set(entry.id, Object.fromEntries(Object.entries(entry.identity ?? {}).filter(([, v]) => v)));
    }
  }
  return found;
}

/**
 * A device address for a narrow table cell: a serial line by its name rather than its full path,
 * and line breaks offered only after "://" and "@" so a host:port is never split.
 */
function addressCell(address) {
  const serial = /^serial:(.*\/)([^/]+)$/.exec(address ?? "");
  const text = serial ? `serial:…/${serial[2]}` : address ?? "";
  return text.split(/(?<=:\/\/|@)/).flatMap((part, i) => (i ? [el("wbr"), part] : [part]));
}

/** A device's problems in plain words (from the site's problems); its own reasons collapsed. */
function deviceReasons(device, problems) {
  const mine = (problems?.problems ?? []).filter((p) => p.device === device.id);
  const raw = device.reasons ?? [];
  if (!mine.length && !raw.length) return null;
  return el("div", { class: "muted device-problems" },
    mine.map((p) => el("div", { "data-code": p.code }, p.title)),
    raw.length ? el("details", {}, el("summary", {}, t("site.problem_evidence")),
      el("pre", { class: "evidence" }, raw.join("\n"))) : null);
}

function devicesTable(devices, measured, problems) {
  const actions = caps.devices;
  return el("div", { class: "table-wrap" }, el("table", { id: "devices" },
    el("thead", {}, el("tr", {},
      ["site.device", "site.state", "site.model", "site.firmware", "site.serial", "site.address", "site.since"]
        .map((k) => el("th", {}, t(k))),
      actions ? el("th", {}, t("site.actions")) : null)),
    el("tbody", {}, devices.map((device) => {
      const identity = { ...(device.identity ?? {}), ...(measured.get(device.id) ?? {}) };
      const state = deviceState(device);
      return el("tr", { "data-device": device.id, "data-state": state },
        el("td", {}, el("strong", {}, device.name ?? device.id.split(".").slice(1).join(".")),
          el("div", { class: "muted" }, device.id.split(".").slice(1).join("."))),
        el("td", {}, pill(state), deviceReasons(device, problems)),
        el("td", {}, [identity.vendor, identity.model || device.model].filter(Boolean).join(" ")),
        el("td", {}, identity.firmware ?? ""),
        el("td", {}, identity.serial ?? ""),
        el("td", { class: "muted address", title: device.address ?? "" }, addressCell(device.address)),
        el("td", { class: "since", title: fmtTime(device.since) }, device.since ? fmtAgo(device.since) : ""),
        actions ? el("td", {}, el("div", { class: "actions row-actions" },
          rebootPlan(device) === "none" ? null
            : el("button", { "data-action": "reboot", "data-plan": rebootPlan(device),
              onclick: () => deviceAction(device, "reboot") },
            rebootPlan(device) === "power" ? t("site.reboot_power") : t("site.reboot")),
          canPowerCycle(devices, device)
            ? el("button", { "data-action": "power_cycle", onclick: () => deviceAction(device, "power_cycle") },
              t("site.power_cycle"))
            : null)) : null);
    }))));
}

// -- availability ------------------------------------------------------------------------------------------
/** One day as a cell: grey when nothing was observed, blue for maintenance only, else by share up. */
function dayCell(day) {
  const observed = day.up_s + day.down_s;
  let cls = "unknown";
  let text = t("site.day_unknown");
  if (observed > 0) {
    const v = day.availability;
    cls = v >= 0.999 ? "full" : v >= 0.95 ? "most" : "low";
    text = `${(v * 100).toFixed(1)}%`;
  } else if (day.maintenance_s > 0) {
    cls = "maintenance";
    text = t("site.day_maintenance");
  }
  return el("span", { class: `day-cell ${cls}`, "data-day": day.day, "data-state": cls, title: `${day.day}: ${text}` });
}

function share(value) {
  return value === null || value === undefined ? t("site.day_unknown") : `${(value * 100).toFixed(2)}%`;
}

function availabilityTable(data) {
  const devices = items(data, "devices");
  if (!devices.length) return el("p", { class: "muted" }, t("common.none"));
  const row = (id, name, value, daily, extra) => el("tr", { "data-device": id },
    el("td", {}, name, extra), el("td", { class: "num" }, share(value)),
    el("td", {}, el("div", { class: "days" }, (daily ?? []).map(dayCell))));
  return el("div", { class: "table-wrap" }, el("table", { id: "availability" },
    el("thead", {}, el("tr", {}, el("th", {}, t("site.device")), el("th", {}, t("site.availability")),
      el("th", {}, (data.days ?? []).length ? `${data.days[0]} … ${data.days[data.days.length - 1]}` : ""))),
    el("tbody", {},
      row("site", el("strong", {}, t("site.site_row")), data.availability, data.daily, null),
      devices.map((d) => row(d.id, d.name ?? d.id, d.availability, d.daily,
        d.critical ? el("span", { class: "muted" }, ` · ${t("site.critical")}`) : null)))));
}

// -- why the site is not simply ok ---------------------------------------------------------------------------
function problemsList(data) {
  const problems = data?.problems ?? [];
  if (!problems.length) return el("p", { class: "muted", id: "problems" }, t("site.no_problems"));
  return el("ul", { id: "problems", class: "problems" }, problems.map((p) => el("li",
    { "data-kind": p.kind, "data-code": p.code, "data-device": p.device ?? "" },
    p.device_name ? el("strong", {}, `${p.device_name}${lang === "en" ? ": " : "："}`) : null, p.summary,
    p.kind === "fault" ? el("a", { href: `/faults?site=${siteId}`, class: "muted" }, ` #${p.fault_id}`) : null,
    p.evidence ? el("details", {}, el("summary", {}, t("site.problem_evidence")),
      el("pre", { class: "evidence" }, p.evidence)) : null)));
}

// -- self-tests ---------------------------------------------------------------------------------------------
function selftestList(runs) {
  if (!runs.length) return el("p", { class: "muted" }, t("site.no_selftests"));
  return el("div", { id: "selftests" }, runs.map((run) => el("details", { class: "panel", "data-selftest": run.id,
    style: "margin-bottom:.5rem" },
    el("summary", {}, pill(run.verdict || run.state), " ", fmtTime(run.finished_at || run.created_at), " · ",
      t(`site.trigger.${run.trigger}`), run.late ? " · late" : ""),
    el("div", { class: "lazy-checks" }, el("p", { class: "muted" }, t("common.loading"))))));
}

const finishedRuns = new Map();    // a finished run never changes: fetch its checks once

async function loadChecks(details) {
  const holder = details.querySelector(".lazy-checks");
  if (!holder || holder.dataset.loaded) return;
  holder.dataset.loaded = "1";
  try {
    const id = details.dataset.selftest;
    const run = finishedRuns.get(id) ?? await get(`/selftests/${id}`);
    if (run.state === "done") finishedRuns.set(id, run);
    clear(holder, checksTable(run.checks ?? []));
  } catch (err) { clear(holder, el("p", { class: "muted" }, err.message_for_user ?? String(err))); }
}

// -- relocation ------------------------------------------------------------------------------------------------
function relocationPanel() {
  const out = el("div", { id: "relocation-plan" });
  const venue = el("input", { name: "venue", placeholder: "e.g. urumqi-newbuilding", required: true });
  const form = el("form", { class: "toolbar", "data-form": "relocate" },
    el("label", {}, t("site.venue"), " ", venue),
    el("button", { type: "submit", "data-action": "make-plan" }, t("site.make_plan")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const accepted = await runCommand(`/sites/${siteId}/relocations`, { venue: venue.value.trim() },
      "relocate_plan", venue.value.trim());
    if (accepted) watchRelocation(accepted.id, out);
  });
  return el("section", {}, form, out);
}

async function watchRelocation(id, out) {
  let relocation;
  try { relocation = await get(`/relocations/${id}`); } catch (err) { showError(err); return; }
  const steps = items(relocation.plan?.steps ?? relocation.plan?.changes ?? [], "steps");
  const planView = steps.length
    ? el("ol", {}, steps.map((s) => el("li", {}, typeof s === "string" ? s : JSON.stringify(s))))
    : el("pre", { class: "evidence" }, JSON.stringify(relocation.plan ?? {}, null, 2));
  const apply = el("button", { class: "danger", "data-action": "apply-plan", onclick: async () => {
    const ok = await confirmAction(t("site.confirm_apply", { site: siteName(site) }),
      { confirmLabel: t("site.apply_plan"), danger: true, body: planView.cloneNode(true) });
    if (!ok) return;
    await runCommand(`/relocations/${id}/apply`, {}, "relocate_apply", relocation.venue ?? "");
    setTimeout(() => watchRelocation(id, out), 1000);
  } }, t("site.apply_plan"));
  clear(out,
    el("p", {}, pill(relocation.state), " ", relocation.error ?? ""),
    relocation.state === "planned" ? el("p", {}, t("site.plan_before_apply")) : null,
    relocation.state !== "planning" ? planView : null,
    relocation.state === "planned" ? apply : null);
  if (["planning", "applying"].includes(relocation.state)) setTimeout(() => watchRelocation(id, out), 1000);
}

// -- admin: edit and retire (audited on the server) -----------------------------------------------------------
function field(name, label, value, attrs = {}) {
  return el("label", { class: "field" }, t(label), " ", el("input", { name, value: value ?? "", ...attrs }));
}

async function editSite() {
  const form = el("div", { class: "site-edit" },
    field("name", "site.admin_name", site.name), field("name_zh", "site.admin_name_zh", site.name_zh),
    field("timezone", "site.admin_timezone", site.timezone),
    field("codec_uri", "site.admin_codec_uri", site.codec_uri),
    field("multisite_capacity", "site.admin_capacity", site.multisite_capacity, { type: "number", min: 1, max: 64 }));
  if (!(await confirmAction(t("site.admin_edit_title", { site: siteName(site) }), { confirmLabel: t("site.admin_save"), body: form }))) return;
  const value = (name) => form.querySelector(`[name="${name}"]`).value;
  const body = {};
  for (const name of ["name", "name_zh", "timezone"]) if (value(name).trim() !== (site[name] ?? "")) body[name] = value(name).trim();
  const uri = value("codec_uri").trim() || null;
  if (uri !== (site.codec_uri ?? null)) body.codec_uri = uri;
  const capacity = value("multisite_capacity") === "" ? null : Number(value("multisite_capacity"));
  if (capacity !== (site.multisite_capacity ?? null)) body.multisite_capacity = capacity;
  if (!Object.keys(body).length) return;
  try { await api("PATCH", `/sites/${siteId}`, body); render(); } catch (err) { showError(err); }
}

async function retireSite() {
  const reason = el("input", { name: "reason", required: true });
  const body = el("label", { class: "field" }, t("site.admin_retire_reason"), " ", reason);
  const question = t("site.admin_retire_confirm", { site: siteName(site) });
  if (!(await confirmAction(question, { confirmLabel: t("site.admin_retire"), danger: true, body }))) return;
  try { await post(`/sites/${siteId}/retire`, { reason: reason.value.trim() }); render(); } catch (err) { showError(err); }
}

// -- page ---------------------------------------------------------------------------------------------------
let built = false;
const render = serialised(async () => {
  const [siteData, deviceData, runData, availability, problems] = await Promise.all([
    get(`/sites/${siteId}`), get(`/sites/${siteId}/devices`), get(`/sites/${siteId}/selftests`),
    get(`/sites/${siteId}/availability`).catch(() => null), get(`/sites/${siteId}/problems`).catch(() => null),
  ]);
  site = siteData;
  const names = new Map((availability?.devices ?? []).map((d) => [d.id, d.name]));
  const devices = items(deviceData, "devices").sort((a, b) => a.id.localeCompare(b.id))
    .map((d) => ({ ...d, name: names.get(d.id) }));
  if (!built) {
    built = true;
    clear(root,
      el("div", { class: "meeting-head" }, el("h1", { id: "site-title" }), el("span", { id: "site-agent" }),
        el("span", { class: "spacer" }),
        caps.devices ? el("button", { class: "primary", "data-action": "selftest", onclick: selftest }, t("site.run_selftest")) : null,
        caps.admin ? el("button", { id: "site-edit", "data-action": "edit-site", onclick: editSite }, t("site.admin_edit")) : null,
        caps.admin ? el("button", { id: "site-retire", class: "danger", "data-action": "retire-site", onclick: retireSite }, t("site.admin_retire")) : null),
      el("ul", { id: "progress", class: "progress-list", "aria-live": "polite" }),
      el("h2", {}, t("site.problems")), el("div", { id: "problems-box" }),
      el("h2", {}, t("site.devices")), el("div", { id: "devices-box" }),
      el("h2", {}, t("site.availability")), el("p", { class: "muted" }, t("site.availability_observed")),
      el("div", { id: "availability-box" }),
      el("h2", {}, t("site.selftests")), el("div", { id: "selftests-box" }),
      caps.devices ? el("h2", {}, t("site.relocate")) : null,
      caps.devices ? relocationPanel() : null);
  }
  document.getElementById("site-title").textContent = siteName(site);
  clear(document.getElementById("site-agent"),
    pill(site.agent_connected ? "up" : "down", `${t("overview.agent")}: ${site.agent_connected ? t("overview.agent_up") : t("overview.agent_down")}`),
    site.retired_at ? pill("retired", t("site.admin_retired", { when: fmtTime(site.retired_at) })) : null);
  for (const id of ["site-edit", "site-retire"]) {
    const button = document.getElementById(id);
    if (button) button.hidden = Boolean(site.retired_at);
  }
  const runs = items(runData, "selftests");
  clear(document.getElementById("problems-box"), problemsList(problems));
  clear(document.getElementById("devices-box"), devicesTable(devices, measuredIdentities(runs), problems));
  clear(document.getElementById("availability-box"), availability ? availabilityTable(availability) : "");
  const openRuns = new Set([...document.querySelectorAll("#selftests details[open]")].map((d) => d.dataset.selftest));
  clear(document.getElementById("selftests-box"), selftestList(runs.slice(0, 20)));
  for (const details of document.querySelectorAll("#selftests details")) {
    details.addEventListener("toggle", () => details.open && loadChecks(details));
    if (openRuns.has(details.dataset.selftest)) { details.open = true; loadChecks(details); }
  }
});

render();
onChange(["sites", "devices", "selftests", "faults"], render);
onChange(["commands"], () => { for (const id of progress.keys()) follow(id); });
