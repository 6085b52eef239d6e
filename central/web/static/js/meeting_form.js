// The meeting form, for creating and for editing: title, time, host site, sites, mode, bridge.
import { el, siteName, t } from "./core.js";

/** "2025-11-26T14:30" in the browser's local time, for <input type="datetime-local">. */
function toLocalInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/**
 * Build the form. `meeting` pre-fills it (edit); `onSubmit(body)` gets the API body and returns a
 * promise; the form shows validation problems itself.
 */
export function meetingForm(sites, { meeting = null, submitLabel, onSubmit, onCancel }) {
  const start = meeting ? new Date(meeting.start) : new Date(Date.now() + 60 * 60 * 1000);
  const end = meeting ? new Date(meeting.end) : new Date(start.getTime() + 60 * 60 * 1000);
  if (!meeting) { start.setSeconds(0, 0); end.setSeconds(0, 0); }
  const chosen = new Set(meeting ? meeting.sites.map((s) => (typeof s === "string" ? s : s.site ?? s.id)) : sites.map((s) => s.id));
  const host = meeting ? meeting.host_site : (sites[0] && sites[0].id);
  const mode = meeting ? meeting.mode : "host";

  const problem = el("div", { class: "notice error hidden", role: "alert" });
  const bridgeLabel = el("label", { class: mode === "bridge" ? "" : "hidden" }, t("meetings.field.bridge_uri"),
    el("input", { name: "bridge_uri", value: meeting?.bridge_uri ?? "", placeholder: "sip:meeting@mcu.example" }));
  const modeRadio = (value) => el("label", {},
    el("input", { type: "radio", name: "mode", value, checked: value === mode,
      onchange: () => bridgeLabel.classList.toggle("hidden", value !== "bridge") }),
    t(`meetings.mode.${value}`));

  const form = el("form", { class: "stack", "data-form": "meeting", novalidate: true },
    problem,
    el("label", {}, t("meetings.field.title"),
      el("input", { name: "title", required: true, maxlength: 300, value: meeting?.title ?? "" })),
    el("div", { class: "row2" },
      el("label", {}, t("meetings.field.start"),
        el("input", { name: "start", type: "datetime-local", required: true, value: toLocalInput(start) })),
      el("label", {}, t("meetings.field.end"),
        el("input", { name: "end", type: "datetime-local", required: true, value: toLocalInput(end) }))),
    el("label", {}, t("meetings.field.host_site"),
      el("select", { name: "host_site" },
        sites.map((s) => el("option", { value: s.id, selected: s.id === host }, siteName(s))))),
    el("fieldset", {}, el("legend", {}, t("meetings.field.sites")),
      sites.map((s) => el("label", {},
        el("input", { type: "checkbox", name: "sites", value: s.id, checked: chosen.has(s.id) }), siteName(s)))),
    el("fieldset", {}, el("legend", {}, t("meetings.field.mode")), modeRadio("host"), modeRadio("bridge")),
    bridgeLabel,
    el("div", { class: "actions" },
      onCancel ? el("button", { type: "button", onclick: onCancel }, t("common.cancel")) : null,
      el("button", { type: "submit", class: "primary", "data-action": "save-meeting" }, submitLabel)));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {
      title: String(data.get("title")).trim(),
      start: new Date(String(data.get("start"))).toISOString(),
      end: new Date(String(data.get("end"))).toISOString(),
      host_site: String(data.get("host_site")),
      sites: data.getAll("sites").map(String),
      mode: String(data.get("mode")),
    };
    if (!body.sites.includes(body.host_site)) body.sites.unshift(body.host_site);
    if (body.mode === "bridge") body.bridge_uri = String(data.get("bridge_uri")).trim();
    const say = (text) => { problem.textContent = text; problem.classList.remove("hidden"); };
    if (!body.title) return say(`${t("meetings.field.title")}?`);
    if (!(new Date(body.end) > new Date(body.start))) return say(t("meetings.invalid_time"));
    if (body.sites.length < 2) return say(t("meetings.pick_sites"));
    problem.classList.add("hidden");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await onSubmit(body);
    } catch (err) {
      say(err.message_for_user ?? String(err));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
