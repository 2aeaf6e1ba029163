//! The worker's local journal (SQLite through rusqlite): which jobs it took and which it
//! finished, with their output. A restarted worker that is handed a job again (redelivery
//! after a crash between storing the media and acknowledging) re-reports the recorded output
//! instead of generating twice.

use std::path::Path;
use std::sync::Mutex;

use jobs::JobOutput;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use crate::{GenError, GenResult};

/// The journal file.
pub struct Journal {
    conn: Mutex<Connection>,
}

fn err(e: impl std::fmt::Display) -> GenError {
    GenError::Model { model: "journal", message: e.to_string() }
}

impl Journal {
    /// Opens (creating) the journal at `path`.
    pub fn open(path: &Path) -> GenResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let conn = Connection::open(path).map_err(err)?;
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
        .map_err(err)?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> GenResult<T> {
        let c = self.conn.lock().map_err(|_| err("journal lock poisoned"))?;
        f(&c).map_err(err)
    }

    /// Records that this worker took `job` (attempt `n`).
    pub fn taken(&self, job: Uuid, attempt: u32) -> GenResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO journal (job_id, attempt, state) VALUES (?1, ?2, 'taken')
                 ON CONFLICT(job_id) DO UPDATE SET attempt = excluded.attempt, updated_at = datetime('now')
                 WHERE journal.state = 'taken'",
                params![job.to_string(), attempt],
            )
            .map(|_| ())
        })
    }

    /// Records the finished output.
    pub fn finished(&self, job: Uuid, output: &JobOutput) -> GenResult<()> {
        let json = serde_json::to_string(output).map_err(err)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO journal (job_id, attempt, state, output) VALUES (?1, 0, 'finished', ?2)
                 ON CONFLICT(job_id) DO UPDATE SET state = 'finished', output = excluded.output, updated_at = datetime('now')",
                params![job.to_string(), json],
            )
            .map(|_| ())
        })
    }

    /// Records that the job ended without output (cancelled, refused).
    pub fn ended(&self, job: Uuid, state: &str) -> GenResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO journal (job_id, attempt, state) VALUES (?1, 0, ?2)
                 ON CONFLICT(job_id) DO UPDATE SET state = excluded.state, updated_at = datetime('now')",
                params![job.to_string(), state],
            )
            .map(|_| ())
        })
    }

    /// The recorded output of a finished job.
    pub fn output(&self, job: Uuid) -> GenResult<Option<JobOutput>> {
        let raw: Option<Option<String>> = self.with(|c| {
            c.query_row(
                "SELECT output FROM journal WHERE job_id = ?1 AND state = 'finished'",
                params![job.to_string()],
                |r| r.get(0),
            )
            .optional()
        })?;
        match raw.flatten() {
            Some(s) => serde_json::from_str(&s).map(Some).map_err(err),
            None => Ok(None),
        }
    }

    /// Jobs taken but neither finished nor ended (what a restart finds interrupted).
    pub fn interrupted(&self) -> GenResult<Vec<Uuid>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT job_id FROM journal WHERE state = 'taken'")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<String>>>()
        })
        .map(|v| v.into_iter().filter_map(|s| Uuid::parse_str(&s).ok()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_taken_and_finished_jobs_across_reopen() {
        let dir = std::env::temp_dir().join(format!("journal-{}", Uuid::new_v4()));
        let path = dir.join("j.sqlite");
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let out = {
            let j = Journal::open(&path).unwrap();
            j.taken(a, 1).unwrap();
            j.taken(b, 1).unwrap();
            let out = JobOutput {
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
            };
            j.finished(b, &out).unwrap();
            out
        };
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.interrupted().unwrap(), vec![a]);
        assert_eq!(j.output(b).unwrap().unwrap(), out);
        assert!(j.output(a).unwrap().is_none());
        // A finished job is not reopened by a late `taken`.
        j.taken(b, 2).unwrap();
        assert!(j.output(b).unwrap().is_some());
        std::fs::remove_dir_all(&dir).ok();
    }
}
