// Fleet dashboard: apply machine.health events to the table in place, then re-sort by risk.
(function () {
  const body = document.getElementById("fleet-body");
  if (!body) return;
  const modeLabels = JSON.parse(document.getElementById("mode-labels")?.textContent || "{}");
  const anomalyState = (a) => (a == null ? "none" : a >= 0.99 ? "anomalous" : a >= 0.95 ? "warning" : "normal");
  function resort() {
    const rows = [...body.querySelectorAll("tr[data-machine]")];
    rows.sort((a, b) => parseFloat(b.dataset.risk) - parseFloat(a.dataset.risk));
    rows.forEach((tr) => body.appendChild(tr));
  }
  document.addEventListener("live:machine.health", (e) => {
    const m = e.detail.machine;
    const tr = body.querySelector(`tr[data-machine="${m.id}"]`);
    if (!tr) return; // filtered out, or a machine added since the page loaded
    const set = (field, html) => { const td = tr.querySelector(`[data-field=${field}]`); if (td) td.innerHTML = html; };
    // The verdict comes worded by the server (predictions.web_format.verdict), as the table is.
    const v = m.verdict || {};
    const text = (value) => String(value ?? "—").replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    set("state", `<span class="badge ${text(v.css)}">${text(v.label)}</span>` +
      (v.confirming ? ' <span class="small muted">confirming</span>' : ""));
    set("health", v.health == null ? '<span class="muted">—</span>'
      : `<span class="health ${text(v.css)}">${Math.round(v.health)}</span>`);
    set("probability", text(v.risk));
    set("rul", text(v.rul));
    const state = anomalyState(m.anomaly);
    const words = { normal: "usual readings", warning: "unusual readings", anomalous: "very unusual readings", none: "—" };
    set("anomaly", `<span class="badge ${state}">${words[state]}</span>`);
    const mode = tr.querySelector("[data-field=failure_mode]");
    if (mode) {
      // The event carries the mode's key; people read its label from the type's metadata.
      const label = (modeLabels[tr.dataset.type] || {})[m.failure_mode] || String(m.failure_mode || "").replaceAll("_", " ");
      if (m.predicted_failure && m.failure_mode) mode.textContent = label;
      else mode.innerHTML = "<span class='muted'>—</span>";
    }
    set("scored", "just now");
    tr.dataset.risk = (m.risk ?? m.failure_probability) + (100 - (m.health ?? 100)) / 1000;
    tr.classList.remove("flash"); void tr.offsetWidth; tr.classList.add("flash");
    resort();
  });
  // Events were lost while the socket was away: the table is rendered by the server, so reload.
  document.addEventListener("live:resync", () => location.reload());
})();
