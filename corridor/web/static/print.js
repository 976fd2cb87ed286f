// The "Print" button of the printing pages (web/pages/cards.py): no inline script under
// the Content Security Policy.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
