// One video as the feed, the detail page and profiles show it: player, author, caption, likes,
// comments, follow, remix, extend and report. Views are recorded once per card when playback loops or
// ends, or when the member moves on (the card leaves the screen or the page changes).

import { gql } from '/static/shared/api.js';
import { h, mount, toast, timeAgo, field, errorBox, busy } from '/static/shared/dom.js';
import { explain, count, plural, statusBadge, showError } from './ui.js';

/** The fields every video card needs. Append to a query that spreads `...VideoCard`. */
export const VIDEO_CARD = `
fragment VideoCard on Video {
  id status caption prompt url thumbnailUrl durationMs width height remixAllowed hasAudio captionsUrl
  publishedAt createdAt likeCount viewerHasLiked commentCount viewCount remixCount
  author { id username displayName viewerFollows }
  cameos { id name handle owner { username } }
}`;

export const REPORT_REASONS = [
  ['NUDITY', 'Sexual content'],
  ['VIOLENCE', 'Violence or gore'],
  ['HARASSMENT', 'Harassment or hate'],
  ['LIKENESS_MISUSE', "Someone's likeness used without consent"],
  ['MINOR_SAFETY', 'A minor at risk'],
  ['SPAM', 'Spam or scams'],
  ['OTHER', 'Something else'],
];

/**
 * A `<video>` element that records one view (`recordView`) per card. `ctx.onLeave` flushes
 * the view when the screen changes; `opts.viewer` null skips recording (views need sign-in).
 */
export function player(video, ctx, { record = true } = {}) {
  const el = h('video', {
    src: video.url,
    poster: video.thumbnailUrl,
    controls: true,
    playsinline: true,
    loop: true,
    muted: true,
    preload: 'metadata',
    'aria-label': `Video: ${video.caption || video.prompt}`,
    'data-testid': 'player',
  });
  el.muted = true; // the attribute alone does not always mute in every engine
  if (video.captionsUrl) {
    // The dialogue as subtitles, shown from the start: the feed plays muted, and captions are
    // how people follow a video with the sound off (and the only way for some).
    const track = h('track', { kind: 'captions', src: video.captionsUrl, srclang: 'en', label: 'Dialogue', default: true });
    el.append(track);
    el.addEventListener('loadedmetadata', () => {
      for (const t of el.textTracks) t.mode = 'showing';
    });
  }
  const wrap = h('div', { class: 'player' }, el);
  if (video.hasAudio) {
    wrap.append(h('span', { class: 'sound-badge small', title: 'This video has sound: unmute to hear it', 'data-testid': 'has-sound' }, '♪ Sound'));
  }
  const own = ctx.viewer && ctx.viewer.id === video.author?.id;
  if (!record || !ctx.viewer || own || video.status !== 'PUBLISHED') return wrap;

  let watched = 0; // ms of playback so far
  let startedAt = null;
  let lastTime = 0;
  let sent = false;
  const stopClock = () => {
    if (startedAt !== null) watched += performance.now() - startedAt;
    startedAt = null;
  };
  const send = () => {
    stopClock();
    if (sent || watched < 300) return;
    sent = true;
    // A view is a signal, not something the member acts on: failures are ignored quietly.
    gql('mutation View($id: ID!, $ms: Int!) { recordView(videoId: $id, watchMs: $ms) }', {
      id: video.id,
      ms: Math.round(watched),
    }).catch(() => {});
  };
  el.addEventListener('play', () => {
    // One video at a time: pause the others on screen.
    document.querySelectorAll('video').forEach((other) => other !== el && other.pause());
    startedAt = performance.now();
  });
  el.addEventListener('pause', stopClock);
  el.addEventListener('ended', send);
  el.addEventListener('timeupdate', () => {
    // With `loop`, "ended" never fires: a jump back to the start is the end of one watch.
    if (el.currentTime + 0.25 < lastTime && lastTime > el.duration - 0.6) send();
    lastTime = el.currentTime;
  });
  // Moving on: the card scrolls out of view after being watched, or the screen changes.
  if ('IntersectionObserver' in window) {
    const io = new IntersectionObserver((entries) => {
      if (entries.some((en) => !en.isIntersecting) && (watched > 0 || startedAt !== null)) {
        el.pause();
        send();
      }
    });
    io.observe(el);
    ctx.onLeave(() => io.disconnect());
  }
  ctx.onLeave(send);
  return wrap;
}

/** A follow / unfollow toggle; every button for the same member on the page follows along. */
export function followButton(user, ctx) {
  if (!ctx.viewer || ctx.viewer.id === user.id) return null;
  const btn = h('button', {
    type: 'button',
    class: 'follow-btn',
    'aria-pressed': String(!!user.viewerFollows),
    'data-testid': 'follow',
    dataset: { followUser: user.id },
  });
  const label = (on) => (on ? 'Following' : 'Follow');
  btn.textContent = label(user.viewerFollows);
  btn.setAttribute('aria-label', `${label(user.viewerFollows)} @${user.username}`);
  btn.addEventListener('click', () =>
    busy(btn, async () => {
      const on = btn.getAttribute('aria-pressed') !== 'true';
      try {
        const data = await gql(
          `mutation Follow($id: ID!) { ${on ? 'follow' : 'unfollow'}(userId: $id) { id viewerFollows followerCount } }`,
          { id: user.id },
        );
        const u = data[on ? 'follow' : 'unfollow'];
        document.querySelectorAll(`[data-follow-user="${CSS.escape(user.id)}"]`).forEach((b) => {
          b.setAttribute('aria-pressed', String(u.viewerFollows));
          b.textContent = label(u.viewerFollows);
          b.setAttribute('aria-label', `${label(u.viewerFollows)} @${user.username}`);
        });
        document.querySelectorAll(`[data-follower-count="${CSS.escape(user.id)}"]`).forEach((n) => {
          n.textContent = count(u.followerCount);
        });
      } catch (e) {
        toast(explain(e), 'error');
      }
    }),
  );
  return btn;
}

function likeButton(video, ctx) {
  const btn = h('button', { type: 'button', 'data-testid': 'like', 'aria-pressed': String(video.viewerHasLiked) });
  const draw = (v) => {
    mount(btn, h('span', { 'aria-hidden': 'true' }, v.viewerHasLiked ? '♥' : '♡'), ` ${v.viewerHasLiked ? 'Liked' : 'Like'} `, h('span', { class: 'muted', 'data-testid': 'like-count' }, count(v.likeCount)));
    btn.setAttribute('aria-pressed', String(v.viewerHasLiked));
    btn.setAttribute('aria-label', `${v.viewerHasLiked ? 'Unlike' : 'Like'} (${v.likeCount} likes)`);
  };
  draw(video);
  if (!ctx.viewer) {
    btn.disabled = true;
    btn.title = 'Log in to like';
    return btn;
  }
  btn.addEventListener('click', () =>
    busy(btn, async () => {
      const like = btn.getAttribute('aria-pressed') !== 'true';
      try {
        const data = await gql(
          `mutation Like($id: ID!) { ${like ? 'likeVideo' : 'unlikeVideo'}(id: $id) { id likeCount viewerHasLiked } }`,
          { id: video.id },
        );
        draw(data[like ? 'likeVideo' : 'unlikeVideo']);
      } catch (e) {
        toast(explain(e), 'error');
      }
    }),
  );
  return btn;
}

/** The comments of a video: the newest page, "load more", and a form to add one. */
export function commentsPanel(video, ctx) {
  const list = h('ul', { class: 'comments', 'data-testid': 'comments' });
  const more = h('button', { type: 'button', class: 'link', hidden: true }, 'Older comments');
  const loadErr = errorBox();
  let after = null;
  const item = (c) => {
    const li = h(
      'li',
      { 'data-testid': 'comment', dataset: { commentId: c.id } },
      h('a', { href: `/u/${encodeURIComponent(c.author.username)}`, class: 'comment-author' }, c.author.displayName),
      ' ',
      h('span', { class: 'muted small' }, timeAgo(c.createdAt)),
      h('p', { class: 'comment-body' }, c.body),
    );
    if (ctx.viewer && ctx.viewer.username !== c.author.username) li.append(commentReport(c));
    return li;
  };
  const load = async () => {
    loadErr.clear();
    try {
      const data = await gql(
        `query Comments($id: ID!, $after: String) { video(id: $id) { comments(first: 10, after: $after) {
          nodes { id body createdAt author { username displayName } } pageInfo { hasNextPage endCursor } } } }`,
        { id: video.id, after },
      );
      const conn = data.video?.comments;
      if (!conn) return;
      if (!after && !conn.nodes.length) list.append(h('li', { class: 'muted', 'data-empty': '' }, 'No comments yet.'));
      conn.nodes.forEach((c) => list.append(item(c)));
      after = conn.pageInfo.endCursor;
      more.hidden = !conn.pageInfo.hasNextPage;
    } catch (e) {
      loadErr.show(explain(e));
    }
  };
  more.addEventListener('click', () => busy(more, load));

  let form = null;
  if (ctx.viewer && video.status === 'PUBLISHED') {
    const input = h('textarea', { name: 'body', rows: 2, maxlength: 1000, required: true, 'data-testid': 'comment-input' });
    const err = errorBox();
    const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'comment-submit' }, 'Post comment');
    form = h('form', { class: 'comment-form', 'data-testid': 'comment-form' }, field('Add a comment', input), err, submit);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(submit, async () => {
        err.clear();
        try {
          const data = await gql(
            `mutation Comment($id: ID!, $body: String!) { commentOnVideo(videoId: $id, body: $body) { id body createdAt author { username displayName } } }`,
            { id: video.id, body: input.value },
          );
          list.querySelector('[data-empty]')?.remove();
          list.prepend(item(data.commentOnVideo));
          input.value = '';
        } catch (ex) {
          // POLICY_VIOLATION carries its reasons; describeError puts them in the message.
          showError(err, ex, form);
        }
      });
    });
  }
  const panel = h('div', { class: 'comments-panel' }, form, list, loadErr, more);
  panel.ready = load();
  return panel;
}

/** The report form for a video (reason + details). */
/** A comment's Report button, opening the report form under it. */
function commentReport(c) {
  const slot = h('div', {});
  const btn = h('button', { type: 'button', class: 'link small', 'aria-expanded': 'false', 'data-testid': 'comment-report' }, 'Report');
  const close = () => {
    btn.setAttribute('aria-expanded', 'false');
    mount(slot);
    btn.focus();
  };
  btn.addEventListener('click', () => {
    if (btn.getAttribute('aria-expanded') === 'true') return close();
    btn.setAttribute('aria-expanded', 'true');
    mount(slot, reportForm({ commentId: c.id }, close));
    slot.querySelector('select')?.focus();
  });
  return h('div', {}, btn, slot);
}

export function reportForm(target, onDone) {
  const reason = h('select', { name: 'reason', 'data-testid': 'report-reason' }, REPORT_REASONS.map(([v, l]) => h('option', { value: v }, l)));
  const details = h('textarea', { name: 'details', rows: 2, maxlength: 2000, 'data-testid': 'report-details' });
  const err = errorBox();
  const submit = h('button', { type: 'submit', class: 'danger', 'data-testid': 'report-submit' }, 'Send report');
  const cancel = h('button', { type: 'button', onclick: () => onDone(false) }, 'Cancel');
  const form = h('form', { class: 'report-form card', 'data-testid': 'report-form' }, field('Why are you reporting this?', reason), field('Details (optional)', details, 'Tell the moderators what they should look at.'), err, h('div', { class: 'row' }, submit, cancel));
  form.addEventListener('keydown', (e) => e.key === 'Escape' && onDone(false));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      err.clear();
      try {
        await gql('mutation Report($v: ID, $c: ID, $u: ID, $r: ReportReason!, $d: String) { report(videoId: $v, commentId: $c, userId: $u, reason: $r, details: $d) }', {
          v: target.videoId || null,
          c: target.commentId || null,
          u: target.userId || null,
          r: reason.value,
          d: details.value.trim() || null,
        });
        toast('Thanks — the moderators will take a look.', 'ok');
        onDone(true);
      } catch (ex) {
        showError(err, ex, form);
      }
    });
  });
  return form;
}

function authorLine(video, ctx) {
  const a = video.author;
  return h(
    'div',
    { class: 'video-head row' },
    h('a', { class: 'author', href: `/u/${encodeURIComponent(a.username)}`, 'data-testid': 'author-link' }, h('strong', {}, a.displayName), ' ', h('span', { class: 'muted' }, `@${a.username}`)),
    h('span', { class: 'muted small' }, timeAgo(video.publishedAt || video.createdAt)),
    h('span', { class: 'spacer' }),
    video.status !== 'PUBLISHED' ? statusBadge(video.status) : null,
    followButton(a, ctx),
  );
}

/**
 * A video card. `opts.detail` opens the comments at once and drops the link to the detail page.
 */
export function videoCard(video, ctx, { detail = false } = {}) {
  const signedIn = !!ctx.viewer;
  const own = signedIn && ctx.viewer.id === video.author.id;
  const published = video.status === 'PUBLISHED';
  const extra = h('div', { class: 'card-extra' });
  const toggles = [];
  // Comments and the report form share one slot under the actions; each button toggles its own.
  const toggle = (btn, make) => {
    toggles.push(btn);
    btn.addEventListener('click', () => {
      const open = btn.getAttribute('aria-expanded') === 'true';
      toggles.forEach((b) => b.setAttribute('aria-expanded', 'false'));
      if (open) {
        mount(extra);
        return;
      }
      btn.setAttribute('aria-expanded', 'true');
      mount(extra, make());
      extra.querySelector('textarea, select, input')?.focus();
    });
  };
  const commentsBtn = h('button', { type: 'button', 'aria-expanded': 'false', 'data-testid': 'comments-toggle' }, `Comments ${count(video.commentCount)}`);
  toggle(commentsBtn, () => commentsPanel(video, ctx));

  let reportBtn = null;
  if (signedIn && !own && video.status === 'PUBLISHED') {
    reportBtn = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false', 'data-testid': 'report' }, 'Report');
    toggle(reportBtn, () =>
      reportForm({ videoId: video.id }, () => {
        reportBtn.setAttribute('aria-expanded', 'false');
        mount(extra);
        reportBtn.focus();
      }),
    );
  }
  const remix =
    signedIn && video.remixAllowed && video.status === 'PUBLISHED'
      ? h('a', { class: 'button', href: `/create?remix=${encodeURIComponent(video.id)}`, 'data-testid': 'remix' }, 'Remix')
      : null;
  // Continue it with new shots: one's own published videos, and others' that allow remixes.
  const extend =
    signedIn && (own || video.remixAllowed) && video.status === 'PUBLISHED'
      ? h('a', { class: 'button', href: `/create?extend=${encodeURIComponent(video.id)}`, 'data-testid': 'extend' }, 'Extend')
      : null;

  const text = video.caption || video.prompt;
  const card = h(
    'article',
    { class: 'card video-card', 'data-testid': 'video-card', dataset: { videoId: video.id }, 'aria-label': `${video.author.displayName}: ${text}` },
    authorLine(video, ctx),
    player(video, ctx),
    h('p', { class: 'caption', 'data-testid': 'caption' }, text),
    video.caption ? h('p', { class: 'muted small prompt' }, h('span', { class: 'visually-hidden' }, 'Prompt: '), `“${video.prompt}”`) : null,
    video.cameos?.length
      ? h(
          'p',
          { class: 'small muted', 'data-testid': 'card-cameos' },
          'Cameos: ',
          video.cameos.map((c, i) => [
            i ? ', ' : '',
            h('a', { href: `/cameo/${encodeURIComponent(c.handle || c.owner.username)}`, 'data-testid': 'card-cameo-link' }, `${c.name} (@${c.owner.username})`),
          ]),
        )
      : null,
    h(
      'div',
      { class: 'row actions' },
      // Likes and comments exist only on published videos (a draft's author sees neither).
      published ? likeButton(video, ctx) : null,
      published ? commentsBtn : null,
      remix,
      extend,
      detail ? null : h('a', { class: 'button', href: `/v/${encodeURIComponent(video.id)}`, 'data-testid': 'open-video' }, 'Open'),
      h('span', { class: 'spacer' }),
      h('span', { class: 'muted small' }, plural(video.viewCount, 'view')),
      video.remixCount ? h('span', { class: 'muted small' }, plural(video.remixCount, 'remix', 'remixes')) : null,
      reportBtn,
    ),
    extra,
  );
  if (detail && published) commentsBtn.click();
  return card;
}

/** A small linked thumbnail (lineage lists, profiles, appearances). */
export function videoTile(video, { showAuthor = true } = {}) {
  return h(
    'a',
    { class: 'tile', href: `/v/${encodeURIComponent(video.id)}`, 'data-testid': 'video-tile', dataset: { videoId: video.id } },
    h('img', { src: video.thumbnailUrl, alt: '', loading: 'lazy' }),
    h('span', { class: 'tile-text' }, video.caption || video.prompt),
    showAuthor && video.author ? h('span', { class: 'muted small' }, `@${video.author.username}`) : null,
  );
}
