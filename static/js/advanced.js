// The "Advanced" switch (docs/web.md): shows the elements of class "advanced" (model metrics,
// scores, feature names) on every page once a person turns it on, until they turn it off. The
// choice is kept in this browser's localStorage; without it (or without JavaScript) they stay hidden.
(function () {
  if (window.pdmAdvanced) return; // a page may include the switch more than once
  window.pdmAdvanced = true;
  const KEY = "pdm.advanced";
  const stored = () => { try { return localStorage.getItem(KEY) === "on"; } catch (e) { return false; } };
  function apply(on) {
    document.documentElement.classList.toggle("show-advanced", on);
    document.querySelectorAll("[data-advanced-toggle]").forEach((box) => { box.checked = on; });
  }
  document.addEventListener("change", (event) => {
    if (!event.target.matches("[data-advanced-toggle]")) return;
    const on = event.target.checked;
    try { localStorage.setItem(KEY, on ? "on" : "off"); } catch (e) { /* private mode: this page only */ }
    apply(on);
  });
  apply(stored());
})();
