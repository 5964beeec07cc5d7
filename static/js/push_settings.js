// "Notifications on this device" (templates/maintenance/notifications.html): registers the site's
// service worker, subscribes this browser to Web Push with the server's VAPID key, and hands the
// subscription to the server; or takes it back.
"use strict";

(function () {
  const root = document.getElementById("push-device");
  if (!root) return;
  const state = root.querySelector("[data-push-state]");
  const on = root.querySelector("#push-on");
  const off = root.querySelector("#push-off");
  const key = root.dataset.vapidKey;
  const say = (text) => { state.textContent = text; };
  const show = (subscribed) => {
    on.hidden = subscribed;
    off.hidden = !subscribed;
    say(subscribed ? "On: this device shows notifications for the kinds you chose below."
                   : "Off on this device.");
  };

  if (!key) {
    say("Push notifications are not set up on this server (no VAPID key). Ask your administrator.");
    return;
  }
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say("This browser cannot receive push notifications. On an iPhone or iPad, add the app to the home screen first, then open it from there.");
    return;
  }

  const keyBytes = () => {
    const text = atob(key.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - key.length % 4) % 4));
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
  };
  const ready = () => navigator.serviceWorker.register("/sw.js", { scope: "/" })
    .then(() => navigator.serviceWorker.ready);
  const send = (url, body) => fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
    body: JSON.stringify(body),
  });
  const failed = async (response) => {
    try {
      const body = await response.json();
      return body.error.message;
    } catch (error) {
      return `The server answered ${response.status}.`;
    }
  };

  on.addEventListener("click", async () => {
    on.disabled = true;
    try {
      if (await Notification.requestPermission() !== "granted") {
        say("Notifications are blocked for this site: allow them in the browser's site settings, then try again.");
        return;
      }
      const registration = await ready();
      const subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes() });
      const response = await send(root.dataset.subscribeUrl, subscription.toJSON());
      if (!response.ok) {
        say(await failed(response));
        return;
      }
      window.location.reload(); // the device list shows it
    } catch (error) {
      say(`Could not turn notifications on: ${error.message}`);
    } finally {
      on.disabled = false;
    }
  });

  off.addEventListener("click", async () => {
    const registration = await ready();
    const subscription = await registration.pushManager.getSubscription();
    if (subscription) {
      await send(root.dataset.unsubscribeUrl, { endpoint: subscription.endpoint });
      await subscription.unsubscribe();
    }
    window.location.reload();
  });

  // On only when the server still has this browser: a device removed in the list below (or
  // dropped after its push service said it was gone) reads as off, and "Turn on" stores it again.
  const known = JSON.parse(root.dataset.knownEndpoints || "[]");
  ready().then((registration) => registration.pushManager.getSubscription())
    .then((subscription) => show(Boolean(subscription) && known.includes(subscription.endpoint)))
    .catch((error) => say(`Could not start the service worker: ${error.message}`));
})();
