// Settings cards for age and wellbeing: your own daily feed limit and time zone (every member),
// linking a teen and setting their controls (adults: `createGuardianInvite`, `myTeens`,
// `setTeenControls`, `teenActivity`, `unlinkGuardian`), and your parent and your limits (teens:
// `acceptGuardianInvite`). The rules live in the server; these cards only show and send them.

import { gql } from '/static/shared/api.js';
import { h, mount, field, errorBox, busy, toast, copyText } from '/static/shared/dom.js';
import { showError, explain } from './ui.js';

const CONTROLS = 'dailyFeedMinutes quietHoursStart quietHoursEnd cameoPermission videosPublic';
const PERMISSIONS = [
  ['ONLY_ME', 'Only them'],
  ['APPROVED', 'Members they approve (who are mutuals)'],
  ['MUTUALS', 'Mutuals they approve'],
];

/** The cards this member gets, after reading their age band and links. */
export async function familyCards() {
  const data = await gql(`query Family { me { id isTeen wellbeing { dailyFeedMinutes timeZone minutesToday } teenControls { ${CONTROLS} } guardian { username displayName } guardianUnlinkRequestedBy } myTeens { id username displayName teenControls { ${CONTROLS} } guardianUnlinkRequestedBy } }`);
  const me = data.me;
  const cards = [wellbeingCard(me)];
  cards.push(me.isTeen ? teenCard(me) : parentCard(me, data.myTeens));
  return cards;
}

function wellbeingCard(me) {
  const w = me.wellbeing || {};
  const minutes = h('input', { type: 'number', min: 5, max: 1440, name: 'dailyFeedMinutes', 'data-testid': 'own-limit', value: w.dailyFeedMinutes ?? '' });
  const guess = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const zone = h('input', { name: 'timeZone', 'data-testid': 'time-zone', value: w.timeZone || guess, autocomplete: 'off', spellcheck: 'false' });
  const err = errorBox();
  const save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'wellbeing-save' }, 'Save');
  const form = h(
    'form',
    { class: 'stack' },
    field('Daily feed limit, minutes (empty: none)', minutes, 'After it the feed pauses until your midnight.'),
    field('Time zone', zone, 'Where your day starts and ends, e.g. Europe/Paris.'),
    err,
    h('div', { class: 'row' }, save),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, async () => {
      err.clear();
      try {
        const limit = minutes.value === '' ? null : Number(minutes.value);
        await gql('mutation Wellbeing($i: WellbeingInput!) { setWellbeing(input: $i) { id } }', { i: { dailyFeedMinutes: limit, clearDailyLimit: limit === null, timeZone: zone.value.trim() } });
        toast('Saved.', 'ok');
      } catch (ex) {
        showError(err, ex, form);
      }
    });
  });
  return h(
    'section',
    { class: 'card stack', 'aria-labelledby': 'wb-h', 'data-testid': 'wellbeing' },
    h('h2', { id: 'wb-h' }, 'Time in the feed'),
    h('p', { class: 'muted', 'data-testid': 'minutes-today' }, `About ${w.minutesToday ?? 0} minutes today.`),
    form,
  );
}

// The same ceilings as the teen reads them.
const FOR_TEEN = { ONLY_ME: 'only you', APPROVED: 'mutuals you approve', MUTUALS: 'mutuals you approve' };

function controlsText(c) {
  const who = FOR_TEEN[c.cameoPermission] || c.cameoPermission;
  return [
    `${c.dailyFeedMinutes} minutes of feed a day`,
    `no notifications ${c.quietHoursStart}–${c.quietHoursEnd}`,
    `your cameo: ${who}`,
    c.videosPublic ? 'your videos are public' : 'your videos are seen by mutuals and your parent only',
  ].join(' · ');
}

function teenCard(me) {
  const card = h('section', { class: 'card stack', 'aria-labelledby': 'fam-h', 'data-testid': 'teen-card' }, h('h2', { id: 'fam-h' }, 'Your teen account'));
  if (me.teenControls) card.append(h('p', { 'data-testid': 'teen-controls' }, controlsText(me.teenControls)));
  if (me.guardian) {
    card.append(h('p', { 'data-testid': 'my-parent' }, 'Linked to your parent ', h('strong', {}, `@${me.guardian.username}`), '.'));
    card.append(unlinkButton(me.id, me.guardianUnlinkRequestedBy, me.id));
    return card;
  }
  const code = h('input', { name: 'code', 'data-testid': 'guardian-code', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', required: true });
  const err = errorBox();
  const link = h('button', { type: 'submit', class: 'primary', 'data-testid': 'guardian-accept' }, 'Link my parent');
  const form = h('form', { class: 'stack' }, field('Code from your parent', code, 'Your parent makes it in their settings.'), err, h('div', { class: 'row' }, link));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(link, async () => {
      err.clear();
      try {
        const d = await gql('mutation Accept($c: String!) { acceptGuardianInvite(code: $c) { guardian { username } } }', { c: code.value.trim() });
        mount(card, h('h2', { id: 'fam-h' }, 'Your teen account'), h('p', { 'data-testid': 'my-parent' }, 'Linked to your parent ', h('strong', {}, `@${d.acceptGuardianInvite.guardian.username}`), '.'));
      } catch (ex) {
        showError(err, ex, form);
      }
    });
  });
  card.append(form);
  return card;
}

function unlinkButton(teenId, requestedBy, me) {
  const msg = h('p', { class: 'small', role: 'status', 'data-testid': 'unlink-status' });
  if (requestedBy) msg.textContent = requestedBy === me ? 'You asked to unlink; waiting for the other side.' : 'Unlinking was asked for; confirm to unlink.';
  const button = h('button', { type: 'button', 'data-testid': 'unlink' }, requestedBy && requestedBy !== me ? 'Confirm unlinking' : 'Ask to unlink');
  button.addEventListener('click', () =>
    busy(button, async () => {
      try {
        const d = await gql('mutation Unlink($t: ID!) { unlinkGuardian(teenId: $t) }', { t: teenId });
        msg.textContent = d.unlinkGuardian ? 'Unlinked.' : 'Asked; the other side confirms to unlink.';
      } catch (ex) {
        msg.textContent = explain(ex);
      }
    }),
  );
  return h('div', { class: 'stack' }, h('div', { class: 'row' }, button), msg);
}

function parentCard(me, teens) {
  const card = h('section', { class: 'card stack', 'aria-labelledby': 'fam-h', 'data-testid': 'parent-card' }, h('h2', { id: 'fam-h' }, 'Family'));
  const codeBox = h('p', { 'data-testid': 'guardian-code-made', 'aria-live': 'polite' });
  const make = h('button', { type: 'button', 'data-testid': 'guardian-invite' }, 'Make a code for my teen');
  make.addEventListener('click', () =>
    busy(make, async () => {
      try {
        const d = await gql('mutation Code { createGuardianInvite }');
        const code = d.createGuardianInvite;
        const copy = h('button', { type: 'button', class: 'small' }, 'Copy');
        copy.addEventListener('click', () => copyText(code, null, 'Code'));
        mount(codeBox, 'Give your teen this code (valid 7 days): ', h('strong', { 'data-testid': 'guardian-code-value' }, code), ' ', copy);
      } catch (ex) {
        codeBox.textContent = explain(ex);
      }
    }),
  );
  card.append(h('p', { class: 'muted' }, 'A teen account (13–17) can link one parent, who sets their feed time, quiet hours, who may use their cameo and whether their videos are public.'), h('div', { class: 'row' }, make), codeBox);
  for (const t of teens) card.append(teenControlsForm(t, me.id));
  return card;
}

function teenControlsForm(t, me) {
  const c = t.teenControls || {};
  const minutes = h('input', { type: 'number', min: 5, max: 1440, value: c.dailyFeedMinutes ?? 60, 'data-testid': 'teen-minutes' });
  const start = h('input', { type: 'time', value: c.quietHoursStart || '22:00', 'data-testid': 'teen-quiet-start' });
  const end = h('input', { type: 'time', value: c.quietHoursEnd || '07:00', 'data-testid': 'teen-quiet-end' });
  const perm = h('select', { 'data-testid': 'teen-cameo' }, PERMISSIONS.map(([v, label]) => h('option', { value: v, selected: v === c.cameoPermission }, label)));
  const pub = h('input', { type: 'checkbox', checked: c.videosPublic !== false, 'data-testid': 'teen-public' });
  const err = errorBox();
  const save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'teen-save' }, 'Save');
  const summary = h('p', { class: 'small muted', 'data-testid': 'teen-activity' }, 'Loading the last 7 days…');
  const form = h(
    'form',
    { class: 'stack', 'data-testid': 'teen-controls-form', 'data-teen': t.username },
    h('h3', {}, `@${t.username}`),
    summary,
    field('Feed minutes a day', minutes),
    h('div', { class: 'row' }, field('Quiet from', start), field('until', end)),
    field('Who may use their cameo', perm),
    h('label', { class: 'row' }, pub, ' Their videos are public'),
    err,
    h('div', { class: 'row' }, save),
    unlinkButton(t.id, t.guardianUnlinkRequestedBy, me),
  );
  gql('query Activity($t: ID!) { teenActivity(teenId: $t) { videosCreated videosPublished comments likes follows videosWatched } }', { t: t.id })
    .then((d) => {
      const a = d.teenActivity;
      summary.textContent = `Last 7 days: ${a.videosCreated} videos made, ${a.videosPublished} published, ${a.videosWatched} watched, ${a.likes} likes, ${a.comments} comments, ${a.follows} follows.`;
    })
    .catch((e) => (summary.textContent = explain(e)));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, async () => {
      err.clear();
      try {
        await gql(`mutation Controls($t: ID!, $i: TeenControlsInput!) { setTeenControls(teenId: $t, input: $i) { id teenControls { ${CONTROLS} } } }`, {
          t: t.id,
          i: { dailyFeedMinutes: Number(minutes.value), quietHoursStart: start.value, quietHoursEnd: end.value, cameoPermission: perm.value, videosPublic: pub.checked },
        });
        toast(`Saved for @${t.username}.`, 'ok');
      } catch (ex) {
        showError(err, ex, form);
      }
    });
  });
  return form;
}
