// Failed jobs (admins): what the queue gave up on after its retries, or what a worker refused.
// Each can be put back in its author's queue (same prompt and seed; for a cause that is gone, such
// as a store that was down) or discarded from this list (it stays failed for its author). Both are
// audited.
import { gql, describeError } from '/static/shared/api.js';
import { h, mount, errorBox, busy, toast } from '/static/shared/dom.js';
import { pagedList, screenTitle, when, who, confirmButton } from './ui.js';

const QUERY = `query ConsoleFailedJobs($after: String) {
  failedJobs(first: 50, after: $after) {
    edges { node { id prompt durationSeconds attempts createdAt finishedAt error { code message } author { id username displayName } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const RETRY = 'mutation ConsoleRetryJob($id: ID!) { retryFailedJob(id: $id) { id status } }';
const DISCARD = 'mutation ConsoleDiscardJob($id: ID!) { discardFailedJob(id: $id) { id status } }';

function row(job) {
  const error = errorBox();
  const actions = h('td', { 'data-label': 'Action' });
  const done = (text) => mount(actions, h('span', { class: 'badge badge-ok', 'data-testid': 'job-done' }, text));
  const retry = h('button', { type: 'button', class: 'primary', 'data-testid': 'job-retry' }, 'Retry');
  retry.setAttribute('aria-label', `Retry the job "${job.prompt.slice(0, 40)}"`);
  retry.addEventListener('click', () =>
    busy(retry, async () => {
      error.clear();
      try {
        const data = await gql(RETRY, { id: job.id });
        done(`queued again (${data.retryFailedJob.status.toLowerCase()})`);
        toast('The job is back in its author’s queue.', 'ok');
      } catch (e) {
        error.show(describeError(e));
      }
    }),
  );
  const discard = confirmButton(
    'Discard',
    'Confirm discard',
    async (btn) =>
      busy(btn, async () => {
        error.clear();
        try {
          await gql(DISCARD, { id: job.id });
          done('discarded');
        } catch (e) {
          error.show(describeError(e));
        }
      }),
    { 'data-testid': 'job-discard' },
  );
  mount(actions, h('div', { class: 'stack' }, h('div', { class: 'row' }, retry, discard), error));
  return h(
    'tr',
    { 'data-testid': 'job-row', 'data-job': job.id },
    h('td', { class: 'nowrap small', 'data-label': 'Failed' }, when(job.finishedAt)),
    h('td', { 'data-label': 'Author' }, job.author ? who(job.author) : h('span', { class: 'muted' }, 'deleted member')),
    h('td', { class: 'break', 'data-label': 'Prompt' }, job.prompt, h('div', { class: 'small muted' }, `${job.durationSeconds} s · asked ${when(job.createdAt)}`)),
    h(
      'td',
      { class: 'break', 'data-label': 'Why' },
      job.error ? [h('code', {}, job.error.code), ' ', job.error.message] : h('span', { class: 'muted' }, '—'),
      h('div', { class: 'small muted' }, `${job.attempts} ${job.attempts === 1 ? 'attempt' : 'attempts'}`),
    ),
    actions,
  );
}

export function failedJobsScreen({ root }) {
  const body = h('tbody', { 'data-testid': 'job-rows' });
  const table = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'cards-on-phone' },
      h('thead', {}, h('tr', {}, ['Failed', 'Author', 'Prompt', 'Why', 'Action'].map((t) => h('th', { scope: 'col' }, t)))),
      body,
    ),
  );
  const list = pagedList({
    body,
    emptyText: 'No failed jobs are waiting for a decision.',
    moreTestid: 'jobs-more',
    fetchPage: async (after) => (await gql(QUERY, { after })).failedJobs,
    renderItems: (nodes) => nodes.map(row),
  });
  mount(
    root,
    screenTitle('Failed jobs'),
    h(
      'p',
      { class: 'muted small' },
      'Jobs that failed after every retry, newest first. Retry puts a job back in its author’s queue with the same prompt and seed; discard takes it off this list (it stays failed for its author).',
    ),
    table,
    list.footer,
  );
  list.load();
}
