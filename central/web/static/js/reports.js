// Inspections and reports: links into the reports feature (HTML, PDF, CSV), for the chosen year
// and in the page's language.
import "./core.js";

const yearInput = document.getElementById("year");
const lang = document.documentElement.lang || "zh-CN";
yearInput.value = String(new Date().getFullYear());

function updateLinks() {
  const year = yearInput.value;
  for (const link of document.querySelectorAll("a.report-link")) {
    const params = new URLSearchParams({ format: link.dataset.format, lang, year });
    link.href = `${link.dataset.path}?${params}`;
  }
}

// the per-site charts of the chosen year, drawn by central as inline SVG
const charts = document.getElementById("site-charts");
let chartsYear = "";
async function updateCharts() {
  const year = yearInput.value;
  if (!charts || year === chartsYear || !/^\d{4}$/.test(year)) return;
  chartsYear = year;
  const params = new URLSearchParams({ format: "html", lang, year });
  const response = await fetch(`/api/v1/reports/charts?${params}`, { credentials: "same-origin" });
  if (response.ok && chartsYear === year) charts.innerHTML = await response.text();
}

yearInput.addEventListener("input", () => { updateLinks(); updateCharts(); });
document.getElementById("report-year").addEventListener("submit", (event) => event.preventDefault());
updateLinks();
updateCharts();
