// Fleet dashboard: apply machine.health events to the table in place, then re-sort by risk.
(function () {
  const body = document.getElementById("fleet-body");
  if (!body) return;
  const healthClass = (h) => (h >= 70 ? "ok" : h >= 40 ? "warn" : "bad");
  const anomalyState = (a) => (a == null ? "none" : a >= 0.99 ? "anomalous" : a >= 0.95 ? "warning" : "normal");
  const hours = (h) => (h == null ? "—" : h <= 0 ? "now" : h < 48 ? `${h.toFixed(1)} h` : `${(h / 24).toFixed(1)} days`);
  // Cycle-indexed machines count their remaining life in cycles (the event's time_unit), as the
  // server-rendered table does (predictions.web_format.duration_text).
  const cycles = (c) => {
    if (c == null) return "—";
    if (c <= 0) return "now";
    const shown = c >= 10 ? c.toFixed(0) : String(Number(c.toFixed(1)));
    return shown === "1" ? "1 cycle" : `${shown} cycles`;
  };
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
    if (m.learning != null) { // learning its own normal: progress instead of a verdict
      set("health", `<span class="badge learning">learning its normal (${Math.round(m.learning)}%)</span>`);
      ["probability", "rul", "failure_mode"].forEach((field) => set(field, "—"));
      set("anomaly", "");
      set("scored", "just now");
      return;
    }
    set("health", `<span class="health ${healthClass(m.health)}">${Math.round(m.health)}</span>`);
    set("probability", `${Math.round(100 * m.failure_probability)}%`);
    set("rul", m.time_unit === "cycles" ? cycles(m.rul) : hours(m.rul));
    const state = anomalyState(m.anomaly);
    set("anomaly", `<span class="badge ${state}">${state}</span>`);
    const mode = tr.querySelector("[data-field=failure_mode]");
    if (mode) {
      if (m.predicted_failure && m.failure_mode) mode.textContent = m.failure_mode;  // names come from metadata
      else mode.innerHTML = "<span class='muted'>—</span>";
    }
    set("scored", "just now");
    tr.dataset.risk = m.failure_probability + (100 - m.health) / 1000;
    tr.classList.remove("flash"); void tr.offsetWidth; tr.classList.add("flash");
    resort();
  });
  // Events were lost while the socket was away: the table is rendered by the server, so reload.
  document.addEventListener("live:resync", () => location.reload());
})();
