//! Automatic persisted queries, the Apollo APQ protocol: a client sends only
//! `extensions.persistedQuery.sha256Hash` (`version` 1); a node that knows the hash runs the
//! document it parsed before, one that does not answers `PERSISTED_QUERY_NOT_FOUND`
//! (message `PersistedQueryNotFound`, what Apollo clients look for), and the client sends the
//! text with its hash once, which registers it. A hash that does not match its text is refused
//! (`BAD_USER_INPUT`), so nobody can register another document under a popular query's hash.
//!
//! The documents live in each API node's memory (at most [`CAPACITY`], least recently used out),
//! so after a restart, or on another node, a client pays one extra round trip per query; nothing
//! depends on them. The HTTP layer reads them too ([`PersistedQueries::document`]): a GET request
//! that names a hash is refused if the document is not a query.

use async_graphql::extensions::apollo_persisted_queries::CacheStorage;
use async_graphql::parser::types::ExecutableDocument;

/// Documents kept per node.
pub const CAPACITY: u64 = 10_000;

/// The parsed documents by the SHA-256 of their text (lowercase hex), shared by the schema's
/// extension and the HTTP layer.
#[derive(Clone)]
pub struct PersistedQueries(moka::sync::Cache<String, ExecutableDocument>);

impl Default for PersistedQueries {
    fn default() -> Self {
        Self(moka::sync::Cache::new(CAPACITY))
    }
}

impl PersistedQueries {
    /// The document registered under `sha256_hash`, if this node has it.
    pub fn document(&self, sha256_hash: &str) -> Option<ExecutableDocument> {
        self.0.get(sha256_hash)
    }
}

#[async_graphql::async_trait::async_trait]
impl CacheStorage for PersistedQueries {
    async fn get(&self, key: String) -> Option<ExecutableDocument> {
        self.0.get(&key)
    }

    async fn set(&self, key: String, query: ExecutableDocument) {
        self.0.insert(key, query);
    }
}
