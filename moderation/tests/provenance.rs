//! C2PA provenance: signing a real MP4, reading the manifest back, tamper and strip detection, the
//! local CA's life cycle, and an independent reader (the Python `c2pa` bindings) when installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
};

use moderation::provenance::{
    self, CONSENT_LABEL, CameoConsent, GENERATION_LABEL, ProvenanceError, ProvenanceInfo, RemixSource, SignerConfig,
    TRAINED_ALGORITHMIC_MEDIA,
};

/// A fresh, empty directory for one test.
fn temp_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "moderation-provenance-{}-{tag}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small real H.264 MP4: 64×64, 12 frames of a moving gradient.
fn small_mp4() -> Vec<u8> {
    let (w, h) = (64usize, 64usize);
    let frames: Vec<Vec<u8>> = (0..12)
        .map(|t| {
            let mut f = Vec::with_capacity(w * h * 3);
            for y in 0..h {
                for x in 0..w {
                    f.push(((x * 4 + t * 9) % 256) as u8);
                    f.push(((y * 4) % 256) as u8);
                    f.push(((x + y + t * 5) % 256) as u8);
                }
            }
            f
        })
        .collect();
    media::encode_mp4(w, h, &frames, &media::EncodeOptions { fps: 12, bitrate_kbps: 2000, keyframe_interval: 24 })
        .unwrap()
        .mp4
}

fn cameos() -> Vec<CameoConsent> {
    vec![
        CameoConsent { cameo_id: "cameo-ada".into(), owner_id: "user-ada".into(), consent_version: 3 },
        CameoConsent { cameo_id: "cameo-bob".into(), owner_id: "user-bob".into(), consent_version: 1 },
    ]
}

fn info(video_id: &str, remix_source: Option<RemixSource>) -> ProvenanceInfo {
    ProvenanceInfo {
        title: format!("video {video_id}"),
        video_id: video_id.into(),
        model_name: "tiny-denoiser".into(),
        model_version: "0.3.1".into(),
        generator_version: "generator 1.4.0".into(),
        remix_source,
        parts: vec![],
        cameos: cameos(),
    }
}

/// Top-level MP4 boxes as (type, start, end) byte ranges.
fn top_level_boxes(mp4: &[u8]) -> Vec<(String, usize, usize)> {
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= mp4.len() {
        let mut size = u32::from_be_bytes(mp4[at..at + 4].try_into().unwrap()) as usize;
        let kind = String::from_utf8_lossy(&mp4[at + 4..at + 8]).into_owned();
        if size == 1 {
            size = u64::from_be_bytes(mp4[at + 8..at + 16].try_into().unwrap()) as usize;
        } else if size == 0 {
            size = mp4.len() - at;
        }
        assert!(size >= 8 && at + size <= mp4.len(), "bad box {kind} at {at}");
        boxes.push((kind, at, at + size));
        at += size;
    }
    assert_eq!(at, mp4.len(), "trailing bytes after the last box");
    boxes
}

/// The signed file with its C2PA `uuid` boxes removed.
fn strip_manifest(mp4: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(mp4.len());
    for (kind, start, end) in top_level_boxes(mp4) {
        if kind != "uuid" {
            out.extend_from_slice(&mp4[start..end]);
        }
    }
    out
}

struct Signed {
    dir: PathBuf,
    signer: SignerConfig,
    plain: Vec<u8>,
    signed: Vec<u8>,
}

fn signed_sample(tag: &str) -> Signed {
    let dir = temp_dir(tag);
    let signer = provenance::load_or_create_local_ca(&dir).unwrap();
    let plain = small_mp4();
    let signed = provenance::sign_mp4(&plain, &info("vid-1", None), &signer).unwrap();
    Signed { dir, signer, plain, signed }
}

#[test]
fn signed_mp4_verifies_and_reads_back_our_assertions() {
    let s = signed_sample("roundtrip");
    assert!(s.signed.len() > s.plain.len());

    let found = provenance::verify_mp4(&s.signed).unwrap();
    assert!(found.valid, "errors: {:?}", found.validation_errors);
    assert!(found.signature_valid);
    assert!(!found.trusted, "no roots were given");
    assert!(found.validation_errors.is_empty(), "{:?}", found.validation_errors);
    assert_eq!(found.issuer.as_deref(), Some("SoraVibe"));
    assert_eq!(found.video_id.as_deref(), Some("vid-1"));
    assert_eq!(found.model.as_deref(), Some("tiny-denoiser 0.3.1"));
    assert_eq!(found.generator_version.as_deref(), Some("generator 1.4.0"));
    assert_eq!(found.digital_source_type.as_deref(), Some(TRAINED_ALGORITHMIC_MEDIA));
    assert_eq!(found.cameos, cameos());
    assert_eq!(found.remix_source, None);
    provenance::local_ca_root_pem(&s.dir).unwrap();
}

#[test]
fn local_root_makes_the_manifest_trusted_and_a_foreign_root_does_not() {
    let s = signed_sample("trust");
    let root = provenance::local_ca_root_pem(&s.dir).unwrap();
    let found = provenance::verify_mp4_trusting(&s.signed, &root).unwrap();
    assert!(found.valid && found.trusted, "{:?}", found.validation_errors);

    let other = temp_dir("trust-other");
    provenance::load_or_create_local_ca(&other).unwrap();
    let foreign = provenance::local_ca_root_pem(&other).unwrap();
    let found = provenance::verify_mp4_trusting(&s.signed, &foreign).unwrap();
    assert!(!found.trusted);
    assert!(found.signature_valid);
    assert!(
        found.validation_errors.iter().any(|e| e.starts_with("signingCredential.untrusted")),
        "{:?}",
        found.validation_errors
    );
}

#[test]
fn signed_mp4_still_probes_and_decodes() {
    let s = signed_sample("decode");
    let before = media::probe_mp4(&s.plain).unwrap();
    let after = media::probe_mp4(&s.signed).unwrap();
    assert_eq!((after.width, after.height), (64, 64));
    assert_eq!(after.frame_count, before.frame_count);
    assert_eq!(after.duration_ms, before.duration_ms);
    assert_eq!(media::decode_mp4(&s.signed).unwrap(), media::decode_mp4(&s.plain).unwrap());
}

#[test]
fn one_flipped_byte_in_the_video_data_invalidates_the_manifest() {
    let s = signed_sample("tamper");
    let (_, start, end) = top_level_boxes(&s.signed).into_iter().find(|(kind, _, _)| kind == "mdat").unwrap();
    let mut tampered = s.signed.clone();
    let at = start + 8 + (end - start - 8) / 2;
    tampered[at] ^= 0x01;

    let found = provenance::verify_mp4(&tampered).unwrap();
    assert!(!found.valid);
    assert!(found.signature_valid, "the claim itself is untouched");
    assert!(found.validation_errors.iter().any(|e| e.contains("mismatch")), "{:?}", found.validation_errors);
}

#[test]
fn stripped_or_unsigned_file_has_no_manifest() {
    let s = signed_sample("strip");
    let stripped = strip_manifest(&s.signed);
    assert!(stripped.len() < s.signed.len());
    assert!(matches!(provenance::verify_mp4(&stripped), Err(ProvenanceError::NoManifest)));
    assert!(matches!(provenance::verify_mp4(&s.plain), Err(ProvenanceError::NoManifest)));
}

#[test]
fn manifest_of_another_file_does_not_validate_here() {
    // The publish gate's "bound to this exact file": graft the manifest box onto other video data.
    let s = signed_sample("graft");
    let other = provenance::sign_mp4(&small_mp4(), &info("vid-2", None), &s.signer).unwrap();
    assert!(provenance::verify_mp4(&other).unwrap().valid);
    let uuid_of = |mp4: &[u8]| {
        let (_, a, b) = top_level_boxes(mp4).into_iter().find(|(k, _, _)| k == "uuid").unwrap();
        (a, b)
    };
    // Re-encode the clip differently so the video bytes differ, sign it, then swap in vid-1's box.
    let mut different = small_mp4();
    let mdat = top_level_boxes(&different).into_iter().find(|(k, _, _)| k == "mdat").unwrap();
    different[mdat.1 + 20] ^= 0xff;
    let target = provenance::sign_mp4(&different, &info("vid-3", None), &s.signer).unwrap();
    let (sa, sb) = uuid_of(&s.signed);
    let (ta, tb) = uuid_of(&target);
    if sb - sa == tb - ta {
        let mut grafted = target.clone();
        grafted[ta..tb].copy_from_slice(&s.signed[sa..sb]);
        let found = provenance::verify_mp4(&grafted).unwrap();
        assert!(!found.valid, "a manifest must not validate on other bytes");
        assert_eq!(found.video_id.as_deref(), Some("vid-1"));
    } else {
        panic!("manifest boxes differ in size: {} vs {}", sb - sa, tb - ta);
    }
}

#[test]
fn remix_source_is_an_ingredient_with_its_own_manifest() {
    let s = signed_sample("remix");
    // With the source's signed file: its manifest travels with the ingredient.
    let remix = provenance::sign_mp4(
        &small_mp4(),
        &info(
            "vid-remix",
            Some(RemixSource {
                video_id: "vid-1".into(),
                title: "video vid-1".into(),
                source_mp4: Some(s.signed.clone()),
            }),
        ),
        &s.signer,
    )
    .unwrap();
    let found = provenance::verify_mp4(&remix).unwrap();
    assert!(found.valid, "{:?}", found.validation_errors);
    assert_eq!(found.video_id.as_deref(), Some("vid-remix"));
    assert_eq!(found.remix_source.as_deref(), Some("vid-1"));
    assert!(found.remix_source_has_manifest);

    // With ids only: still an ingredient, without provenance of its own.
    let remix = provenance::sign_mp4(
        &small_mp4(),
        &info(
            "vid-remix-2",
            Some(RemixSource { video_id: "vid-9".into(), title: "video vid-9".into(), source_mp4: None }),
        ),
        &s.signer,
    )
    .unwrap();
    let found = provenance::verify_mp4(&remix).unwrap();
    assert!(found.valid, "{:?}", found.validation_errors);
    assert_eq!(found.remix_source.as_deref(), Some("vid-9"));
    assert!(!found.remix_source_has_manifest);
}

#[test]
fn the_parts_of_a_stitched_video_are_ingredients_in_order() {
    let (a, b) = (signed_sample("part-a"), signed_sample("part-b"));
    let mut stitched = info("vid-stitched", None);
    stitched.parts = vec![
        RemixSource { video_id: "vid-a".into(), title: "video vid-a".into(), source_mp4: Some(a.signed.clone()) },
        RemixSource { video_id: "vid-b".into(), title: "video vid-b".into(), source_mp4: Some(b.signed.clone()) },
        RemixSource { video_id: "vid-c".into(), title: "video vid-c".into(), source_mp4: None },
    ];
    let signed = provenance::sign_mp4(&small_mp4(), &stitched, &a.signer).unwrap();
    let found = provenance::verify_mp4(&signed).unwrap();
    assert!(found.valid, "{:?}", found.validation_errors);
    assert_eq!(found.remix_source, None, "a part is not a remix source");
    assert_eq!(
        found.parts,
        [("vid-a".to_owned(), true), ("vid-b".to_owned(), true), ("vid-c".to_owned(), false)],
        "each part once, in order, with its own manifest where its file was given"
    );
}

#[test]
fn local_ca_is_created_once_and_reused() {
    let dir = temp_dir("ca");
    let first = provenance::load_or_create_local_ca(&dir).unwrap();
    let root = provenance::local_ca_root_pem(&dir).unwrap();
    assert!(first.cert_chain_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(first.private_key_pem.contains("PRIVATE KEY"));
    assert!(first.tsa_url.is_none());
    assert!(!format!("{first:?}").contains(&first.private_key_pem));

    let second = provenance::load_or_create_local_ca(&dir).unwrap();
    assert_eq!(second.cert_chain_pem, first.cert_chain_pem);
    assert_eq!(second.private_key_pem, first.private_key_pem);
    assert_eq!(provenance::local_ca_root_pem(&dir).unwrap(), root);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            if path.extension().and_then(|e| e.to_str()) == Some("key") {
                assert_eq!(mode, 0o600, "{}", path.display());
            }
        }
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 4);
}

/// The Python bindings' interpreter, when `scripts/setup.sh` installed them.
fn python_with_c2pa() -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let ok = Command::new(&python).args(["-c", "import c2pa"]).output().map(|o| o.status.success()).unwrap_or(false);
    ok.then_some(python)
}

/// Reads `argv[1]`; with `argv[2]` (a PEM root) the reader trusts that root.
const PY_READER: &str = r#"
import json, sys, c2pa
context = None
if len(sys.argv) > 2:
    roots = open(sys.argv[2]).read()
    settings = c2pa.Settings.from_json(json.dumps({"version": 1, "trust": {"trust_anchors": roots}}))
    context = c2pa.Context(settings)
reader = c2pa.Reader(sys.argv[1], context=context)
print(json.dumps({
    "sdk": c2pa.sdk_version(),
    "state": reader.get_validation_state(),
    "store": json.loads(reader.json()),
}))
"#;

#[test]
fn independent_reader_accepts_the_manifest() {
    // setup.sh installs the reader; without it this test fails rather than passing unchecked.
    let Some(python) = python_with_c2pa() else {
        panic!(".venv has no c2pa-python: run scripts/setup.sh");
    };
    let s = signed_sample("python");
    let path = s.dir.join("signed.mp4");
    std::fs::write(&path, &s.signed).unwrap();
    let out = Command::new(python).args(["-c", PY_READER]).arg(&path).output().unwrap();
    assert!(out.status.success(), "python reader failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("independent reader: sdk {} state {}", report["sdk"], report["state"]);
    let store = &report["store"];
    let label = store["active_manifest"].as_str().unwrap();
    let manifest = &store["manifests"][label];
    let assertion = |wanted: &str| {
        manifest["assertions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["label"].as_str() == Some(wanted))
            .unwrap_or_else(|| panic!("{wanted} missing: {manifest}"))
            .clone()
    };
    assert_eq!(assertion(GENERATION_LABEL)["data"]["video_id"], "vid-1");
    assert_eq!(assertion(CONSENT_LABEL)["data"]["cameos"][0]["consent_version"], 3);
    let actions = assertion("c2pa.actions.v2");
    assert_eq!(actions["data"]["actions"][0]["action"], "c2pa.created");
    assert_eq!(actions["data"]["actions"][0]["digitalSourceType"], TRAINED_ALGORITHMIC_MEDIA);

    // Only an untrusted signer is acceptable: our local root is on no official trust list.
    let failures: Vec<String> = store["validation_results"]["activeManifest"]["failure"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f| f["code"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(failures.iter().all(|c| c == "signingCredential.untrusted"), "{failures:?}");
    let successes = store["validation_results"]["activeManifest"]["success"].to_string();
    assert!(successes.contains("claimSignature.validated"), "{successes}");
    assert!(successes.contains("assertion.bmffHash.match"), "{successes}");
    assert_ne!(report["state"], "Invalid");

    // Given our local root as a trust anchor, the independent reader trusts the signer too.
    let out = Command::new(python_with_c2pa().unwrap())
        .args(["-c", PY_READER])
        .arg(&path)
        .arg(s.dir.join("c2pa-root.pem"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["state"], "Trusted", "{report}");

    // And the independent reader also sees a flipped byte.
    let (_, start, end) = top_level_boxes(&s.signed).into_iter().find(|(kind, _, _)| kind == "mdat").unwrap();
    let mut tampered = s.signed.clone();
    tampered[start + 8 + (end - start - 8) / 2] ^= 0x01;
    std::fs::write(&path, &tampered).unwrap();
    let out = Command::new(python_with_c2pa().unwrap()).args(["-c", PY_READER]).arg(&path).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["state"], "Invalid", "{report}");
}

/// The local signer renews under the same root: manifests signed before keep verifying as
/// trusted, new ones are signed with the new certificate and key, and the root does not change.
#[test]
fn a_renewed_signer_leaves_earlier_manifests_valid() {
    let s = signed_sample("renew");
    let root = provenance::local_ca_root_pem(&s.dir).unwrap();
    let cert = provenance::renew_local_signer(&s.dir).unwrap();
    let renewed = provenance::load_or_create_local_ca(&s.dir).unwrap();
    assert_eq!(renewed.cert_chain_pem, cert);
    assert_ne!(renewed.cert_chain_pem, s.signer.cert_chain_pem, "a new certificate");
    assert_ne!(renewed.private_key_pem, s.signer.private_key_pem, "a new key");
    assert_eq!(provenance::local_ca_root_pem(&s.dir).unwrap(), root, "the same root");
    let before = provenance::verify_mp4_trusting(&s.signed, &root).unwrap();
    assert!(before.valid && before.trusted, "{:?}", before.validation_errors);
    let after = provenance::sign_mp4(&s.plain, &info("vid-2", None), &renewed).unwrap();
    let found = provenance::verify_mp4_trusting(&after, &root).unwrap();
    assert!(found.valid && found.trusted, "{:?}", found.validation_errors);
    assert_eq!(found.video_id.as_deref(), Some("vid-2"));
    // Under another root, neither is trusted.
    let other = temp_dir("renew-other");
    provenance::load_or_create_local_ca(&other).unwrap();
    let foreign = provenance::local_ca_root_pem(&other).unwrap();
    assert!(!provenance::verify_mp4_trusting(&after, &foreign).unwrap().trusted);
}
