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
