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

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => sizeBars(document));
  } else {
    sizeBars(document);
  }
  document.addEventListener("htmx:afterSettle", (event) => sizeBars(event.target));
})();
