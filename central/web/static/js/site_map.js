// The site map: an SVG drawn by central from the geometry RoomOps ships (no tile server), fetched
// again every 15 s so the offices' colours follow their live status. The SVG is our own server's
// output (every text in it escaped there), so it is inserted as markup.
const holder = document.getElementById("site-map");
const note = document.getElementById("site-map-note");
const REFRESH_MS = 15000;

async function refresh() {
  try {
    const response = await fetch(holder.dataset.src, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error(String(response.status));
    holder.innerHTML = await response.text();
    note.hidden = true;
  } catch {
    note.textContent = holder.dataset.stale;
    note.hidden = false;
  }
}

if (holder) {
  refresh();
  setInterval(refresh, REFRESH_MS);
}
