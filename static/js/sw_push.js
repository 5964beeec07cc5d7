// Web Push in the service worker (pulled in by /sw.js): show what the server pushed, and open its
// page when the notification is tapped. The payload is the JSON maintenance/push.py sends:
// {kind, title, body, url, tag}; the url is a path on this site, opened on this site only.
"use strict";

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = { body: event.data ? event.data.text() : "" };
  }
  const title = data.title || "PDM SaaS";
  event.waitUntil(self.registration.showNotification(title, {
    body: data.body || "",
    tag: data.tag || undefined, // a newer notice about the same alert replaces the older one
    renotify: Boolean(data.tag),
    icon: "/static/icons/icon-192.png",
    badge: "/static/icons/icon-192.png",
    data: { url: data.url || "/" },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  // Only a path of this site: a payload cannot send the person somewhere else.
  const target = new URL(event.notification.data && event.notification.data.url || "/", self.location.origin);
  const url = target.origin === self.location.origin ? target.href : self.location.origin + "/";
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const client of open) {
      if (client.url === url && "focus" in client) return client.focus();
    }
    if (open.length && "navigate" in open[0]) {
      const client = await open[0].navigate(url);
      return client ? client.focus() : self.clients.openWindow(url);
    }
    return self.clients.openWindow(url);
  })());
});
