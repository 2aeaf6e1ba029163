// The public provenance check `/check`: anyone (signed in or not) uploads a clip and learns
// whether it was made here — our invisible watermark (which survives re-encoding) and our signed
// C2PA manifest are read on the server (`verifyProvenance`, rate-limited per address).

import { gqlUpload } from '/static/shared/api.js';
import { h, mount, field, errorBox, busy } from '/static/shared/dom.js';
import { showError } from './ui.js';

const CHECK = `mutation Check($clip: Upload!) { verifyProvenance(clip: $clip) {
  fromUs videoId watermarkFound watermarkConfidence manifestValid manifestIssuer } }`;

export async function render() {
  const file = h('input', { type: 'file', name: 'clip', accept: 'video/mp4,video/*', required: true, 'data-testid': 'check-file' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'check-submit' }, 'Check the clip');
  const result = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card', 'data-testid': 'check-form' }, field('A video clip (MP4)', file, 'Nothing is kept: the clip is read and forgotten.'), err, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const clip = file.files?.[0];
    if (!clip) return;
    busy(submit, async () => {
      err.clear();
      mount(result);
      try {
        const data = await gqlUpload(CHECK, { clip: null }, { clip });
        mount(result, report(data.verifyProvenance));
      } catch (ex) {
        showError(err, ex, form);
      }
    });
  });
  return h(
    'div',
    { class: 'narrow stack' },
    h('h1', { tabindex: '-1' }, 'Was this clip made here?'),
    h('p', { class: 'muted' }, 'Every video made here carries an invisible watermark with its id and a signed provenance manifest. Upload a clip to read them.'),
    form,
    result,
  );
}

function report(r) {
  const row = (k, v) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v));
  return h(
    'section',
    { class: 'card stack', 'data-testid': 'check-result', dataset: { fromUs: String(r.fromUs) } },
    h('h2', {}, r.fromUs ? 'Yes — this clip was made here.' : 'No sign that this clip was made here.'),
    r.videoId ? h('p', {}, h('a', { href: `/v/${encodeURIComponent(r.videoId)}` }, 'Open the original video')) : null,
    h(
      'table',
      {},
      h(
        'tbody',
        {},
        row('Invisible watermark', r.watermarkFound ? `found (confidence ${r.watermarkConfidence.toFixed(2)})` : 'not found'),
        row('Signed manifest', r.manifestValid ? `valid${r.manifestIssuer ? `, signed by ${r.manifestIssuer}` : ''}` : 'missing or not valid'),
      ),
    ),
  );
}
