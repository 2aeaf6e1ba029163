// Web Push in headless Chromium against a real backend with a VAPID key: a member turns
// notifications on in Settings (the client's real code subscribes and calls `registerPushDevice`),
// another member follows them and their video finishes, and the server's pushes arrive at a push
// service run by the test (webpush.mjs: VAPID and RFC 8291 checked, payload decrypted). Headless
// Chromium has no push service of its own, so the page's `PushManager` hands out that service's
// subscription, and each decrypted payload is handed to the service worker through CDP
// (`ServiceWorker.deliverPushMessage`): it must show one notification per idempotency key.
// Settings also save which kinds to push and quiet hours; without a VAPID key (a second server)
// the card says pushes are not set up and offers no button.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, signIn, shot } from '../harness.mjs';
import { startPushReceiver } from '../webpush.mjs';

let server;
let browser;
let receiver;

before(async () => {
  server = await startServer('push', { webPush: true });
  receiver = await startPushReceiver({ expectedVapidKey: server.vapidPublicKey });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await receiver?.close();
  await server?.stop();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SW_SCOPE = '/static/app/';

/**
 * Runs in the page before the app: `PushManager` subscribes to the test's push service (as a
 * browser with a push service would) and remembers it across reloads; `toJSON()` is a real
 * subscription's. The server key the page used is kept in localStorage (`e2e.push.key`).
 */
function fakePushManager({ endpoint, keys }) {
  const STORE = 'e2e.push.key';
  const fromB64u = (s) => {
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  };
  const toB64u = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const make = (serverKey) => ({
    endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: fromB64u(serverKey).buffer },
    getKey: (name) => (name in keys ? fromB64u(keys[name]).buffer : null),
    toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh: keys.p256dh, auth: keys.auth } }),
    unsubscribe: async () => {
      localStorage.removeItem(STORE);
      return true;
    },
  });
  PushManager.prototype.subscribe = async function subscribe(options = {}) {
    if (options.userVisibleOnly !== true) throw new DOMException('userVisibleOnly must be true', 'NotAllowedError');
    const key = options.applicationServerKey;
    if (!key) throw new DOMException('an applicationServerKey is required', 'AbortError');
    const bytes = typeof key === 'string' ? fromB64u(key) : key instanceof ArrayBuffer ? new Uint8Array(key) : new Uint8Array(key.buffer, key.byteOffset, key.byteLength);
    localStorage.setItem(STORE, toB64u(bytes));
    return make(toB64u(bytes));
  };
  PushManager.prototype.getSubscription = async function getSubscription() {
    const k = localStorage.getItem(STORE);
    return k ? make(k) : null;
  };
}

/** A desktop page whose browser has a push "service": the given subscription. */
async function pushPage(subscription, kind = 'desktop') {
  const page = await newPage(browser, server, kind);
  const context = page.context();
  await context.grantPermissions(['notifications'], { origin: server.url });
  await context.addInitScript(fakePushManager, { endpoint: subscription.endpoint, keys: subscription.keys });
  // The service worker's registrations, as DevTools sees them (their ids deliver pushes).
  const cdp = await context.newCDPSession(page);
  const registrations = new Map();
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: regs }) => {
    for (const r of regs) {
      if (r.isDeleted) registrations.delete(r.scopeURL);
      else registrations.set(r.scopeURL, r.registrationId);
    }
  });
  await cdp.send('ServiceWorker.enable');
  page.push = {
    cdp,
    async registrationId(timeoutMs = 15_000) {
      const scope = `${server.url}${SW_SCOPE}`;
      const deadline = Date.now() + timeoutMs;
      while (!registrations.has(scope)) {
        if (Date.now() > deadline) throw new Error(`no service worker registration for ${scope}: ${JSON.stringify([...registrations])}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return registrations.get(scope);
    },
    /** Hands `text` to the service worker as a push message's data, once it is active (a push
     * to a worker still installing is dropped). */
    async deliver(text) {
      await page.evaluate(async (scope) => {
        const deadline = Date.now() + 15_000;
        for (;;) {
          const reg = await navigator.serviceWorker.getRegistration(scope);
          if (reg && reg.active && reg.active.state === 'activated') return;
          if (Date.now() > deadline) throw new Error('the service worker did not activate');
          await new Promise((r) => setTimeout(r, 100));
        }
      }, SW_SCOPE);
      await cdp.send('ServiceWorker.deliverPushMessage', { origin: server.url, registrationId: await page.push.registrationId(), data: text });
    },
    /**
     * Delivers `text` until the worker shows a notification tagged `key` (a worker Chromium has
     * just woken may miss a delivery under load; a push service delivers again, and the tag makes
     * a repeat replace, not add). Returns what the worker shows.
     */
    async show(text, key) {
      for (let attempt = 1; ; attempt += 1) {
        await this.deliver(text);
        try {
          return await this.notifications((l) => l.some((n) => n.tag === key), 5_000);
        } catch (e) {
          if (attempt >= 3) throw e;
        }
      }
    },
    /** The notifications the worker shows, waiting until `until(list)` holds. */
    async notifications(until = () => true, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const list = await page.evaluate(async (scope) => {
          const reg = await navigator.serviceWorker.getRegistration(scope);
          return reg ? (await reg.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data })) : null;
        }, SW_SCOPE);
        if (list && until(list)) return list;
        if (Date.now() > deadline) throw new Error(`notifications did not settle: ${JSON.stringify(list)}`);
        await new Promise((r) => setTimeout(r, 150));
      }
    },
  };
  return page;
}

/** The next push at `sub`, checked as the push service saw it (no error, a JSON payload). */
async function nextPush(sub, timeoutMs = 60_000) {
  const push = await sub.next(timeoutMs);
  assert.equal(push.error, null, `the push service refused a push: ${push.error}`);
  assert.equal(push.vapid.key, server.vapidPublicKey);
  const p = push.payload;
  assert.match(p.key, UUID, `payload key: ${push.text}`);
  assert.equal(typeof p.title, 'string');
  assert.ok(p.title.length > 0, `payload title: ${push.text}`);
  assert.equal(typeof p.body, 'string');
  assert.ok(p.path === null || (typeof p.path === 'string' && p.path.startsWith('/')), `payload path: ${push.text}`);
  return push;
}

async function devices(token) {
  return (await server.api('{ notificationSettings { devices { id platform label createdAt lastSuccessAt } } }', {}, token)).notificationSettings.devices;
}

test('a browser turns pushes on, gets a follow and a finished video pushed, and shows each once', async () => {
  const { webPushPublicKey } = await server.api('{ webPushPublicKey }');
  assert.equal(webPushPublicKey, server.vapidPublicKey);

  const member = await server.signUp({ displayName: 'Pia Push' });
  const sub = receiver.subscription();
  const page = await pushPage(sub);
  await signIn(page, member);
  await page.goto('/settings');
  const card = page.getByTestId('notifications-card');
  await card.waitFor();
  await page.getByTestId('push-status').filter({ hasText: 'Off for this browser' }).waitFor();
  await page.getByTestId('push-devices-none').waitFor();
  await shot(page, 'settings-notifications-off');

  // On: the client's own code registers the worker, subscribes and registers the device.
  await page.getByTestId('push-on').click();
  await page.getByTestId('toast').filter({ hasText: 'Notifications are on for this browser' }).waitFor();
  await page.getByTestId('push-status').filter({ hasText: 'On for this browser' }).waitFor();
  await page.locator('[data-testid="push-device"][data-platform="WEB"]').waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('e2e.push.key')), server.vapidPublicKey, 'subscribed with the server key');
  const registered = await devices(member.accessToken);
  assert.equal(registered.length, 1);
  assert.equal(registered[0].platform, 'WEB');
  assert.equal(registered[0].lastSuccessAt, null);

  // Someone follows the member: the server pushes to the subscription.
  const follower = await server.signUp({ displayName: 'Finn Follower' });
  await server.api('mutation($id: ID!) { follow(userId: $id) { id } }', { id: member.user.id }, follower.accessToken);
  const followed = await nextPush(sub);
  assert.equal(followed.payload.kind, 'user.followed');

  // The worker shows it, tagged with the key; the same delivery again replaces it.
  let shown = await page.push.show(followed.text, followed.payload.key);
  assert.deepEqual(
    shown.filter((n) => n.tag === followed.payload.key).map((n) => n.title),
    [followed.payload.title],
  );
  await page.push.deliver(followed.text);
  await new Promise((r) => setTimeout(r, 500));
  shown = await page.push.notifications();
  assert.equal(shown.filter((n) => n.tag === followed.payload.key).length, 1, `one notification per key: ${JSON.stringify(shown)}`);

  // A click on it brings the app's window to its path (the router moves; no reload).
  const worker = page.context().serviceWorkers().find((w) => w.url().endsWith('/static/app/sw.js')) || (await page.context().waitForEvent('serviceworker'));
  await worker.evaluate(async (tag) => {
    const [n] = await self.registration.getNotifications({ tag });
    // A synthetic click: waitUntil refuses untrusted events, but the handler has run by then.
    self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n }));
  }, followed.payload.key);
  const target = followed.payload.path || '/';
  await page.waitForURL((u) => u.pathname + u.search === target);
  await page.push.notifications((l) => !l.some((n) => n.tag === followed.payload.key));

  // The member's video finishes: a "video ready" push opening the video.
  const { createVideo } = await server.api('mutation($i: CreateVideoInput!) { createVideo(input: $i) { id } }', { i: { prompt: 'a paper boat on a pond', durationSeconds: 2 } }, member.accessToken);
  const job = await server.waitJob(member.accessToken, createVideo.id);
  assert.equal(job.status, 'SUCCEEDED', JSON.stringify(job.error));
  let ready = await nextPush(sub, 90_000);
  // Anything else that may come first (none expected) is skipped, not lost silently.
  for (let i = 0; ready.payload.kind !== 'video.ready' && i < 3; i += 1) ready = await nextPush(sub, 90_000);
  assert.equal(ready.payload.kind, 'video.ready', ready.text);
  // It opens the draft (the drafts list, or the video's own page).
  assert.ok(['/drafts', `/v/${job.video.id}`].includes(ready.payload.path), ready.text);
  assert.notEqual(ready.payload.key, followed.payload.key);
  shown = await page.push.show(ready.text, ready.payload.key);
  const readyShown = shown.find((n) => n.tag === ready.payload.key);
  assert.equal(readyShown.title, ready.payload.title);
  assert.equal(readyShown.body, ready.payload.body);
  assert.equal(readyShown.data.path, ready.payload.path);

  // The server counted the deliveries; Settings lists the device with its last success.
  const deadline = Date.now() + 15_000;
  while (!(await devices(member.accessToken))[0]?.lastSuccessAt) {
    assert.ok(Date.now() < deadline, 'lastSuccessAt was never set after a delivered push');
    await new Promise((r) => setTimeout(r, 250));
  }
  await page.goto('/settings');
  await page.getByTestId('push-status').filter({ hasText: 'On for this browser' }).waitFor();
  await page.locator('[data-testid="push-device"][data-platform="WEB"]').filter({ hasText: 'last push delivered' }).waitFor();
  await shot(page, 'settings-notifications-on');

  // Off: unsubscribed here and forgotten by the server, so a new follow pushes nothing.
  await page.getByTestId('push-off').click();
  await page.getByTestId('toast').filter({ hasText: 'Notifications are off on this browser' }).waitFor();
  await page.getByTestId('push-status').filter({ hasText: 'Off for this browser' }).waitFor();
  await page.getByTestId('push-devices-none').waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('e2e.push.key')), null);
  assert.deepEqual(await devices(member.accessToken), []);
  const another = await server.signUp();
  await server.api('mutation($id: ID!) { follow(userId: $id) { id } }', { id: member.user.id }, another.accessToken);
  await assert.rejects(sub.next(4_000), /no push arrived/);

  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('Settings save which kinds to push and quiet hours', async () => {
  const member = await server.signUp();
  const page = await newPage(browser, server, 'phone');
  await signIn(page, member);
  await page.goto('/settings');
  const form = page.getByTestId('notify-form');
  await form.waitFor();
  // The card shows what the server holds (a new member: no quiet hours).
  const FLAGS = ['videoReady', 'comments', 'follows', 'cameoUsed', 'likesDigest', 'moderation', 'emailDigest'];
  const { notificationSettings: initial } = await server.api(`{ notificationSettings { ${FLAGS.join(' ')} quietHoursStart quietHoursEnd } }`, {}, member.accessToken);
  for (const k of FLAGS) assert.equal(await page.getByTestId(`notify-${k}`).isChecked(), initial[k], k);
  assert.equal(initial.quietHoursStart, null);
  assert.equal(await page.getByTestId('quiet-start').inputValue(), '');

  // One time without the other is refused in words, before asking the server.
  await page.getByTestId('quiet-start').fill('22:15');
  await page.getByTestId('notify-save').click();
  await form.getByTestId('form-error').filter({ hasText: 'both quiet-hours times' }).waitFor();

  await page.getByTestId('notify-follows').setChecked(!initial.follows);
  await page.getByTestId('notify-emailDigest').setChecked(!initial.emailDigest);
  await page.getByTestId('quiet-end').fill('06:45');
  await page.getByTestId('notify-save').click();
  await page.getByTestId('toast').filter({ hasText: 'Notification settings saved' }).waitFor();

  await page.reload();
  await form.waitFor();
  assert.equal(await page.getByTestId('notify-follows').isChecked(), !initial.follows);
  assert.equal(await page.getByTestId('notify-comments').isChecked(), initial.comments);
  assert.equal(await page.getByTestId('notify-emailDigest').isChecked(), !initial.emailDigest);
  assert.equal(await page.getByTestId('quiet-start').inputValue(), '22:15');
  assert.equal(await page.getByTestId('quiet-end').inputValue(), '06:45');
  await shot(page, 'settings-notifications');
  const { notificationSettings: s } = await server.api('{ notificationSettings { follows comments emailDigest quietHoursStart quietHoursEnd } }', {}, member.accessToken);
  assert.deepEqual(s, { follows: !initial.follows, comments: initial.comments, emailDigest: !initial.emailDigest, quietHoursStart: '22:15', quietHoursEnd: '06:45' });

  // "No quiet hours" clears them; the follows toggle goes back.
  await page.getByTestId('quiet-clear').click();
  await page.getByTestId('notify-follows').setChecked(initial.follows);
  await page.getByTestId('notify-save').click();
  await page.getByTestId('toast').filter({ hasText: 'Notification settings saved' }).waitFor();
  await page.reload();
  await form.waitFor();
  assert.equal(await page.getByTestId('notify-follows').isChecked(), initial.follows);
  assert.equal(await page.getByTestId('quiet-start').inputValue(), '');
  assert.equal(await page.getByTestId('quiet-end').inputValue(), '');
  const { notificationSettings: t } = await server.api('{ notificationSettings { follows quietHoursStart quietHoursEnd } }', {}, member.accessToken);
  assert.deepEqual(t, { follows: initial.follows, quietHoursStart: null, quietHoursEnd: null });

  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('without a VAPID key the card says pushes are not set up, and settings still save', async () => {
  const plain = await startServer('push-off');
  try {
    assert.equal((await plain.api('{ webPushPublicKey }')).webPushPublicKey, null);
    const member = await plain.signUp();
    const page = await newPage(browser, plain, 'desktop');
    await signIn(page, member);
    await page.goto('/settings');
    await page.getByTestId('push-unavailable').waitFor();
    assert.equal(await page.getByTestId('push-on').count(), 0);
    await page.getByTestId('notify-moderation').setChecked(false);
    await page.getByTestId('notify-save').click();
    await page.getByTestId('toast').filter({ hasText: 'Notification settings saved' }).waitFor();
    const { notificationSettings: s } = await plain.api('{ notificationSettings { moderation devices { id } } }', {}, member.accessToken);
    assert.deepEqual(s, { moderation: false, devices: [] });
    assert.deepEqual(page.errors, []);
    await page.context().close();
  } finally {
    await plain.stop();
  }
});
