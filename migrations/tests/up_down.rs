//! Runs every migration up, down and up again on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code

use migrations::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::{ConnectionTrait, Database};

fn admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn roundtrip(url: &str) {
    let db = Database::connect(url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert!(Migrator::get_pending_migrations(&db).await.unwrap().is_empty());
    let applied = Migrator::get_applied_migrations(&db).await.unwrap().len();
    assert_eq!(applied, Migrator::migrations().len());
    Migrator::down(&db, None).await.unwrap();
    assert_eq!(Migrator::get_applied_migrations(&db).await.unwrap().len(), 0);
    // Nothing of ours is left behind after a full down.
    let manager = sea_orm_migration::SchemaManager::new(&db);
    assert!(!manager.has_table("users").await.unwrap());
    Migrator::up(&db, None).await.unwrap();
    assert!(manager.has_table("users").await.unwrap());
    assert!(manager.has_table("refresh_tokens").await.unwrap());
    assert!(manager.has_table("generation_jobs").await.unwrap());
    assert!(manager.has_table("videos").await.unwrap());
    assert!(manager.has_column("generation_jobs", "dispatched_at").await.unwrap());
    assert!(manager.has_table("audit_log").await.unwrap());
    assert!(manager.has_table("moderation_cases").await.unwrap());
    assert!(manager.has_column("videos", "watermark_id").await.unwrap());
    assert!(manager.has_column("videos", "root_id").await.unwrap());
    assert!(manager.has_table("video_cameos").await.unwrap());
    assert!(manager.has_table("follows").await.unwrap());
    assert!(manager.has_column("videos", "like_count").await.unwrap());
    assert!(manager.has_column("videos", "captions_key").await.unwrap());
    assert!(manager.has_column("generation_jobs", "shots").await.unwrap());
    assert!(manager.has_column("generation_jobs", "caption").await.unwrap());
    assert!(manager.has_column("generation_jobs", "failure_dismissed_at").await.unwrap());
    assert!(manager.has_column("generation_jobs", "trace_parent").await.unwrap());
    assert!(manager.has_column("users", "birth_month").await.unwrap());
    assert!(manager.has_column("videos", "maturity").await.unwrap());
    assert!(manager.has_table("guardian_links").await.unwrap());
    assert!(manager.has_table("push_devices").await.unwrap());
    assert!(manager.has_column("notifications", "push_state").await.unwrap());
    assert!(manager.has_table("video_embeddings").await.unwrap());
    // Stepping down removes only the newest migrations.
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_table("video_embeddings").await.unwrap());
    assert!(manager.has_table("push_devices").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_table("push_devices").await.unwrap());
    assert!(!manager.has_table("push_deliveries").await.unwrap());
    assert!(!manager.has_table("notification_settings").await.unwrap());
    assert!(!manager.has_column("notifications", "push_state").await.unwrap());
    assert!(!manager.has_column("notifications", "push_due_at").await.unwrap());
    assert!(manager.has_table("guardian_links").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_table("guardian_links").await.unwrap());
    assert!(!manager.has_table("guardian_invites").await.unwrap());
    assert!(!manager.has_table("teen_controls").await.unwrap());
    assert!(!manager.has_column("users", "birth_month").await.unwrap());
    assert!(!manager.has_column("users", "time_zone").await.unwrap());
    assert!(!manager.has_column("videos", "maturity").await.unwrap());
    assert!(manager.has_column("generation_jobs", "trace_parent").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_column("generation_jobs", "trace_parent").await.unwrap());
    assert!(manager.has_column("generation_jobs", "failure_dismissed_at").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_column("generation_jobs", "failure_dismissed_at").await.unwrap());
    assert!(manager.has_column("generation_jobs", "caption").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_column("generation_jobs", "caption").await.unwrap());
    assert!(manager.has_column("generation_jobs", "shots").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_column("generation_jobs", "shots").await.unwrap());
    assert!(manager.has_column("videos", "has_audio").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_column("videos", "has_audio").await.unwrap());
    assert!(!manager.has_column("videos", "captions_key").await.unwrap());
    assert!(!manager.has_column("generation_jobs", "audio_mode").await.unwrap());
    assert!(manager.has_table("follows").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_table("follows").await.unwrap());
    assert!(!manager.has_table("likes").await.unwrap());
    assert!(!manager.has_column("videos", "like_count").await.unwrap());
    assert!(!manager.has_column("users", "follower_count").await.unwrap());
    assert!(manager.has_table("cameos").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_table("cameos").await.unwrap());
    assert!(!manager.has_table("cameo_challenges").await.unwrap());
    assert!(manager.has_column("videos", "root_id").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_column("videos", "remix_of").await.unwrap());
    assert!(!manager.has_column("generation_jobs", "remix_of").await.unwrap());
    assert!(manager.has_table("moderation_cases").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_table("moderation_cases").await.unwrap());
    assert!(!manager.has_table("comments").await.unwrap());
    assert!(!manager.has_column("videos", "watermark_id").await.unwrap());
    assert!(manager.has_table("audit_log").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_table("audit_log").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_column("generation_jobs", "dispatched_at").await.unwrap());
    assert!(manager.has_table("videos").await.unwrap());
    Migrator::down(&db, Some(1)).await.unwrap();
    assert!(!manager.has_table("videos").await.unwrap());
    assert!(manager.has_table("users").await.unwrap());
    Migrator::up(&db, None).await.unwrap();
}

#[tokio::test]
async fn sqlite_up_down_up() {
    roundtrip("sqlite::memory:").await;
}

#[tokio::test]
async fn postgres_up_down_up() {
    let name = format!("mig_{}", std::process::id());
    let admin = Database::connect(admin_url()).await.unwrap();
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}")).await.unwrap();
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let base = admin_url();
    let url = match base.rfind('/') {
        Some(i) => format!("{}/{name}", &base[..i]),
        None => panic!("bad TEST_POSTGRES_URL"),
    };
    roundtrip(&url).await;
    drop(admin);
    let admin = Database::connect(admin_url()).await.unwrap();
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
}
