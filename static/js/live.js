// The live channel: one WebSocket per page, reconnecting with back-off. Every event the server
// publishes is re-dispatched on `document` as a DOM event named "live:<type>" (for example
// "live:machine.health", "live:job.progress") so each page listens only for what it shows.
(function () {
  const state = document.getElementById("live-state");
  function show(text, ok) {
    if (!state) return;
    state.textContent = text;
    state.classList.toggle("on", ok);
  }
  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/live/`);
    ws.onopen = () => {
      show("live", true);
      delay = 1000;
      document.dispatchEvent(new CustomEvent("live:open"));
    };
    ws.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      document.dispatchEvent(new CustomEvent(`live:${event.type}`, { detail: event }));
    };
    ws.onclose = () => {
      show("reconnecting…", false);
      setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
    };
  }
  connect(1000);
})();
