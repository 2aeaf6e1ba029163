//! Checks both media-store engines share (the folder store in `media.rs`, S3 in `s3.rs`).

use media::MediaStore;

/// A folder's objects go together, and only that folder's (not a sibling sharing its prefix).
pub async fn a_folder_is_deleted_alone(store: &MediaStore) {
    for k in ["parts/j1/m-1/0.mp4", "parts/j1/m-1/1.mp4", "parts/j10/m-1/0.mp4"] {
        store.put(k, b"part".to_vec(), "video/mp4").await.unwrap();
    }
    assert_eq!(store.delete_prefix("parts/j1/").await.unwrap(), 2);
    assert!(!store.exists("parts/j1/m-1/0.mp4").await.unwrap());
    assert!(!store.exists("parts/j1/m-1/1.mp4").await.unwrap());
    assert!(store.exists("parts/j10/m-1/0.mp4").await.unwrap());
    assert_eq!(store.delete_prefix("parts/j1").await.unwrap(), 0, "nothing left: not an error");
    store.delete("parts/j10/m-1/0.mp4").await.unwrap();
}

/// `list` hands every object of a folder over, a chunk at a time, with its size and a time of
/// writing; other folders, and a folder with a longer name, are not included.
pub async fn a_folder_is_listed_in_chunks(store: &MediaStore) {
    let before = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    for i in 0..5 {
        store.put(&format!("sweep/a/{i}.bin"), vec![0; i + 1], "application/octet-stream").await.unwrap();
    }
    store.put("sweep/ab/x.bin", b"x".to_vec(), "application/octet-stream").await.unwrap();
    let mut listing = store.list("sweep/a", 2).unwrap();
    let mut chunks = Vec::new();
    while let Some(chunk) = listing.next_chunk().await.unwrap() {
        chunks.push(chunk);
    }
    assert!(listing.next_chunk().await.unwrap().is_none(), "stays at the end");
    assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let mut keys: Vec<(String, u64)> = chunks.iter().flatten().map(|o| (o.key.clone(), o.size)).collect();
    keys.sort();
    let want: Vec<(String, u64)> = (0..5).map(|i| (format!("sweep/a/{i}.bin"), i as u64 + 1)).collect();
    assert_eq!(keys, want);
    assert!(chunks.iter().flatten().all(|o| o.modified > before));
    assert!(store.list("sweep/none", 2).unwrap().next_chunk().await.unwrap().is_none());
    assert!(store.list("../x", 2).is_err(), "a bad folder name is refused");
    assert_eq!(store.delete_prefix("sweep").await.unwrap(), 6);
}
