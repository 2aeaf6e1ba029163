//! Job updates fan-out: every change to a job is announced by id; each API node forwards the
//! announcements to its own `jobUpdates` subscribers. With Redis the announcement crosses nodes
//! on a pub/sub channel (`<prefix>:job-updates`); without, it stays in the process.
//!
//! This is the second of two channels between workers and clients. Worker → backend goes over the
//! queue's durable event stream (a lost `Succeeded` would strand a job, so pub/sub is not used
//! there); backend → every API node goes here, and carries only the id: subscribers re-read the job
//! from the database. Pub/sub keeps nothing: an announcement missed while a relay reconnects (it
//! retries every second) delays a subscriber until the next change, and the `job` query still
//! answers the current state. The local broadcast holds 4096 ids; a lagging subscriber re-reads.

use futures_util::StreamExt;
use tokio::sync::broadcast;

use app_core::error::{AppError, AppResult};
use app_core::types::JobId;

/// Announces job changes to subscribers on every node.
#[derive(Clone)]
pub struct JobUpdates {
    local: broadcast::Sender<JobId>,
    redis: Option<(reconnect::Reconnecting, String)>,
}

impl JobUpdates {
    /// In-process only.
    pub fn local() -> Self {
        let (local, _) = broadcast::channel(4096);
        Self { local, redis: None }
    }

    /// Across nodes through Redis pub/sub; starts the relay task that feeds local subscribers.
    pub async fn redis(url: &str, prefix: &str) -> AppResult<Self> {
        let (local, _) = broadcast::channel(4096);
        let channel = format!("{prefix}:job-updates");
        let client = redis::Client::open(url).map_err(|e| AppError::internal("redis url", e))?;
        let conn = reconnect::Reconnecting::connect(url, redis::aio::ConnectionManagerConfig::new())
            .await
            .map_err(|e| AppError::internal("redis connect", e))?;
        let relay = local.clone();
        let ch = channel.clone();
        tokio::spawn(async move {
            loop {
                match relay_once(&client, &ch, &relay).await {
                    Ok(()) => {}
                    Err(e) => tracing::warn!(error = %e, "job-updates relay lost its subscription; reconnecting"),
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
        Ok(Self { local, redis: Some((conn, channel)) })
    }

    /// Announces a change.
    pub async fn notify(&self, job: JobId) {
        match &self.redis {
            None => {
                let _ = self.local.send(job);
            }
            Some((conn, channel)) => {
                let mut c = conn.clone();
                let r: Result<i64, _> =
                    redis::cmd("PUBLISH").arg(channel).arg(job.to_string()).query_async(&mut c).await;
                if let Err(e) = r {
                    tracing::warn!(error = %e, job = %job, "job update not published; delivering locally");
                    let _ = self.local.send(job);
                }
            }
        }
    }

    /// A receiver of every announcement on this node.
    pub fn subscribe(&self) -> broadcast::Receiver<JobId> {
        self.local.subscribe()
    }
}

async fn relay_once(
    client: &redis::Client,
    channel: &str,
    relay: &broadcast::Sender<JobId>,
) -> Result<(), redis::RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    let mut stream = pubsub.on_message();
    while let Some(msg) = stream.next().await {
        let payload: String = msg.get_payload()?;
        if let Some(id) = JobId::parse(&payload) {
            let _ = relay.send(id);
        }
    }
    Ok(())
}
