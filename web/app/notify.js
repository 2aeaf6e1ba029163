// Settings → Notifications: push on this browser (Web Push through sw.js: `webPushPublicKey`,
// `registerPushDevice`, `unregisterPushDevice`), which kinds to send, the weekly email digest,
// quiet hours (`notificationSettings`, `setNotificationSettings`) and the member's devices.
// Who gets what, teens' limits and quiet hours are decided by the server; this card shows and
// sends the member's choices only.

import { gql } from '/static/shared/api.js';
import { h, mount, field, errorBox, busy, toast, timeAgo } from '/static/shared/dom.js';
import { showError, explain } from './ui.js';

const SW_URL = '/static/app/sw.js';
/** The worker's scope (the default for its URL): it needs no page under it, see sw.js. */
const SW_SCOPE = '/static/app/';

const SETTINGS = 'videoReady cameoUsed comments remixes follows likesDigest moderation emailDigest quietHoursStart quietHoursEnd devices { id platform label createdAt lastSuccessAt }';

/** The kinds a member can turn off, in the order shown. */
const KINDS = [
  ['videoReady', 'My video is ready'],
  ['comments', 'Comments on my videos'],
  ['remixes', 'Remixes of my videos'],
  ['follows', 'New followers'],
  ['cameoUsed', 'Someone uses my cameo'],
  ['likesDigest', 'Likes, gathered in a digest'],
  ['moderation', 'Moderation decisions about my videos'],
];

const PLATFORMS = { IOS: 'iPhone or iPad app', ANDROID: 'Android app', WEB: 'Browser' };

/** Whether this browser can take Web Push at all. */
function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** Bytes of a base64url string (the VAPID key). */
function fromBase64Url(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return out;
}

function sameBytes(a, b) {
  if (!a || !b) return false;
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** The worker's registration, registering it and waiting until it is active. */
async function activeRegistration() {
  const reg = await navigator.serviceWorker.register(SW_URL, { scope: SW_SCOPE });
  const worker = reg.installing || reg.waiting;
  if (!worker) return reg;
  await new Promise((resolve, reject) => {
    const check = () => {
      if (reg.active) resolve();
      else if (worker.state === 'redundant') reject(new Error('The notification helper of this site could not start. Reload the page and try again.'));
    };
    worker.addEventListener('statechange', check);
    check();
  });
  return reg;
}

/** This browser's current subscription, or null (never registers anything). */
async function currentSubscription() {
  if (!pushSupported()) return null;
  const reg = await navigator.serviceWorker.getRegistration(SW_SCOPE);
  return reg ? reg.pushManager.getSubscription() : null;
}

/** A browser's refusal in words. */
function browserError(e) {
  const name = e?.name || '';
  if (name === 'NotAllowedError') return 'This browser did not allow notifications for this site. Allow them in the site settings (the icon left of the address), then try again.';
  if (name === 'AbortError' || name === 'NotSupportedError') return `This browser could not reach its push service (${e.message || name}). Try again later, or use another browser.`;
  if (name === 'InvalidStateError') return 'This browser is busy with another subscription. Reload the page and try again.';
  return explain(e);
}

/**
 * Turns push on for this browser: asks permission, subscribes with the server's key and
 * registers the subscription as a WEB device. Resolves to the subscription.
 */
async function turnOn(key) {
  // Asked first, while the click still counts as the member's gesture.
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') {
    const e = new Error(permission === 'denied' ? 'blocked' : 'dismissed');
    e.name = 'NotAllowedError';
    throw e;
  }
  const reg = await activeRegistration();
  const applicationServerKey = fromBase64Url(key);
  let sub = await reg.pushManager.getSubscription();
  if (sub && !sameBytes(sub.options?.applicationServerKey, applicationServerKey)) {
    // Made for another server key (the server's key changed): replace it.
    await sub.unsubscribe().catch(() => {});
    sub = null;
  }
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
  try {
    await gql('mutation PushOn($t: String!) { registerPushDevice(platform: WEB, token: $t) }', { t: JSON.stringify(sub) });
  } catch (e) {
    // The server did not take it: leave nothing half on.
    await sub.unsubscribe().catch(() => {});
    throw e;
  }
  return sub;
}

/** Turns push off for this browser: forgets the device on the server, then unsubscribes. */
async function turnOff(sub) {
  await gql('mutation PushOff($t: String!) { unregisterPushDevice(token: $t) }', { t: JSON.stringify(sub) });
  await sub.unsubscribe().catch(() => {});
}

/**
 * Before logging out: this browser stops getting the member's pushes (best effort, a few seconds
 * at most, while the session still works). Never throws.
 */
export async function forgetThisBrowser() {
  try {
    const sub = await currentSubscription();
    if (!sub) return;
    await Promise.race([turnOff(sub), new Promise((resolve) => setTimeout(resolve, 3000))]);
    await sub.unsubscribe().catch(() => {});
  } catch {
    /* logging out goes on */
  }
}

/** The Notifications card (or a card saying why it cannot load). */
export async function notificationsCard() {
  const card = h('section', { class: 'card stack', 'aria-labelledby': 'notify-h', 'data-testid': 'notifications-card' }, h('h2', { id: 'notify-h' }, 'Notifications'));
  let data;
  try {
    data = await gql(`query NotifySettings { webPushPublicKey notificationSettings { ${SETTINGS} } }`);
  } catch (e) {
    card.append(h('p', { class: 'form-error', role: 'alert', 'data-testid': 'notify-error' }, explain(e)));
    return card;
  }
  const devices = h('div', { class: 'stack' });
  const drawDevices = (list) => mount(devices, devicesList(list));
  const reloadDevices = async () => {
    try {
      drawDevices((await gql(`query NotifyDevices { notificationSettings { devices { id platform label createdAt lastSuccessAt } } }`)).notificationSettings.devices);
    } catch (e) {
      mount(devices, h('p', { class: 'form-error', role: 'alert' }, explain(e)));
    }
  };
  drawDevices(data.notificationSettings.devices);
  card.append(await browserBox(data.webPushPublicKey, reloadDevices), settingsForm(data.notificationSettings, drawDevices), h('h3', {}, 'Devices that get pushes'), devices);
  return card;
}

/** "This browser": the on/off button, or why there is none. */
async function browserBox(key, changed) {
  const box = h('div', { class: 'stack', 'data-testid': 'push-browser' });
  const status = h('p', { 'data-testid': 'push-status', role: 'status' });
  const err = errorBox();
  if (!key) {
    mount(box, h('p', { class: 'muted', 'data-testid': 'push-unavailable' }, 'Push notifications are not set up on this server; you still find everything under Alerts.'));
    return box;
  }
  if (!pushSupported()) {
    mount(box, h('p', { class: 'muted', 'data-testid': 'push-unsupported' }, 'This browser cannot show push notifications. Alerts still lists everything.'));
    return box;
  }
  const row = h('div', { class: 'row' });
  const draw = async () => {
    let sub = null;
    try {
      sub = await currentSubscription();
    } catch {
      sub = null;
    }
    const on = !!sub && sameBytes(sub.options?.applicationServerKey, fromBase64Url(key));
    box.dataset.state = on ? 'on' : 'off';
    if (on) {
      status.textContent = 'On for this browser: you get pushes here, even with the site closed.';
      const off = h('button', { type: 'button', 'data-testid': 'push-off' }, 'Turn off on this browser');
      off.addEventListener('click', () =>
        busy(off, async () => {
          err.clear();
          try {
            await turnOff(sub);
            toast('Notifications are off on this browser.', 'ok');
            await draw();
            await changed();
          } catch (e) {
            err.show(browserError(e));
          }
        }),
      );
      mount(row, off);
    } else if (Notification.permission === 'denied') {
      status.textContent = 'Notifications are blocked for this site in your browser. Allow them in the site settings (the icon left of the address), then reload.';
      mount(row);
    } else {
      status.textContent = 'Off for this browser.';
      const onButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'push-on' }, 'Turn on notifications on this browser');
      onButton.addEventListener('click', () =>
        busy(onButton, async () => {
          err.clear();
          try {
            await turnOn(key);
            toast('Notifications are on for this browser.', 'ok');
            await draw();
            await changed();
          } catch (e) {
            err.show(browserError(e));
          }
        }),
      );
      mount(row, onButton);
    }
  };
  await draw();
  mount(box, status, row, err);
  return box;
}

/** Which kinds, the email digest and quiet hours. */
function settingsForm(s, drawDevices) {
  const boxes = {};
  const kindRows = KINDS.map(([name, label]) => {
    boxes[name] = h('input', { type: 'checkbox', name, checked: !!s[name], 'data-testid': `notify-${name}` });
    return h('label', { class: 'check' }, boxes[name], h('span', {}, label));
  });
  boxes.emailDigest = h('input', { type: 'checkbox', name: 'emailDigest', checked: !!s.emailDigest, 'data-testid': 'notify-emailDigest' });
  const start = h('input', { type: 'time', name: 'quietHoursStart', value: s.quietHoursStart || '', 'data-testid': 'quiet-start' });
  const end = h('input', { type: 'time', name: 'quietHoursEnd', value: s.quietHoursEnd || '', 'data-testid': 'quiet-end' });
  const clear = h('button', { type: 'button', 'data-testid': 'quiet-clear' }, 'No quiet hours');
  clear.addEventListener('click', () => {
    start.value = '';
    end.value = '';
    start.focus();
  });
  const err = errorBox();
  const save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'notify-save' }, 'Save');
  const form = h(
    'form',
    { class: 'stack', 'data-testid': 'notify-form' },
    h('fieldset', {}, h('legend', {}, 'Push me when'), ...kindRows),
    h('label', { class: 'check' }, boxes.emailDigest, h('span', {}, 'A weekly email digest while I have no device that gets pushes')),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Quiet hours'),
      h('p', { class: 'small muted' }, 'No pushes between these times, in your time zone (set under “Time in the feed”). Leave both empty for none.'),
      h('div', { class: 'row' }, field('Quiet from', start), field('until', end), clear),
    ),
    err,
    h('div', { class: 'row' }, save),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, async () => {
      err.clear();
      if (!start.value !== !end.value) {
        const missing = start.value ? end : start;
        err.show('Set both quiet-hours times, or neither.');
        missing.setAttribute('aria-invalid', 'true');
        missing.focus();
        return;
      }
      const input = Object.fromEntries([...KINDS.map(([name]) => name), 'emailDigest'].map((name) => [name, boxes[name].checked]));
      if (start.value) Object.assign(input, { quietHoursStart: start.value.slice(0, 5), quietHoursEnd: end.value.slice(0, 5) });
      else input.clearQuietHours = true;
      try {
        const d = await gql(`mutation Notify($i: NotificationSettingsInput!) { setNotificationSettings(input: $i) { ${SETTINGS} } }`, { i: input });
        const saved = d.setNotificationSettings;
        for (const [name, box] of Object.entries(boxes)) box.checked = !!saved[name];
        start.value = saved.quietHoursStart || '';
        end.value = saved.quietHoursEnd || '';
        drawDevices(saved.devices);
        toast('Notification settings saved.', 'ok');
      } catch (ex) {
        showError(err, ex, form);
      }
    });
  });
  return form;
}

function devicesList(devices) {
  if (!devices.length) {
    return h('p', { class: 'muted', 'data-testid': 'push-devices-none' }, 'None yet. Turn pushes on above, or in the phone app.');
  }
  return h(
    'ul',
    { class: 'stack', 'data-testid': 'push-devices' },
    devices.map((d) =>
      h(
        'li',
        { 'data-testid': 'push-device', dataset: { platform: d.platform } },
        h('strong', {}, PLATFORMS[d.platform] || d.platform),
        d.label && d.label !== (PLATFORMS[d.platform] || d.platform) ? ` · ${d.label}` : '',
        h('span', { class: 'small muted' }, ` · added ${timeAgo(d.createdAt)} · `, d.lastSuccessAt ? `last push delivered ${timeAgo(d.lastSuccessAt)}` : 'no push delivered yet'),
      ),
    ),
  );
}
