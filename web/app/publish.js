// Publishing a draft through the gate: caption + Publish. A refusal shows its message with the
// reasons (`extensions.reasons`) and the failed check (`extensions.check`) right under the button.

import { gql } from '/static/shared/api.js';
import { h, mount, field, errorBox, busy, toast } from '/static/shared/dom.js';
import { showError } from './ui.js';

/**
 * A caption field and a Publish button for `video` (a DRAFT). `onPublished(video)` runs after a
 * success; by default the panel turns into a "published" notice with a link to the video.
 */
export function publishPanel(video, ctx, { onPublished } = {}) {
  // A stitched draft comes with its caption; emptying the field publishes without one.
  const caption = h('textarea', { name: 'caption', rows: 2, maxlength: 500, 'data-testid': 'caption-input' }, video.caption || '');
  const err = errorBox();
  err.dataset.testid = 'publish-error';
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'publish' }, 'Publish');
  const form = h(
    'form',
    { class: 'publish-form stack', 'data-testid': 'publish-form' },
    field('Caption (optional)', caption, 'Shown with the video in the feed. Up to 500 characters.'),
    err,
    h('div', { class: 'row' }, submit),
  );
  const panel = h('section', { class: 'card', 'aria-label': 'Publish this draft' }, form);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      err.clear();
      try {
        const data = await gql('mutation Publish($id: ID!, $caption: String) { publishVideo(id: $id, caption: $caption) { id status caption publishedAt } }', {
          id: video.id,
          caption: caption.value.trim(),
        });
        const published = data.publishVideo;
        toast('Published.', 'ok');
        if (onPublished) onPublished(published);
        else {
          mount(
            panel,
            h('p', { class: 'notice', role: 'status', 'data-testid': 'published' }, 'Published! ', h('a', { href: `/v/${encodeURIComponent(published.id)}` }, 'See it'), ' — it is in the feeds now.'),
          );
        }
      } catch (ex) {
        // PUBLISH_REFUSED (with check + reasons), POLICY_VIOLATION, CONSENT_REQUIRED, CONFLICT …
        showError(err, ex, form);
      }
    });
  });
  return panel;
}
