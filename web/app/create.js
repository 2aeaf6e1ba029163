// Create `/create`: prompt, duration, aspect ratio, seed, sound, up to two cameos and an optional remix
// source (`?remix=<id>`), or a storyboard (a world prompt and up to twelve shots made into one
// video), or new shots that continue a published video (`?extend=<id>`: `extendVideo`); then the
// job's live progress (`jobUpdates` subscription) and, once it succeeded, the draft with Publish.
// `/create?job=<id>` reopens a job's progress after a reload.

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
// Storyboards (the server checks the same): 1–12 shots, each within the model's range (1–8 s),
// 60 s together; a shot's prompt is 1–500 characters.
const SHOT_SECONDS = [1, 2, 3, 4, 5, 6, 7, 8];
const MAX_SHOTS = 12;
const MAX_STORYBOARD_SECONDS = 60;
const TRANSITIONS = [
  ['CUT', 'Cut'],
  ['CROSSFADE', 'Crossfade'],
];
const FINAL = ['SUCCEEDED', 'FAILED', 'REJECTED', 'CANCELLED'];
const JOB_FIELDS = `id status progress shot shotProgress queuePosition etaSeconds prompt durationSeconds seed error { code message }
  shots { durationSeconds } video { ...VideoCard }`;

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
  const extendId = ctx.query.get('extend');
  if (extendId) {
    mount(root, h('h1', {}, 'Extend a video'), await extendForm(ctx, root, extendId));
    return root;
  }
  mount(root, h('h1', {}, 'Create a video'), await createForm(ctx, root));
  return root;
}

/**
 * New shots after a published video (the member's own, or one that allows remixes): the video
 * is made again and the shots follow it in the same world, as a remix of it.
 */
async function extendForm(ctx, root, id) {
  const source = await loadExtendable(id, ctx);
  const err = errorBox();
  if (!source) {
    err.show('That video cannot be extended: it is not published, or its author does not allow remixes.');
    return h('div', { class: 'card stack', 'data-testid': 'extend-form' }, err);
  }
  const sourceSeconds = Math.round(source.durationMs / 1000);
  const board = storyboard({ rows: 1, before: sourceSeconds });
  board.hidden = false;
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'extend-submit' }, 'Extend');
  const form = h(
    'form',
    { class: 'card stack create-form', 'data-testid': 'extend-form' },
    h(
      'section',
      { class: 'remix-source', 'data-testid': 'extend-source', 'aria-label': 'Continuing' },
      h('h2', {}, 'Continuing'),
      videoTile(source),
      h('p', { class: 'small muted' }, `Its ${sourceSeconds} s come first, made again; your shots follow in the same world, with the same people, seed and sound. The new video is a remix of it.`),
    ),
    board,
    err,
    h('div', { class: 'row' }, submit),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      err.clear();
      const shots = board.shots();
      try {
        const data = await gql('mutation Extend($id: ID!, $shots: [ShotInput!]!) { extendVideo(videoId: $id, shots: $shots) { id } }', { id: source.id, shots });
        const jobId = data.extendVideo.id;
        history.replaceState(null, '', `/create?job=${encodeURIComponent(jobId)}`);
        mount(root, h('h1', { tabindex: '-1' }, 'Your video'), jobPanel(jobId, ctx, source.caption || source.prompt));
        root.querySelector('h1').focus();
      } catch (ex) {
        showError(err, ex, form);
        board.markShot(ex);
      }
    });
  });
  return form;
}

async function loadExtendable(id, ctx) {
  try {
    const data = await gql('query Extendable($id: ID!) { video(id: $id) { id caption prompt thumbnailUrl durationMs status remixAllowed author { id username } } }', { id });
    const v = data.video;
    return v && v.status === 'PUBLISHED' && (v.remixAllowed || v.author.id === ctx.viewer.id) ? v : null;
  } catch {
    return null;
  }
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

  const promptField = field(
    source ? 'What should change?' : 'Prompt',
    prompt,
    source ? 'The remix keeps everything else of the source. Up to 2000 characters.' : 'Describe the scene: subject, action, setting, style. Up to 2000 characters.',
  );
  const lengthField = field('Length', duration);
  // A storyboard: the prompt becomes the world every shot shares, and the shots replace Length.
  const board = source ? null : storyboard({});
  const toggle = source
    ? null
    : h('button', { type: 'button', 'aria-pressed': 'false', 'aria-controls': board.id, 'data-testid': 'storyboard-toggle' }, 'Storyboard');
  const setMode = (on) => {
    toggle.setAttribute('aria-pressed', String(on));
    board.hidden = !on;
    // Disabled, the hidden shots neither block the form's own checks nor get sent.
    board.disabled = !on;
    lengthField.hidden = on;
    promptField.querySelector('label').textContent = on ? 'World' : 'Prompt';
    promptField.querySelector('.hint').textContent = on
      ? 'What every shot shares: the place, the people, the objects, the style. Each shot below says what happens. Up to 2000 characters.'
      : 'Describe the scene: subject, action, setting, style. Up to 2000 characters.';
    prompt.placeholder = on ? 'a lighthouse keeper and her grey cat on a rocky island, watercolour' : 'a red fox trotting through fresh snow at dawn';
  };
  toggle?.addEventListener('click', () => setMode(toggle.getAttribute('aria-pressed') !== 'true'));
  board && setMode(false);

  const sourceBox = source ? h('section', { class: 'card remix-source', 'data-testid': 'remix-source', 'aria-label': 'Remixing' }, h('h2', {}, 'Remixing'), videoTile(source), h('p', { class: 'small muted' }, 'The remix starts from this prompt, length and shape; write what should change.')) : null;
  if (remixId && !source) err.show('That video cannot be remixed: it is not published, or its author does not allow remixes.');

  const form = h(
    'form',
    { class: 'card stack create-form', 'data-testid': 'create-form' },
    sourceBox,
    toggle
      ? h('div', { class: 'row mode-row' }, toggle, h('span', { class: 'muted small' }, 'Several shots in one video, up to 60 s'))
      : null,
    promptField,
    board,
    source
      ? null
      : h('div', { class: 'grid grid-2' }, lengthField, field('Shape', aspect)),
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
      else if (!board.hidden) {
        input.shots = board.shots();
        input.aspectRatio = aspect.value;
      } else {
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
        if (input.shots) board.markShot(ex);
      }
    });
  });
  return form;
}

/**
 * The shots of a storyboard: a list of rows (what happens, seconds, transition; move up, move
 * down, remove), Add shot, and the running total. A fieldset named `shots`, so an error about
 * `shots` marks it; `shots()` reads the rows, `markShot(error)` marks the shot an error names.
 * `rows`: how many rows it starts with; `before`: seconds of video the shots follow (extend),
 * counted in the total; the first row then has a transition too.
 */
function storyboard({ rows: initial = 2, before = 0 }) {
  const list = h('ol', { class: 'shot-list', 'data-testid': 'shot-list' });
  const add = h('button', { type: 'button', 'data-testid': 'add-shot' }, '+ Add shot');
  const total = h('p', { class: 'shot-total', 'aria-live': 'polite', 'data-testid': 'shot-total' });
  const box = h(
    'fieldset',
    { class: 'shots', name: 'shots', id: 'storyboard-shots', tabindex: '-1', 'data-testid': 'storyboard' },
    h('legend', {}, 'Shots'),
    h('p', { class: 'muted small' }, `What happens in each shot, in order: 1–${MAX_SHOTS} shots of ${SHOT_SECONDS[0]}–${SHOT_SECONDS[SHOT_SECONDS.length - 1]} s each.`),
    list,
    h('div', { class: 'row' }, add, h('span', { class: 'spacer' }), total),
  );
  const rows = () => [...list.children];

  // Numbers, labels, which buttons apply and the total, after any change.
  const refresh = () => {
    const all = rows();
    let sum = 0;
    all.forEach((row, i) => {
      const n = i + 1;
      row.parts.title.textContent = `Shot ${n}`;
      row.parts.prompt.setAttribute('aria-label', `Shot ${n}: what happens`);
      row.parts.up.setAttribute('aria-label', `Move shot ${n} up`);
      row.parts.down.setAttribute('aria-label', `Move shot ${n} down`);
      row.parts.remove.setAttribute('aria-label', `Remove shot ${n}`);
      row.parts.up.disabled = i === 0;
      row.parts.down.disabled = i === all.length - 1;
      row.parts.remove.disabled = all.length === 1;
      // The first shot follows nothing (unless it continues a video): no transition.
      row.parts.transitionField.hidden = i === 0 && !before;
      sum += Number(row.parts.seconds.value);
    });
    add.disabled = all.length >= MAX_SHOTS;
    sum += before;
    const over = sum - MAX_STORYBOARD_SECONDS;
    const what = before ? `${sum} s with the video's ${before} s` : `${sum} s`;
    total.textContent = over > 0 ? `${what} of ${MAX_STORYBOARD_SECONDS} s: ${over} s too long` : `${what} of ${MAX_STORYBOARD_SECONDS} s`;
    total.classList.toggle('over', over > 0);
  };

  const move = (row, by) => {
    const all = rows();
    const to = all.indexOf(row) + by;
    if (to < 0 || to >= all.length) return;
    if (by < 0) list.insertBefore(row, all[to]);
    else list.insertBefore(row, all[to].nextSibling);
    refresh();
    // Keep the focus on the button pressed, or on its twin once the row reached an end.
    const button = by < 0 ? row.parts.up : row.parts.down;
    (button.disabled ? (by < 0 ? row.parts.down : row.parts.up) : button).focus();
  };

  const addRow = (seconds = 4) => {
    const prompt = h('textarea', { rows: 2, maxlength: 500, required: true, 'data-testid': 'shot-prompt', placeholder: 'what happens in this shot' });
    const secs = h('select', { 'data-testid': 'shot-seconds' }, SHOT_SECONDS.map((s) => h('option', { value: s, selected: s === seconds }, `${s} s`)));
    const transition = h('select', { 'data-testid': 'shot-transition' }, TRANSITIONS.map(([v, l]) => h('option', { value: v }, l)));
    const title = h('h3', { class: 'shot-title', id: `shot-${Math.random().toString(36).slice(2, 9)}` });
    const up = h('button', { type: 'button', class: 'icon', 'data-testid': 'shot-up' }, '↑');
    const down = h('button', { type: 'button', class: 'icon', 'data-testid': 'shot-down' }, '↓');
    const remove = h('button', { type: 'button', class: 'danger', 'data-testid': 'shot-remove' }, 'Remove');
    const transitionField = field('Transition', transition);
    const row = h(
      'li',
      { class: 'shot-row', role: 'group', 'aria-labelledby': title.id, 'data-testid': 'shot-row' },
      h('div', { class: 'row nowrap shot-head' }, title, h('span', { class: 'spacer' }), up, down, remove),
      prompt,
      h('div', { class: 'shot-opts' }, field('Length', secs), transitionField),
    );
    // Its controls, kept on the row (under `parts`: an element's own properties such as `title`
    // and `remove` stay as they are).
    row.parts = { title, prompt, seconds: secs, transition, transitionField, up, down, remove };
    up.addEventListener('click', () => move(row, -1));
    down.addEventListener('click', () => move(row, 1));
    remove.addEventListener('click', () => {
      const all = rows();
      const next = all[all.indexOf(row) + 1] || all[all.indexOf(row) - 1];
      row.remove();
      refresh();
      (next ? next.parts.prompt : add).focus();
    });
    secs.addEventListener('change', refresh);
    list.append(row);
    refresh();
    return row;
  };

  add.addEventListener('click', () => addRow().parts.prompt.focus());
  for (let i = 0; i < initial; i += 1) addRow();

  box.shots = () =>
    rows().map((row, i) => ({
      prompt: row.parts.prompt.value,
      durationSeconds: Number(row.parts.seconds.value),
      transition: i === 0 && !before ? 'CUT' : row.parts.transition.value,
    }));
  box.markShot = (e) => {
    const text = [e?.message, ...(e?.extensions?.reasons || [])].join(' ');
    const m = /\bshot (\d+)/i.exec(text);
    const row = m && rows()[Number(m[1]) - 1];
    if (!row) return;
    const control = /\bseconds\b|\blast\b/.test(text) ? row.parts.seconds : row.parts.prompt;
    box.removeAttribute('aria-invalid');
    control.setAttribute('aria-invalid', 'true');
    control.focus();
  };
  return box;
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
    const data = await gql('query Usable { usableCameos(first: 50) { nodes { id name handle owner { username displayName } } } }');
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
  // Naming a cameo in the prompt works as well as ticking it (the newest one of that person).
  const example = cameos.nodes[0].handle || cameos.nodes[0].owner.username;
  box.append(h('p', { class: 'muted small cameo-hint', 'data-testid': 'cameo-hint' }, 'Or write ', h('code', {}, `@${example}`), ' in the prompt: “@handle” puts that person’s cameo in.'));
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
  const boardEl = h('p', { class: 'small', hidden: true }, h('span', { class: 'badge', 'data-testid': 'job-storyboard' }));
  const panel = h(
    'section',
    { class: 'card stack job-panel', 'data-testid': 'job-panel', dataset: { jobId }, 'aria-label': 'Generation progress' },
    promptEl,
    boardEl,
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
    // A storyboard running says which shot is being made, and how far that shot is.
    const shotText = job.status === 'RUNNING' && job.shot && job.shots?.length
      ? ` · shot ${job.shot} of ${job.shots.length}, ${Math.round((job.shotProgress || 0) * 100)}%`
      : '';
    statusEl.textContent = job.status === 'RUNNING' ? `${STATUS_TEXT.RUNNING}: ${p}%${shotText}` : STATUS_TEXT[job.status] || job.status;
    if (job.prompt && !promptEl.textContent) promptEl.textContent = `“${job.prompt}”`;
    if (job.shots?.length) {
      const seconds = job.shots.reduce((sum, s) => sum + s.durationSeconds, 0);
      boardEl.firstChild.textContent = `Storyboard · ${job.shots.length} ${job.shots.length === 1 ? 'shot' : 'shots'} · ${seconds} s`;
      boardEl.hidden = false;
    }
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
