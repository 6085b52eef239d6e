// Inspections and reports: filled in by the reports feature; this page only carries the shell.
import "./core.js";
