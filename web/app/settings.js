// Settings `/settings`: steer For You with a sentence (`setFeedPreferences`) and see how it was
// read (`feedPreferences`: text, topic weights, summary); the family cards (family.js);
// notifications (notify.js); the account's email and verification.

import { gql } from '/static/shared/api.js';
import { h, mount, field, errorBox, busy, toast } from '/static/shared/dom.js';
import { signInNeeded, showError, explain } from './ui.js';
import { familyCards } from './family.js';
import { notificationsCard } from './notify.js';

export async function render(ctx) {
  if (!ctx.viewer) return signInNeeded('steer your feed');
  const current = h('div', { 'data-testid': 'prefs-current', 'aria-live': 'polite' });
  const text = h('textarea', { name: 'text', rows: 3, maxlength: 500, required: true, 'data-testid': 'prefs-input', placeholder: 'more cooking and animals, fewer pranks' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'prefs-submit' }, 'Save');
  const form = h(
    'form',
    { class: 'stack', 'data-testid': 'prefs-form' },
    field('What do you want more or less of?', text, 'One sentence, up to 500 characters, e.g. “way more space and ocean, less cars”.'),
    err,
    h('div', { class: 'row' }, submit),
  );

  const load = async () => {
    try {
      const data = await gql('query Prefs { feedPreferences { text summary topics { topic weight } } }');
      drawPrefs(current, data.feedPreferences);
      if (data.feedPreferences && !text.value) text.value = data.feedPreferences.text;
    } catch (e) {
      mount(current, h('p', { class: 'form-error', role: 'alert' }, explain(e)));
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      err.clear();
      try {
        await gql('mutation Steer($t: String!) { setFeedPreferences(text: $t) }', { t: text.value });
        toast('Your For You feed will follow this from its next page.', 'ok');
        await load();
      } catch (ex) {
        // BAD_USER_INPUT (field `text`) comes with an example of what works.
        showError(err, ex, form);
      }
    });
  });
  await load();
  let family = [];
  try {
    family = await familyCards();
  } catch (e) {
    family = [h('p', { class: 'form-error', role: 'alert' }, explain(e))];
  }
  const notify = await notificationsCard();

  return h(
    'div',
    { class: 'stack narrow-wide' },
    h('h1', {}, 'Settings'),
    h('section', { class: 'card stack', 'aria-labelledby': 'steer-h', 'data-testid': 'steer' }, h('h2', { id: 'steer-h' }, 'Steer your For You feed'), current, form),
    ...family,
    notify,
    accountCard(ctx),
  );
}

function drawPrefs(box, prefs) {
  if (!prefs) {
    mount(box, h('p', { class: 'muted', 'data-testid': 'prefs-none' }, 'Nothing set yet: For You is ranked from what you watch, like and follow.'));
    return;
  }
  const sorted = [...prefs.topics].sort((a, b) => b.weight - a.weight);
  mount(
    box,
    h('p', {}, 'Now: ', h('strong', { 'data-testid': 'prefs-summary' }, prefs.summary)),
    h('p', { class: 'muted small' }, `From “${prefs.text}”`),
    h(
      'ul',
      { class: 'topics', 'data-testid': 'prefs-topics', 'aria-label': 'Topic weights' },
      sorted.map((t) =>
        h('li', { class: ['badge', t.weight > 0 ? 'badge-ok' : 'badge-danger'] }, `${t.weight > 0 ? 'more' : 'less'}: ${t.topic} `, h('span', { class: 'muted' }, `(${t.weight > 0 ? '+' : ''}${t.weight})`)),
      ),
    ),
  );
}

function accountCard(ctx) {
  const v = ctx.viewer;
  const card = h('section', { class: 'card stack', 'aria-labelledby': 'acct-h', 'data-testid': 'account' }, h('h2', { id: 'acct-h' }, 'Account'));
  card.append(h('p', {}, `@${v.username}`, v.email ? ` · ${v.email}` : ''));
  if (v.emailVerified) {
    card.append(h('p', { class: 'muted' }, h('span', { class: 'badge badge-ok' }, 'email confirmed')));
  } else {
    const resend = h('button', { type: 'button', 'data-testid': 'resend-verification' }, 'Mail me a new link');
    const msg = h('p', { class: 'small', role: 'status' });
    resend.addEventListener('click', () =>
      busy(resend, async () => {
        try {
          const data = await gql('mutation Resend { resendVerificationEmail }');
          msg.textContent = data.resendVerificationEmail ? `A new link is on its way to ${v.email}.` : 'Your address is already confirmed.';
        } catch (e) {
          msg.textContent = explain(e);
          msg.className = 'form-error';
        }
      }),
    );
    card.append(h('p', {}, h('span', { class: 'badge badge-warn' }, 'email not confirmed'), ' Open the link we mailed you.'), h('div', { class: 'row' }, resend), msg);
  }
  card.append(h('p', { class: 'small' }, h('a', { href: '/forgot-password' }, 'Change your password by mail')));
  return card;
}
