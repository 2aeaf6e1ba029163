//! `MediaStore`: media bytes under keys like `videos/<uuid>.mp4`, on local disk or S3/MinIO.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::signer::{Method, Signer};
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};

use crate::MediaError;

/// Longest key accepted; S3 stops at 1024 bytes.
const MAX_KEY_LEN: usize = 1024;

/// An object found by [`MediaStore::visit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Its key, e.g. `videos/<uuid>.mp4`.
    pub key: String,
    /// When it was last written.
    pub modified: std::time::SystemTime,
    /// Its size in bytes.
    pub size: u64,
}

/// The objects of a folder, listed a chunk at a time ([`MediaStore::list`]).
pub struct Listing {
    inner: futures_util::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>>,
    chunk: usize,
    done: bool,
}

impl Listing {
    /// The next objects (at most the chunk size; fewer only at the end); `None` once all were
    /// listed.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<StoredObject>>, MediaError> {
        use futures_util::StreamExt;
        let mut batch = Vec::with_capacity(self.chunk);
        while !self.done && batch.len() < self.chunk {
            match self.inner.next().await {
                Some(Ok(meta)) => batch.push(StoredObject {
                    key: meta.location.to_string(),
                    modified: meta.last_modified.into(),
                    size: meta.size,
                }),
                Some(Err(object_store::Error::NotFound { .. })) | None => self.done = true,
                Some(Err(other)) => return Err(MediaError::Store(other)),
            }
        }
        Ok((!batch.is_empty()).then_some(batch))
    }
}

/// Object storage for media files: a local folder in development, S3-compatible in production.
#[derive(Clone)]
pub struct MediaStore {
    /// Where the bytes go.
    inner: Arc<dyn ObjectStore>,
    /// The S3 client again, for presigning; `None` for backends that cannot sign URLs.
    signer: Option<Arc<AmazonS3>>,
    /// Whether the backend stores a content type (the local file system refuses attributes).
    keeps_content_type: bool,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The backend's Display names the bucket or folder and never the credentials.
        f.debug_struct("MediaStore").field("backend", &self.inner.to_string()).finish()
    }
}

/// Checks a key against `[A-Za-z0-9/_.-]`, no `..`, no leading `/`, no empty segments.
fn parse_key(key: &str) -> Result<ObjectPath, MediaError> {
    let refuse = |reason| Err(MediaError::BadKey { key: key.to_owned(), reason });
    if key.is_empty() {
        return refuse("key is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return refuse("key is longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return refuse("key starts with '/'");
    }
    if key.contains("..") {
        return refuse("key contains '..'");
    }
    if !key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'.' | b'-')) {
        return refuse("key has characters outside [A-Za-z0-9/_.-]");
    }
    if key.split('/').any(|segment| segment.is_empty() || segment == ".") {
        return refuse("key has an empty or '.' path segment");
    }
    ObjectPath::parse(key).or_else(|_| refuse("key is not a valid object path"))
}

/// Maps a store error, turning "not found" into the crate's own variant.
fn store_error(key: &str, error: object_store::Error) -> MediaError {
    match error {
        object_store::Error::NotFound { .. } => MediaError::NotFound { key: key.to_owned() },
        other => MediaError::Store(other),
    }
}

/// Tries of one S3 request after the first, and the time after which none is made: a store that
/// does not answer fails a request in about 20 s, not in object_store's default 3 minutes
/// (10 tries), so the caller can answer "try again" while the client still waits.
pub const STORE_RETRIES: usize = 3;
/// See [`STORE_RETRIES`].
pub const STORE_RETRY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

impl MediaStore {
    /// A store in a local folder, created if missing.
    pub fn local(root: &Path) -> Result<Self, MediaError> {
        std::fs::create_dir_all(root)?;
        let store = LocalFileSystem::new_with_prefix(root).map_err(MediaError::Store)?;
        Ok(Self { inner: Arc::new(store), signer: None, keeps_content_type: false })
    }

    /// A store in an S3 bucket; with an `endpoint` (MinIO and friends) it uses path-style URLs.
    pub fn s3(
        bucket: &str,
        endpoint: Option<&str>,
        region: &str,
        access_key: &str,
        secret_key: &str,
        allow_http: bool,
    ) -> Result<Self, MediaError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(region)
            .with_access_key_id(access_key)
            .with_secret_access_key(secret_key)
            .with_allow_http(allow_http)
            .with_retry(object_store::RetryConfig {
                backoff: object_store::BackoffConfig::default(),
                max_retries: STORE_RETRIES,
                retry_timeout: STORE_RETRY_TIMEOUT,
            });
        if let Some(endpoint) = endpoint {
            // MinIO serves buckets under the path, not as subdomains.
            builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
        }
        let s3 = Arc::new(builder.build().map_err(MediaError::Store)?);
        Ok(Self { inner: s3.clone(), signer: Some(s3), keeps_content_type: true })
    }

    /// Whether the objects live on another machine (S3): a failure there may be an outage that
    /// ends, where a local folder's is a fault of this machine.
    pub fn is_remote(&self) -> bool {
        self.signer.is_some()
    }

    /// Stores `bytes` under `key`, replacing what was there, with the given content type.
    pub async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), MediaError> {
        let path = parse_key(key)?;
        let mut opts = PutOptions::default();
        if self.keeps_content_type {
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::ContentType, content_type.to_owned().into());
            opts.attributes = attributes;
        }
        self.inner.put_opts(&path, PutPayload::from(bytes), opts).await.map_err(|e| store_error(key, e))?;
        Ok(())
    }

    /// All bytes stored under `key`.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, MediaError> {
        let path = parse_key(key)?;
        let result = self.inner.get(&path).await.map_err(|e| store_error(key, e))?;
        let bytes = result.bytes().await.map_err(|e| store_error(key, e))?;
        Ok(bytes.to_vec())
    }

    /// Bytes `range` of the object under `key`; a range running past the end is cut at the end.
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, MediaError> {
        let path = parse_key(key)?;
        if range.start >= range.end {
            return Err(MediaError::BadRange { start: range.start, end: range.end });
        }
        let bytes = self.inner.get_range(&path, range).await.map_err(|e| store_error(key, e))?;
        Ok(bytes.to_vec())
    }

    /// Size in bytes of the object under `key`.
    pub async fn size(&self, key: &str) -> Result<u64, MediaError> {
        let path = parse_key(key)?;
        let meta = self.inner.head(&path).await.map_err(|e| store_error(key, e))?;
        Ok(meta.size)
    }

    /// Removes the object under `key`; removing a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), MediaError> {
        let path = parse_key(key)?;
        match self.inner.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(other) => Err(MediaError::Store(other)),
        }
    }

    /// Removes every object whose key starts with the folder `prefix` (`parts/<job>`); returns
    /// how many. Listing and deleting are not atomic: an object written meanwhile may stay.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, MediaError> {
        use futures_util::StreamExt;
        let path = parse_key(prefix.trim_end_matches('/'))?;
        let mut listed = self.inner.list(Some(&path));
        let mut keys = Vec::new();
        while let Some(meta) = listed.next().await {
            match meta {
                Ok(meta) => keys.push(meta.location),
                Err(object_store::Error::NotFound { .. }) => break,
                Err(other) => return Err(MediaError::Store(other)),
            }
        }
        for key in &keys {
            match self.inner.delete(key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(other) => return Err(MediaError::Store(other)),
            }
        }
        Ok(keys.len())
    }

    /// Lists the objects under the folder `prefix` (`videos`, `parts`) as the listing goes, a
    /// chunk at a time ([`Listing::next_chunk`]), so a bucket of millions is never held at once;
    /// in no particular order. A missing folder lists nothing.
    pub fn list(&self, prefix: &str, chunk: usize) -> Result<Listing, MediaError> {
        let path = parse_key(prefix.trim_end_matches('/'))?;
        Ok(Listing { inner: self.inner.list(Some(&path)), chunk: chunk.max(1), done: false })
    }

    /// Whether an object is stored under `key`.
    pub async fn exists(&self, key: &str) -> Result<bool, MediaError> {
        match self.size(key).await {
            Ok(_) => Ok(true),
            Err(MediaError::NotFound { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// A time-limited GET URL for `key` (S3 only); `None` when the backend cannot sign URLs.
    pub async fn presigned_get_url(&self, key: &str, expires: Duration) -> Result<Option<String>, MediaError> {
        let path = parse_key(key)?;
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let url = signer.signed_url(Method::GET, &path, expires).await.map_err(|e| store_error(key, e))?;
        Ok(Some(url.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_keys_pass() {
        for key in ["videos/0190b1c2-7d3e-7000-8000-000000000000.mp4", "thumbs/a_b.jpg", "x"] {
            assert_eq!(parse_key(key).unwrap().as_ref(), key);
        }
    }

    #[test]
    fn bad_keys_are_refused() {
        for key in [
            "",
            "/videos/a.mp4",
            "videos/../secrets",
            "..",
            "videos/a..mp4",
            "videos//a.mp4",
            "videos/",
            "./a.mp4",
            "videos/a b.mp4",
            "videos/é.mp4",
            "videos\\a.mp4",
            "videos/a.mp4?x=1",
        ] {
            assert!(matches!(parse_key(key), Err(MediaError::BadKey { .. })), "{key:?} accepted");
        }
        assert!(matches!(parse_key(&"a".repeat(1025)), Err(MediaError::BadKey { .. })));
    }

    #[tokio::test]
    async fn s3_store_presigns_without_a_server() {
        let store = MediaStore::s3("media", Some("http://127.0.0.1:9000"), "us-east-1", "key", "secret", true).unwrap();
        let url = store.presigned_get_url("videos/a.mp4", Duration::from_secs(600)).await.unwrap().unwrap();
        assert!(url.starts_with("http://127.0.0.1:9000/media/videos/a.mp4?"), "{url}");
        assert!(url.contains("X-Amz-Expires=600"), "{url}");
        assert!(url.contains("X-Amz-Signature="), "{url}");
        assert!(!url.contains("secret"), "{url}");
        let debug = format!("{store:?}");
        assert!(debug.contains("media") && !debug.contains("secret"), "{debug}");
    }
}
