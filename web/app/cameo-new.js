// A new cameo: `startCameoVerification` gives a phrase to say and an action to do on camera
// within 10 minutes; the member records it here (only where the browser can record H.264 MP4,
// the one format the server accepts) or uploads an MP4, names the cameo, chooses who may use
// it, and sends it with `createCameo` as a multipart upload (map key `input.clip`).

import { gql, gqlUpload } from '/static/shared/api.js';
import { h, mount, field, errorBox, busy, toast } from '/static/shared/dom.js';
import { showError, explain } from './ui.js';

export const PERMISSIONS = [
  ['ONLY_ME', 'Only me'],
  ['APPROVED', 'Me and people I approve'],
  ['MUTUALS', 'People I follow who follow me'],
  ['EVERYONE', 'Everyone'],
];

const MIN_S = 2;
const MAX_S = 30;

/** The first MediaRecorder type that makes an H.264 MP4 here, or null. */
export function recordableType() {
  if (typeof MediaRecorder === 'undefined' || !navigator.mediaDevices?.getUserMedia) return null;
  // Video only: the server reads the picture, and `avc1` (not `avc3`) keeps the parameter sets
  // in the header where its MP4 reader looks for them.
  const types = ['video/mp4;codecs=avc1.42E01E', 'video/mp4;codecs=avc1.4D401E', 'video/mp4;codecs=avc1'];
  return types.find((t) => MediaRecorder.isTypeSupported(t)) || null;
}

export function newCameoPanel(ctx, onCreated) {
  const body = h('div', { class: 'stack' });
  const start = h('button', { type: 'button', class: 'primary', 'data-testid': 'cameo-start' }, 'Start verification');
  const err = errorBox();
  const intro = () =>
    mount(body, h('p', {}, 'You get a short phrase to say and an action to do on camera. Record it within 10 minutes, and a moderator checks that it is you.'), err, h('div', { class: 'row' }, start));
  start.addEventListener('click', () =>
    busy(start, async () => {
      err.clear();
      try {
        const data = await gql('mutation Challenge { startCameoVerification { id phrase expiresAt } }');
        mount(body, challengeForm(data.startCameoVerification, ctx, intro, onCreated));
        body.querySelector('[data-testid=challenge-phrase]')?.focus();
      } catch (e) {
        err.show(explain(e));
      }
    }),
  );
  intro();
  return h('section', { class: 'card stack', 'aria-labelledby': 'new-cameo-h', 'data-testid': 'new-cameo' }, h('h2', { id: 'new-cameo-h' }, 'Make a cameo'), body);
}

function challengeForm(challenge, ctx, restart, onCreated) {
  const expires = new Date(challenge.expiresAt);
  const countdown = h('span', { 'data-testid': 'challenge-expiry' });
  const tick = () => {
    const s = Math.max(0, Math.round((expires - Date.now()) / 1000));
    countdown.textContent = s ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')} left (until ${expires.toLocaleTimeString()})` : 'expired: start again';
    if (!s) clearInterval(timer);
  };
  const timer = setInterval(tick, 1000);
  tick();
  ctx.onLeave(() => clearInterval(timer));

  let clip = null; // the Blob or File to send
  const clipNote = h('p', { class: 'small', role: 'status', 'data-testid': 'clip-status' }, 'No clip yet.');
  const setClip = (blob, label) => {
    clip = blob;
    clipNote.textContent = label;
  };

  const file = h('input', { type: 'file', accept: 'video/mp4', name: 'clip', 'data-testid': 'cameo-file' });
  file.addEventListener('change', () => {
    const chosen = file.files[0];
    if (!chosen) return;
    setClip(chosen, `Chosen: ${chosen.name} (${Math.round(chosen.size / 1024)} KiB)`);
  });

  const name = h('input', { name: 'name', maxlength: 80, required: true, 'data-testid': 'cameo-name', value: ctx.viewer.displayName });
  const permission = h('select', { name: 'permission', 'data-testid': 'cameo-new-permission' }, PERMISSIONS.map(([v, l]) => h('option', { value: v }, l)));
  const restrictions = h('textarea', { name: 'restrictions', rows: 2, maxlength: 500, 'data-testid': 'cameo-new-restrictions' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'cameo-submit' }, 'Send for verification');
  const cancel = h('button', { type: 'button', onclick: () => (clearInterval(timer), restart()) }, 'Start over');

  const form = h(
    'form',
    { class: 'stack', 'data-testid': 'cameo-form' },
    h(
      'div',
      { class: 'challenge', role: 'group', 'aria-label': 'Your challenge' },
      h('p', { class: 'small muted' }, 'Say and do this on camera:'),
      h('p', { class: 'challenge-phrase', tabindex: '-1', 'data-testid': 'challenge-phrase' }, challenge.phrase),
      h('p', { class: 'small muted' }, countdown),
    ),
    recorder(ctx, setClip),
    field('…or upload a clip (H.264 MP4, 2–30 s)', file),
    clipNote,
    field('Name', name, 'How the cameo is listed when people pick it (1–80 characters).'),
    field('Who may use it', permission),
    field('Not for (optional)', restrictions, 'What it may never be used for, e.g. “no political content, never shirtless”.'),
    err,
    h('div', { class: 'row' }, submit, cancel),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!clip) {
      err.show('Record or choose a clip first.');
      return;
    }
    busy(submit, async () => {
      err.clear();
      try {
        await gqlUpload(
          'mutation NewCameo($input: CreateCameoInput!) { createCameo(input: $input) { id status } }',
          { input: { challengeId: challenge.id, name: name.value.trim(), permission: permission.value, restrictions: restrictions.value.trim() || null, clip: null } },
          { 'input.clip': clip },
        );
        clearInterval(timer);
        toast('Sent: a moderator will verify your cameo.', 'ok');
        restart();
        await onCreated();
      } catch (ex) {
        // A refused clip is BAD_USER_INPUT field `clip`; an expired challenge field `challengeId`.
        showError(err, ex, form);
        if (ex.extensions?.field === 'challengeId') err.show(`${explain(ex)} Press “Start over” for a new phrase.`);
      }
    });
  });
  return form;
}

/** Camera recording, where the browser can make an H.264 MP4; otherwise a short explanation. */
function recorder(ctx, setClip) {
  const type = recordableType();
  if (!type) {
    return h('p', { class: 'notice small', 'data-testid': 'record-unsupported' }, 'This browser cannot record the H.264 MP4 video the server needs. Record the clip with your phone’s camera app and upload it below.');
  }
  const preview = h('video', { playsinline: true, muted: true, autoplay: true, class: 'rec-preview', 'aria-label': 'Camera preview' });
  preview.muted = true;
  const camera = h('button', { type: 'button', 'data-testid': 'camera-on' }, 'Turn on the camera');
  const rec = h('button', { type: 'button', class: 'primary', hidden: true, 'data-testid': 'record' }, 'Record');
  const status = h('span', { class: 'muted small', role: 'status' });
  const err = errorBox();
  let stream = null;
  let mr = null;
  let timer = null;
  const stopStream = () => {
    stream?.getTracks().forEach((t) => t.stop());
    stream = null;
  };
  ctx.onLeave(() => {
    clearInterval(timer);
    if (mr?.state === 'recording') mr.stop();
    stopStream();
  });

  camera.addEventListener('click', () =>
    busy(camera, async () => {
      err.clear();
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false });
        preview.srcObject = stream;
        preview.hidden = false;
        camera.hidden = true;
        rec.hidden = false;
      } catch (e) {
        err.show(`The camera could not start (${e.name}). Allow the camera, or upload a clip instead.`);
      }
    }),
  );

  rec.addEventListener('click', () => {
    if (mr?.state === 'recording') {
      mr.stop();
      return;
    }
    const chunks = [];
    mr = new MediaRecorder(stream, { mimeType: type });
    const began = Date.now();
    mr.ondataavailable = (e) => e.data.size && chunks.push(e.data);
    mr.onstop = async () => {
      clearInterval(timer);
      const secs = (Date.now() - began) / 1000;
      rec.textContent = 'Record again';
      if (secs < MIN_S) {
        status.textContent = `That was ${secs.toFixed(1)} s; the clip must be at least ${MIN_S} s.`;
        return;
      }
      // A fragmented MP4, as MediaRecorder writes it; the server rewrites it as a plain one.
      const blob = new Blob(chunks, { type: 'video/mp4' });
      setClip(new File([blob], 'cameo.mp4', { type: 'video/mp4' }), `Recorded ${secs.toFixed(1)} s. Watch it back below, or record again.`);
      preview.srcObject = null;
      preview.src = URL.createObjectURL(blob);
      preview.controls = true;
      preview.muted = false;
      status.textContent = '';
    };
    if (preview.src) {
      URL.revokeObjectURL(preview.src);
      preview.removeAttribute('src');
      preview.controls = false;
      preview.muted = true;
      preview.srcObject = stream;
    }
    mr.start(250);
    rec.textContent = 'Stop';
    timer = setInterval(() => {
      const s = Math.floor((Date.now() - began) / 1000);
      status.textContent = `Recording… ${s} s`;
      if (s >= MAX_S) mr.stop(); // the server takes at most 30 s
    }, 500);
  });

  preview.hidden = true;
  return h('div', { class: 'stack recorder', 'data-testid': 'recorder' }, preview, h('div', { class: 'row' }, camera, rec, status), err);
}
