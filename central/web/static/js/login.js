// Login page: only the language switch (the form itself is a plain POST).
for (const button of document.querySelectorAll("[data-lang]")) {
  button.addEventListener("click", () => {
    localStorage.setItem("roomops_lang", button.dataset.lang);
    document.cookie = `roomops_lang=${encodeURIComponent(button.dataset.lang)}; path=/; max-age=31536000; samesite=lax`;
    window.location.reload();
  });
}
const remembered = localStorage.getItem("roomops_lang");
if (remembered && !document.cookie.includes("roomops_lang=")) {
  document.cookie = `roomops_lang=${encodeURIComponent(remembered)}; path=/; max-age=31536000; samesite=lax`;
  window.location.reload();
}
