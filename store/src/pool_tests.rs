//! Candidate pools read as the feed reads them: each author's newest published videos, capped per
//! author. SQLite in memory (PostgreSQL runs the same statement in the system tests' FOR_YOU).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use app_core::model::Verdict;
use app_core::types::UserId;

use crate::column_tests::{member, sqlite, video};

#[tokio::test]
async fn newest_per_author_keeps_each_authors_newest_published_videos() {
    let store = sqlite().await;
    let (a, b, c) = (member(&store, "ann").await, member(&store, "ben").await, member(&store, "cat").await);
    let mut anns = Vec::new();
    for _ in 0..5 {
        let v = video(&store, a.id, Verdict::Pass).await;
        assert!(store.publish_video(v.id, None).await.unwrap());
        anns.push(v.id.0);
    }
    // A draft (never published) and a video of someone not asked for are not candidates.
    let _draft = video(&store, a.id, Verdict::Pass).await;
    let other = video(&store, c.id, Verdict::Pass).await;
    assert!(store.publish_video(other.id, None).await.unwrap());
    let ben = video(&store, b.id, Verdict::Pass).await;
    assert!(store.publish_video(ben.id, None).await.unwrap());

    let rows = store.newest_per_author(&[a.id, b.id], 3).await.unwrap();
    let of = |u: UserId| rows.iter().filter(|r| r.author_id == u.0).map(|r| r.id).collect::<Vec<_>>();
    let newest_first: Vec<_> = anns.iter().rev().take(3).copied().collect();
    assert_eq!(of(a.id), newest_first, "ann's three newest, newest first");
    assert_eq!(of(b.id), vec![ben.id.0]);
    assert_eq!(rows.len(), 4, "nothing of cat's, no draft");
    assert!(store.newest_per_author(&[], 3).await.unwrap().is_empty());
    assert!(store.newest_per_author(&[a.id], 0).await.unwrap().is_empty());
}

/// What FOR_YOU reads of a viewer in one statement each: the followees with their follower
/// counts, and the newest likes and views with each video's author.
#[tokio::test]
async fn viewer_history_comes_with_authors_and_counts() {
    let store = sqlite().await;
    let (a, b, c) = (member(&store, "ann").await, member(&store, "ben").await, member(&store, "cat").await);
    assert!(store.follow(a.id, b.id, None).await.unwrap());
    assert!(store.follow(a.id, c.id, None).await.unwrap());
    assert!(store.follow(b.id, c.id, None).await.unwrap());
    let mut followees = store.followees(a.id).await.unwrap();
    followees.sort();
    let mut expected = vec![(b.id, 1), (c.id, 2)];
    expected.sort();
    assert_eq!(followees, expected, "ann follows ben (followed by ann) and cat (by ann and ben)");
    assert!(store.followees(c.id).await.unwrap().is_empty());

    let bens = video(&store, b.id, Verdict::Pass).await;
    let cats = video(&store, c.id, Verdict::Pass).await;
    for v in [&bens, &cats] {
        assert!(store.publish_video(v.id, None).await.unwrap());
    }
    assert!(store.like(a.id, bens.id, None).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(store.like(a.id, cats.id, None).await.unwrap());
    assert_eq!(store.recent_likes(a.id, 10).await.unwrap(), vec![(cats.id, c.id), (bens.id, b.id)], "newest first");
    assert_eq!(store.recent_likes(a.id, 1).await.unwrap(), vec![(cats.id, c.id)]);

    store.record_view(a.id, cats.id, 100).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.record_view(a.id, bens.id, 100).await.unwrap();
    let views = store.recent_views(a.id, 10).await.unwrap();
    let seen: Vec<_> = views.iter().map(|w| (w.video, w.author)).collect();
    assert_eq!(seen, vec![(bens.id, b.id), (cats.id, c.id)], "newest view first");
    assert!(views[0].at >= views[1].at);
    assert!(store.recent_views(b.id, 10).await.unwrap().is_empty());
}
