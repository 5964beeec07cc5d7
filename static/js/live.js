// Live channel client: keeps the jobs table in step with job.progress events.
(function () {
  const state = document.getElementById("live-state");
  const body = document.querySelector("#jobs tbody");
  function row(job) {
    let tr = body.querySelector(`tr[data-job="${job.id}"]`);
    if (!tr) {
      body.querySelector("tr.empty")?.remove();
      tr = document.createElement("tr");
      tr.dataset.job = job.id;
      tr.innerHTML = "<td></td><td></td><td><progress max='100'></progress></td><td></td>";
      body.prepend(tr);
    }
    tr.cells[0].textContent = `${job.kind} #${job.id}`;
    tr.cells[1].textContent = job.status;
    tr.querySelector("progress").value = job.progress;
    tr.cells[3].textContent = job.message;
  }
  function connect(delay) {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/live/`);
    ws.onopen = () => { state.textContent = "live"; delay = 1000; };
    ws.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      if (event.type === "job.progress") row(event.job);
    };
    ws.onclose = () => {
      state.textContent = "reconnecting…";
      setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
    };
  }
  connect(1000);
})();
