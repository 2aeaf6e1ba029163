// Cameos `/cameos`: the member's cameos with their status, and everything an owner controls:
// permission, restrictions, per-video approval, approved members, every video using the
// cameo (remove / approve), and revoking. Plus the verification flow for a new cameo
// (challenge → record or upload an H.264 MP4 → `createCameo`, see ./cameo-new.js).

import { gql } from '/static/shared/api.js';
import { h, mount, field, errorBox, busy, toast, timeAgo } from '/static/shared/dom.js';
import { signInNeeded, explain, showError, statusBadge, confirmButton, pagedList, empty } from './ui.js';
import { newCameoPanel, PERMISSIONS } from './cameo-new.js';

const CAMEO_FIELDS = `id name status permission restrictions requireApproval consentVersion reviewNote challengePhrase
  clipUrl createdAt approvedUsers { id username displayName }`;

export async function render(ctx) {
  if (!ctx.viewer) return signInNeeded('manage your cameos');
  const list = h('div', { class: 'stack', 'data-testid': 'cameo-list' });
  // What everyone sees: the published videos with the member's cameo (once one is active).
  const feedLink = h(
    'a',
    { href: `/cameo/${encodeURIComponent(ctx.viewer.username)}`, class: 'small', hidden: true, 'data-testid': 'my-cameo-feed' },
    `Published videos with @${ctx.viewer.username}`,
  );
  const reload = async () => {
    try {
      const data = await gql(`query MyCameos { me { id cameos { ${CAMEO_FIELDS} } } }`);
      const cameos = data.me?.cameos || [];
      feedLink.hidden = !cameos.some((c) => c.status === 'ACTIVE');
      mount(list, cameos.length ? cameos.map((c) => cameoCard(c, ctx, reload)) : empty('You have no cameos yet. Make one above: it takes a short clip of you.'));
    } catch (e) {
      mount(list, h('p', { class: 'form-error', role: 'alert' }, explain(e)));
    }
  };
  await reload();
  return h(
    'div',
    { class: 'stack cameos', 'data-testid': 'cameos' },
    h('h1', {}, 'Cameos'),
    h('p', { class: 'muted' }, 'A cameo is your verified likeness. You decide who may put it in a video, see every video that uses it, and can take any of them down.'),
    newCameoPanel(ctx, reload),
    h('div', { class: 'row' }, h('h2', {}, 'Your cameos'), h('span', { class: 'spacer' }), feedLink),
    list,
  );
}

function cameoCard(c, ctx, reload) {
  const live = c.status === 'ACTIVE' || c.status === 'PENDING_REVIEW';
  const card = h('article', { class: 'card stack cameo', 'data-testid': 'cameo', dataset: { cameoId: c.id, status: c.status } });
  const perm = PERMISSIONS.find(([v]) => v === c.permission);
  mount(
    card,
    h('div', { class: 'row' }, h('h3', {}, c.name), statusBadge(c.status), h('span', { class: 'spacer' }), h('span', { class: 'muted small' }, `made ${timeAgo(c.createdAt)} · consent v${c.consentVersion}`)),
    c.status === 'PENDING_REVIEW' ? h('p', { class: 'notice small' }, 'A moderator is comparing your clip with the challenge. You will get a notification.') : null,
    c.status === 'REJECTED' ? h('p', { class: 'form-error' }, 'Not verified', c.reviewNote ? `: ${c.reviewNote}` : '.', ' Record a new one to try again.') : null,
    c.status === 'REVOKED' ? h('p', { class: 'muted' }, 'You withdrew this cameo. Nobody can use it again, and its videos were taken down.') : null,
    h('p', { class: 'small muted' }, `Who may use it: ${perm ? perm[1] : c.permission}`, c.restrictions ? ` · Not for: ${c.restrictions}` : '', c.requireApproval ? ' · each video needs your approval' : ''),
    c.clipUrl ? h('p', { class: 'small' }, h('a', { href: c.clipUrl, target: '_blank', rel: 'noopener' }, 'Watch the verification clip'), c.challengePhrase ? h('span', { class: 'muted' }, ` (“${c.challengePhrase}”)`) : null) : null,
    live ? settingsForm(c, reload) : null,
    live ? approvedMembers(c) : null,
    appearances(c, ctx),
    c.status !== 'REVOKED' && c.status !== 'REJECTED'
      ? h(
          'div',
          { class: 'row' },
          confirmButton(
            'Revoke',
            'Revoke this cameo? Every video with it comes down, and it can never be used again.',
            async () => {
              try {
                await gql('mutation Revoke($id: ID!) { revokeCameo(id: $id) { id status } }', { id: c.id });
                toast(`“${c.name}” is revoked; its videos are coming down.`, 'ok');
                await reload();
              } catch (e) {
                toast(explain(e), 'error');
              }
            },
            { testid: 'cameo-revoke', confirmLabel: 'Yes, revoke it' },
          ),
        )
      : null,
  );
  return card;
}

/** Permission, restrictions and "approve each video" (`updateCameo`). */
function settingsForm(c, reload) {
  const uid = c.id.slice(-8);
  const permission = h('select', { name: 'permission', 'data-testid': 'cameo-permission' }, PERMISSIONS.map(([v, l]) => h('option', { value: v, selected: v === c.permission }, l)));
  const restrictions = h('textarea', { name: 'restrictions', rows: 2, maxlength: 500, 'data-testid': 'cameo-restrictions' });
  restrictions.value = c.restrictions || '';
  const approve = h('input', { type: 'checkbox', name: 'requireApproval', id: `req-${uid}`, checked: c.requireApproval, 'data-testid': 'cameo-require-approval' });
  const err = errorBox();
  const save = h('button', { type: 'submit', 'data-testid': 'cameo-save' }, 'Save changes');
  const form = h(
    'form',
    { class: 'stack cameo-settings' },
    h('div', { class: 'grid grid-2' }, field('Who may use it', permission), field('Not for (restrictions)', restrictions, 'E.g. “no political content, never shirtless”. Empty clears them.')),
    h('div', { class: 'check' }, approve, h('label', { for: `req-${uid}` }, 'Approve each video before it can be published')),
    err,
    h('div', { class: 'row' }, save),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, async () => {
      err.clear();
      try {
        await gql('mutation Update($id: ID!, $p: CameoPermission, $r: String, $a: Boolean) { updateCameo(id: $id, permission: $p, restrictions: $r, requireApproval: $a) { id } }', {
          id: c.id,
          p: permission.value,
          r: restrictions.value,
          a: approve.checked,
        });
        toast('Saved. The new consent applies from now on.', 'ok');
        await reload();
      } catch (ex) {
        showError(err, ex, form);
      }
    });
  });
  return h('details', { class: 'cameo-section' }, h('summary', {}, 'Permission and restrictions'), form);
}

/** Members the owner approved (`approveCameoUser` by username, `unapproveCameoUser`). */
function approvedMembers(c) {
  const uid = c.id.slice(-8);
  const list = h('ul', { class: 'people', 'data-testid': 'approved-users' });
  const summary = h('summary', {});
  const draw = (users) => {
    summary.textContent = `Approved members (${users.length})`;
    mount(
      list,
      users.length
        ? users.map((u) =>
            h(
              'li',
              { class: 'row' },
              h('a', { href: `/u/${encodeURIComponent(u.username)}` }, `${u.displayName} (@${u.username})`),
              h('button', {
                type: 'button',
                class: 'link',
                'data-testid': 'unapprove',
                'aria-label': `Remove @${u.username}`,
                onclick: (e) =>
                  busy(e.currentTarget, async () => {
                    try {
                      const data = await gql('mutation Unapprove($c: ID!, $u: ID!) { unapproveCameoUser(cameoId: $c, userId: $u) { id approvedUsers { id username displayName } } }', { c: c.id, u: u.id });
                      draw(data.unapproveCameoUser.approvedUsers);
                    } catch (ex) {
                      toast(explain(ex), 'error');
                    }
                  }),
              }, 'Remove'),
            ),
          )
        : h('li', { class: 'muted' }, 'Nobody yet.'),
    );
  };
  draw(c.approvedUsers);
  const name = h('input', { name: 'userId', id: `approve-${uid}`, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', placeholder: 'username', 'data-testid': 'approve-username' });
  const err = errorBox();
  const add = h('button', { type: 'submit', 'data-testid': 'approve-add' }, 'Approve');
  const form = h('form', { class: 'row approve-form' }, h('label', { for: name.id, class: 'visually-hidden' }, 'Username to approve'), name, add);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(add, async () => {
      err.clear();
      const handle = name.value.trim().replace(/^@/, '');
      if (!handle) return;
      try {
        const found = await gql('query Who($u: String!) { user(username: $u) { id } }', { u: handle });
        if (!found.user) {
          err.show(`Nobody is called @${handle}.`);
          return;
        }
        const data = await gql('mutation Approve($c: ID!, $u: ID!) { approveCameoUser(cameoId: $c, userId: $u) { id approvedUsers { id username displayName } } }', { c: c.id, u: found.user.id });
        draw(data.approveCameoUser.approvedUsers);
        name.value = '';
      } catch (ex) {
        showError(err, ex, form);
      }
    });
  });
  const note = c.permission === 'APPROVED' ? null : h('p', { class: 'small muted' }, 'Approvals count while “Who may use it” is “Me and people I approve” (or everyone).');
  return h('details', { class: 'cameo-section' }, summary, note, list, form, err);
}

/** Every video with the cameo, others' drafts included; Remove, and Approve where it waits. */
function appearances(c, ctx) {
  const box = h('div', {});
  const details = h('details', { class: 'cameo-section', 'data-testid': 'appearances' }, h('summary', {}, 'Videos with this cameo'), box);
  let loaded = false;
  details.addEventListener('toggle', () => {
    if (!details.open || loaded) return;
    loaded = true;
    mount(
      box,
      pagedList({
        testid: 'appearance-list',
        emptyText: 'No video uses it yet.',
        load: async (after) =>
          (
            await gql(
              `query Appearances($id: ID!, $after: String) { cameo(id: $id) { appearances(first: 10, after: $after) {
                nodes { id status caption prompt thumbnailUrl createdAt author { id username } }
                pageInfo { hasNextPage endCursor } } } }`,
              { id: c.id, after },
            )
          ).cameo.appearances,
        item: (v) => appearance(c, v, ctx),
      }),
    );
  });
  return details;
}

function appearance(c, v, ctx) {
  const row = h('div', { class: 'appearance row', 'data-testid': 'appearance', dataset: { videoId: v.id } });
  const mine = v.author.id === ctx.viewer.id;
  // The API keeps no "approved" flag on an appearance: offer Approve while a draft of someone
  // else waits and the cameo asks for approval; approving twice is harmless.
  const canApprove = c.requireApproval && !mine && (v.status === 'DRAFT' || v.status === 'IN_REVIEW');
  const approve = canApprove
    ? h('button', { type: 'button', 'data-testid': 'appearance-approve' }, 'Approve')
    : null;
  approve?.addEventListener('click', () =>
    busy(approve, async () => {
      try {
        await gql('mutation ApproveUse($c: ID!, $v: ID!) { approveCameoAppearance(cameoId: $c, videoId: $v) }', { c: c.id, v: v.id });
        approve.replaceWith(h('span', { class: 'badge badge-ok' }, 'approved'));
      } catch (e) {
        toast(explain(e), 'error');
      }
    }),
  );
  const link = v.status === 'PUBLISHED' || mine ? h('a', { href: `/v/${encodeURIComponent(v.id)}` }, v.caption || v.prompt) : h('span', {}, v.caption || v.prompt);
  mount(
    row,
    h('img', { src: v.thumbnailUrl, alt: '', class: 'thumb' }),
    h('div', { class: 'grow' }, link, h('p', { class: 'small muted' }, `@${v.author.username} · `, statusBadge(v.status), ` · ${timeAgo(v.createdAt)}`)),
    approve,
    v.status === 'REMOVED'
      ? null
      : confirmButton(
          'Remove',
          'Take this video down?',
          async () => {
            try {
              await gql('mutation RemoveUse($c: ID!, $v: ID!) { removeCameoAppearance(cameoId: $c, videoId: $v) }', { c: c.id, v: v.id });
              toast('Taken down.', 'ok');
              row.remove();
            } catch (e) {
              toast(explain(e), 'error');
            }
          },
          { testid: 'appearance-remove', confirmLabel: 'Yes, take it down' },
        ),
  );
  return row;
}
