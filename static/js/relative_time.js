// Relative times keep moving: every <time datetime="..." data-relative> (the `relative_time`
// template filter, pdm_saas/relative_time.py) is re-worded from the browser's clock every 30 s
// and whenever htmx swaps new rows in. No request: the timestamp is in the attribute.
// The words match the filter's, so the first refresh never changes what the server wrote.
(function () {
  const UNITS = [["year", 365 * 86400], ["month", 30 * 86400], ["week", 7 * 86400],
                 ["day", 86400], ["hour", 3600], ["minute", 60]];

  function phrase(seconds) {
    const span = Math.abs(seconds);
    if (span < 60) return seconds >= 0 ? "just now" : "in under a minute";
    const [unit, size] = UNITS.find(([, length]) => span >= length);
    const count = Math.floor(span / size);
    const words = `${count} ${unit}${count === 1 ? "" : "s"}`;
    return seconds >= 0 ? `${words} ago` : `in ${words}`;
  }

  function refresh(root) {
    root.querySelectorAll("time[data-relative]").forEach((el) => {
      const at = Date.parse(el.getAttribute("datetime"));
      if (!Number.isNaN(at)) el.textContent = phrase((Date.now() - at) / 1000);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => refresh(document));
  } else {
    refresh(document);
  }
  document.addEventListener("htmx:afterSettle", (event) => refresh(event.target));
  window.setInterval(() => refresh(document), 30_000);
})();
