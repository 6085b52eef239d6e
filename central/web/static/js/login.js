// Login page: sign in through the API (it sets the session cookie), then go where the user wanted.
function remember(lang) {
  localStorage.setItem("roomops_lang", lang);
  document.cookie = `roomops_lang=${encodeURIComponent(lang)}; path=/; max-age=31536000; samesite=lax`;
}

for (const button of document.querySelectorAll("[data-lang]")) {
  button.addEventListener("click", () => { remember(button.dataset.lang); window.location.reload(); });
}
const remembered = localStorage.getItem("roomops_lang");
if (remembered && !document.cookie.includes("roomops_lang=")) { remember(remembered); window.location.reload(); }

const form = document.getElementById("login");
const problem = document.getElementById("login-error");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  problem.classList.add("hidden");
  try {
    const response = await fetch(form.action, {
      method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
    });
    if (response.ok) {
      window.location.assign(form.dataset.next || "/");
      return;
    }
    problem.textContent = response.status === 429 ? problem.dataset.throttled : problem.dataset.failed;
  } catch (err) {
    problem.textContent = String(err);
  }
  problem.classList.remove("hidden");
  button.disabled = false;
});
