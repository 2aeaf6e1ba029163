// My invites `/invites`: each code with its uses left, its sign-up link with Copy, and who joined.

import { gql } from '/static/shared/api.js';
import { h, timeAgo } from '/static/shared/dom.js';
import { signInNeeded, empty, copyText } from './ui.js';

export async function render(ctx) {
  if (!ctx.viewer) return signInNeeded('see your invites');
  const data = await gql(`query Invites { myInvites {
    id code url usesLeft maxUses expiresAt createdAt redeemedBy { id username displayName }
  } }`);
  const invites = data.myInvites;
  const left = invites.reduce((n, i) => n + i.usesLeft, 0);
  return h(
    'div',
    { class: 'stack' },
    h('h1', {}, 'My invites'),
    h('p', { class: 'muted' }, invites.length ? `Share a link with a friend: each code lets in as many people as it has uses. ${left} ${left === 1 ? 'use' : 'uses'} left in all.` : ''),
    invites.length ? h('div', { class: 'grid grid-2', 'data-testid': 'invites' }, invites.map(inviteCard)) : empty('You have no invite codes.'),
  );
}

function inviteCard(inv) {
  const used = inv.usesLeft === 0;
  const linkId = `invite-link-${inv.id}`;
  const input = h('input', { id: linkId, type: 'text', readonly: true, value: inv.url, 'data-testid': 'invite-url' });
  // Selecting the link on focus makes the manual fallback (Ctrl+C) one key away.
  input.addEventListener('focus', () => input.select());
  const copy = h('button', { type: 'button', 'data-testid': 'invite-copy', disabled: used }, 'Copy link');
  copy.addEventListener('click', () => copyText(inv.url, input));
  return h(
    'article',
    { class: ['card', 'stack', used ? 'used' : null], 'data-testid': 'invite', dataset: { code: inv.code } },
    h('div', { class: 'row' }, h('code', { class: 'invite-code', 'data-testid': 'invite-code' }, inv.code), h('span', { class: 'spacer' }), h('span', { class: ['badge', used ? 'badge-danger' : 'badge-ok'], 'data-testid': 'invite-uses' }, `${inv.usesLeft} of ${inv.maxUses} left`)),
    h('div', { class: 'field' }, h('label', { for: linkId }, 'Sign-up link'), h('div', { class: 'row nowrap' }, input, copy)),
    inv.expiresAt ? h('p', { class: 'small muted' }, `Expires ${new Date(inv.expiresAt).toLocaleString()}`) : null,
    inv.redeemedBy.length
      ? h('p', { class: 'small' }, 'Joined with it: ', inv.redeemedBy.map((u, i) => [i ? ', ' : '', h('a', { href: `/u/${encodeURIComponent(u.username)}` }, `@${u.username}`)]))
      : h('p', { class: 'small muted' }, `Nobody has used it yet · made ${timeAgo(inv.createdAt)}`),
  );
}
