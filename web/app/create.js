// Create `/create`: prompt, duration, aspect ratio, seed, sound, up to two cameos and an optional remix
// source (`?remix=<id>`); then the job's live progress (`jobUpdates` subscription) and, once it
// succeeded, the draft with Publish. `/create?job=<id>` reopens a job's progress after a reload.

import { gql, subscribe } from '/static/shared/api.js';
import { h, mount, field, errorBox, busy, toast } from '/static/shared/dom.js';
import { VIDEO_CARD, player, videoTile } from './video.js';
import { publishPanel } from './publish.js';
import { explain, showError, signInNeeded } from './ui.js';

const DURATIONS = [2, 4, 6, 8];
const ASPECTS = [
  ['PORTRAIT', 'Portrait (tall)'],
  ['LANDSCAPE', 'Landscape (wide)'],
  ['SQUARE', 'Square (1:1)'],
];
const MAX_CAMEOS = 2;
const FINAL = ['SUCCEEDED', 'FAILED', 'REJECTED', 'CANCELLED'];
const JOB_FIELDS = `id status progress queuePosition etaSeconds prompt durationSeconds seed error { code message }
  video { ...VideoCard }`;

const STATUS_TEXT = {
  QUEUED: 'Waiting for a generator',
  RUNNING: 'Generating',
  MODERATING: 'Checking, watermarking and signing the video',
  SUCCEEDED: 'Done: your draft is ready',
  FAILED: 'The generation failed',
  REJECTED: 'Moderation refused the result',
  CANCELLED: 'Cancelled',
};

export async function render(ctx) {
  if (!ctx.viewer) return signInNeeded('create videos');
  const root = h('div', { class: 'create', 'data-testid': 'create' });
  const jobId = ctx.query.get('job');
  if (jobId) {
    mount(root, h('h1', {}, 'Your video'), jobPanel(jobId, ctx));
    return root;
  }
  mount(root, h('h1', {}, 'Create a video'), await createForm(ctx, root));
  return root;
}

async function createForm(ctx, root) {
  const remixId = ctx.query.get('remix');
  const [source, cameos] = await Promise.all([remixId ? loadSource(remixId) : null, loadCameos()]);

  const prompt = h('textarea', { name: 'prompt', rows: 4, maxlength: 2000, required: true, 'data-testid': 'prompt', placeholder: source ? 'at night, in the rain' : 'a red fox trotting through fresh snow at dawn' });
  const duration = h('select', { name: 'durationSeconds', 'data-testid': 'duration' }, DURATIONS.map((s) => h('option', { value: s, selected: s === 4 }, `${s} seconds`)));
  const aspect = h('select', { name: 'aspectRatio', 'data-testid': 'aspect' }, ASPECTS.map(([v, l]) => h('option', { value: v }, l)));
  const seed = h('input', { name: 'seed', type: 'number', min: 0, step: 1, inputmode: 'numeric', 'data-testid': 'seed' });
  const sounds = source
    ? [['FULL', 'New sound for the remix'], ['KEEP_SOURCE', "Keep the original's sound"], ['AMBIENCE', 'Ambience only, no speech'], ['SILENT', 'No sound']]
    : [['FULL', 'Dialogue and ambience'], ['AMBIENCE', 'Ambience only, no speech'], ['SILENT', 'No sound']];
  const audio = h('select', { name: 'audio', 'data-testid': 'audio' }, sounds.map(([v, l]) => h('option', { value: v }, l)));
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-submit' }, source ? 'Make the remix' : 'Generate');

  const sourceBox = source ? h('section', { class: 'card remix-source', 'data-testid': 'remix-source', 'aria-label': 'Remixing' }, h('h2', {}, 'Remixing'), videoTile(source), h('p', { class: 'small muted' }, 'The remix starts from this prompt, length and shape; write what should change.')) : null;
  if (remixId && !source) err.show('That video cannot be remixed: it is not published, or its author does not allow remixes.');

  const form = h(
    'form',
    { class: 'card stack create-form', 'data-testid': 'create-form' },
    sourceBox,
    field(
      source ? 'What should change?' : 'Prompt',
      prompt,
      source ? 'The remix keeps everything else of the source. Up to 2000 characters.' : 'Describe the scene: subject, action, setting, style. Up to 2000 characters.',
    ),
    source
      ? null
      : h('div', { class: 'grid grid-2' }, field('Length', duration), field('Shape', aspect)),
    field('Seed (optional)', seed, 'The same prompt and seed make the same video. Leave empty for a random one.'),
    field('Sound', audio, 'Words in quotes are spoken: Mia says "ready?" or a line per speaker such as Leo: let\'s go. Captions come with them.'),
    cameoPicker(cameos),
    err,
    h('div', { class: 'row' }, submit),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      err.clear();
      const input = {
        prompt: prompt.value,
        cameoIds: [...form.querySelectorAll('input[name=cameo]:checked')].map((c) => c.value),
        audio: audio.value,
      };
      if (source) input.remixOf = source.id;
      else {
        input.durationSeconds = Number(duration.value);
        input.aspectRatio = aspect.value;
      }
      if (seed.value !== '') input.seed = Number(seed.value);
      try {
        const data = await gql(`mutation Create($input: CreateVideoInput!) { createVideo(input: $input) { id } }`, { input });
        const id = data.createVideo.id;
        // Keep the job in the URL so a reload comes back to its progress.
        history.replaceState(null, '', `/create?job=${encodeURIComponent(id)}`);
        mount(root, h('h1', { tabindex: '-1' }, 'Your video'), jobPanel(id, ctx, input.prompt));
        root.querySelector('h1').focus();
      } catch (ex) {
        // POLICY_VIOLATION lists each broken rule; RATE_LIMITED says when to try again.
        const wait = ex.extensions?.retryAfterSeconds;
        showError(err, ex, form);
        if (wait) err.show(`${explain(ex)} Try again in about ${wait} s.`);
      }
    });
  });
  return form;
}

async function loadSource(id) {
  try {
    const data = await gql('query Source($id: ID!) { video(id: $id) { id caption prompt thumbnailUrl status remixAllowed author { username } } }', { id });
    const v = data.video;
    return v && v.status === 'PUBLISHED' && v.remixAllowed ? v : null;
  } catch {
    return null;
  }
}

async function loadCameos() {
  try {
    const data = await gql('query Usable { usableCameos(first: 50) { nodes { id name owner { username displayName } } } }');
    return { nodes: data.usableCameos.nodes };
  } catch (e) {
    return { error: e };
  }
}

/** Checkboxes for the cameos the member may use now; more than two cannot be ticked. */
function cameoPicker(cameos) {
  const box = h('fieldset', { class: 'cameo-picker', 'data-testid': 'cameo-picker' }, h('legend', {}, `Cameos (up to ${MAX_CAMEOS})`));
  if (cameos.error) {
    box.append(h('p', { class: 'form-error', role: 'alert' }, `Your cameos could not be loaded: ${explain(cameos.error)}`));
    return box;
  }
  if (!cameos.nodes.length) {
    box.append(h('p', { class: 'muted small' }, 'No cameos you may use yet. ', h('a', { href: '/cameos' }, 'Make your own cameo'), ', or ask a friend to let you use theirs.'));
    return box;
  }
  const limit = () => {
    const boxes = [...box.querySelectorAll('input[name=cameo]')];
    const full = boxes.filter((b) => b.checked).length >= MAX_CAMEOS;
    boxes.forEach((b) => (b.disabled = full && !b.checked));
  };
  for (const c of cameos.nodes) {
    const id = `cameo-${c.id}`;
    box.append(
      h(
        'div',
        { class: 'check' },
        h('input', { type: 'checkbox', name: 'cameo', value: c.id, id, onchange: limit, 'data-testid': 'cameo-option' }),
        h('label', { for: id }, c.name, ' ', h('span', { class: 'muted small' }, `@${c.owner.username}`)),
      ),
    );
  }
  return box;
}

function eta(seconds) {
  if (seconds === null || seconds === undefined) return null;
  if (seconds < 60) return `about ${Math.max(1, seconds)} s left`;
  return `about ${Math.round(seconds / 60)} min left`;
}

/**
 * The live panel of one job: status, progress bar, queue position and ETA, Cancel; then the
 * draft with Publish, or the reason it failed. Driven by `jobUpdates`; if the live connection
 * drops before a final status, it falls back to polling `job(id)`.
 */
export function jobPanel(jobId, ctx, promptText) {
  const statusEl = h('p', { class: 'job-status', 'data-testid': 'job-status', 'aria-live': 'polite' }, 'Connecting…');
  const fill = h('span', { style: { width: '0%' } });
  const bar = h('div', { class: 'progress', role: 'progressbar', 'aria-label': 'Generation progress', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0', 'data-testid': 'job-progress' }, fill);
  const pct = h('span', { class: 'muted', 'data-testid': 'job-percent' }, '0%');
  const queue = h('p', { class: 'muted small', 'data-testid': 'job-queue' });
  const err = errorBox();
  const cancel = h('button', { type: 'button', class: 'danger', 'data-testid': 'job-cancel' }, 'Cancel');
  const result = h('div', { class: 'job-result stack', 'data-testid': 'job-result' });
  const promptEl = h('p', { class: 'muted' }, promptText ? `“${promptText}”` : '');
  const panel = h(
    'section',
    { class: 'card stack job-panel', 'data-testid': 'job-panel', dataset: { jobId }, 'aria-label': 'Generation progress' },
    promptEl,
    statusEl,
    h('div', { class: 'row progress-row' }, h('div', { class: 'grow' }, bar), pct),
    queue,
    err,
    h('div', { class: 'row' }, cancel),
  );
  const wrap = h('div', { class: 'stack' }, panel, result);

  let done = false;
  let unsubscribe = () => {};
  // Whether the subscription may still be live: it is stopped at most once, and not after the
  // server ended it.
  let live = true;
  const stop = () => {
    if (!live) return;
    live = false;
    unsubscribe();
  };
  let poll = null;

  const show = (job) => {
    if (done) return;
    const p = Math.round((job.progress || 0) * 100);
    fill.style.width = `${p}%`;
    bar.setAttribute('aria-valuenow', String(p));
    pct.textContent = `${p}%`;
    panel.dataset.status = job.status;
    statusEl.textContent = job.status === 'RUNNING' ? `${STATUS_TEXT.RUNNING}: ${p}%` : STATUS_TEXT[job.status] || job.status;
    if (job.prompt && !promptEl.textContent) promptEl.textContent = `“${job.prompt}”`;
    const bits = [];
    if (job.status === 'QUEUED' && job.queuePosition !== null && job.queuePosition !== undefined) {
      bits.push(job.queuePosition === 0 ? 'You are next in the queue' : `${job.queuePosition} ${job.queuePosition === 1 ? 'job' : 'jobs'} ahead of yours`);
    }
    const left = eta(job.etaSeconds);
    if (left) bits.push(left);
    queue.textContent = bits.join(' · ');
    if (FINAL.includes(job.status)) finish(job);
  };

  const finish = (job) => {
    done = true;
    stop();
    clearInterval(poll);
    cancel.remove();
    queue.textContent = '';
    if (job.status === 'SUCCEEDED' && job.video) {
      mount(result, draftView(job.video, ctx));
    } else if (job.status === 'SUCCEEDED') {
      mount(result, h('p', { class: 'notice' }, 'The draft is ready. ', h('a', { href: '/drafts' }, 'Open your drafts')));
    } else {
      const why = job.error ? job.error.message : STATUS_TEXT[job.status];
      mount(
        result,
        h('p', { class: 'form-error', role: 'alert', 'data-testid': 'job-error' }, why, job.error ? ` (${job.error.code})` : ''),
        h('a', { class: 'button', href: '/create' }, 'Try another prompt'),
      );
    }
  };

  const fetchJob = async () => {
    try {
      const data = await gql(`query Job($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }${VIDEO_CARD}`, { id: jobId });
      if (!data.job) {
        done = true;
        clearInterval(poll);
        err.show('This job was not found. It may belong to another account.');
        cancel.remove();
        return;
      }
      show(data.job);
    } catch (e) {
      err.show(explain(e));
    }
  };

  const startPolling = () => {
    if (poll || done) return;
    poll = setInterval(fetchJob, 2000);
    fetchJob();
  };

  unsubscribe = subscribe(`subscription Job($id: ID!) { jobUpdates(jobId: $id) { ${JOB_FIELDS} } }${VIDEO_CARD}`, { id: jobId }, {
    next: (data) => {
      err.clear();
      show(data.jobUpdates);
    },
    error: (e) => {
      // NETWORK / UNAUTHENTICATED here mean the socket closed (or was refused).
      if (e.code === 'NETWORK' || e.code === 'UNAUTHENTICATED') live = false;
      if (e.code === 'NOT_FOUND' || e.code === 'BAD_USER_INPUT') {
        done = true;
        cancel.remove();
        err.show(explain(e));
        return;
      }
      // The live connection dropped: keep the panel current by asking every two seconds.
      startPolling();
    },
    complete: () => {
      live = false; // the client closes the socket on "complete"
      if (!done) startPolling();
    },
  });
  ctx.onLeave(() => {
    stop();
    clearInterval(poll);
  });

  cancel.addEventListener('click', () =>
    busy(cancel, async () => {
      err.clear();
      try {
        const data = await gql(`mutation Cancel($id: ID!) { cancelJob(id: $id) { ${JOB_FIELDS} } }${VIDEO_CARD}`, { id: jobId });
        show(data.cancelJob);
        toast('Cancelled.', 'ok');
      } catch (e) {
        err.show(explain(e));
      }
    }),
  );
  return wrap;
}

/** The finished draft: player, its status, and Publish (or the review notice). */
function draftView(video, ctx) {
  const box = h(
    'section',
    { class: 'card stack', 'data-testid': 'draft', dataset: { videoId: video.id }, 'aria-labelledby': 'draft-h' },
    h('h2', { id: 'draft-h' }, 'Your draft'),
    player(video, ctx, { record: false }),
    video.cameos?.length
      ? h('p', { class: 'small muted' }, 'With the cameos of ', video.cameos.map((c, i) => [i ? ', ' : '', `${c.name} (@${c.owner.username})`]), '. Their owners can see this draft.')
      : null,
  );
  if (video.status === 'IN_REVIEW') {
    box.append(h('p', { class: 'notice', 'data-testid': 'in-review' }, 'The frame check held this video for a moderator. You will get a notification, and can publish it from your drafts once it is approved.'));
  } else if (video.status === 'DRAFT') {
    box.append(publishPanel(video, ctx));
  }
  box.append(h('p', { class: 'small' }, h('a', { href: '/drafts' }, 'All your drafts'), ' · ', h('a', { href: '/create' }, 'Make another')));
  return box;
}
