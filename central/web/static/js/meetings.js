// Meetings: list and week calendar of scheduled meetings, and the form to create one.
import {
  caps, clear, el, fmtClock, fmtDay, fmtTime, get, items, notice, onChange, pill, post, serialised, siteName, t,
} from "./core.js";
import { meetingForm } from "./meeting_form.js";

const listBox = document.getElementById("meeting-list");
const calendarBox = document.getElementById("meeting-calendar");
const formBox = document.getElementById("meeting-form");
let sites = [];
let view = localStorage.getItem("roomops_meetings_view") || "list";
let weekStart = startOfWeek(new Date());

function startOfWeek(date) {
  const day = new Date(date);
  day.setHours(0, 0, 0, 0);
  day.setDate(day.getDate() - ((day.getDay() + 6) % 7));   // Monday
  return day;
}

function nameOf(id) {
  return siteName(sites.find((s) => s.id === id) ?? { id });
}

function siteIds(meeting) {
  return (meeting.sites ?? []).map((s) => (typeof s === "string" ? s : s.site ?? s.id));
}

function row(meeting) {
  const ids = siteIds(meeting);
  return el("tr", { "data-meeting": meeting.id },
    el("td", {}, el("a", { href: `/meetings/${meeting.id}` }, meeting.title)),
    el("td", {}, fmtTime(meeting.start), " – ", fmtClock(meeting.end)),
    el("td", {}, nameOf(meeting.host_site)),
    el("td", {}, ids.filter((id) => id !== meeting.host_site).map(nameOf).join("、")),
    el("td", {}, t(`meetings.mode_short.${meeting.mode}`)),
    el("td", {}, pill(meeting.state)));
}

function renderList(meetings) {
  if (!meetings.length) return clear(listBox, el("p", { class: "muted" }, t("meetings.none")));
  clear(listBox, el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {},
      ["meetings.field.title", "meetings.field.start", "meetings.field.host_site", "meetings.field.sites",
        "meetings.field.mode", "meetings.field.state"].map((k) => el("th", {}, t(k))))),
    el("tbody", {}, meetings.map(row)))));
}

function renderCalendar(meetings) {
  const today = new Date().toDateString();
  const days = [...Array(7).keys()].map((i) => {
    const day = new Date(weekStart);
    day.setDate(day.getDate() + i);
    return day;
  });
  const cells = days.map((day) => {
    const todays = meetings.filter((m) => new Date(m.start).toDateString() === day.toDateString());
    return el("div", { class: `day ${day.toDateString() === today ? "today" : ""}` },
      el("h4", {}, fmtDay(day)),
      todays.map((m) => el("a", { class: "event", href: `/meetings/${m.id}`, title: m.title },
        `${fmtClock(m.start)} ${m.title}`)));
  });
  const shift = (weeks) => { weekStart.setDate(weekStart.getDate() + 7 * weeks); render(); };
  clear(calendarBox,
    el("div", { class: "toolbar" },
      el("button", { onclick: () => shift(-1), "aria-label": t("meetings.prev_week") }, "‹"),
      el("strong", {}, t("meetings.week_of", { date: fmtDay(weekStart) })),
      el("button", { onclick: () => shift(1), "aria-label": t("meetings.next_week") }, "›")),
    el("div", { class: "calendar" }, cells));
}

const render = serialised(async () => {
  const [siteData, meetingData] = await Promise.all([get("/sites"), get("/dashboard/meetings")]);
  sites = items(siteData, "sites");
  const meetings = items(meetingData, "meetings").sort((a, b) => new Date(a.start) - new Date(b.start));
  listBox.classList.toggle("hidden", view !== "list");
  calendarBox.classList.toggle("hidden", view !== "calendar");
  for (const button of document.querySelectorAll("[data-view]")) {
    button.setAttribute("aria-pressed", String(button.dataset.view === view));
  }
  if (view === "list") renderList(meetings);
  else renderCalendar(meetings);
});

for (const button of document.querySelectorAll("[data-view]")) {
  button.addEventListener("click", () => {
    view = button.dataset.view;
    localStorage.setItem("roomops_meetings_view", view);
    render();
  });
}

const newButton = document.getElementById("new-meeting");
if (newButton && caps.meetings) {
  newButton.addEventListener("click", async () => {
    if (!sites.length) sites = items(await get("/sites"), "sites");
    const close = () => { clear(formBox); formBox.classList.add("hidden"); newButton.classList.remove("hidden"); };
    clear(formBox, el("h2", {}, t("meetings.new")), meetingForm(sites, {
      submitLabel: t("meetings.create"),
      allowForce: true,
      onCancel: close,
      onSubmit: async (body) => {
        const created = await post("/meetings", body);
        notice(t("meetings.created"), "ok");
        window.location.assign(`/meetings/${created.id}`);
      },
    }));
    formBox.classList.remove("hidden");
    newButton.classList.add("hidden");
  });
}

render();
onChange(["meetings"], render);
