//! Every behaviour of the feed cache, run on the memory engine and on Redis
//! (`TEST_REDIS_URL`, default `redis://127.0.0.1:6379`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Duration;

use feed::cache::{FeedCache, TIMELINE_CAP, TimelineItem};
use uuid::Uuid;

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Both engines; the Redis one under a fresh random prefix.
async fn engines() -> Vec<(&'static str, FeedCache)> {
    let prefix = format!("feedtest-{}", Uuid::new_v4().simple());
    let redis = FeedCache::redis(&redis_url(), &prefix).await.expect("redis must be running for the feed cache tests");
    vec![("memory", FeedCache::memory()), ("redis", redis)]
}

fn item(at: i64, video: u128, author: u128) -> TimelineItem {
    TimelineItem { at_micros: at, video: Uuid::from_u128(video), author: Uuid::from_u128(author) }
}

/// Pages through a whole timeline with keyset cursors.
async fn all_pages(c: &FeedCache, user: Uuid, page: usize) -> Vec<TimelineItem> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let p = c.timeline_page(user, before, page).await.unwrap();
        assert!(p.len() <= page);
        let Some(last) = p.last() else { break };
        before = Some((last.at_micros, last.video));
        out.extend(p);
    }
    out
}

fn sorted_desc(mut v: Vec<TimelineItem>) -> Vec<TimelineItem> {
    v.sort_by_key(|b| std::cmp::Reverse((b.at_micros, b.video)));
    v
}

#[tokio::test]
async fn timeline_order_and_keyset_paging_with_ties() {
    for (name, c) in engines().await {
        let user = Uuid::new_v4();
        assert!(!c.timeline_built(user).await.unwrap(), "{name}");
        assert!(c.timeline_page(user, None, 10).await.unwrap().is_empty(), "{name}");
        // Many equal timestamps, realistic epoch micros, ids in random order.
        let base = 1_750_000_000_000_000_i64;
        let mut items = Vec::new();
        for i in 0..60u128 {
            let at = base + i64::try_from(i % 4).unwrap() * 1_000_000;
            items.push(TimelineItem { at_micros: at, video: Uuid::new_v4(), author: Uuid::from_u128(i % 7) });
        }
        items.push(item(base - 1, 1, 1));
        c.build_timeline(user, &items).await.unwrap();
        assert!(c.timeline_built(user).await.unwrap(), "{name}");
        let expected = sorted_desc(items.clone());
        for page in [1, 3, 7, 16, 100] {
            let got = all_pages(&c, user, page).await;
            assert_eq!(got, expected, "{name}: page size {page}");
        }
        // A keyset position in the middle of a tie.
        let mid = expected[10];
        let after = c.timeline_page(user, Some((mid.at_micros, mid.video)), 1000).await.unwrap();
        assert_eq!(after, expected[11..].to_vec(), "{name}");
        // A position that is not an item: strictly after it.
        let after = c.timeline_page(user, Some((base + 2_000_000, Uuid::max())), 1000).await.unwrap();
        assert!(after.iter().all(|i| i.at_micros <= base + 2_000_000), "{name}");
        assert_eq!(after.len(), expected.iter().filter(|i| i.at_micros <= base + 2_000_000).count(), "{name}");
        assert!(c.timeline_page(user, None, 0).await.unwrap().is_empty());
        c.clear().await.unwrap();
    }
}

#[tokio::test]
async fn fan_out_only_to_built_timelines() {
    for (name, c) in engines().await {
        let (a, b, d) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        c.build_timeline(a, &[item(10, 1, 9)]).await.unwrap();
        c.build_timeline(b, &[]).await.unwrap();
        c.fan_out(&[a, b, d], item(20, 2, 9)).await.unwrap();
        assert_eq!(c.timeline_page(a, None, 10).await.unwrap(), vec![item(20, 2, 9), item(10, 1, 9)], "{name}");
        assert_eq!(c.timeline_page(b, None, 10).await.unwrap(), vec![item(20, 2, 9)], "{name}");
        assert!(!c.timeline_built(d).await.unwrap(), "{name}");
        assert!(c.timeline_page(d, None, 10).await.unwrap().is_empty(), "{name}");
        // Adding the same video again moves it, without a duplicate.
        c.fan_out(&[a], item(30, 1, 9)).await.unwrap();
        assert_eq!(c.timeline_page(a, None, 10).await.unwrap(), vec![item(30, 1, 9), item(20, 2, 9)], "{name}");
        c.fan_out(&[], item(40, 3, 9)).await.unwrap();
        // Removal from timelines, whatever the author.
        c.remove_from_timelines(&[a, b, d], Uuid::from_u128(2)).await.unwrap();
        assert_eq!(c.timeline_page(a, None, 10).await.unwrap(), vec![item(30, 1, 9)], "{name}");
        assert!(c.timeline_page(b, None, 10).await.unwrap().is_empty(), "{name}");
        assert!(c.timeline_built(b).await.unwrap(), "{name}");
        c.clear().await.unwrap();
    }
}

#[tokio::test]
async fn fan_out_to_many_followers() {
    for (name, c) in engines().await {
        let followers: Vec<Uuid> = (0..1200).map(|_| Uuid::new_v4()).collect();
        for f in followers.iter().step_by(2) {
            c.build_timeline(*f, &[]).await.unwrap();
        }
        c.fan_out(&followers, item(5, 5, 5)).await.unwrap();
        for (i, f) in followers.iter().enumerate() {
            let page = c.timeline_page(*f, None, 5).await.unwrap();
            assert_eq!(page.len(), usize::from(i % 2 == 0), "{name}: follower {i}");
        }
        c.remove_from_timelines(&followers, Uuid::from_u128(5)).await.unwrap();
        for f in &followers {
            assert!(c.timeline_page(*f, None, 5).await.unwrap().is_empty(), "{name}");
        }
        c.clear().await.unwrap();
    }
}

#[tokio::test]
async fn cap_trimming() {
    for (name, c) in engines().await {
        let user = Uuid::new_v4();
        let items: Vec<TimelineItem> =
            (0..(TIMELINE_CAP as i64 + 50)).map(|i| item(1_000 + i, i as u128 + 1, 7)).collect();
        c.build_timeline(user, &items).await.unwrap();
        let all = all_pages(&c, user, 400).await;
        assert_eq!(all.len(), TIMELINE_CAP, "{name}");
        assert_eq!(all[0], *items.last().unwrap(), "{name}");
        assert_eq!(all.last().unwrap().at_micros, 1_050, "{name}: the oldest were trimmed");
        // Fan-out trims too: a new item evicts the oldest.
        c.fan_out(&[user], item(5_000, 99_999, 7)).await.unwrap();
        let all = all_pages(&c, user, 1000).await;
        assert_eq!(all.len(), TIMELINE_CAP, "{name}");
        assert_eq!(all[0], item(5_000, 99_999, 7), "{name}");
        assert_eq!(all.last().unwrap().at_micros, 1_051, "{name}");
        // An item older than everything in a full timeline is trimmed at once.
        c.fan_out(&[user], item(1, 88_888, 7)).await.unwrap();
        assert_eq!(all_pages(&c, user, 1000).await, all, "{name}");
        // Pages larger than the cap are clamped.
        assert_eq!(c.timeline_page(user, None, usize::MAX).await.unwrap().len(), TIMELINE_CAP, "{name}");
        c.clear().await.unwrap();
    }
}

#[tokio::test]
async fn drop_and_rebuild() {
    for (name, c) in engines().await {
        let user = Uuid::new_v4();
        c.build_timeline(user, &[item(1, 1, 1), item(2, 2, 1)]).await.unwrap();
        c.drop_timeline(user).await.unwrap();
        assert!(!c.timeline_built(user).await.unwrap(), "{name}");
        assert!(c.timeline_page(user, None, 10).await.unwrap().is_empty(), "{name}");
        c.fan_out(&[user], item(3, 3, 1)).await.unwrap();
        assert!(!c.timeline_built(user).await.unwrap(), "{name}: fan-out does not build");
        c.build_timeline(user, &[item(4, 4, 2)]).await.unwrap();
        assert_eq!(c.timeline_page(user, None, 10).await.unwrap(), vec![item(4, 4, 2)], "{name}");
        // Rebuilding replaces, it does not merge.
        c.build_timeline(user, &[item(5, 5, 2)]).await.unwrap();
        assert_eq!(c.timeline_page(user, None, 10).await.unwrap(), vec![item(5, 5, 2)], "{name}");
        c.drop_timeline(Uuid::new_v4()).await.unwrap();
        c.clear().await.unwrap();
    }
}

#[tokio::test]
async fn lists_ranges_and_expiry() {
    for (name, c) in engines().await {
        let ids: Vec<Uuid> = (0..25).map(|_| Uuid::new_v4()).collect();
        assert_eq!(c.list_range("l1", 0, 10).await.unwrap(), None, "{name}");
        assert_eq!(c.list_len("l1").await.unwrap(), None, "{name}");
        c.put_list("l1", &ids, Duration::from_secs(60)).await.unwrap();
        assert_eq!(c.list_len("l1").await.unwrap(), Some(25), "{name}");
        assert_eq!(c.list_range("l1", 0, 10).await.unwrap(), Some(ids[..10].to_vec()), "{name}");
        assert_eq!(c.list_range("l1", 20, 10).await.unwrap(), Some(ids[20..].to_vec()), "{name}");
        assert_eq!(c.list_range("l1", 25, 10).await.unwrap(), Some(vec![]), "{name}");
        assert_eq!(c.list_range("l1", usize::MAX, usize::MAX).await.unwrap(), Some(vec![]), "{name}");
        assert_eq!(c.list_range("l1", 3, 0).await.unwrap(), Some(vec![]), "{name}");
        assert_eq!(c.list_range("l1", 0, usize::MAX).await.unwrap(), Some(ids.clone()), "{name}");
        // An empty list exists and is distinct from a missing one.
        c.put_list("empty", &[], Duration::from_secs(60)).await.unwrap();
        assert_eq!(c.list_len("empty").await.unwrap(), Some(0), "{name}");
        assert_eq!(c.list_range("empty", 0, 5).await.unwrap(), Some(vec![]), "{name}");
        // Short TTL.
        c.put_list("short", &ids[..3], Duration::from_millis(400)).await.unwrap();
        assert_eq!(c.list_range("short", 1, 5).await.unwrap(), Some(ids[1..3].to_vec()), "{name}");
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(c.list_range("short", 0, 5).await.unwrap(), None, "{name}");
        assert_eq!(c.list_len("short").await.unwrap(), None, "{name}");
        assert_eq!(c.list_len("l1").await.unwrap(), Some(25), "{name}");
        c.clear().await.unwrap();
        assert_eq!(c.list_len("l1").await.unwrap(), None, "{name}: cleared");
    }
}

/// A ranked list and the pointer to it, stored together, each with its own lifetime.
#[tokio::test]
async fn list_and_pointer_stored_together() {
    for (name, c) in engines().await {
        let ids: Vec<Uuid> = (0..7).map(|_| Uuid::new_v4()).collect();
        c.put_list_and_pointer(
            ("ranked-1", &ids, Duration::from_secs(60)),
            ("pointer", "ranked-1", Duration::from_millis(400)),
        )
        .await
        .unwrap();
        assert_eq!(c.get("pointer").await.unwrap().as_deref(), Some(&b"ranked-1"[..]), "{name}");
        assert_eq!(c.list_range("ranked-1", 2, 3).await.unwrap(), Some(ids[2..5].to_vec()), "{name}");
        assert_eq!(c.list_len("ranked-1").await.unwrap(), Some(7), "{name}");
        // The pointer expires on its own; the list it named stays for its own lifetime.
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(c.get("pointer").await.unwrap(), None, "{name}");
        assert_eq!(c.list_len("ranked-1").await.unwrap(), Some(7), "{name}");
        c.clear().await.unwrap();
    }
}

#[tokio::test]
async fn values_get_set_delete_expiry() {
    for (name, c) in engines().await {
        assert_eq!(c.get("k").await.unwrap(), None, "{name}");
        c.set("k", b"hello", Duration::from_secs(60)).await.unwrap();
        assert_eq!(c.get("k").await.unwrap(), Some(b"hello".to_vec()), "{name}");
        c.set("k", &[0, 255, 1], Duration::from_secs(60)).await.unwrap();
        assert_eq!(c.get("k").await.unwrap(), Some(vec![0, 255, 1]), "{name}");
        c.delete("k").await.unwrap();
        assert_eq!(c.get("k").await.unwrap(), None, "{name}");
        c.delete("never-set").await.unwrap();
        c.set("short", b"x", Duration::from_millis(300)).await.unwrap();
        c.set("zero", b"x", Duration::ZERO).await.unwrap();
        assert_eq!(c.get("short").await.unwrap(), Some(b"x".to_vec()), "{name}");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(c.get("short").await.unwrap(), None, "{name}");
        assert_eq!(c.get("zero").await.unwrap(), None, "{name}");
        // Keys with odd characters.
        c.set("page:FOR_YOU:a b*c?[x]", b"y", Duration::from_secs(60)).await.unwrap();
        assert_eq!(c.get("page:FOR_YOU:a b*c?[x]").await.unwrap(), Some(b"y".to_vec()), "{name}");
        c.clear().await.unwrap();
        assert_eq!(c.get("page:FOR_YOU:a b*c?[x]").await.unwrap(), None, "{name}");
    }
}

#[tokio::test]
async fn epochs() {
    for (name, c) in engines().await {
        assert_eq!(c.epochs(&["global", "user:1"]).await.unwrap(), vec![0, 0], "{name}");
        assert_eq!(c.epochs(&[]).await.unwrap(), Vec::<u64>::new(), "{name}");
        assert_eq!(c.bump_epoch("global").await.unwrap(), 1, "{name}");
        assert_eq!(c.bump_epoch("global").await.unwrap(), 2, "{name}");
        assert_eq!(c.bump_epoch("user:1").await.unwrap(), 1, "{name}");
        assert_eq!(c.epochs(&["global", "user:1", "other"]).await.unwrap(), vec![2, 1, 0], "{name}");
        assert_eq!(c.epochs(&["global"]).await.unwrap(), vec![2], "{name}");
        c.clear().await.unwrap();
        assert_eq!(c.epochs(&["global"]).await.unwrap(), vec![0], "{name}");
    }
}

#[tokio::test]
async fn clear_only_touches_own_prefix() {
    let p1 = format!("feedtest-{}", Uuid::new_v4().simple());
    let a = FeedCache::redis(&redis_url(), &p1).await.unwrap();
    let b = FeedCache::redis(&redis_url(), &format!("{p1}x")).await.unwrap();
    a.set("k", b"1", Duration::from_secs(60)).await.unwrap();
    b.set("k", b"2", Duration::from_secs(60)).await.unwrap();
    a.clear().await.unwrap();
    assert_eq!(a.get("k").await.unwrap(), None);
    assert_eq!(b.get("k").await.unwrap(), Some(b"2".to_vec()));
    b.clear().await.unwrap();
    // Two memory caches are independent.
    let (m1, m2) = (FeedCache::memory(), FeedCache::memory());
    m1.bump_epoch("e").await.unwrap();
    assert_eq!(m2.epochs(&["e"]).await.unwrap(), vec![0]);
    let shared = m1.clone();
    assert_eq!(shared.epochs(&["e"]).await.unwrap(), vec![1]);
}
