//! A Redis connection that survives the first command after Redis comes back: the one
//! connection type of `kv`, the feed cache (`feed`) and the job queue (`jobs`); and [`changes`],
//! the channel on which `kv` and `feed` announce what every API node's memory must see.
//!
//! redis-rs's `ConnectionManager` reconnects only when a command fails on a dead connection, and
//! hands that command's error to the caller: after a Redis restart the first command of every
//! connection in every process fails although Redis is up again. [`Reconnecting`] wraps it and
//! sends such a command once more, on the connection the failure just rebuilt.
//!
//! When both tries find no connection, the connection rests for [`REST`] (1 s): commands fail at
//! once without waiting on a reconnect, so a request during an outage falls back in microseconds,
//! and the first command after the rest tries again (Redis back: at most 1 s unnoticed).
//!
//! Invariant: a command is sent at most twice, and a second time only after an error that says
//! the connection (not the command) failed: I/O errors, refusals, dropped connections. Never
//! after a timeout (the command may still be running) nor after an error Redis itself answered.
//! A command whose connection dropped after Redis ran it can therefore run twice; the callers'
//! writes tolerate that (rate-limit counts, cache writes and epochs are idempotent or harmless
//! when repeated; the job queue is at-least-once and its consumers idempotent).

pub mod changes;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

/// A multiplexed, reconnecting Redis connection that retries a command once when its connection
/// was lost; clones share the connection.
#[derive(Clone)]
pub struct Reconnecting {
    conn: ConnectionManager,
    /// Until when (milliseconds since `epoch`) commands fail at once without being sent: set
    /// for [`REST`] after a command and its second try both found no connection.
    resting_until: Arc<AtomicU64>,
    epoch: Instant,
}

/// How long a connection that just failed twice is left alone: while Redis is down a request
/// then pays nothing for it, and a command tries again every `REST`.
pub const REST: Duration = Duration::from_secs(1);

impl Reconnecting {
    /// Connects to `url` (the first connection must succeed), with `config`'s response timeout
    /// and this module's reconnect policy: a lost connection is tried again 3 times within
    /// about 300 ms (attempts 1 s at most), so while Redis is down each command fails in well under
    /// a second and callers fall back or answer `UNAVAILABLE` at once. (redis-rs's default, 7 tries
    /// over 6.3 s, made every request wait while Redis was down: 19 s for one `me`.)
    pub async fn connect(url: &str, config: ConnectionManagerConfig) -> Result<Self, RedisError> {
        let client = redis::Client::open(url)?;
        let config = config
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200))
            .set_number_of_retries(2)
            .set_connection_timeout(Some(Duration::from_secs(1)));
        Ok(Self {
            conn: client.get_connection_manager_with_config(config).await?,
            resting_until: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The error of a command not sent because the connection is resting.
    fn resting(&self) -> Option<RedisError> {
        (self.now_ms() < self.resting_until.load(Ordering::Relaxed)).then(|| {
            RedisError::from(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "Redis did not answer a moment ago; not asked again yet",
            ))
        })
    }

    /// Notes the outcome of a command's second try.
    fn settle<T>(&self, result: Result<T, RedisError>) -> Result<T, RedisError> {
        if let Err(e) = &result
            && connection_lost(e)
        {
            let until = self.now_ms().saturating_add(u64::try_from(REST.as_millis()).unwrap_or(u64::MAX));
            self.resting_until.store(until, Ordering::Relaxed);
        }
        result
    }
}

/// Whether `e` says the connection failed, so the command can be sent again on a new one.
pub fn connection_lost(e: &RedisError) -> bool {
    !e.is_timeout() && (e.is_connection_dropped() || e.is_connection_refusal() || e.is_io_error())
}

impl ConnectionLike for Reconnecting {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            if let Some(e) = self.resting() {
                return Err(e);
            }
            match self.conn.req_packed_command(cmd).await {
                Err(e) if connection_lost(&e) => {
                    tracing::debug!(error = %e, "Redis connection lost; sending the command again");
                    let again = self.conn.req_packed_command(cmd).await;
                    self.settle(again)
                }
                other => other,
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            if let Some(e) = self.resting() {
                return Err(e);
            }
            match self.conn.req_packed_commands(pipeline, offset, count).await {
                Err(e) if connection_lost(&e) => {
                    tracing::debug!(error = %e, "Redis connection lost; sending the pipeline again");
                    let again = self.conn.req_packed_commands(pipeline, offset, count).await;
                    self.settle(again)
                }
                other => other,
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A redis-server of the test's own on `port`, killed when dropped.
    struct Server(std::process::Child);

    impl Server {
        fn start(port: u16) -> Self {
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server (scripts/setup.sh installs it)");
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            Server(child)
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    async fn set(conn: &Reconnecting, key: &str) -> Result<(), RedisError> {
        redis::cmd("SET").arg(key).arg(1).query_async(&mut conn.clone()).await
    }

    /// Down: commands fail (the first after trying again, then at once while resting). Back,
    /// empty: after the rest the first command succeeds, although its connection was dead.
    #[tokio::test]
    async fn a_restarted_redis_answers_the_first_command_after_the_rest() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let server = Server::start(port);
        let conn =
            Reconnecting::connect(&format!("redis://127.0.0.1:{port}"), ConnectionManagerConfig::new()).await.unwrap();
        set(&conn, "a").await.unwrap();
        drop(server);

        let e = set(&conn, "a").await.unwrap_err();
        assert!(connection_lost(&e), "{e}");
        let e = set(&conn, "a").await.unwrap_err();
        assert!(e.to_string().contains("not asked again yet"), "resting: {e}");

        let _server = Server::start(port);
        tokio::time::sleep(REST + Duration::from_millis(50)).await;
        set(&conn, "b").await.unwrap();
        let n: u32 = redis::cmd("EXISTS").arg("a").query_async(&mut conn.clone()).await.unwrap();
        assert_eq!(n, 0, "a new, empty server");
    }
}
