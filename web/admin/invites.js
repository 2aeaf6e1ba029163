// Invites (admins): mint codes, grant the waitlist, and look at a member's invite tree.
import { gql, describeError } from '/static/shared/api.js';
import { h, mount, field, errorBox, busy, toast } from '/static/shared/dom.js';
import { pagedList, screenTitle, copyable, copyText, when, who, failure, loading } from './ui.js';

export function invitesScreen({ root, params }) {
  const tabs = [
    ['mint', 'Mint codes', mintPanel],
    ['waitlist', 'Waitlist', waitlistPanel],
    ['tree', 'Invite tree', () => treePanel(params.get('tree'))],
  ];
  // ?tree=<username> (from the Users page) opens the tree tab on that member.
  let current = params.get('tree') ? 'tree' : params.get('tab') || 'mint';
  const panel = h('div', { role: 'tabpanel', id: 'invites-panel', tabindex: '0' });
  const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Invites' });

  function show(key, focus = false) {
    current = key;
    const [, label, render] = tabs.find((t) => t[0] === key) || tabs[0];
    tablist.querySelectorAll('[role=tab]').forEach((b) => {
      const on = b.dataset.tab === key;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    });
    panel.setAttribute('aria-label', label);
    mount(panel, render());
  }

  tabs.forEach(([key, label]) => {
    const b = h('button', { type: 'button', role: 'tab', 'aria-controls': 'invites-panel', 'data-tab': key, 'data-testid': `tab-${key}`, onclick: () => show(key) }, label);
    tablist.append(b);
  });
  // Arrow keys move between tabs (the tab pattern); Tab goes into the panel.
  tablist.addEventListener('keydown', (e) => {
    const keys = tabs.map((t) => t[0]);
    const i = keys.indexOf(current);
    if (e.key === 'ArrowRight') show(keys[(i + 1) % keys.length], true);
    else if (e.key === 'ArrowLeft') show(keys[(i + keys.length - 1) % keys.length], true);
    else return;
    e.preventDefault();
  });
  mount(root, screenTitle('Invites'), tablist, panel);
  show(current);
}

/** The mint form, and the codes it made (with links to copy). */
function mintPanel() {
  const count = h('input', { type: 'number', min: '1', max: '500', value: '1', required: true, 'data-testid': 'mint-count' });
  const maxUses = h('input', { type: 'number', min: '1', max: '100000', value: '1', required: true, 'data-testid': 'mint-max-uses' });
  const expires = h('input', { type: 'datetime-local', 'data-testid': 'mint-expires' });
  const note = h('input', { type: 'text', maxlength: '500', 'data-testid': 'mint-note' });
  const error = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'mint-submit' }, 'Mint');
  const result = h('div', { class: 'stack', 'data-testid': 'mint-result', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'card', novalidate: true },
    h('div', { class: 'grid grid-2' }, field('How many codes', count, '1 to 500'), field('Uses per code', maxUses, 'How many members can join with each')),
    h('div', { class: 'grid grid-2' }, field('Expires (optional)', expires, 'Your local time'), field('Note (optional)', note, 'Who they are for; up to 500 characters')),
    error,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.clear();
    const vars = {
      count: Number(count.value),
      maxUses: Number(maxUses.value),
      // datetime-local is local time without a zone; Date reads it as local, toISOString sends UTC.
      expiresAt: expires.value ? new Date(expires.value).toISOString() : null,
      note: note.value.trim() || null,
    };
    if (!Number.isInteger(vars.count) || !Number.isInteger(vars.maxUses)) {
      error.show('Enter whole numbers for the count and the uses.');
      return;
    }
    await busy(submit, async () => {
      try {
        const data = await gql(
          'mutation ConsoleMint($count: Int!, $maxUses: Int!, $expiresAt: DateTime, $note: String) { mintInvites(count: $count, maxUses: $maxUses, expiresAt: $expiresAt, note: $note) { id code url maxUses expiresAt } }',
          vars,
        );
        showMinted(result, data.mintInvites);
        toast(`${data.mintInvites.length} code(s) minted.`, 'ok');
      } catch (err) {
        error.show(describeError(err));
      }
    });
  });
  return h('div', { class: 'stack' }, form, result);
}

function showMinted(box, invites) {
  const all = invites.map((i) => i.url).join('\n');
  mount(
    box,
    h('h2', {}, `New codes (${invites.length})`),
    h('p', { class: 'small muted' }, invites[0]?.expiresAt ? `Each works ${invites[0].maxUses} time(s), until ${when(invites[0].expiresAt)}.` : `Each works ${invites[0]?.maxUses} time(s) and does not expire.`),
    h(
      'ul',
      { class: 'minted' },
      invites.map((i) =>
        h('li', { class: 'card stack', 'data-testid': 'minted-invite' }, copyable(`code ${i.code}`, i.code, 'minted-code'), copyable(`link for ${i.code}`, i.url, 'minted-url')),
      ),
    ),
    invites.length > 1 ? allLinks(all, invites.length) : null,
  );
}

function allLinks(text, n) {
  const area = h('textarea', { readonly: true, rows: String(Math.min(10, n)), 'data-testid': 'minted-all' }, text);
  return h('div', { class: 'stack' }, field('All links, one a line', area), h('button', { type: 'button', onclick: () => copyText(text, area, 'Links') }, 'Copy all links'));
}

/** The waitlist, oldest first (only those still waiting, or everyone), with a Grant button that mails a code. */
function waitlistPanel() {
  let pending = true;
  const body = h('tbody', { 'data-testid': 'waitlist-rows' });
  const table = h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: 'cards-on-phone' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Email'), h('th', { scope: 'col' }, 'Joined the list'), h('th', { scope: 'col' }, 'Invite'))), body),
  );
  const holder = h('div', { class: 'stack' });
  const filter = h('select', { 'data-testid': 'waitlist-filter' }, h('option', { value: 'pending' }, 'Waiting'), h('option', { value: 'all' }, 'Everyone'));
  filter.addEventListener('change', () => {
    pending = filter.value === 'pending';
    start();
  });

  function row(entry) {
    const cell = h('td', {});
    cell.dataset.label = 'Invite';
    const tr = h('tr', { 'data-testid': 'waitlist-row', 'data-email': entry.email }, h('td', { class: 'break', 'data-label': 'Email' }, entry.email), h('td', { 'data-label': 'Joined the list' }, when(entry.createdAt)), cell);
    const granted = (inv, at) =>
      mount(cell, h('div', { class: 'stack' }, h('span', { class: 'badge badge-ok' }, `granted ${when(at)}`), inv ? copyable(`invite link for ${entry.email}`, inv.url, 'waitlist-url') : null));
    if (entry.grantedAt) {
      granted(entry.invite, entry.grantedAt);
      return tr;
    }
    const error = errorBox();
    const grant = h('button', { type: 'button', class: 'primary', 'data-testid': 'waitlist-grant' }, 'Grant');
    grant.setAttribute('aria-label', `Grant an invite to ${entry.email}`);
    grant.addEventListener('click', () =>
      busy(grant, async () => {
        error.clear();
        try {
          const data = await gql('mutation ConsoleGrant($email: String!) { grantWaitlist(email: $email) { id code url } }', { email: entry.email });
          granted(data.grantWaitlist, new Date().toISOString());
          toast(`An invite was mailed to ${entry.email}.`, 'ok');
        } catch (e) {
          error.show(describeError(e));
        }
      }),
    );
    mount(cell, h('div', { class: 'stack' }, grant, error));
    return tr;
  }

  function start() {
    body.replaceChildren();
    const list = pagedList({
      body,
      emptyText: pending ? 'Nobody is waiting.' : 'The waitlist is empty.',
      moreTestid: 'waitlist-more',
      fetchPage: async (after) =>
        (
          await gql(
            'query ConsoleWaitlist($pending: Boolean!, $after: String) { waitlist(pending: $pending, first: 50, after: $after) { edges { node { id email createdAt grantedAt invite { code url } } } pageInfo { hasNextPage endCursor } } }',
            { pending, after },
          )
        ).waitlist,
      renderItems: (nodes) => nodes.map(row),
    });
    mount(holder, table, list.footer);
    list.load();
  }
  start();
  return h('div', { class: 'stack' }, h('div', { class: 'row' }, field('Show', filter)), holder);
}

const TREE_QUERY = `query ConsoleTree($username: String!) {
  user(username: $username) {
    id username displayName banned
    invitedBy { id username displayName }
    invitees { id username displayName banned
      invitees { id username displayName banned
        invitees { id username } } }
  }
}`;

/**
 * A member's invite tree as nested, expandable lists. Three levels come with one query; a
 * deeper branch loads when opened.
 */
function treePanel(initial) {
  const name = h('input', { type: 'text', autocomplete: 'off', required: true, value: initial || '', 'data-testid': 'tree-username' });
  const error = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'tree-submit' }, 'Show tree');
  const out = h('div', { class: 'stack', 'data-testid': 'tree', 'aria-live': 'polite' });
  const form = h('form', { class: 'card row tree-form', novalidate: true }, h('div', { class: 'grow' }, field('Username', name)), submit);

  async function lookUp(username) {
    error.clear();
    const u = username.trim().replace(/^@/, '');
    if (!u) {
      error.show('Enter a username.');
      return;
    }
    mount(out, loading('Loading the tree…'));
    try {
      const data = await gql(TREE_QUERY, { username: u });
      if (!data.user) {
        mount(out, h('p', { class: 'notice' }, `No member is called @${u}.`));
        return;
      }
      history.replaceState(null, '', `/admin/invites?tree=${encodeURIComponent(data.user.username)}`);
      const root = data.user;
      mount(
        out,
        h(
          'p',
          {},
          root.invitedBy
            ? ['Invited by ', h('button', { type: 'button', class: 'link', 'data-testid': 'tree-inviter', onclick: () => { name.value = root.invitedBy.username; lookUp(root.invitedBy.username); } }, who(root.invitedBy))]
            : 'Joined with an admin or operator code (no inviter).',
        ),
        h('ul', { class: 'tree', 'data-testid': 'tree-root' }, treeNode(root, 0)),
      );
    } catch (e) {
      mount(out, failure(e, () => lookUp(username)));
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, () => lookUp(name.value));
  });
  if (initial) lookUp(initial);
  return h('div', { class: 'stack' }, form, error, out);
}

/** One member and their invitees; `depth` counts levels fetched below the query's root. */
function treeNode(user, depth) {
  const label = h('span', {}, who(user), user.banned ? h('span', { class: 'badge badge-danger' }, 'banned') : null);
  const kids = user.invitees;
  if (!kids) {
    // Below what the query fetched: load this branch when asked.
    const li = h('li', { 'data-testid': 'tree-node' });
    const more = h('button', { type: 'button', class: 'link', 'data-testid': 'tree-load' }, 'show invitees');
    more.addEventListener('click', () =>
      busy(more, async () => {
        try {
          const data = await gql(TREE_QUERY, { username: user.username });
          if (data.user) li.replaceWith(treeNode(data.user, 0));
        } catch (e) {
          more.replaceWith(failure(e));
        }
      }),
    );
    li.append(label, ' ', more);
    return li;
  }
  if (!kids.length) return h('li', { 'data-testid': 'tree-node' }, label, h('span', { class: 'small muted' }, ' · invited no one'));
  return h(
    'li',
    { 'data-testid': 'tree-node' },
    h(
      'details',
      { open: depth < 1 },
      h('summary', {}, label, h('span', { class: 'small muted' }, ` · invited ${kids.length}`)),
      h('ul', {}, kids.map((k) => treeNode(k, depth + 1))),
    ),
  );
}
