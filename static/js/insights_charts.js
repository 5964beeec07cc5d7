// Precision, recall and false-positive-rate charts of the insights page (data: #perf-data).
(function () {
  if (!window.uPlot) return;
  const charts = JSON.parse(document.getElementById("perf-data").textContent);
  charts.forEach((c) => {
    const el = document.getElementById("perf-" + c.id);
    if (!el || !c.x.length) return;
    const width = Math.max(240, Math.floor(el.getBoundingClientRect().width) || 320);
    new uPlot({
      width: width, height: 220,
      scales: { y: { range: [0, 1] } },
      series: [{}, { label: "precision", stroke: "#1a73e8" }, { label: "recall", stroke: "#1e8e3e" },
               { label: "FPR", stroke: "#c5221f" }],
      axes: [{}, { values: (u, v) => v.map((x) => x.toFixed(1)) }],
    }, [c.x, c.precision, c.recall, c.fpr], el);
  });
})();
