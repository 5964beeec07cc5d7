// The live channel: one WebSocket per page, reconnecting with back-off. Every event the server
// publishes is re-dispatched on `document` as a DOM event named "live:<type>" (for example
// "live:machine.health", "live:job.progress") so each page listens only for what it shows.
//
// Reconnects resume where they left off (docs/architecture.md, "Live event contract"): the page
// remembers the id of the last event (or of the hello) and sends it as ?since=; the server
// replays what was missed, or sends "resync" when it no longer has it, re-dispatched as
// "live:resync" for pages to reload their state. A socket closed with 4403 lost its access
// (signed out, removed, organization deactivated): the page reloads, which shows why.
(function () {
  const ACCESS_LOST = 4403;
  const state = document.getElementById("live-state");
  let lastId = null;
  function show(text, ok) {
    if (!state) return;
    state.textContent = text;
    state.classList.toggle("on", ok);
  }
  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const since = lastId ? `?since=${encodeURIComponent(lastId)}` : "";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/live/${since}`);
    ws.onopen = () => {
      show("live", true);
      delay = 1000;
      document.dispatchEvent(new CustomEvent("live:open"));
    };
    ws.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      if (event.type === "hello" && !lastId) lastId = event.last_id;
      else if (event.id) lastId = event.id;
      document.dispatchEvent(new CustomEvent(`live:${event.type}`, { detail: event }));
    };
    ws.onclose = (closing) => {
      if (closing.code === ACCESS_LOST) {
        show("signed out", false);
        location.reload();
        return;
      }
      show("reconnecting…", false);
      // Jitter, so that a server restart is not met by every tab at the same instant.
      const wait = delay * (0.75 + Math.random() / 2);
      setTimeout(() => connect(Math.min(delay * 2, 30000)), wait);
    };
  }
  connect(1000);
})();
