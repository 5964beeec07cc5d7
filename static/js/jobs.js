// Job progress bars: any element with data-job="<id>" is kept in step with job.progress events.
// Inside it, [data-field=progress] (a <progress> or .bar), [data-field=status] and
// [data-field=message] are updated; when a job finishes, elements with data-on-done reload.
(function () {
  document.addEventListener("live:job.progress", (e) => {
    const job = e.detail.job;
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
      if (["succeeded", "failed", "canceled"].includes(job.status) && box.hasAttribute("data-reload-when-done")) {
        setTimeout(() => location.reload(), 600);
      }
    });
  });
})();
