//! `/graphql/ws`: GraphQL over WebSocket (`graphql-transport-ws`, and the older `graphql-ws`),
//! with async-graphql's protocol engine (`async_graphql::http::WebSocket`) on an actix-ws session.
//!
//! One task per connection moves frames both ways and owns the session, so it alone decides how the
//! connection ends:
//! - the client closes, stops answering pings for [`CLIENT_TIMEOUT`], or breaks the framing: the
//!   connection ends (and with it every subscription);
//! - the protocol engine closes it (a refused `connection_init`, an unknown message): its code
//!   and reason go to the client;
//! - the server is stopping ([`Closing`], set on SIGTERM after the listener stopped accepting):
//!   close code **1012** (*service restart*), which `graphql-ws` clients and browsers treat as
//!   "reconnect" (4xxx codes would be fatal to them), so subscribers come back on another node.
//!
//! Authentication runs once, on `connection_init` (see the module docs of `http`).

use std::future::Future;
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use async_graphql::Data;
use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage};
use futures_util::StreamExt;
use tokio::sync::watch;

/// How often the server pings an idle client.
const PING_EVERY: Duration = Duration::from_secs(5);
/// A client that sends nothing (not even a pong) for this long is gone.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest message a client may send (frames joined): a subscription document with variables.
const MAX_MESSAGE: usize = 64 * 1024;
/// The close code sent to every open connection when the server stops: 1012, service restart.
pub const RESTART_CLOSE_CODE: u16 = 1012;

/// Tells every open connection that the server is stopping (`true`), so each closes with
/// [`RESTART_CLOSE_CODE`]; cheap to clone.
#[derive(Clone, Debug)]
pub struct Closing(watch::Receiver<bool>);

impl Closing {
    /// A switch and the receivers' side; send `true` once to close every connection.
    pub fn channel() -> (watch::Sender<bool>, Closing) {
        let (tx, rx) = watch::channel(false);
        (tx, Closing(rx))
    }

    /// Resolves once the server is stopping (never, if the switch is dropped without that).
    async fn wait(mut self) {
        if self.0.wait_for(|closing| *closing).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Upgrades the request and serves GraphQL over the connection until one side ends it.
/// `on_init` turns the `connection_init` payload into the connection's data (or refuses it).
pub fn serve<F, Fut>(
    schema: api::AppSchema,
    req: &HttpRequest,
    body: web::Payload,
    closing: Closing,
    on_init: F,
) -> actix_web::Result<HttpResponse>
where
    F: FnOnce(serde_json::Value) -> Fut + Unpin + Send + 'static,
    Fut: Future<Output = async_graphql::Result<Data>> + Send + 'static,
{
    // The first sub-protocol the client offers that we speak (a client must offer one).
    let protocol = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .and_then(|list| list.split(',').find_map(|p| p.trim().parse::<WebSocketProtocols>().ok()))
        .ok_or_else(|| actix_web::error::ErrorBadRequest("offer the graphql-transport-ws sub-protocol"))?;
    let (mut response, session, incoming) = actix_ws::handle(req, body)?;
    if let Ok(value) = protocol.sec_websocket_protocol().parse() {
        response.headers_mut().insert(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    let incoming = incoming.max_frame_size(MAX_MESSAGE).aggregate_continuations().max_continuation_size(MAX_MESSAGE);
    // The client's messages, from the socket task to the protocol engine.
    let (to_engine, from_client) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let from_client =
        futures_util::stream::unfold(from_client, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let engine = WebSocket::new(schema, from_client, protocol).on_connection_init(on_init);
    actix_web::rt::spawn(pump(session, incoming, to_engine, engine, closing));
    Ok(response)
}

/// Moves frames between the client and the engine until one side ends; then closes the session.
async fn pump<E>(
    mut session: actix_ws::Session,
    mut incoming: actix_ws::AggregatedMessageStream,
    to_engine: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    engine: E,
    closing: Closing,
) where
    E: futures_util::Stream<Item = WsMessage>,
{
    let mut engine = std::pin::pin!(engine);
    let mut closing = std::pin::pin!(closing.wait());
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut heard = Instant::now();
    let reason = loop {
        tokio::select! {
            msg = incoming.next() => {
                heard = Instant::now();
                match msg {
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        if to_engine.send(text.into_bytes().to_vec()).is_err() {
                            break None;
                        }
                    }
                    Some(Ok(AggregatedMessage::Binary(bytes))) => {
                        if to_engine.send(bytes.to_vec()).is_err() {
                            break None;
                        }
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                    // The client said goodbye: answer with the same close (nothing to add).
                    Some(Ok(AggregatedMessage::Close(reason))) => break reason,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "websocket protocol error; closing");
                        break Some(CloseReason { code: CloseCode::Protocol, description: None });
                    }
                    None => return,
                }
            }
            out = engine.next() => match out {
                Some(WsMessage::Text(text)) => {
                    if session.text(text).await.is_err() {
                        return;
                    }
                }
                Some(WsMessage::Close(code, why)) => {
                    break Some(CloseReason { code: CloseCode::Other(code), description: Some(why) });
                }
                None => break None,
            },
            () = &mut closing => {
                break Some(CloseReason {
                    code: CloseCode::Other(RESTART_CLOSE_CODE),
                    description: Some("the server is restarting; reconnect".into()),
                });
            }
            _ = ping.tick() => {
                if heard.elapsed() > CLIENT_TIMEOUT {
                    tracing::debug!("websocket client silent; closing");
                    break Some(CloseReason { code: CloseCode::Away, description: Some("no answer to pings".into()) });
                }
                if session.ping(b"").await.is_err() {
                    return;
                }
            }
        }
    };
    let _ = session.close(reason).await;
}
