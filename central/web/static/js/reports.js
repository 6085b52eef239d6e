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

yearInput.addEventListener("input", updateLinks);
document.getElementById("report-year").addEventListener("submit", (event) => event.preventDefault());
updateLinks();
