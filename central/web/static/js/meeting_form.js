// The meeting form, for creating and for editing: title, time, host site, sites, mode, bridge,
// auto-start. A booking that collides with another meeting shows which one and lets the clerk
// book anyway with a reason (audited by the server).
import { el, fmtClock, fmtTime, get, siteName, t } from "./core.js";

/** "2025-11-26T14:30" in the browser's local time, for <input type="datetime-local">. */
function toLocalInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/**
 * Build the form. `meeting` pre-fills it (edit); `onSubmit(body)` gets the API body and returns a
 * promise; the form shows validation problems itself. `allowForce` (creating) offers the
 * auto-start flag and booking over a conflict with a reason.
 */
export function meetingForm(sites, { meeting = null, submitLabel, onSubmit, onCancel, allowForce = false }) {
  const start = meeting ? new Date(meeting.start) : new Date(Date.now() + 60 * 60 * 1000);
  const end = meeting ? new Date(meeting.end) : new Date(start.getTime() + 60 * 60 * 1000);
  if (!meeting) { start.setSeconds(0, 0); end.setSeconds(0, 0); }
  const chosen = new Set(meeting ? meeting.sites.map((s) => (typeof s === "string" ? s : s.site ?? s.id)) : sites.map((s) => s.id));
  const host = meeting ? meeting.host_site : (sites[0] && sites[0].id);
  const mode = meeting ? meeting.mode : "host";

  const problem = el("div", { class: "notice error hidden", role: "alert" });
  const conflictBox = el("div", { class: "notice error hidden", role: "alert", "data-field": "conflict" });
  const bridgeInput = el("input", { name: "bridge_uri", value: meeting?.bridge_uri ?? "", placeholder: "sip:meeting@mcu.example" });
  const bridgeHint = el("small", { class: "muted hidden", "data-field": "bridge-default" });
  const bridgeLabel = el("label", { class: mode === "bridge" ? "" : "hidden" }, t("meetings.field.bridge_uri"),
    bridgeInput, bridgeHint);
  get("/meetings/settings").then((settings) => {
    if (!settings.default_bridge_uri) return;
    bridgeInput.placeholder = settings.default_bridge_uri;
    bridgeHint.textContent = t("meetings.field.bridge_default", { uri: settings.default_bridge_uri });
    bridgeHint.classList.remove("hidden");
  }).catch(() => {});
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
    allowForce ? el("label", {}, el("input", { type: "checkbox", name: "auto_start" }),
      t("meetings.field.auto_start")) : null,
    conflictBox,
    el("div", { class: "actions" },
      onCancel ? el("button", { type: "button", onclick: onCancel }, t("common.cancel")) : null,
      el("button", { type: "submit", class: "primary", "data-action": "save-meeting" }, submitLabel)));

  const say = (text) => { problem.textContent = text; problem.classList.remove("hidden"); };
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
    if (body.mode === "bridge" && String(data.get("bridge_uri") ?? "").trim()) {
      body.bridge_uri = String(data.get("bridge_uri")).trim();
    }
    if (data.get("auto_start")) body.auto_start = true;     // else the organisation setting decides
    if (!body.title) return say(`${t("meetings.field.title")}?`);
    if (!(new Date(body.end) > new Date(body.start))) return say(t("meetings.invalid_time"));
    if (body.sites.length < 2) return say(t("meetings.pick_sites"));
    problem.classList.add("hidden");
    conflictBox.classList.add("hidden");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await onSubmit(body);
    } catch (err) {
      if (err.status === 409 && err.body?.conflicts) showConflict(body, err.body.conflicts);
      else say(err.message_for_user ?? String(err));
    } finally {
      button.disabled = false;
    }
  });

  const nameOf = (id) => siteName(sites.find((s) => s.id === id) ?? { id });
  function showConflict(body, conflicts) {
    const list = el("ul", {}, conflicts.map((c) => el("li", { "data-meeting": c.id },
      el("a", { href: `/meetings/${c.id}` }, t("meetings.conflict.item", {
        title: c.title, start: fmtTime(c.start), end: fmtClock(c.end), sites: c.sites.map(nameOf).join("、"),
      })))));
    const parts = [el("strong", {}, t("meetings.conflict.title")), list];
    if (allowForce) {
      const reason = el("textarea", { name: "force_reason", rows: 2, maxlength: 500 });
      const force = el("button", { type: "button", class: "danger", "data-action": "force-meeting",
        onclick: async () => {
          const why = reason.value.trim();
          if (!why) { reason.focus(); return say(t("meetings.conflict.need_reason")); }
          force.disabled = true;
          try {
            await onSubmit({ ...body, force: true, force_reason: why });
          } catch (err) {
            say(err.message_for_user ?? String(err));
          } finally {
            force.disabled = false;
          }
        } }, t("meetings.conflict.force"));
      parts.push(el("label", {}, t("meetings.conflict.reason"), reason), el("div", { class: "actions" }, force));
    }
    conflictBox.replaceChildren(...parts);
    conflictBox.classList.remove("hidden");
  }
  return form;
}
