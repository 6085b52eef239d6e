// One meeting: readiness per site, Start / Stop, each site's call state live, control inside a
// running meeting (redial, drop, mute, add a site), the room's preparation beside the call,
// satisfaction.
import {
  caps, clear, confirmAction, el, fmtClock, fmtTime, get, items, notice, onChange, pill, post, api,
  serialised, showError, siteName, stateText, t,
} from "./core.js";
import { meetingForm } from "./meeting_form.js";
import { checksTable } from "./checks.js";

const box = document.getElementById("meeting");
const meetingId = box.dataset.meeting;
let sites = [];
let editing = false;
let autoStartDefault = false;
get("/meetings/settings").then((s) => { autoStartDefault = Boolean(s.auto_start); }).catch(() => {});

const linkSite = (link) => link.site ?? link.site_id ?? link.id;
const nameOf = (id) => siteName(sites.find((s) => s.id === id) ?? { id });

async function showChecks(link) {
  const dialog = el("dialog", { class: "checks", "aria-label": t("meetings.failing_checks") });
  const close = el("button", { onclick: () => { dialog.close(); dialog.remove(); } }, t("common.close"));
  dialog.append(el("h3", {}, `${nameOf(linkSite(link))} · ${t("meetings.failing_checks")}`),
    el("p", { class: "muted" }, t("common.loading")), el("div", { class: "actions" }, close));
  document.body.append(dialog);
  dialog.showModal();
  try {
    const run = await get(`/selftests/${link.selftest_id}`);
    const checks = (run.checks ?? []).filter((c) => c.status === "fail" || c.status === "warn");
    dialog.querySelector("p").replaceWith(
      el("p", {}, pill(run.verdict), " ", fmtTime(run.finished_at)),
      checks.length ? checksTable(checks, { open: true }) : el("p", { class: "muted" }, t("common.none")));
  } catch (err) {
    dialog.querySelector("p").textContent = err.message_for_user ?? String(err);
  }
}

function rating(meeting, link) {
  const current = link.satisfaction;
  const stars = el("div", { class: "stars", role: "group", "aria-label": t("meetings.satisfaction") });
  for (let score = 1; score <= 5; score += 1) {
    stars.append(el("button", {
      type: "button", "data-score": score, "aria-pressed": String(current === score),
      disabled: !caps.meetings,
      onclick: async () => {
        try {
          await api("PUT", `/meetings/${meeting.id}/sites/${linkSite(link)}/satisfaction`, { rating: score });
          notice(t("meetings.satisfaction_saved"), "ok");
          render();
        } catch (err) { showError(err); }
      },
    }, String(score)));
  }
  return el("div", {}, el("p", { class: "muted", style: "margin:.6rem 0 .3rem" }, t("meetings.satisfaction_question")), stars);
}

function tile(meeting, link) {
  const id = linkSite(link);
  const call = link.call ?? {};
  const inCall = ["dialing", "ringing", "connecting", "connected"].includes(link.call_state);
  const readiness = link.readiness || "pending";
  // Hung up at the end of the meeting is the normal outcome, not an alarm.
  const ended = meeting.state === "stopped" && link.call_state === "disconnected";
  const callPill = pill(link.call_state || "idle");
  if (ended) callPill.className = "pill s-idle";
  return el("article", { class: `site-tile c-${ended ? "idle" : link.call_state}`, "data-site": id, "data-call": link.call_state,
    "data-readiness": readiness },
    el("h3", {}, el("a", { href: `/sites/${id}` }, nameOf(id)),
      id === meeting.host_site ? el("span", { class: "pill" }, t("meetings.host")) : null),
    el("dl", {},
      el("dt", {}, t("meetings.readiness")),
      el("dd", { "data-field": "readiness" }, pill(readiness), " ",
        link.selftest_id && readiness !== "ready"
          ? el("button", { class: "link", "data-action": "show-checks", onclick: () => showChecks(link) },
            t("meetings.show_checks"))
          : null),
      el("dt", {}, t("meetings.call")),
      el("dd", { "data-field": "call" }, callPill),
      inCall || call.rate_kbps ? el("dt", {}, t("meetings.rate")) : null,
      inCall || call.rate_kbps ? el("dd", { "data-field": "rate" },
        call.rate_kbps ? `${call.rate_kbps} kbps` : "–", " ",
        call.rate_kbps ? pill(call.hd ? "ok" : "degraded", call.hd ? t("meetings.hd") : t("meetings.sd")) : null,
        call.resolution ? el("span", { class: "muted" }, ` ${call.resolution}`) : null) : null,
      link.recording ? el("dt", {}, t("meetings.recording")) : null,
      link.recording ? el("dd", { "data-field": "recording" }, pill(link.recording)) : null,
      link.problem || link.problem_code ? el("dt", {}, t("meetings.problem")) : null,
      link.problem || link.problem_code ? el("dd", { "data-field": "problem", "data-code": link.problem_code ?? "" },
        link.problem_code ? t(`meetings.problem.${link.problem_code}`) : "",
        evidence(link.problem)) : null,
      link.muted ? el("dt", {}, t("meetings.muted")) : null,
      link.muted ? el("dd", { "data-field": "muted" }, pill("degraded", t("meetings.muted"))) : null),
    preparation(link),
    meeting.state === "started" ? controls(meeting, link) : null,
    meeting.state === "stopped" ? rating(meeting, link) : null);
}

/** Raw device text, collapsed: evidence for engineers, never the message. */
function evidence(raw) {
  if (!raw) return null;
  return el("details", { class: "evidence" }, el("summary", { class: "muted" }, t("meetings.evidence")),
    el("pre", {}, raw));
}

function preparation(link) {
  const steps = (link.preparation ?? []).filter((s) => s.state !== "done");
  if (!steps.length) return null;
  const line = (s) => {
    const device = t(`meetings.role.${s.role || "display"}`);
    const key = s.state === "waiting" ? "meetings.prep.waiting" : s.state === "failed" ? "meetings.prep.failed"
      : "meetings.prep.running";
    return el("li", { "data-device": s.device, "data-state": s.state },
      t(key, { device, step: s.step, reason: s.reason || stateText(s.state) }), evidence(s.evidence));
  };
  return el("div", { class: "preparation", "data-field": "preparation" },
    el("p", { class: "muted", style: "margin:.6rem 0 .2rem" }, t("meetings.prep.title")),
    el("ul", {}, steps.map(line)));
}

function controls(meeting, link) {
  if (!caps.meetings) return null;
  const id = linkSite(link);
  const act = async (path, body, message) => {
    try {
      await post(`/meetings/${meeting.id}/sites/${id}/${path}`, body);
      if (message) notice(message);
    } catch (err) { showError(err); }
    render();
  };
  const failed = ["failed", "dropped", "disconnected"].includes(link.call_state);
  const hostCarries = meeting.mode === "host" && id === meeting.host_site;
  return el("div", { class: "actions tile-actions" },
    el("button", { type: "button", class: failed ? "primary" : "", "data-action": "redial",
      onclick: () => act("redial", undefined, t("meetings.redialing", { site: nameOf(id) })) }, t("meetings.redial")),
    link.muted
      ? el("button", { type: "button", "data-action": "unmute", onclick: () => act("mute", { on: false }) },
        t("meetings.unmute"))
      : el("button", { type: "button", "data-action": "mute", onclick: () => act("mute", { on: true }) },
        t("meetings.mute")),
    hostCarries || link.call_state === "dropped" ? null : el("button", { type: "button", class: "danger", "data-action": "drop",
      onclick: async () => {
        if (await confirmAction(t("meetings.confirm_drop", { site: nameOf(id) }),
          { confirmLabel: t("meetings.drop"), danger: true })) act("drop");
      } }, t("meetings.drop")));
}

function addSite(meeting, links) {
  if (!caps.meetings || !["scheduled", "started"].includes(meeting.state)) return null;
  const inMeeting = new Set(links.map(linkSite));
  const free = sites.filter((s) => !inMeeting.has(s.id));
  if (!free.length) return null;
  const select = el("select", { name: "add_site" }, free.map((s) => el("option", { value: s.id }, siteName(s))));
  return el("div", { class: "toolbar", "data-field": "add-site" }, el("label", {}, t("meetings.add_site"), " ", select),
    el("button", { type: "button", "data-action": "add-site", onclick: async () => {
      try {
        await post(`/meetings/${meeting.id}/sites`, { site: select.value });
        notice(t("meetings.site_added", { site: nameOf(select.value) }), "ok");
      } catch (err) { showError(err); }
      render();
    } }, t("meetings.add")));
}

async function startOrStop(meeting, action) {
  const question = t(`meetings.confirm_${action}`, { title: meeting.title });
  const label = t(`meetings.${action}`);
  if (!(await confirmAction(question, { confirmLabel: label, danger: action === "stop" }))) return;
  notice(t(action === "start" ? "meetings.starting" : "meetings.stopping"));
  try {
    await post(`/meetings/${meeting.id}/${action}`);
  } catch (err) { showError(err); }
  render();
}

function edit(meeting) {
  editing = true;
  const done = () => { editing = false; render(); };
  clear(box, el("h1", {}, t("meetings.edit")), el("section", { class: "panel" }, meetingForm(sites, {
    meeting, submitLabel: t("common.save"), onCancel: done,
    onSubmit: async (body) => {
      await api("PATCH", `/meetings/${meeting.id}`, body);
      notice(t("meetings.saved"), "ok");
      done();
    },
  })));
}

const render = serialised(async () => {
  if (editing) return;
  const [siteData, meeting] = await Promise.all([get("/sites"), get(`/meetings/${meetingId}`)]);
  sites = items(siteData, "sites");
  const links = items(meeting.sites, "sites").slice()
    .sort((a, b) => (linkSite(a) === meeting.host_site ? -1 : linkSite(b) === meeting.host_site ? 1 : 0));
  const buttons = [];
  if (caps.meetings && meeting.state === "scheduled") {
    buttons.push(el("button", { "data-action": "edit", onclick: () => edit(meeting) }, t("meetings.edit")));
    buttons.push(el("button", { class: "primary big", "data-action": "start", onclick: () => startOrStop(meeting, "start") },
      `▶ ${t("meetings.start")}`));
  }
  if (caps.meetings && meeting.state === "started") {
    buttons.push(el("button", { class: "danger big", "data-action": "stop", onclick: () => startOrStop(meeting, "stop") },
      `■ ${t("meetings.stop")}`));
  }
  clear(box,
    el("div", { class: "meeting-head" },
      el("h1", { "data-field": "title" }, meeting.title),
      el("span", { "data-field": "state" }, pill(meeting.state)),
      el("span", { class: "spacer" }),
      el("div", { class: "actions" }, buttons)),
    el("p", { class: "muted" },
      `${fmtTime(meeting.start)} – ${fmtClock(meeting.end)} · ${t(`meetings.mode_short.${meeting.mode}`)}`,
      meeting.bridge_uri ? ` · ${meeting.bridge_uri}` : "",
      ` · ${t("meetings.sites_count", { n: links.length })}`),
    meeting.state === "scheduled"
      ? el("p", { class: "muted", "data-field": "auto-start" },
        t(meeting.auto_start ?? autoStartDefault ? "meetings.auto_start_on" : "meetings.auto_start_off")) : null,
    meeting.override_reason ? el("p", { class: "muted", "data-field": "override" },
      t("meetings.override", { reason: meeting.override_reason })) : null,
    addSite(meeting, links),
    el("section", { class: "site-grid", "aria-live": "polite" }, links.map((link) => tile(meeting, link))));
});

render();
onChange(["meetings", "selftests"], render);
