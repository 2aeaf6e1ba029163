//! The worker's local journal (SQLite through rusqlite): which jobs it took and which it
//! finished, with their output. A restarted worker that is handed a job again (redelivery
//! after a crash between storing the media and acknowledging) re-reports the recorded output
//! instead of generating twice.
//!
//! SQLite calls block, so every method is `async` and runs its statement on Tokio's blocking
//! pool (`spawn_blocking`), never on the executor's threads; the one connection is shared
//! behind a mutex. Errors come back as [`GenError::Journal`] naming the operation; what the
//! worker does about each is decided in [`crate::worker`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use jobs::JobOutput;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use crate::{GenError, GenResult};

/// How a job ended without output (the `state` recorded for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Cancelled by its author.
    Cancelled,
    /// Blocked by the frame check.
    Rejected,
    /// Refused as a request the model cannot serve.
    Refused,
}

impl Ended {
    /// The spelling stored in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Ended::Cancelled => "cancelled",
            Ended::Rejected => "rejected",
            Ended::Refused => "refused",
        }
    }
}

/// The journal file. Cheap to clone (the connection is shared).
#[derive(Clone)]
pub struct Journal {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish_non_exhaustive()
    }
}

fn journal_err(op: &'static str) -> impl Fn(String) -> GenError {
    move |message| GenError::Journal { op, message }
}

fn open_blocking(path: &Path) -> GenResult<Connection> {
    let err = journal_err("open");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
    }
    let conn = Connection::open(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         CREATE TABLE IF NOT EXISTS journal (
             job_id TEXT PRIMARY KEY,
             attempt INTEGER NOT NULL,
             state TEXT NOT NULL,
             output TEXT,
             updated_at TEXT NOT NULL DEFAULT (datetime('now'))
         );",
    )
    .map_err(|e| err(format!("{}: {e}", path.display())))?;
    Ok(conn)
}

impl Journal {
    /// Opens (creating) the journal at `path`.
    pub async fn open(path: &Path) -> GenResult<Self> {
        let owned = path.to_path_buf();
        let conn = tokio::task::spawn_blocking(move || open_blocking(&owned))
            .await
            .map_err(|e| GenError::Journal { op: "open", message: e.to_string() })??;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), path: Arc::new(path.to_path_buf()) })
    }

    /// Where the journal lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> GenResult<T> {
        let conn = self.conn.clone();
        let err = journal_err(op);
        tokio::task::spawn_blocking(move || {
            let c = conn.lock().map_err(|_| err("the connection's lock is poisoned".into()))?;
            f(&c).map_err(|e| err(e.to_string()))
        })
        .await
        .map_err(|e| GenError::Journal { op, message: e.to_string() })?
    }

    /// Records that this worker took `job` (attempt `n`).
    pub async fn taken(&self, job: Uuid, attempt: u32) -> GenResult<()> {
        self.run("record taken", move |c| {
            c.execute(
                "INSERT INTO journal (job_id, attempt, state) VALUES (?1, ?2, 'taken')
                 ON CONFLICT(job_id) DO UPDATE SET attempt = excluded.attempt, updated_at = datetime('now')
                 WHERE journal.state = 'taken'",
                params![job.to_string(), attempt],
            )
            .map(|_| ())
        })
        .await
    }

    /// Records the finished output.
    pub async fn finished(&self, job: Uuid, output: &JobOutput) -> GenResult<()> {
        let json = serde_json::to_string(output).map_err(|e| journal_err("record finished")(e.to_string()))?;
        self.run("record finished", move |c| {
            c.execute(
                "INSERT INTO journal (job_id, attempt, state, output) VALUES (?1, 0, 'finished', ?2)
                 ON CONFLICT(job_id) DO UPDATE SET state = 'finished', output = excluded.output, updated_at = datetime('now')",
                params![job.to_string(), json],
            )
            .map(|_| ())
        })
        .await
    }

    /// Records that the job ended without output.
    pub async fn ended(&self, job: Uuid, how: Ended) -> GenResult<()> {
        self.run("record ended", move |c| {
            c.execute(
                "INSERT INTO journal (job_id, attempt, state) VALUES (?1, 0, ?2)
                 ON CONFLICT(job_id) DO UPDATE SET state = excluded.state, updated_at = datetime('now')",
                params![job.to_string(), how.as_str()],
            )
            .map(|_| ())
        })
        .await
    }

    /// The recorded output of a finished job.
    pub async fn output(&self, job: Uuid) -> GenResult<Option<JobOutput>> {
        let raw: Option<Option<String>> = self
            .run("read output", move |c| {
                c.query_row(
                    "SELECT output FROM journal WHERE job_id = ?1 AND state = 'finished'",
                    params![job.to_string()],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        match raw.flatten() {
            Some(s) => serde_json::from_str(&s).map(Some).map_err(|e| journal_err("read output")(e.to_string())),
            None => Ok(None),
        }
    }

    /// Jobs taken but neither finished nor ended (what a restart finds interrupted).
    pub async fn interrupted(&self) -> GenResult<Vec<Uuid>> {
        let ids = self
            .run("read interrupted", |c| {
                let mut st = c.prepare("SELECT job_id FROM journal WHERE state = 'taken'")?;
                let rows = st.query_map([], |r| r.get::<_, String>(0))?;
                rows.collect::<rusqlite::Result<Vec<String>>>()
            })
            .await?;
        Ok(ids.into_iter().filter_map(|s| Uuid::parse_str(&s).ok()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output() -> JobOutput {
        JobOutput {
            video_key: "videos/x.mp4".into(),
            thumbnail_key: "thumbs/x.jpg".into(),
            width: 2,
            height: 2,
            duration_ms: 1000,
            frame_count: 12,
            fps: 12,
            model_name: "m".into(),
            model_version: "1".into(),
            execution_provider: "cpu".into(),
            stages: Default::default(),
            watermark_id: 7,
            verdict: "review".into(),
            frame_indices: vec![0, 11],
            frame_scores: vec![0.1, 0.5],
            verdict_reason: Some("frame 11 scored 0.50 NSFW (review at 0.40)".into()),
            frame_strip_key: "strips/x.jpg".into(),
            manifest_issuer: Some("SoraVibe".into()),
            has_audio: true,
            captions_key: None,
        }
    }

    fn temp_dir() -> PathBuf {
        std::env::temp_dir().join(format!("journal-{}", Uuid::new_v4()))
    }

    #[tokio::test]
    async fn remembers_taken_and_finished_jobs_across_reopen() {
        let dir = temp_dir();
        let path = dir.join("j.sqlite");
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let out = output();
        {
            let j = Journal::open(&path).await.unwrap();
            j.taken(a, 1).await.unwrap();
            j.taken(b, 1).await.unwrap();
            j.taken(c, 1).await.unwrap();
            j.finished(b, &out).await.unwrap();
            j.ended(c, Ended::Rejected).await.unwrap();
        }
        let j = Journal::open(&path).await.unwrap();
        assert_eq!(j.interrupted().await.unwrap(), vec![a]);
        assert_eq!(j.output(b).await.unwrap().unwrap(), out);
        assert!(j.output(a).await.unwrap().is_none());
        assert!(j.output(c).await.unwrap().is_none());
        // A finished job is not reopened by a late `taken`.
        j.taken(b, 2).await.unwrap();
        assert!(j.output(b).await.unwrap().is_some());
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Calls run on the blocking pool: a current-thread runtime (one executor thread) keeps
    /// serving other tasks while the journal waits on SQLite.
    #[tokio::test(flavor = "current_thread")]
    async fn calls_do_not_block_the_executor() {
        let dir = temp_dir();
        let j = Journal::open(&dir.join("j.sqlite")).await.unwrap();
        // Hold the connection from a plain thread so the next call has to wait for it.
        let held = j.conn.clone();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let _guard = held.lock().unwrap();
            locked_tx.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
        });
        locked_rx.recv().unwrap();
        let ticks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    ticks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
        };
        j.taken(Uuid::new_v4(), 1).await.unwrap();
        ticker.abort();
        holder.join().unwrap();
        assert!(ticks.load(std::sync::atomic::Ordering::SeqCst) >= 5, "the executor stalled while SQLite waited");
        std::fs::remove_dir_all(&dir).ok();
    }

    /// A journal that can no longer be written (here: its table dropped behind its back, as a
    /// damaged or replaced file would be) reports each failed call with its operation.
    #[tokio::test]
    async fn a_broken_journal_reports_which_call_failed() {
        let dir = temp_dir();
        let path = dir.join("j.sqlite");
        let j = Journal::open(&path).await.unwrap();
        let job = Uuid::new_v4();
        j.taken(job, 1).await.unwrap();
        Connection::open(&path).unwrap().execute_batch("DROP TABLE journal;").unwrap();

        let e = j.taken(job, 2).await.unwrap_err();
        assert!(matches!(&e, GenError::Journal { op: "record taken", .. }), "{e:?}");
        assert!(e.to_string().starts_with("journal record taken: "), "{e}");
        assert!(e.to_string().contains("no such table"), "{e}");
        assert!(matches!(j.finished(job, &output()).await, Err(GenError::Journal { op: "record finished", .. })));
        assert!(matches!(j.ended(job, Ended::Cancelled).await, Err(GenError::Journal { op: "record ended", .. })));
        assert!(matches!(j.output(job).await, Err(GenError::Journal { op: "read output", .. })));
        assert!(matches!(j.interrupted().await, Err(GenError::Journal { op: "read interrupted", .. })));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn a_journal_that_cannot_be_created_says_where() {
        let dir = temp_dir();
        std::fs::create_dir_all(&dir).unwrap();
        // A file where the journal's folder should be.
        std::fs::write(dir.join("blocker"), b"").unwrap();
        let e = Journal::open(&dir.join("blocker").join("j.sqlite")).await.unwrap_err();
        assert!(matches!(&e, GenError::Journal { op: "open", .. }), "{e:?}");
        assert!(e.to_string().contains("blocker"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
