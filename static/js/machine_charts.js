// Machine page charts (uPlot): one chart per sensor with its normal / warning / critical bands,
// anomaly markers and the forecast projection, plus the risk and health history.
(function () {
  const box = document.getElementById("signal-charts");
  if (!box || !window.uPlot) return;
  const bands = JSON.parse(document.getElementById("signal-bands").textContent);
  // The width the element's grid column gives it (uPlot draws at a fixed pixel width).
  const width = (el) => Math.max(240, Math.floor(el.getBoundingClientRect().width) || 320);

  // Fill the y-ranges of the zones behind the series.
  function zonePlugin(band, anomalies) {
    return {
      hooks: {
        drawClear: [(u) => {
          const ctx = u.ctx, { left, top, width: w, height: h } = u.bbox;
          const y = (v) => u.valToPos(v, "y", true);
          const fill = (range, colour) => {
            if (!range) return;
            const y0 = Math.max(top, Math.min(top + h, y(range[1])));
            const y1 = Math.max(top, Math.min(top + h, y(range[0])));
            ctx.fillStyle = colour; ctx.fillRect(left, y0, w, y1 - y0);
          };
          ctx.save();
          fill(band.warning, "rgba(242,153,0,0.10)");
          fill(band.normal, "rgba(30,142,62,0.12)");
          ctx.restore();
        }],
        draw: [(u) => {
          const ctx = u.ctx, { left, top, width: w, height: h } = u.bbox;
          ctx.save();
          if (band.critical) {
            ctx.strokeStyle = "rgba(197,34,31,0.7)"; ctx.setLineDash([4, 4]);
            band.critical.forEach((v) => {
              const py = u.valToPos(v, "y", true);
              if (py >= top && py <= top + h) { ctx.beginPath(); ctx.moveTo(left, py); ctx.lineTo(left + w, py); ctx.stroke(); }
            });
          }
          ctx.setLineDash([]); ctx.fillStyle = "rgba(197,34,31,0.85)";
          anomalies.forEach((t) => {
            const px = u.valToPos(t, "x", true);
            if (px >= left && px <= left + w) ctx.fillRect(px - 1, top + h - 8, 3, 8);
          });
          ctx.restore();
        }],
      },
    };
  }

  // The x scale of a series of times; a single instant (one scoring so far) gets a day around
  // it, otherwise uPlot spans years around it. Cycle-indexed data is drawn in cycles, not as
  // 1970 dates (data.time_unit).
  let cycles = false;
  const timeScale = (ts) => {
    const lo = Math.min(...ts), hi = Math.max(...ts), pad = cycles ? 1 : 43200;
    return lo === hi ? { time: !cycles, auto: false, range: [lo - pad, hi + pad] } : { time: !cycles };
  };
  const xAxis = () => (cycles ? { label: "cycle" } : {});
  const xSeries = () => (cycles ? { label: "cycle" } : {});  // the legend's first column
  const dots = { show: true, size: 6 };  // visible even when there is one prediction

  function card(band) {
    const el = document.createElement("div");
    el.className = "signal-chart";
    const title = document.createElement("h3");
    title.textContent = band.label;  // metadata is user input: never innerHTML
    if (band.unit) {
      const unit = document.createElement("span");
      unit.className = "muted small";
      unit.textContent = ` (${band.unit})`;
      title.appendChild(unit);
    }
    el.appendChild(title);
    box.appendChild(el);
    return el;
  }

  function signalChart(band, card, data, anomalies, forecast, secondsPerHour) {
    const t = data.readings.t, values = data.readings.signals[band.name] || [];
    if (!t.length) { card.remove(); return; }
    const last = t[t.length - 1];
    const xs = [...t], ys = [...values], fs = t.map(() => null);
    fs[fs.length - 1] = values[values.length - 1];
    if (forecast) {
      forecast.projection.forEach((p) => { xs.push(last + p.h * secondsPerHour); ys.push(null); fs.push(p.value); });
    }
    const lo = Math.min(...ys.filter((v) => v != null), ...(band.normal || []));
    const hi = Math.max(...ys.filter((v) => v != null), ...(band.warning || band.normal || []));
    const pad = (hi - lo) * 0.08 || 1;
    new uPlot({
      width: width(card), height: 180, plugins: [zonePlugin(band, anomalies)],
      scales: { x: timeScale(xs), y: { range: [lo - pad, hi + pad] } },
      legend: { show: false },
      axes: [xAxis(), {}],
      series: [xSeries(), { label: band.name, stroke: "#0b6bcb", width: 1.4, spanGaps: false },
               { label: "forecast", stroke: "#7a4fd1", dash: [6, 4], width: 1.6, spanGaps: true }],
    }, [xs, ys, fs], card);
  }

  function historyChart(data) {
    const el = document.getElementById("history-chart");
    const p = data.predictions;
    if (!el || !p.t.length) { if (el) el.innerHTML = "<p class='muted'>No predictions yet.</p>"; return; }
    new uPlot({
      width: width(el), height: 200,
      scales: { x: timeScale(p.t), pct: { range: [0, 100] } },
      axes: [xAxis(), { scale: "pct", label: "%" }],
      series: [xSeries(), { label: "failure risk %", scale: "pct", stroke: "#c5221f", width: 1.5, points: dots },
               { label: "health", scale: "pct", stroke: "#1e8e3e", width: 1.5, points: dots }],
    }, [p.t, p.probability.map((v) => 100 * v), p.health_score], el);
    const rul = document.getElementById("rul-chart");
    if (!rul || !p.rul_h.some((v) => v != null)) return;
    new uPlot({
      width: width(rul), height: 180,
      scales: { x: timeScale(p.t) },
      axes: [xAxis(), { label: cycles ? "cycles" : "hours" }],
      series: [xSeries(), { label: cycles ? "RUL cycles" : "RUL h", stroke: "#0b6bcb", width: 1.5, points: dots },
               { label: "lower", stroke: "#8aa9cf", dash: [4, 4] }, { label: "upper", stroke: "#8aa9cf", dash: [4, 4] }],
      bands: [{ series: [3, 2], fill: "rgba(11,107,203,0.10)" }],
    }, [p.t, p.rul_h, p.rul_lower_h, p.rul_upper_h], rul);
  }

  fetch(box.dataset.url, { credentials: "same-origin" }).then((r) => r.json()).then((data) => {
    const p = data.predictions;
    cycles = data.time_unit === "cycles";
    const anomalies = p.t.filter((_, i) => (p.anomaly_score[i] ?? 0) >= 0.99);
    const forecasts = Object.fromEntries((data.forecast || []).map((f) => [f.signal, f]));
    if (!data.readings.t.length) {
      // What to do in the product, not where the API is: the upload page of this machine's type.
      box.innerHTML = "<p class='muted'>No readings yet: <a></a> with this machine's readings, or send them from the plant's data feed.</p>";
      const link = box.querySelector("a");
      link.href = box.dataset.uploadUrl;
      link.textContent = "upload a file";
    }
    // Every card first, so the grid has its final columns before uPlot measures a width.
    const cards = bands.map(card);
    bands.forEach((band, i) => signalChart(band, cards[i], data, anomalies, forecasts[band.name],
                                           data.seconds_per_hour));
    historyChart(data);
  });
})();
