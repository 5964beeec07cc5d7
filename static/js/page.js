// Behaviour every page shares, kept out of the templates so that the Content-Security-Policy
// can refuse inline scripts and styles (pdm_saas/security_headers.py).
(function () {
  // Bars: the template gives the share as data-width (percent); a style attribute would need
  // 'unsafe-inline' styles, while setting it from a script file is allowed.
  function sizeBars(root) {
    root.querySelectorAll("[data-width]").forEach((el) => {
      el.style.width = `${el.dataset.width}%`;
    });
  }

  // Forms that ask first: <form data-confirm="Remove ...?">.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);

  // The phone menu (templates/base.html): the button folds the navigation away and opens it;
  // aria-expanded tells a screen reader which. Marking the nav `menu-ready` is what lets the CSS
  // fold it, so without this script the links simply stay visible.
  function setUpMenu() {
    const nav = document.querySelector("nav.appnav");
    const button = nav && nav.querySelector(".menu-toggle");
    if (!button) return;
    nav.classList.add("menu-ready");
    const show = (open) => {
      button.setAttribute("aria-expanded", String(open));
      nav.classList.toggle("open", open);
    };
    button.addEventListener("click", () => show(button.getAttribute("aria-expanded") !== "true"));
    nav.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && nav.classList.contains("open")) {
        show(false);
        button.focus();
      }
    });
  }

  function ready() {
    sizeBars(document);
    setUpMenu();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
  document.addEventListener("htmx:afterSettle", (event) => sizeBars(event.target));
})();
