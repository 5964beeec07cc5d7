// Offline work on every page of those who change work orders (docs/web.md, "Offline").
//
// Online, it keeps this device ready: registers the root service worker (/sw.js), stores the
// server's offline bundle (the person's open work orders, their checklists and machines' health)
// in IndexedDB and puts the pages and files the bundle names in the caches the worker answers
// from (static/js/sw_offline.js). Offline, the work order pages' forms (checklist ticks, values,
// notes, moves, closing, photos) do not reach the server: each change is queued in an outbox in
// IndexedDB with an id and the version it was made against, and shown as waiting. Back online,
// the outbox is sent to /offline/sync/, which answers each change: applied, already applied,
// not applied because the server changed meanwhile, or refused; those answers stay on screen
// until dismissed.
"use strict";

(function () {
  const DB_NAME = "pdm-offline";
  const PAGES = "pdm-offline-pages-v1";
  const STATIC = "pdm-offline-static-v1";
  const REFRESH_MS = 10 * 60 * 1000; // the kept pages are fetched again at most this often
  const statusWords = {
    applied: "Synced", already_applied: "Already synced", conflict: "Not applied", refused: "Refused",
  };

  // --- IndexedDB: bundle (key "current"), outbox (queued operations, in order), outcomes -------

  let opened = null; // one connection per page: signing out closes it so the database can go

  function openDb() {
    opened = opened || new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("bundle");
        db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
        db.createObjectStore("outcomes");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return opened;
  }

  async function tx(store, mode, work) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(store, mode);
      const result = work(transaction.objectStore(store));
      transaction.oncomplete = () => resolve(result && "result" in result ? result.result : result);
      transaction.onerror = () => reject(transaction.error);
    });
  }

  const getKey = (store, key) => tx(store, "readonly", (s) => s.get(key));
  const putKey = (store, value, key) => tx(store, "readwrite", (s) => (key === undefined ? s.put(value) : s.put(value, key)));
  const all = (store) => tx(store, "readonly", (s) => s.getAll());
  const remove = (store, key) => tx(store, "readwrite", (s) => s.delete(key));

  // --- the bundle and the caches -------------------------------------------------------------

  async function refreshBundle() {
    const response = await fetch("/offline/bundle/", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return null;
    const bundle = await response.json();
    document.documentElement.dataset.offlineReady = "";
    const previous = await getKey("bundle", "current");
    await putKey("bundle", bundle, "current");
    const stale = !previous || !previous.cachedAt || Date.now() - previous.cachedAt > REFRESH_MS
      || previous.user !== bundle.user || previous.urls.join(" ") !== bundle.urls.join(" ");
    if (stale) {
      await cacheUrls(bundle.urls);
      bundle.cachedAt = Date.now();
      await putKey("bundle", bundle, "current");
    }
    document.documentElement.dataset.offlineReady = "1"; // what the browser tests wait for
    return bundle;
  }

  async function cacheUrls(urls) {
    const pages = await caches.open(PAGES);
    const files = await caches.open(STATIC);
    await Promise.all(urls.map(async (url) => {
      try {
        const response = await fetch(url, { credentials: "same-origin" });
        if (response.ok && !response.redirected) await (url.startsWith("/static/") ? files : pages).put(url, await keepable(response));
      } catch (error) { /* kept as it was */ }
    }));
    // A work order no longer in the bundle (closed, or given to someone else) leaves the device.
    for (const request of await pages.keys()) {
      if (!urls.includes(new URL(request.url).pathname)) await pages.delete(request);
    }
  }

  // A page varies by the session cookie, which a stored request does not carry: kept without the
  // Vary header it is found again (the cache is this person's alone; signing out empties it).
  async function keepable(response) {
    const headers = new Headers(response.headers);
    headers.delete("Vary");
    return new Response(await response.blob(), { status: response.status, statusText: response.statusText, headers });
  }

  async function bundleOrder(orderId) {
    const bundle = await getKey("bundle", "current");
    return bundle && bundle.work_orders.find((order) => order.id === orderId);
  }

  // --- queuing what a form would have sent -----------------------------------------------------

  const uuid = () => (crypto.randomUUID ? crypto.randomUUID()
    : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));

  function orderOfPage() {
    const match = location.pathname.match(/^\/work-orders\/(\d+)\//);
    return match ? Number(match[1]) : null;
  }

  async function operationOf(form, submitter, sent) {
    const data = sent || new FormData(form, submitter || undefined);
    const orderId = orderOfPage();
    const itemMatch = (form.getAttribute("action") || "").match(/\/work-orders\/(\d+)\/checklist\/(\d+)\//);
    const order = await bundleOrder(itemMatch ? Number(itemMatch[1]) : orderId);
    const base = { op_id: uuid(), made_at: new Date().toISOString() };
    if (itemMatch) {
      const itemId = Number(itemMatch[2]);
      const item = order && order.checklist.find((i) => i.id === itemId);
      const op = { ...base, kind: "checklist.answer", work_order: Number(itemMatch[1]), item: itemId,
        base: item ? item.version : "", label: item ? item.text : "a checklist item" };
      if (data.has("done")) op.done = data.get("done") === "1";
      if (data.has("value")) op.value = String(data.get("value"));
      if (data.has("note")) op.note = String(data.get("note"));
      return op;
    }
    if (orderId === null) return null;
    const common = { ...base, work_order: orderId, base: order ? order.status : "" };
    if (form.classList.contains("work-order-move")) {
      return { ...common, kind: "work_order.transition", status: String(data.get("status")), note: String(data.get("note") || "") };
    }
    if (form.classList.contains("work-order-close")) {
      const op = { ...common, kind: "work_order.close", failure_found: data.get("failure_found") === "yes",
        action_taken: String(data.get("action_taken") || ""), failure_mode_found: String(data.get("failure_mode_found") || ""),
        note: String(data.get("note") || "") };
      for (const name of ["actual_cost", "actual_downtime_hours"]) if (data.get(name)) op[name] = String(data.get(name));
      return op;
    }
    if (form.classList.contains("photo-upload")) {
      const file = data.get("file");
      if (!file || !file.size) return null;
      return { ...base, kind: "photo.add", work_order: orderId, caption: String(data.get("caption") || ""), blob: file };
    }
    return null;
  }

  const QUEUED_FORMS = ".checklist-answer-form, .checklist-note, .work-order-move, .work-order-close, .photo-upload";

  async function queueSubmit(event) {
    if (navigator.onLine) return;
    const form = event.target;
    if (!form.matches(QUEUED_FORMS)) return;
    // Stopped here, in the capture phase, before htmx or the browser send it to a server not there.
    event.preventDefault();
    event.stopPropagation();
    await queue(form, await operationOf(form, event.submitter));
  }

  // The browser says it is online but the server cannot be reached (a plant Wi-Fi without its
  // uplink): a checklist answer htmx could not send is queued like one made offline.
  async function queueUnsent(event) {
    const form = event.detail && event.detail.elt;
    if (!form || !form.matches || !form.matches(".checklist-answer-form, .checklist-note")) return;
    const config = event.detail.requestConfig || {};
    const sent = config.formData instanceof FormData ? config.formData : null;
    await queue(form, await operationOf(form, null, sent));
  }

  async function queue(form, op) {
    if (!op) return;
    await putKey("outbox", op);
    if (op.kind === "work_order.transition") await statusQueued(op.work_order, op.status);
    showQueued(form, op);
    render();
  }

  // A move queued offline is the status the next change on that order is made against (a close
  // after "Move to In progress" is made on an order in progress).
  async function statusQueued(orderId, status) {
    const bundle = await getKey("bundle", "current");
    const order = bundle && bundle.work_orders.find((o) => o.id === orderId);
    if (!order) return;
    order.status = status;
    await putKey("bundle", bundle, "current");
  }

  // What the page shows for a change kept on the device: the tick as ticked, the value as typed.
  function showQueued(form, op) {
    const item = form.closest(".checklist-item");
    if (item && op.done !== undefined) {
      item.classList.toggle("done", op.done);
      const button = form.querySelector(".checklist-tick");
      if (button) {
        button.setAttribute("aria-pressed", String(op.done));
        button.value = op.done ? "0" : "1";
        const box = button.querySelector(".checklist-box");
        if (box) box.textContent = op.done ? "✓" : "";
      }
    }
    if (item) showProgress();
    const host = item || form;
    let mark = host.querySelector(":scope > .offline-queued");
    if (!mark) {
      mark = document.createElement("p");
      mark.className = "offline-queued small";
      host.appendChild(mark);
    }
    mark.textContent = "Saved on this device: it is sent when the network is back.";
    if (op.kind === "photo.add" || op.kind.startsWith("work_order.")) form.reset();
  }

  // The progress line as the server words it (templates/maintenance/partials/checklist_progress.html).
  function showProgress() {
    const line = document.getElementById("checklist-progress");
    const items = [...document.querySelectorAll(".checklist-item")];
    if (!line || !items.length) return;
    const done = items.filter((el) => el.classList.contains("done")).length;
    const left = items.filter((el) => !el.classList.contains("done") && el.querySelector(".badge.urgent")).length;
    line.replaceChildren(`${done} of ${items.length} done · `);
    if (left) {
      const strong = document.createElement("strong");
      strong.textContent = `${left} required left`;
      line.appendChild(strong);
    } else {
      line.append("nothing required left");
    }
  }

  // --- syncing ----------------------------------------------------------------------------------

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  let syncing = false;

  async function sync() {
    if (syncing || !navigator.onLine) return;
    const queued = await all("outbox");
    if (!queued.length) return;
    syncing = true;
    render("Sending your changes…");
    try {
      const body = new FormData();
      const operations = queued.map(({ seq, blob, label, ...op }) => {
        if (blob) {
          body.append(`photo-${seq}`, blob, blob.name || "photo.jpg");
          op.file = `photo-${seq}`;
        }
        return op;
      });
      body.append("operations", JSON.stringify(operations));
      const response = await fetch("/offline/sync/", {
        method: "POST", body, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() },
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        await putKey("outcomes", { at: new Date().toISOString(), error: (answer.error && answer.error.message)
          || `The server answered ${response.status}; your changes stay on this device.` }, "last");
        return;
      }
      const labels = Object.fromEntries(queued.map((op) => [op.op_id, op]));
      for (const op of queued) await remove("outbox", op.seq);
      const results = answer.results.map((result) => ({ ...result, kind: labels[result.op_id] && labels[result.op_id].kind }));
      await putKey("outcomes", { at: new Date().toISOString(), results }, "last");
      await refreshBundle().catch(() => null);
      // The page shows the server's state again, with the answers above it.
      if (orderOfPage() !== null && results.length) location.reload();
    } catch (error) {
      // The network went again: everything stays queued.
    } finally {
      syncing = false;
      render();
    }
  }

  // --- the status line above every page ---------------------------------------------------------

  function statusBox() {
    let box = document.getElementById("offline-status");
    if (!box) {
      box = document.createElement("section");
      box.id = "offline-status";
      box.className = "offline-status";
      box.setAttribute("aria-live", "polite");
      const main = document.querySelector("main");
      if (main) main.prepend(box);
    }
    return box;
  }

  async function render(busy) {
    const [queued, last] = await Promise.all([all("outbox"), getKey("outcomes", "last")]);
    const box = statusBox();
    box.replaceChildren();
    const lines = [];
    if (!navigator.onLine) lines.push(["offline-state", "Offline: you can keep working; changes are kept on this device."]);
    if (busy) lines.push(["offline-busy", busy]);
    if (queued.length) lines.push(["offline-count", `${queued.length} change${queued.length === 1 ? "" : "s"} waiting to sync.`]);
    for (const [css, text] of lines) {
      const p = document.createElement("p");
      p.className = css;
      p.textContent = text;
      box.appendChild(p);
    }
    if (queued.length && navigator.onLine && !busy) box.appendChild(button("Sync now", sync));
    if ((!navigator.onLine || queued.length) && location.pathname !== "/offline/") {
      const link = document.createElement("a");
      link.href = "/offline/";
      link.className = "small";
      link.textContent = "What this device keeps";
      box.appendChild(link);
    }
    if (last) box.appendChild(outcomeList(last));
    box.hidden = !box.childElementCount;
    if (document.getElementById("offline-app")) drawOfflinePage(queued);
  }

  function button(text, action) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary small";
    b.textContent = text;
    b.addEventListener("click", action);
    return b;
  }

  function outcomeList(last) {
    const wrap = document.createElement("div");
    wrap.className = "offline-outcomes";
    const title = document.createElement("p");
    title.className = "small muted";
    title.textContent = last.error ? "The last sync did not go through:" : "What happened to the changes you made offline:";
    wrap.appendChild(title);
    const list = document.createElement("ul");
    for (const result of last.results || []) {
      const li = document.createElement("li");
      li.className = `offline-outcome ${result.status}`;
      const badge = document.createElement("strong");
      badge.textContent = `${statusWords[result.status] || result.status}: `;
      li.append(badge, document.createTextNode(result.message));
      list.appendChild(li);
    }
    if (last.error) {
      const li = document.createElement("li");
      li.className = "offline-outcome refused";
      li.textContent = last.error;
      list.appendChild(li);
    }
    wrap.append(list, button("Dismiss", async () => { await remove("outcomes", "last"); render(); }));
    return wrap;
  }

  // --- the offline page, drawn from what this device keeps --------------------------------------

  async function drawOfflinePage(queued) {
    const app = document.getElementById("offline-app");
    const bundle = await getKey("bundle", "current");
    app.replaceChildren();
    if (!bundle) {
      app.textContent = "Nothing is kept on this device yet: open this page once while online.";
      return;
    }
    const kept = document.createElement("p");
    kept.className = "small muted";
    kept.textContent = `Kept on this device: ${bundle.work_orders.length} open work orders, as of ${new Date(bundle.generated_at).toLocaleString()}.`;
    app.appendChild(kept);
    const waiting = new Set(queued.map((op) => op.work_order));
    for (const order of bundle.work_orders) app.appendChild(orderCard(order, bundle, waiting.has(order.id)));
  }

  function orderCard(order, bundle, waiting) {
    const card = document.createElement("article");
    card.className = "card offline-order";
    const link = document.createElement("a");
    link.href = order.url;
    link.textContent = `WO-${order.id}: ${order.title}`;
    const heading = document.createElement("h2");
    heading.appendChild(link);
    const machine = bundle.machines.find((m) => m.id === order.machine) || { health: {} };
    const done = order.checklist.filter((item) => item.done).length;
    const facts = document.createElement("p");
    facts.className = "small";
    facts.textContent = [order.status_label, `${order.priority_label} priority`, order.machine_name,
      machine.health.label ? `health: ${machine.health.label}` : "", order.failure_mode,
      order.checklist.length ? `checklist ${done} of ${order.checklist.length} done` : "",
      waiting ? "changes waiting to sync" : ""].filter(Boolean).join(" · ");
    card.append(heading, facts);
    return card;
  }

  // --- signing out: nothing of this person stays on a shared device -----------------------------

  async function forget() {
    const queued = await all("outbox").catch(() => []);
    if (queued.length && !window.confirm(`${queued.length} change(s) made offline are not synced yet and will be lost. Sign out anyway?`)) {
      return false;
    }
    if (opened) (await opened).close();
    opened = null;
    await Promise.all([caches.delete(PAGES), new Promise((resolve) => {
      const request = indexedDB.deleteDatabase(DB_NAME);
      request.onsuccess = request.onerror = request.onblocked = resolve;
    })]);
    return true;
  }

  // --- start --------------------------------------------------------------------------------------

  function start() {
    if (!("indexedDB" in window) || !("caches" in window)) return;
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => undefined);
    document.addEventListener("submit", (event) => { queueSubmit(event).catch(() => undefined); }, true);
    document.body.addEventListener("htmx:sendError", (event) => { queueUnsent(event).catch(() => undefined); });
    const logout = document.querySelector("form[action$='/logout/']");
    if (logout) {
      logout.addEventListener("submit", (event) => {
        event.preventDefault(); // first forget what this device keeps of the person, then sign out
        forget().then((go) => { if (go) logout.submit(); }, () => logout.submit());
      });
    }
    // Online (at load, or again): first send what waits, then keep the server's fresh state.
    const catchUp = () => sync().then(() => refreshBundle()).catch(() => undefined).then(() => render());
    window.addEventListener("online", catchUp);
    window.addEventListener("offline", () => render());
    render();
    if (navigator.onLine) catchUp();
  }

  start();
})();
