//! C2PA provenance: signs the final MP4 with an embedded manifest (created by a trained
//! algorithm, model and generator versions, the remix source as an ingredient, the cameo consents)
//! and verifies a file's manifest, including that it is bound to these exact bytes.
//!
//! The embedded default keeps a local CA under a data directory (`load_or_create_local_ca`); a
//! deployment configures its own chain through [`SignerConfig`]. Trust is reported apart from
//! integrity: [`verify_mp4`] checks signature and hashes, [`verify_mp4_trusting`] also checks
//! that the signer chains to the given roots.

use std::{
    fmt,
    fs::{self, OpenOptions},
    io::{Cursor, Write},
    path::Path,
    time::{SystemTime, UNIX_EPOCH},
};

use c2pa::{
    Builder, BuilderIntent, Context, DigitalSourceType, Ingredient, Manifest, Reader, Relationship, SigningAlg,
    create_signer, validation_results::ValidationState, validation_status,
};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, date_time_ymd,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Label of our assertion carrying model, generator version and video id.
pub const GENERATION_LABEL: &str = "app.soravibe.generation";
/// Label of our assertion listing each cameo and the consent version that allowed it.
pub const CONSENT_LABEL: &str = "app.soravibe.consent";
/// IPTC digital source type for media made by a trained model.
pub const TRAINED_ALGORITHMIC_MEDIA: &str = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";

const MP4_FORMAT: &str = "video/mp4";
/// Prefix of the ingredient instance id that names the remix source video.
const REMIX_INSTANCE_PREFIX: &str = "soravibe:video:";
/// Prefix of the ingredient instance ids that name the videos a stitched video is made of.
const PART_INSTANCE_PREFIX: &str = "soravibe:part:";
const ROOT_CERT_FILE: &str = "c2pa-root.pem";
const ROOT_KEY_FILE: &str = "c2pa-root.key";
const SIGNER_CERT_FILE: &str = "c2pa-signer.pem";
const SIGNER_KEY_FILE: &str = "c2pa-signer.key";
/// id-kp-documentSigning (RFC 9336), an EKU C2PA accepts for claim signers.
const EKU_DOCUMENT_SIGNING: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 3, 36];

/// Everything that can go wrong while signing or verifying provenance.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    /// Reading or writing the local CA files failed.
    #[error("local CA files: {0}")]
    Io(#[from] std::io::Error),
    /// Generating the local CA or signer certificate failed.
    #[error("certificate generation: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The file carries no C2PA manifest.
    #[error("no C2PA manifest in the file")]
    NoManifest,
    /// The C2PA library refused to sign or read.
    #[error("C2PA: {0}")]
    C2pa(c2pa::Error),
    /// An assertion could not be encoded.
    #[error("assertion encoding: {0}")]
    Encoding(#[from] serde_json::Error),
}

impl From<c2pa::Error> for ProvenanceError {
    fn from(err: c2pa::Error) -> Self {
        match err {
            c2pa::Error::JumbfNotFound | c2pa::Error::ProvenanceMissing => Self::NoManifest,
            other => Self::C2pa(other),
        }
    }
}

/// The certificate chain and key that sign manifests.
#[derive(Clone)]
pub struct SignerConfig {
    /// PEM chain, end-entity certificate first, without the root.
    pub cert_chain_pem: String,
    /// PKCS#8 PEM of the end-entity's P-256 key (ES256).
    pub private_key_pem: String,
    /// RFC 3161 time-stamp authority; `None` where there is no network.
    pub tsa_url: Option<String>,
}

impl fmt::Debug for SignerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key never reaches logs.
        f.debug_struct("SignerConfig")
            .field("cert_chain_pem", &self.cert_chain_pem)
            .field("private_key_pem", &"<redacted>")
            .field("tsa_url", &self.tsa_url)
            .finish()
    }
}

/// The video a remix was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemixSource {
    /// Id of the source video.
    pub video_id: String,
    /// Title of the source video.
    pub title: String,
    /// The source's signed MP4 when at hand, so its manifest travels as the ingredient's provenance.
    pub source_mp4: Option<Vec<u8>>,
}

/// One cameo in the video and the consent version that allowed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameoConsent {
    /// Id of the cameo.
    pub cameo_id: String,
    /// Id of the person who owns the cameo.
    pub owner_id: String,
    /// Version of the owner's consent that allowed this use.
    pub consent_version: i64,
}

/// What the manifest states about a generated video.
#[derive(Debug, Clone)]
pub struct ProvenanceInfo {
    /// Title of the video.
    pub title: String,
    /// Id of the video.
    pub video_id: String,
    /// Name of the model that generated it.
    pub model_name: String,
    /// Version of that model.
    pub model_version: String,
    /// Version of the generator service.
    pub generator_version: String,
    /// The source video when this is a remix.
    pub remix_source: Option<RemixSource>,
    /// The videos it is made of, in order, when it joins earlier videos (`stitchVideos`): each
    /// an ingredient (`componentOf`) carrying its own manifest when its file is at hand.
    pub parts: Vec<RemixSource>,
    /// Cameos that appear, with their consent versions.
    pub cameos: Vec<CameoConsent>,
}

/// What verification found in a file's manifest.
#[derive(Debug, Clone, Default)]
pub struct VerifiedManifest {
    /// Signature valid and every hash binds the manifest to these bytes (trust aside).
    pub valid: bool,
    /// The claim signature itself verified.
    pub signature_valid: bool,
    /// The signer chains to a root passed to [`verify_mp4_trusting`].
    pub trusted: bool,
    /// Issuer (organisation) of the signing certificate.
    pub issuer: Option<String>,
    /// Video id from the generation assertion.
    pub video_id: Option<String>,
    /// Model name and version from the generation assertion.
    pub model: Option<String>,
    /// Generator version from the generation assertion.
    pub generator_version: Option<String>,
    /// Digital source type of the `c2pa.created` action.
    pub digital_source_type: Option<String>,
    /// Cameos and consent versions from the consent assertion.
    pub cameos: Vec<CameoConsent>,
    /// Video id of the remix-source ingredient.
    pub remix_source: Option<String>,
    /// Whether the remix-source ingredient carried a manifest of its own.
    pub remix_source_has_manifest: bool,
    /// Video ids of the part ingredients, in order, and whether each carried its own manifest.
    pub parts: Vec<(String, bool)>,
    /// Failure codes (with explanations) the reader reported.
    pub validation_errors: Vec<String>,
}

/// Body of the `app.soravibe.generation` assertion.
#[derive(Debug, Serialize, Deserialize)]
struct GenerationAssertion {
    video_id: String,
    model_name: String,
    model_version: String,
    generator_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remix_of: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    parts: Vec<String>,
}

/// Body of the `app.soravibe.consent` assertion.
#[derive(Debug, Serialize, Deserialize)]
struct ConsentAssertion {
    cameos: Vec<CameoConsent>,
}

/// Loads the local CA and signer under `dir`, creating them on first use.
pub fn load_or_create_local_ca(dir: &Path) -> Result<SignerConfig, ProvenanceError> {
    let cert_path = dir.join(SIGNER_CERT_FILE);
    let key_path = dir.join(SIGNER_KEY_FILE);
    if cert_path.exists() && key_path.exists() && dir.join(ROOT_CERT_FILE).exists() {
        return Ok(SignerConfig {
            cert_chain_pem: fs::read_to_string(cert_path)?,
            private_key_pem: fs::read_to_string(key_path)?,
            tsa_url: None,
        });
    }
    fs::create_dir_all(dir)?;

    let years = validity_years();
    let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let root_params = local_root_params(years);
    let root_cert = root_params.self_signed(&root_key)?;
    let issuer = Issuer::new(root_params, &root_key);
    let (signer_cert, signer_key) = issue_local_signer(&issuer, years)?;
    let config =
        SignerConfig { cert_chain_pem: signer_cert.pem(), private_key_pem: signer_key.serialize_pem(), tsa_url: None };
    write_private(&dir.join(ROOT_KEY_FILE), &root_key.serialize_pem())?;
    write_private(&key_path, &config.private_key_pem)?;
    fs::write(&cert_path, &config.cert_chain_pem)?;
    // The root goes last: its presence marks a complete CA for the reuse check above.
    fs::write(dir.join(ROOT_CERT_FILE), root_cert.pem())?;
    tracing::info!(dir = %dir.display(), "created local C2PA CA");
    Ok(config)
}

/// The local root's certificate parameters: the same every time, so a signer issued later (a
/// renewal) names exactly the issuer the root certificate has.
fn local_root_params((first_year, last_year): (i32, i32)) -> CertificateParams {
    let (not_before, not_after) = (date_time_ymd(first_year, 1, 1), date_time_ymd(last_year, 1, 1));
    let mut root_params = CertificateParams::default();
    root_params.distinguished_name = name("SoraVibe Local C2PA Root");
    root_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    root_params.not_before = not_before;
    root_params.not_after = not_after;
    root_params
}

/// A new signer certificate and key under the local root. C2PA's end-entity profile: v3, not a
/// CA, digitalSignature only, an allowed EKU (never anyExtendedKeyUsage) and an authority key
/// identifier.
fn issue_local_signer(
    issuer: &Issuer<'_, &KeyPair>,
    (first_year, last_year): (i32, i32),
) -> Result<(rcgen::Certificate, KeyPair), ProvenanceError> {
    let (not_before, not_after) = (date_time_ymd(first_year, 1, 1), date_time_ymd(last_year, 1, 1));
    let signer_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut signer_params = CertificateParams::default();
    signer_params.distinguished_name = name("SoraVibe Local C2PA Signer");
    signer_params.is_ca = IsCa::ExplicitNoCa;
    signer_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // emailProtection as well: the default EKU list of c2pa-rs 0.91 (the Python bindings) refuses
    // a signer with documentSigning alone ("certificate missing required EKU").
    signer_params.extended_key_usages =
        vec![ExtendedKeyUsagePurpose::EmailProtection, ExtendedKeyUsagePurpose::Other(EKU_DOCUMENT_SIGNING.to_vec())];
    signer_params.use_authority_key_identifier_extension = true;
    signer_params.not_before = not_before;
    signer_params.not_after = not_after;
    let signer_cert = signer_params.signed_by(&signer_key, issuer)?;
    Ok((signer_cert, signer_key))
}

/// Renews the local CA's signer: a new key and certificate under the same root, valid from this
/// year for ten years. Manifests signed with the old signer keep verifying (they carry their own
/// certificate, which chains to the same root). Processes read the signer at start: restart the
/// generators to sign with the new one. Returns the new signer's certificate (PEM).
pub fn renew_local_signer(dir: &Path) -> Result<String, ProvenanceError> {
    let root_key = KeyPair::from_pem(&fs::read_to_string(dir.join(ROOT_KEY_FILE))?)?;
    let years = validity_years();
    let issuer = Issuer::new(local_root_params(years), &root_key);
    let (cert, key) = issue_local_signer(&issuer, years)?;
    // Key first, then certificate, each replaced in one rename.
    let (key_new, cert_new) = (dir.join(format!("{SIGNER_KEY_FILE}.new")), dir.join(format!("{SIGNER_CERT_FILE}.new")));
    let _ = fs::remove_file(&key_new);
    write_private(&key_new, &key.serialize_pem())?;
    fs::write(&cert_new, cert.pem())?;
    fs::rename(&key_new, dir.join(SIGNER_KEY_FILE))?;
    fs::rename(&cert_new, dir.join(SIGNER_CERT_FILE))?;
    tracing::info!(dir = %dir.display(), "renewed the local C2PA signer");
    Ok(cert.pem())
}

/// Reads the PEM root of the local CA under `dir`, to pass to [`verify_mp4_trusting`].
pub fn local_ca_root_pem(dir: &Path) -> Result<String, ProvenanceError> {
    Ok(fs::read_to_string(dir.join(ROOT_CERT_FILE))?)
}

/// Signs `mp4` and returns it with the C2PA manifest embedded.
pub fn sign_mp4(mp4: &[u8], info: &ProvenanceInfo, signer: &SignerConfig) -> Result<Vec<u8>, ProvenanceError> {
    let raw_signer = create_signer::from_keys(
        signer.cert_chain_pem.as_bytes(),
        signer.private_key_pem.as_bytes(),
        SigningAlg::Es256,
        signer.tsa_url.clone(),
    )?;

    let mut builder = Builder::from_context(Context::new()).with_definition(json!({
        "title": info.title,
        "format": MP4_FORMAT,
        "claim_generator_info": [{
            "name": "soravibe-generator",
            "version": info.generator_version,
        }],
    }))?;
    builder.set_intent(BuilderIntent::Create(DigitalSourceType::TrainedAlgorithmicMedia));
    builder.add_action(json!({
        "action": "c2pa.created",
        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
        "softwareAgent": { "name": info.model_name, "version": info.model_version },
    }))?;
    builder.add_assertion(
        GENERATION_LABEL,
        &GenerationAssertion {
            video_id: info.video_id.clone(),
            model_name: info.model_name.clone(),
            model_version: info.model_version.clone(),
            generator_version: info.generator_version.clone(),
            remix_of: info.remix_source.as_ref().map(|r| r.video_id.clone()),
            parts: info.parts.iter().map(|p| p.video_id.clone()).collect(),
        },
    )?;
    builder.add_assertion(CONSENT_LABEL, &ConsentAssertion { cameos: info.cameos.clone() })?;

    if let Some(remix) = &info.remix_source {
        // componentOf, not parentOf: a `c2pa.created` manifest may not have a parent; the
        // builder adds the `c2pa.placed` action that references it.
        add_ingredient(&mut builder, remix, format!("{REMIX_INSTANCE_PREFIX}{}", remix.video_id))?;
    }
    for (n, part) in info.parts.iter().enumerate() {
        add_ingredient(&mut builder, part, format!("{PART_INSTANCE_PREFIX}{}:{}", n + 1, part.video_id))?;
    }

    let mut source = Cursor::new(mp4);
    let mut dest = Cursor::new(Vec::with_capacity(mp4.len().saturating_add(64 * 1024)));
    builder.sign(raw_signer.as_ref(), MP4_FORMAT, &mut source, &mut dest)?;
    Ok(dest.into_inner())
}

/// Adds an earlier video as a `componentOf` ingredient, with its own manifest when its file is
/// at hand.
fn add_ingredient(builder: &mut Builder, video: &RemixSource, instance_id: String) -> Result<(), ProvenanceError> {
    match &video.source_mp4 {
        Some(source) => {
            let ingredient_json = json!({
                "title": video.title,
                "format": MP4_FORMAT,
                "relationship": "componentOf",
                "instance_id": instance_id,
            });
            builder.add_ingredient_from_stream(
                ingredient_json.to_string(),
                MP4_FORMAT,
                &mut Cursor::new(source.as_slice()),
            )?;
        }
        None => {
            let mut ingredient = Ingredient::new_v2(video.title.as_str(), MP4_FORMAT);
            ingredient.set_relationship(Relationship::ComponentOf).set_instance_id(instance_id);
            builder.add_ingredient(ingredient);
        }
    }
    Ok(())
}

/// Verifies the manifest of `mp4` (signature and binding to these bytes), trusting no root.
pub fn verify_mp4(mp4: &[u8]) -> Result<VerifiedManifest, ProvenanceError> {
    verify(mp4, None)
}

/// Verifies the manifest of `mp4` and whether its signer chains to one of `roots_pem`.
pub fn verify_mp4_trusting(mp4: &[u8], roots_pem: &str) -> Result<VerifiedManifest, ProvenanceError> {
    verify(mp4, Some(roots_pem))
}

fn verify(mp4: &[u8], roots_pem: Option<&str>) -> Result<VerifiedManifest, ProvenanceError> {
    let settings = match roots_pem {
        Some(roots) => json!({
            "verify": { "verify_trust": true },
            "trust": { "trust_anchors": roots },
        }),
        // Without roots a trust check can only say "untrusted"; leave it out of the errors.
        None => json!({ "verify": { "verify_trust": false } }),
    };
    let context = Context::new().with_settings(settings)?;
    let reader = Reader::from_context(context).with_stream(MP4_FORMAT, Cursor::new(mp4))?;
    let manifest = reader.active_manifest().ok_or(ProvenanceError::NoManifest)?;

    let state = reader.validation_state();
    let mut found = VerifiedManifest {
        valid: matches!(state, ValidationState::Valid | ValidationState::Trusted),
        trusted: state == ValidationState::Trusted,
        issuer: manifest.issuer(),
        validation_errors: validation_errors(&reader),
        ..VerifiedManifest::default()
    };
    if let Some(active) = reader.validation_results().and_then(|results| results.active_manifest()) {
        found.signature_valid =
            active.success().iter().any(|s| s.code() == validation_status::CLAIM_SIGNATURE_VALIDATED);
    }

    if let Ok(generation) = manifest.find_assertion::<GenerationAssertion>(GENERATION_LABEL) {
        found.video_id = Some(generation.video_id);
        found.model = Some(format!("{} {}", generation.model_name, generation.model_version));
        found.generator_version = Some(generation.generator_version);
    }
    if let Ok(consent) = manifest.find_assertion::<ConsentAssertion>(CONSENT_LABEL) {
        found.cameos = consent.cameos;
    }
    found.digital_source_type = created_source_type(manifest);
    if let Some(ingredient) = manifest
        .ingredients()
        .iter()
        .find(|i| i.instance_id().starts_with(REMIX_INSTANCE_PREFIX) && *i.relationship() == Relationship::ComponentOf)
    {
        found.remix_source = ingredient.instance_id().strip_prefix(REMIX_INSTANCE_PREFIX).map(str::to_owned);
        found.remix_source_has_manifest = ingredient.active_manifest().is_some();
    }
    found.parts = manifest
        .ingredients()
        .iter()
        .filter_map(|i| {
            let (_, id) = i.instance_id().strip_prefix(PART_INSTANCE_PREFIX)?.split_once(':')?;
            Some((id.to_owned(), i.active_manifest().is_some()))
        })
        .collect();
    Ok(found)
}

/// The digital source type of the manifest's `c2pa.created` action.
fn created_source_type(manifest: &Manifest) -> Option<String> {
    let actions: serde_json::Value =
        manifest.assertions().iter().find(|a| a.label().starts_with("c2pa.actions"))?.value().ok()?.clone();
    actions
        .get("actions")?
        .as_array()?
        .iter()
        .find(|a| a.get("action").and_then(|v| v.as_str()) == Some("c2pa.created"))?
        .get("digitalSourceType")?
        .as_str()
        .map(str::to_owned)
}

/// Failure statuses of the active manifest and of its ingredients, as `code: explanation`.
fn validation_errors(reader: &Reader) -> Vec<String> {
    let Some(results) = reader.validation_results() else {
        return Vec::new();
    };
    let active = results.active_manifest().map(|codes| codes.failure().iter()).into_iter().flatten();
    let ingredients =
        results.ingredient_deltas().into_iter().flatten().flat_map(|delta| delta.validation_deltas().failure().iter());
    active
        .chain(ingredients)
        .map(|s| match s.explanation() {
            Some(why) => format!("{}: {why}", s.code()),
            None => s.code().to_owned(),
        })
        .collect()
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "SoraVibe");
    dn
}

/// Years of the validity window: 1 January of this year to 1 January ten years on.
fn validity_years() -> (i32, i32) {
    // Average Gregorian year; two days of margin keep the start before now around New Year.
    const SECS_PER_YEAR: u64 = 31_556_952;
    let secs =
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0).saturating_sub(2 * 86_400);
    let year = 1970_i32.saturating_add(i32::try_from(secs / SECS_PER_YEAR).unwrap_or(0));
    (year, year.saturating_add(10))
}

/// Writes a private key readable by the owner only.
fn write_private(path: &Path, pem: &str) -> Result<(), ProvenanceError> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(pem.as_bytes())?;
    Ok(())
}
