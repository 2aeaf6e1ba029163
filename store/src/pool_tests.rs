//! Candidate pools read as the feed reads them: each author's newest published videos, capped per
//! author. SQLite in memory (PostgreSQL runs the same statement in the system tests' FOR_YOU).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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
