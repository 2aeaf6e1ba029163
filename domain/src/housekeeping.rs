//! Housekeeping: the sweeper of orphaned media and of jobs no worker reports on.
//!
//! Media files are written before the database hears of them (a worker stores a video, then
//! reports it; an upload is stored, then its cameo row is written), and deleted after the row is
//! gone (best effort). So files can outlive what they belong to: a result that arrives for a
//! cancelled job, a crash between the upload and the row, a delete that failed, the shots a
//! storyboard kept when its job was dead-lettered. [`Sweeper::sweep`] walks the store's folders
//! and deletes what nothing holds any more:
//!
//! - `videos/`, `thumbs/`, `strips/`, `captions/` `<job id>.*`: kept while a video with that id
//!   exists (any status: a removed video's files stay for its appeal) or the job is live; deleted
//!   once the job ended without a video (cancelled, failed, rejected) or is gone;
//! - `parts/<job id>/…` (a storyboard's kept shots): kept while the job is live;
//! - `cameos/<id>.mp4`: kept while a cameo holds it and [`Cameo::clip_kept`] says so (pending
//!   and active cameos; rejected and revoked ones for 30 days); an upload no cameo holds is deleted.
//!
//! Objects younger than [`MEDIA_GRACE`] are never touched (a worker may be between storing and
//! reporting), keys the sweeper does not recognise are left alone, and every decision reads the
//! database first, so a sweep during a database outage deletes nothing.
//!
//! Jobs: a job a worker holds (`RUNNING`, `MODERATING`) whose row has not changed for
//! [`STUCK_AFTER`] (no progress from any worker, though workers report every step and a worker
//! that dies loses the job to another within `queue_reclaim_idle_secs`) ends `FAILED` with a
//! reason, and is cancelled in the queue so a late worker drops it; admins can retry it from the
//! failed-jobs list.
//!
//! Every API node may run the sweeper (`run`, every `sweep_interval_secs`): two sweeps at once
//! only delete the same files twice, and a job ends once (conditional update).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::Utc;
use jobs::JobQueue;
use media::{MediaStore, StoredObject};
use uuid::Uuid;

use super::Deps;
use super::model::{JobErrorCode, JobStatus};
use app_core::error::{AppError, AppResult};

/// Objects written less than this long ago are never deleted.
pub const MEDIA_GRACE: Duration = Duration::from_secs(60 * 60);
/// A held job whose row has not changed for this long is ended `FAILED`.
pub const STUCK_AFTER: Duration = Duration::from_secs(2 * 60 * 60);
/// Objects listed and decided together (one database question per kind).
const CHUNK: usize = 500;
/// The folders of generated media, named by job id.
const JOB_FOLDERS: [&str; 4] = ["videos", "thumbs", "strips", "captions"];

/// What one sweep did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Objects listed.
    pub listed: usize,
    /// Objects deleted (dry run: that would be deleted).
    pub deleted: usize,
    /// Their bytes.
    pub deleted_bytes: u64,
    /// Orphans left because they are younger than [`MEDIA_GRACE`].
    pub too_young: usize,
    /// Keys the sweeper does not recognise (left alone).
    pub unknown: usize,
    /// Deletions that failed (tried again at the next sweep).
    pub failed: usize,
    /// Held jobs ended `FAILED` because no worker reported for [`STUCK_AFTER`].
    pub stuck_jobs: usize,
}

/// The sweeper; cheap to clone.
#[derive(Clone)]
pub struct Sweeper {
    deps: Arc<Deps>,
    media: MediaStore,
    queue: JobQueue,
}

/// Whose an object is, read from its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// A generated file of job (= video) `id`.
    Output(Uuid),
    /// A storyboard's kept shot of job `id`.
    Part(Uuid),
    /// A cameo's verification clip.
    Clip,
}

/// The owner of `key` in `folder`, or `None` for a key the sweeper does not recognise.
fn owner_of(folder: &str, key: &str) -> Option<Owner> {
    let rest = key.strip_prefix(folder)?.strip_prefix('/')?;
    match folder {
        "parts" => rest.split('/').next().and_then(|id| Uuid::parse_str(id).ok()).map(Owner::Part),
        "cameos" => (rest.ends_with(".mp4") && !rest.contains('/')).then_some(Owner::Clip),
        _ => {
            let (stem, _ext) = rest.split_once('.')?;
            Uuid::parse_str(stem).ok().filter(|_| !rest.contains('/')).map(Owner::Output)
        }
    }
}

impl Sweeper {
    /// A sweeper over the service's database, media store and queue.
    pub fn new(deps: Arc<Deps>, media: MediaStore, queue: JobQueue) -> Self {
        Self { deps, media, queue }
    }

    /// One sweep: orphaned media (see the module docs), then stuck jobs. With `dry_run`, counts
    /// what it would delete or end and changes nothing.
    pub async fn sweep(&self, dry_run: bool) -> AppResult<SweepReport> {
        let mut report = SweepReport::default();
        let now = SystemTime::now();
        let folders = JOB_FOLDERS.iter().copied().chain(["parts", "cameos"]);
        for folder in folders {
            let mut listing = self.media.list(folder, CHUNK).map_err(|e| AppError::internal("listing media", e))?;
            while let Some(objects) = listing.next_chunk().await.map_err(|e| AppError::internal("listing media", e))? {
                report.listed += objects.len();
                self.sweep_chunk(folder, objects, now, dry_run, &mut report).await?;
            }
        }
        report.stuck_jobs = self.end_stuck_jobs(dry_run).await?;
        Ok(report)
    }

    /// Decides one chunk of one folder, and deletes its orphans.
    async fn sweep_chunk(
        &self,
        folder: &str,
        objects: Vec<StoredObject>,
        now: SystemTime,
        dry_run: bool,
        report: &mut SweepReport,
    ) -> AppResult<()> {
        let owned: Vec<(StoredObject, Owner)> = objects
            .into_iter()
            .filter_map(|o| match owner_of(folder, &o.key) {
                Some(owner) => Some((o, owner)),
                None => {
                    report.unknown += 1;
                    None
                }
            })
            .collect();
        let job_ids: Vec<Uuid> = owned
            .iter()
            .filter_map(|(_, owner)| match owner {
                Owner::Output(id) | Owner::Part(id) => Some(*id),
                Owner::Clip => None,
            })
            .collect();
        let clip_keys: Vec<String> =
            owned.iter().filter(|(_, owner)| *owner == Owner::Clip).map(|(o, _)| o.key.clone()).collect();
        let live =
            if job_ids.is_empty() { Default::default() } else { self.deps.store.live_jobs_among(&job_ids).await? };
        let videos = match folder {
            "parts" | "cameos" => Default::default(),
            _ if job_ids.is_empty() => Default::default(),
            _ => self.deps.store.existing_videos(&job_ids).await?,
        };
        let kept_clips: std::collections::HashSet<String> = if clip_keys.is_empty() {
            Default::default()
        } else {
            let at = Utc::now();
            self.deps
                .store
                .cameos_by_clip(&clip_keys)
                .await?
                .into_iter()
                .filter(|c| c.clip_kept(at))
                .map(|c| c.clip_key)
                .collect()
        };
        for (object, owner) in owned {
            let held = match owner {
                Owner::Output(id) => videos.contains(&id) || live.contains(&id),
                Owner::Part(id) => live.contains(&id),
                Owner::Clip => kept_clips.contains(&object.key),
            };
            if held {
                continue;
            }
            if now.duration_since(object.modified).unwrap_or_default() < MEDIA_GRACE {
                report.too_young += 1;
                continue;
            }
            if !dry_run && let Err(e) = self.media.delete(&object.key).await {
                tracing::warn!(key = %object.key, error = %e, "orphaned media not deleted; the next sweep tries again");
                report.failed += 1;
                continue;
            }
            tracing::debug!(key = %object.key, bytes = object.size, dry_run, "orphaned media deleted");
            report.deleted += 1;
            report.deleted_bytes += object.size;
        }
        Ok(())
    }

    /// Ends the held jobs no worker reported on for [`STUCK_AFTER`]; how many.
    async fn end_stuck_jobs(&self, dry_run: bool) -> AppResult<usize> {
        let before = Utc::now() - chrono::Duration::from_std(STUCK_AFTER).unwrap_or_default();
        let stuck = self.deps.store.quiet_held_jobs(before).await?;
        if dry_run {
            return Ok(stuck.len());
        }
        let hours = STUCK_AFTER.as_secs() / 3600;
        let reason = format!("no worker reported on this job for {hours} hours; it was stopped");
        let mut ended = 0;
        for job in stuck {
            // A worker that still holds it stops at its next step; a late result is ignored.
            if let Err(e) = self.queue.cancel(job.id.0).await {
                tracing::warn!(job = %job.id, error = %e, "stuck job not cancelled in the queue");
            }
            if self
                .deps
                .store
                .end_job(job.id, JobStatus::Failed, Some(JobErrorCode::GenerationFailed), Some(&reason))
                .await?
            {
                self.deps.telemetry.job_ended(JobStatus::Failed, &[]);
                tracing::warn!(job = %job.id, status = job.status.as_str(), since = %job.updated_at, "stuck job ended FAILED");
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Sweeps every `every` (the first after a random part of it, so API nodes started together
    /// do not sweep together) for as long as the process lives; a failed sweep is logged and
    /// tried again at the next.
    pub async fn run(self, every: Duration) {
        let offset = every.mul_f64(rand::random::<f64>());
        tokio::time::sleep(offset).await;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.sweep(false).await {
                Ok(r) if r.deleted > 0 || r.stuck_jobs > 0 || r.failed > 0 => {
                    tracing::info!(
                        listed = r.listed,
                        deleted = r.deleted,
                        bytes = r.deleted_bytes,
                        failed = r.failed,
                        stuck_jobs = r.stuck_jobs,
                        "sweep done"
                    )
                }
                Ok(r) => tracing::debug!(listed = r.listed, "sweep done; nothing to delete"),
                Err(e) => tracing::warn!(error = %e, "sweep failed; trying again later"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_read_from_keys_and_strange_keys_are_left_alone() {
        let id = Uuid::now_v7();
        assert_eq!(owner_of("videos", &format!("videos/{id}.mp4")), Some(Owner::Output(id)));
        assert_eq!(owner_of("captions", &format!("captions/{id}.vtt")), Some(Owner::Output(id)));
        assert_eq!(owner_of("parts", &format!("parts/{id}/m-1/0.mp4")), Some(Owner::Part(id)));
        assert_eq!(owner_of("cameos", &format!("cameos/{id}.mp4")), Some(Owner::Clip));
        assert_eq!(owner_of("videos", "videos/readme.txt"), None);
        assert_eq!(owner_of("videos", &format!("videos/x/{id}.mp4")), None);
        assert_eq!(owner_of("thumbs", &format!("videos/{id}.jpg")), None);
        assert_eq!(owner_of("parts", "parts/not-a-job/0.mp4"), None);
        assert_eq!(owner_of("cameos", "cameos/sub/a.mp4"), None);
    }
}
