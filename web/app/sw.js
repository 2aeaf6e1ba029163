// The member client's service worker: Web Push only (no fetch handler, no caching).
//
// Served as /static/app/sw.js and registered by Settings → Notifications (notify.js). Its scope is
// /static/app/, so it controls no page of the app; it does not need to: a push event needs only the
// registration, and a click finds the app's windows with `includeUncontrolled`.
//
// A push's payload (decrypted by the browser) is JSON
//   {"key": "<uuid>", "kind": "video.ready" | "user.followed" | …, "title": "…", "body": "…", "path": "/v/<id>" | null}
// `key` is the delivery's idempotency key and becomes the notification's `tag`, so a repeated
// delivery replaces the notification instead of adding a second one.

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

function readPayload(event) {
  if (!event.data) return null;
  try {
    const p = event.data.json();
    return p && typeof p === 'object' ? p : null;
  } catch {
    return null;
  }
}

/** A path inside this origin's member app, or '/' (never another origin, never the console). */
function safePath(path) {
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//')) return '/';
  const url = new URL(path, self.location.origin);
  if (url.origin !== self.location.origin || url.pathname.startsWith('/admin')) return '/';
  return url.pathname + url.search + url.hash;
}

self.addEventListener('push', (event) => {
  const p = readPayload(event);
  // A push must show something (userVisibleOnly); a payload we cannot read shows a plain line.
  const title = (p && typeof p.title === 'string' && p.title) || 'Soravibe';
  const options = {
    body: (p && typeof p.body === 'string' && p.body) || '',
    icon: '/static/shared/icon.svg',
    data: { path: safePath(p?.path), kind: p?.kind || null },
  };
  if (p && typeof p.key === 'string' && p.key) options.tag = p.key;
  event.waitUntil(self.registration.showNotification(title, options));
});

async function openPath(path) {
  const url = new URL(path, self.location.origin).href;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const app = windows.filter((c) => {
    const u = new URL(c.url);
    return u.origin === self.location.origin && !u.pathname.startsWith('/admin');
  });
  // Prefer the window the member looks at; else any of the app's windows.
  const target = app.find((c) => c.focused) || app.find((c) => c.visibilityState === 'visible') || app[0];
  if (target) {
    // The page's router moves there without a reload (app.js listens for this message).
    target.postMessage({ type: 'sv.open', path });
    try {
      return await target.focus();
    } catch {
      /* focusing can be refused; the message has moved it anyway */
      return target;
    }
  }
  return self.clients.openWindow(url);
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(openPath(safePath(event.notification.data?.path)));
});
