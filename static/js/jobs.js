// Job progress bars: any element with data-job="<id>" is kept in step with job.progress events.
// Inside it, [data-field=progress] (a <progress> or .bar), [data-field=percent],
// [data-field=status] and [data-field=message] are updated; when the job ends, an element with
// data-reload-when-done reloads the page so the server renders the result.
(function () {
  const FINISHED = ["succeeded", "failed", "canceled"];

  function apply(job) {
    document.querySelectorAll(`[data-job="${job.id}"]`).forEach((box) => {
      box.querySelectorAll("[data-field=progress]").forEach((bar) => {
        if (bar.tagName === "PROGRESS") bar.value = job.progress;
        else bar.style.width = `${job.progress}%`;
        (bar.closest("[role=progressbar]") || bar).setAttribute("aria-valuenow", job.progress);
      });
      box.querySelectorAll("[data-field=percent]").forEach((el) => { el.textContent = `${job.progress}%`; });
      box.querySelectorAll("[data-field=status]").forEach((el) => { el.textContent = job.status; el.dataset.status = job.status; });
      box.querySelectorAll("[data-field=message]").forEach((el) => { el.textContent = job.message; });
      box.dataset.status = job.status;
      if (FINISHED.includes(job.status) && box.hasAttribute("data-reload-when-done")) {
        box.removeAttribute("data-reload-when-done");
        setTimeout(() => location.reload(), 600);
      }
    });
  }

  // Events only tell what happens after the socket opened: a short job may have finished
  // between the page's render and the connection. Each time the socket (re)opens, read the
  // unfinished jobs once from the API so nothing waits for an event that was already sent.
  function catchUp() {
    const ids = new Set([...document.querySelectorAll("[data-job]")]
      .filter((box) => !FINISHED.includes(box.dataset.status))
      .map((box) => box.dataset.job));
    ids.forEach((id) => {
      fetch(`/api/v1/jobs/${id}/`, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((r) => (r.ok ? r.json() : null))
        .then((job) => { if (job) apply(job); });
    });
  }

  document.addEventListener("live:job.progress", (e) => apply(e.detail.job));
  document.addEventListener("live:open", catchUp);
  document.addEventListener("live:resync", catchUp);
})();
