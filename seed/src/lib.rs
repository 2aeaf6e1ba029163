//! The `seed` tool: realistic synthetic data written straight into the store, for load tests and
//! demos. Reproducible for a given `--seed` (ids, graph, prompts, engagement; times are relative
//! to the moment it runs).
//!
//! Shape of the data:
//! - users `seed_0` … `seed_{N-1}` (emails `seed_{i}@seed.invalid`, verified, role USER), all
//!   with one shared password hash made by the service's own hasher, so they can log in;
//! - follows: heavy-tailed out-degrees (Pareto, mean ≈ 20, at most 1000), followees drawn by
//!   preferential attachment (weight ∝ (rank+1)^-1.1) so a few accounts have thousands of
//!   followers;
//! - videos: M published (plus ≈3% drafts, ≈1% removed), authors drawn power-law, prompts from
//!   topic templates, published over the last 30 days (denser recently), each with its
//!   SUCCEEDED generation job (same id); ≈25% remix an earlier published video, forming chains of
//!   depth up to 20; media are 8 shared real clips and thumbnails under `seed/`;
//! - engagement: likes (mean ≈ 8), views (mean ≈ 15) and comments (mean ≈ 1) per published
//!   video, heavy-tailed and correlated with author popularity and recency.
//!
//! Every counter column equals the rows it counts. Rows go in with multi-row inserts in chunks
//! under the engine's bind-parameter limit, all tables in one transaction, so a failed or
//! interrupted seed leaves the database as it was. On PostgreSQL the loaded tables' foreign keys,
//! the primary and unique keys no foreign key references, and the non-unique secondary indexes are
//! dropped inside that transaction before the load and recreated after it ([`Deferred`]): one
//! index build by sort and one validating join per constraint instead of a B-tree insertion and a
//! trigger per row (DDL is transactional there, so nothing is ever left without its constraints).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectOptions, ConnectionTrait, Database, DatabaseTransaction, DbBackend,
    EntityTrait, Statement, TransactionTrait,
};
use uuid::Uuid;

use app_core::error::{AppError, AppResult};
use app_core::model::{AspectRatio, AudioMode, CommentStatus, JobStatus, Maturity, Role, Verdict, VideoStatus};
use app_core::types::Secret;
use config::Config;
use domain::auth::password::PasswordHasherPool;
use store::Store;
use store::entities::{comments, follows, generation_jobs as jobs, likes, users, videos, views};

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// Members.
    pub users: usize,
    /// Published videos (drafts and removed ones come on top).
    pub videos: usize,
    /// RNG seed.
    pub seed: u64,
    /// The password every seeded member logs in with.
    pub password: String,
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self { users: 10_000, videos: 100_000, seed: 42, password: "seed-password-1".into() }
    }
}

/// Rows written per table, and the time it took.
#[derive(Debug, Clone, Default)]
pub struct SeedSummary {
    /// `users`
    pub users: u64,
    /// `follows`
    pub follows: u64,
    /// `generation_jobs`
    pub jobs: u64,
    /// `videos` (all statuses)
    pub videos: u64,
    /// Of which published.
    pub published: u64,
    /// `likes`
    pub likes: u64,
    /// `views`
    pub views: u64,
    /// `comments`
    pub comments: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl std::fmt::Display for SeedSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seeded users={} follows={} jobs={} videos={} (published {}) likes={} views={} comments={} in {:.1} s",
            self.users,
            self.follows,
            self.jobs,
            self.videos,
            self.published,
            self.likes,
            self.views,
            self.comments,
            self.seconds
        )
    }
}

/// Placeholder clips shared by every seeded video.
const CLIPS: usize = 8;
/// Side of the placeholder clips, in pixels.
const CLIP_SIDE: usize = 256;
/// Frame rate of the placeholder clips (one second long).
const CLIP_FPS: u32 = 12;
/// Most follows one member makes.
const MAX_OUT_DEGREE: usize = 1000;
/// Deepest remix chain.
const MAX_CHAIN: u32 = 20;

fn internal(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::internal(what, e)
}

/// Seeds the configured database (migrations first) and media store.
pub async fn run(config: &Config, opts: &SeedOptions) -> AppResult<SeedSummary> {
    let started = Instant::now();
    std::fs::create_dir_all(&config.storage.data_dir).map_err(|e| internal("data folder", e))?;
    let url = config.effective_database_url();
    let store = Store::connect(&url, 2).await?;
    store.migrate().await?;
    if store.user_by_username("seed_0").await?.is_some() {
        return Err(AppError::Conflict(
            "this database is seeded already (seed_0 exists); seed a fresh database".into(),
        ));
    }
    let mut opt = ConnectOptions::new(url.clone());
    opt.max_connections(2).min_connections(1).sqlx_logging(false);
    let db = Database::connect(opt).await?;
    let media = backend::app::media_store(config)?;
    let (name, version) = match generator::manifest::Manifest::load(&config.inference.model_manifest) {
        Ok(m) => (m.name, m.version),
        Err(_) => ("tiny-test-video".to_owned(), "1".to_owned()),
    };
    eprintln!("seed: hashing the shared password");
    let hash = PasswordHasherPool::new(1)?.hash(Secret::new(opts.password.clone())).await?;
    eprintln!("seed: writing {CLIPS} placeholder clips");
    let clip = write_clips(&media).await?;
    let limit = if url.starts_with("postgres") { 65_535 } else { 32_766 };
    let data = generate(opts, Utc::now());
    eprintln!(
        "seed: generated {} users, {} follows, {} videos, {} likes, {} views, {} comments in {:.1} s",
        data.users.len(),
        data.follows.len(),
        data.videos.len(),
        data.likes.len(),
        data.views.len(),
        data.comments.len(),
        started.elapsed().as_secs_f64()
    );
    let txn = db.begin().await?;
    let deferred = if url.starts_with("postgres") { Some(Deferred::drop_all(&txn).await?) } else { None };
    let mut summary = write(&txn, &data, &hash, &clip, (&name, &version), limit).await?;
    if let Some(deferred) = deferred {
        deferred.restore(&txn).await?;
    }
    let committing = Instant::now();
    txn.commit().await?;
    eprintln!("seed: commit in {:.1} s", committing.elapsed().as_secs_f64());
    summary.seconds = started.elapsed().as_secs_f64();
    db.close().await?;
    Ok(summary)
}

/// Facts of the placeholder clips (all the same size and length).
struct ClipFacts {
    duration_ms: i64,
    frame_count: i32,
}

/// One RGB frame of pattern `k` at frame `t`: moving diagonal stripes in two hues per clip.
fn frame(k: usize, t: usize) -> Vec<u8> {
    let hue = |h: usize| -> [u8; 3] {
        // Six saturated colours around the wheel, then two mixtures.
        const WHEEL: [[u8; 3]; 8] = [
            [230, 60, 50],
            [240, 170, 40],
            [90, 200, 70],
            [40, 180, 200],
            [60, 90, 230],
            [170, 70, 220],
            [240, 120, 170],
            [120, 110, 90],
        ];
        WHEEL.get(h % WHEEL.len()).copied().unwrap_or([128, 128, 128])
    };
    let (a, b) = (hue(k), hue(k + 3));
    let mut out = Vec::with_capacity(CLIP_SIDE * CLIP_SIDE * 3);
    let width = 16 + 4 * k;
    for y in 0..CLIP_SIDE {
        for x in 0..CLIP_SIDE {
            let band = (x + y + t * 6) / width;
            let shade = (y * 60 / CLIP_SIDE) as u8;
            let c = if band.is_multiple_of(2) { a } else { b };
            out.extend(c.iter().map(|v| v.saturating_sub(shade)));
        }
    }
    out
}

async fn write_clips(media: &media::MediaStore) -> AppResult<ClipFacts> {
    let mut facts = ClipFacts { duration_ms: 1000, frame_count: CLIP_FPS as i32 };
    for k in 0..CLIPS {
        let frames: Vec<Vec<u8>> = (0..CLIP_FPS as usize).map(|t| frame(k, t)).collect();
        let opts = media::EncodeOptions { fps: CLIP_FPS, bitrate_kbps: 400, keyframe_interval: CLIP_FPS };
        let encoded =
            media::encode_mp4(CLIP_SIDE, CLIP_SIDE, &frames, &opts).map_err(|e| internal("encode clip", e))?;
        let first = frames.first().ok_or_else(|| internal("clip", "no frames"))?;
        let thumb = media::thumbnail_jpeg(CLIP_SIDE, CLIP_SIDE, first, 256).map_err(|e| internal("thumbnail", e))?;
        facts = ClipFacts { duration_ms: encoded.duration_ms as i64, frame_count: encoded.frame_count as i32 };
        media.put(&clip_key(k), encoded.mp4, "video/mp4").await.map_err(|e| internal("store clip", e))?;
        media.put(&thumb_key(k), thumb, "image/jpeg").await.map_err(|e| internal("store thumbnail", e))?;
    }
    Ok(facts)
}

fn clip_key(k: usize) -> String {
    format!("seed/clip-{k}.mp4")
}

fn thumb_key(k: usize) -> String {
    format!("seed/thumb-{k}.jpg")
}

// ---------------------------------------------------------------------------------------------
// Generation (pure, in memory)

/// A weighted sampler over `0..n` (cumulative weights, binary search).
struct Weighted {
    cum: Vec<f64>,
}

impl Weighted {
    fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cum = weights
            .into_iter()
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        Self { cum }
    }

    fn sample(&self, rng: &mut StdRng) -> usize {
        let total = self.cum.last().copied().unwrap_or(0.0);
        let r = rng.random::<f64>() * total;
        self.cum.partition_point(|c| *c <= r).min(self.cum.len().saturating_sub(1))
    }
}

/// Standard normal (Box–Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Exponential with mean `mean`.
fn exponential(rng: &mut StdRng, mean: f64) -> f64 {
    -mean * rng.random::<f64>().max(1e-12).ln()
}

/// Picks `k` distinct values from `draw` (giving up after a bounded number of tries).
fn distinct(k: usize, mut draw: impl FnMut() -> Option<u32>, exclude: u32) -> Vec<u32> {
    let mut seen = HashSet::with_capacity(k);
    let mut out = Vec::with_capacity(k);
    let mut tries = 0;
    while out.len() < k && tries < 30 * k + 100 {
        tries += 1;
        let Some(x) = draw() else { continue };
        if x != exclude && seen.insert(x) {
            out.push(x);
        }
    }
    out
}

fn pick<'a, T>(rng: &mut StdRng, list: &'a [T]) -> Option<&'a T> {
    if list.is_empty() { None } else { list.get(rng.random_range(0..list.len())) }
}

/// A topic: its name, subjects, actions and settings.
type Topic = (&'static str, &'static [&'static str], &'static [&'static str], &'static [&'static str]);

/// Topics with subjects, actions and settings to build prompts from.
#[rustfmt::skip]
const TOPICS: &[Topic] = &[
    ("cooking", &["a chef", "a grandmother", "a tiny robot chef", "two friends"], &["flipping pancakes", "making fresh pasta", "plating a chocolate dessert", "grilling skewers"], &["in a sunny kitchen", "at a night market", "in a rustic farmhouse kitchen", "on a food truck"]),
    ("animals", &["a golden retriever puppy", "a fluffy kitten", "a baby elephant", "a red fox"], &["chasing bubbles", "napping in a sunbeam", "splashing in a puddle", "playing with a ball of yarn"], &["in a sunny kitchen", "in a meadow", "in the snow", "on a cozy sofa"]),
    ("pranks", &["a teenager", "a roommate", "an office worker", "a magician"], &["pranking a friend with a fake spider", "swapping sugar for salt", "hiding in a cardboard box", "pulling a whoopee cushion prank"], &["in a college dorm", "at the office", "at a birthday party", "in a school hallway"]),
    ("sports", &["a skateboarder", "a basketball player", "a surfer", "a sprinter"], &["landing a kickflip", "making a buzzer-beater shot", "riding a huge wave", "crossing the finish line"], &["at a skate park", "in a packed stadium", "at sunset", "in the rain"]),
    ("music", &["a street guitarist", "a jazz trio", "a kid drummer", "a violinist"], &["playing an energetic solo", "jamming together", "performing a cover", "tuning up before a show"], &["on a subway platform", "in a smoky club", "on a rooftop", "in a garage"]),
    ("dance", &["a breakdancer", "a ballet dancer", "a flash mob", "two salsa dancers"], &["spinning on their head", "performing a pirouette", "dancing in sync", "doing a viral dance routine"], &["in a city square", "on a theatre stage", "in a mall", "on the beach"]),
    ("travel", &["a backpacker", "a couple", "a solo traveler", "a family"], &["exploring ancient ruins", "riding a hot air balloon", "walking through a lantern festival", "boarding a night train"], &["in Kyoto", "over Cappadocia", "in Marrakech", "in the Swiss Alps"]),
    ("nature", &["a waterfall", "a thunderstorm", "a field of sunflowers", "an autumn forest"], &["glowing in golden hour", "rolling across the plains", "swaying in the wind", "shrouded in morning mist"], &["timelapse", "from a drone", "at dawn", "after the rain"]),
    ("ocean", &["a humpback whale", "a sea turtle", "a school of fish", "a diver"], &["breaching the surface", "gliding over a coral reef", "swirling in a bait ball", "exploring a shipwreck"], &["in crystal clear water", "deep underwater", "near a tropical island", "under the moonlight"]),
    ("space", &["an astronaut", "a rocket", "a rover", "a space station"], &["floating past Saturn's rings", "lifting off into the night", "driving across Mars", "orbiting the Earth"], &["among the stars", "in a nebula", "at sunrise", "with the Milky Way behind"]),
    ("city", &["a neon street", "a busy crosswalk", "a skyline", "a tram"], &["glittering after the rain", "filled with commuters", "lighting up at dusk", "rolling through old streets"], &["in Tokyo", "in New York", "in Lisbon", "in Hong Kong"]),
    ("cars", &["a vintage muscle car", "an electric supercar", "a rally car", "a tiny city car"], &["drifting around a corner", "racing down a coastal highway", "jumping over a dune", "parking in a tight spot"], &["on a race track", "in the desert", "on a mountain road", "in the city at night"]),
    ("tech", &["a humanoid robot", "a drone swarm", "a maker", "a holographic phone"], &["assembling a gadget", "forming a glowing shape", "soldering a circuit board", "projecting a 3D map"], &["in a futuristic lab", "over a stadium", "at a workbench", "in a minimalist studio"]),
    ("fashion", &["a model", "a street-style crowd", "a tailor", "a designer"], &["walking the runway", "posing in bold outfits", "cutting fabric", "sketching a new dress"], &["in Paris", "in a sunlit atelier", "in a neon alley", "at fashion week"]),
    ("art", &["a painter", "a sculptor", "a street artist", "a paper craftsman"], &["painting a giant mural", "carving marble", "spraying a colourful graffiti", "folding an origami dragon"], &["in a loft studio", "on a city wall", "in a gallery", "at a craft fair"]),
    ("games", &["a pixel-art hero", "a speedrunner", "two gamers", "a chess grandmaster"], &["jumping across floating platforms", "beating a boss", "celebrating a comeback win", "making a brilliant move"], &["in a retro arcade", "in a fantasy world", "at an esports arena", "in a park"]),
    ("comedy", &["a clumsy waiter", "a talking parrot", "a stand-up comedian", "a cat"], &["dropping a tower of plates", "telling a bad joke", "doing crowd work", "knocking things off a table"], &["at a fancy restaurant", "in a living room", "on a small stage", "in slow motion"]),
    ("fitness", &["a yoga teacher", "a weightlifter", "a runner", "a climber"], &["flowing through a sunrise routine", "hitting a new personal record", "training on a track", "scaling a cliff"], &["on a beach", "in a gym", "in the mountains", "on a rooftop"]),
    ("science", &["a chemist", "a physics teacher", "a volcano", "a microscope"], &["mixing glowing liquids", "showing a pendulum wave", "erupting with lava", "revealing tiny creatures"], &["in a lab", "in a classroom", "at night", "in extreme close-up"]),
    ("fantasy", &["a dragon", "a wizard", "an enchanted castle", "a unicorn"], &["soaring over the clouds", "casting a glowing spell", "appearing through the fog", "galloping through a rainbow"], &["in a misty valley", "in a candlelit tower", "under two moons", "in a magical forest"]),
];

const STYLES: &[&str] = &[
    "",
    "",
    "",
    ", cinematic, golden hour",
    ", shot on a phone",
    ", in slow motion",
    ", claymation style",
    ", anime style",
    ", vintage film look",
    ", drone shot",
];

const TWISTS: &[&str] = &[
    "but everything is made of candy",
    "but underwater",
    "in the style of a silent movie",
    "but with a dramatic plot twist",
    "now at night with neon lights",
    "but all the characters are cats",
    "in claymation",
    "as a musical number",
    "but in slow motion",
    "in a snowstorm",
];

const COMMENT_BODIES: &[&str] = &[
    "love this!",
    "how did you make this?",
    "the colours are unreal",
    "this made my day",
    "wait for the end 😂",
    "remix incoming",
    "so satisfying",
    "prompt please?",
    "this is art",
    "again!!",
    "the lighting is perfect",
    "underrated",
];

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ve", "to", "na", "si", "ju", "pe", "dan", "mar", "li", "zo", "an", "el", "ko", "ri", "sa",
    "ne",
];

fn display_name(rng: &mut StdRng) -> String {
    let mut word = |n: usize| {
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(pick(rng, SYLLABLES).copied().unwrap_or("a"));
        }
        let mut c = s.chars();
        match c.next() {
            Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
            None => s,
        }
    };
    let first = word(2);
    let last = word(3);
    format!("{first} {last}")
}

fn prompt(rng: &mut StdRng, topic: usize) -> String {
    let Some((_, subjects, actions, settings)) = TOPICS.get(topic) else { return "a quiet moment".into() };
    let s = pick(rng, subjects).copied().unwrap_or("someone");
    let a = pick(rng, actions).copied().unwrap_or("waiting");
    let p = pick(rng, settings).copied().unwrap_or("");
    let style = pick(rng, STYLES).copied().unwrap_or("");
    format!("{s} {a} {p}{style}")
}

/// A v7 uuid at `at` with random bits from the seeded RNG.
fn v7(rng: &mut StdRng, at: DateTime<Utc>) -> Uuid {
    let bytes: [u8; 10] = rng.random();
    uuid::Builder::from_unix_timestamp_millis(at.timestamp_millis().max(0) as u64, &bytes).into_uuid()
}

fn v4(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

struct SeedUser {
    id: Uuid,
    display_name: String,
    created_at: DateTime<Utc>,
    followers: i64,
    following: i64,
}

struct SeedVideo {
    id: Uuid,
    author: u32,
    status: VideoStatus,
    prompt: String,
    seed: i64,
    clip: usize,
    created_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
    job_created_at: DateTime<Utc>,
    watermark: i64,
    remix_of: Option<u32>,
    root: Option<u32>,
    likes: i64,
    views: i64,
    watch_ms_total: i64,
    comments: i64,
}

struct Data {
    users: Vec<SeedUser>,
    follows: Vec<(u32, u32, DateTime<Utc>)>,
    videos: Vec<SeedVideo>,
    likes: Vec<(u32, u32, DateTime<Utc>)>,
    views: Vec<(u32, u32, i64, DateTime<Utc>)>,
    comments: Vec<(Uuid, u32, u32, &'static str, DateTime<Utc>)>,
}

fn generate(opts: &SeedOptions, now: DateTime<Utc>) -> Data {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let n = opts.users;
    let clip_ms: i64 = 1000;

    // Members, with a popularity rank (0 = most popular) independent of their number.
    let mut rank: Vec<usize> = (0..n).collect();
    rank.shuffle(&mut rng);
    let mut users: Vec<SeedUser> = (0..n)
        .map(|_| {
            let created_at = now - Duration::seconds(rng.random_range(40 * 86_400..120 * 86_400));
            SeedUser { id: v4(&mut rng), display_name: display_name(&mut rng), created_at, followers: 0, following: 0 }
        })
        .collect();
    let popularity: Vec<f64> = rank.iter().map(|r| ((*r + 1) as f64).powf(-1.1)).collect();
    let attach = Weighted::new(popularity.iter().copied());

    // Follows: Pareto out-degrees (alpha 1.5, x_min 7: mean ≈ 20 after the cap), followees by
    // preferential attachment (80%) or uniformly (20%).
    let mut follows = Vec::new();
    let mut followers_of: Vec<Vec<u32>> = vec![Vec::new(); n];
    let cap = MAX_OUT_DEGREE.min(n / 2);
    for u in 0..n {
        let d = (7.0 * rng.random::<f64>().max(1e-9).powf(-1.0 / 1.5)) as usize;
        let d = d.min(cap);
        let picked = distinct(
            d,
            || {
                let x = if rng.random::<f64>() < 0.8 { attach.sample(&mut rng) } else { rng.random_range(0..n) };
                u32::try_from(x).ok()
            },
            u as u32,
        );
        for f in picked {
            let (a, b) = (users.get(u).map(|x| x.created_at), users.get(f as usize).map(|x| x.created_at));
            let after = a.max(b).unwrap_or(now);
            let span = (now - after).num_seconds().max(1);
            follows.push((u as u32, f, after + Duration::seconds(rng.random_range(0..span))));
            if let Some(list) = followers_of.get_mut(f as usize) {
                list.push(u as u32);
            }
        }
    }
    for (a, b, _) in &follows {
        if let Some(x) = users.get_mut(*a as usize) {
            x.following += 1;
        }
        if let Some(x) = users.get_mut(*b as usize) {
            x.followers += 1;
        }
    }

    // Each member favours one to three topics.
    let favourites: Vec<Vec<usize>> =
        (0..n).map(|_| (0..rng.random_range(1..=3)).map(|_| rng.random_range(0..TOPICS.len())).collect()).collect();

    // Videos: authors power-law by the same rank (popular authors post more).
    let authors = Weighted::new(rank.iter().map(|r| ((*r + 1) as f64).powf(-0.7)));
    let published = opts.videos;
    let drafts = published * 3 / 100;
    let removed = published / 100;
    let mut watermarks = HashSet::new();
    let mut videos: Vec<SeedVideo> = Vec::with_capacity(published + drafts + removed);
    for i in 0..published + drafts + removed {
        let status = if i < published {
            VideoStatus::Published
        } else if i < published + drafts {
            VideoStatus::Draft
        } else {
            VideoStatus::Removed
        };
        let author = authors.sample(&mut rng);
        let topic = favourites
            .get(author)
            .filter(|_| rng.random::<f64>() < 0.7)
            .and_then(|f| pick(&mut rng, f).copied())
            .unwrap_or_else(|| rng.random_range(0..TOPICS.len()));
        // Denser recently: age = 30 days × u^1.8.
        let age = Duration::milliseconds((30.0 * 86_400_000.0 * rng.random::<f64>().powf(1.8)) as i64);
        let (created_at, published_at) = match status {
            VideoStatus::Draft => {
                let c = now - Duration::milliseconds((7.0 * 86_400_000.0 * rng.random::<f64>()) as i64);
                (c, None)
            }
            _ => {
                let p = now - age;
                (p - Duration::seconds(rng.random_range(60..1800)), Some(p))
            }
        };
        let mut watermark: i64 = rng.random_range(1..i64::MAX);
        while !watermarks.insert(watermark) {
            watermark = rng.random_range(1..i64::MAX);
        }
        let job_created_at = created_at - Duration::seconds(rng.random_range(15..120));
        videos.push(SeedVideo {
            id: v7(&mut rng, job_created_at),
            author: author as u32,
            status,
            prompt: prompt(&mut rng, topic),
            seed: rng.random_range(0..i64::from(u32::MAX)),
            clip: rng.random_range(0..CLIPS),
            created_at,
            published_at,
            job_created_at,
            watermark,
            remix_of: None,
            root: None,
            likes: 0,
            views: 0,
            watch_ms_total: 0,
            comments: 0,
        });
    }

    // Remixes: ≈25% of published videos remix an earlier published one; sources are recent
    // remixes (extending chains, up to a per-chain depth of 5..=20) or popular authors' videos.
    let mut order: Vec<usize> = (0..published).collect();
    order.sort_by_key(|i| videos.get(*i).and_then(|v| v.published_at));
    let mut depth = vec![0u32; videos.len()];
    let mut chain_cap = vec![MAX_CHAIN; videos.len()];
    let mut by_author: HashMap<u32, Vec<usize>> = HashMap::new();
    let mut recent_remixes: Vec<usize> = Vec::new();
    let mut earlier: Vec<usize> = Vec::new();
    for &i in &order {
        if !earlier.is_empty() && rng.random::<f64>() < 0.25 {
            let mut src = None;
            if rng.random::<f64>() < 0.5 && !recent_remixes.is_empty() {
                let lo = recent_remixes.len().saturating_sub(200);
                let s = recent_remixes.get(rng.random_range(lo..recent_remixes.len())).copied();
                if let Some(s) = s
                    && depth.get(s).copied().unwrap_or(0) < chain_cap.get(s).copied().unwrap_or(0)
                {
                    src = Some(s);
                }
            }
            if src.is_none() {
                for _ in 0..8 {
                    let a = authors.sample(&mut rng) as u32;
                    if let Some(s) = by_author.get(&a).and_then(|list| pick(&mut rng, list).copied())
                        && depth.get(s).copied().unwrap_or(0) < chain_cap.get(s).copied().unwrap_or(0)
                    {
                        src = Some(s);
                        break;
                    }
                }
            }
            let src =
                src.or_else(|| pick(&mut rng, &earlier).copied().filter(|s| depth.get(*s).copied().unwrap_or(0) == 0));
            if let Some(s) = src {
                let (root, root_prompt) = match videos.get(s) {
                    Some(v) => {
                        let root = v.root.map_or(s, |r| r as usize);
                        (root, videos.get(root).map(|r| r.prompt.clone()).unwrap_or_default())
                    }
                    None => (s, String::new()),
                };
                let d = depth.get(s).copied().unwrap_or(0) + 1;
                let cap = if d == 1 {
                    5 + rng.random_range(0..=(MAX_CHAIN - 5))
                } else {
                    chain_cap.get(s).copied().unwrap_or(MAX_CHAIN)
                };
                if let Some(x) = depth.get_mut(i) {
                    *x = d;
                }
                if let Some(x) = chain_cap.get_mut(i) {
                    *x = cap;
                }
                if d == 1
                    && let Some(x) = chain_cap.get_mut(s)
                {
                    *x = cap;
                }
                let twist = pick(&mut rng, TWISTS).copied().unwrap_or("again");
                if let Some(v) = videos.get_mut(i) {
                    v.remix_of = Some(s as u32);
                    v.root = Some(root as u32);
                    v.prompt = format!("remix: {root_prompt}, {twist}");
                }
                recent_remixes.push(i);
            }
        }
        earlier.push(i);
        if let Some(v) = videos.get(i) {
            by_author.entry(v.author).or_default().push(i);
        }
    }

    // Engagement on published videos: a score from author popularity, recency and noise.
    let score: Vec<f64> = videos
        .iter()
        .take(published)
        .map(|v| {
            let pop = rank.get(v.author as usize).map_or(1.0, |r| ((*r + 1) as f64).powf(-0.5));
            let age_days = v.published_at.map_or(30.0, |p| (now - p).num_seconds() as f64 / 86_400.0);
            let recency = (-age_days / 10.0).exp() * 0.7 + 0.3;
            pop * recency * (0.9 * normal(&mut rng)).exp()
        })
        .collect();
    let mean_score = if score.is_empty() { 1.0 } else { score.iter().sum::<f64>() / score.len() as f64 };
    let max_engaged = (n / 2).max(1);
    let mut likes = Vec::new();
    let mut views = Vec::new();
    let mut comments = Vec::new();
    for (i, s) in score.iter().enumerate() {
        let Some(v) = videos.get(i) else { continue };
        let published_at = v.published_at.unwrap_or(now);
        let author = v.author;
        let like_target = ((8.0 * s / mean_score).round() as usize).min(max_engaged);
        let view_target = ((like_target as f64 * 1.2 + exponential(&mut rng, 5.4)).round() as usize)
            .min(max_engaged)
            .max(like_target);
        let fans = followers_of.get(author as usize).map(Vec::as_slice).unwrap_or(&[]);
        let viewers = distinct(
            view_target,
            || {
                if rng.random::<f64>() < 0.5 && !fans.is_empty() {
                    pick(&mut rng, fans).copied()
                } else {
                    u32::try_from(rng.random_range(0..n)).ok()
                }
            },
            author,
        );
        let span = (now - published_at).num_seconds().max(1);
        let mut watch_total = 0;
        for (k, viewer) in viewers.iter().enumerate() {
            let viewed_at = published_at + Duration::seconds(rng.random_range(0..span));
            let liked = k < like_target;
            let watch = if liked || rng.random::<f64>() < 0.4 { clip_ms } else { rng.random_range(100..=clip_ms) };
            watch_total += watch;
            views.push((*viewer, i as u32, watch, viewed_at));
            if liked {
                let at = (viewed_at + Duration::seconds(rng.random_range(1..30))).min(now);
                likes.push((*viewer, i as u32, at));
            }
        }
        let liked_n = like_target.min(viewers.len());
        let comment_n = ((liked_n as f64 / 8.0) * exponential(&mut rng, 1.0)).round() as usize;
        for _ in 0..comment_n {
            let who = pick(&mut rng, &viewers).copied().unwrap_or(author);
            let at = published_at + Duration::seconds(rng.random_range(0..span));
            let body = pick(&mut rng, COMMENT_BODIES).copied().unwrap_or("nice");
            comments.push((v7(&mut rng, at), i as u32, who, body, at));
        }
        if let Some(v) = videos.get_mut(i) {
            v.likes = liked_n as i64;
            v.views = viewers.len() as i64;
            v.watch_ms_total = watch_total;
            v.comments = comment_n as i64;
        }
    }
    Data { users, follows, videos, likes, views, comments }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// The tables the seed loads.
const LOADED: [&str; 7] = ["users", "follows", "generation_jobs", "videos", "likes", "views", "comments"];

/// The foreign keys, the primary and unique keys no foreign key references, and the non-unique
/// secondary indexes of the [`LOADED`] tables on PostgreSQL, as read from the catalogue, dropped
/// before the load and recreated after it in the same transaction (a key's index is then built
/// by one sort instead of a B-tree insertion per row). Read rather than listed so a migration
/// that adds one is covered too.
struct Deferred {
    /// (table, constraint name, definition).
    foreign_keys: Vec<(String, String, String)>,
    /// Primary and unique keys: (table, constraint name, definition).
    keys: Vec<(String, String, String)>,
    /// (index name, `CREATE INDEX` statement).
    indexes: Vec<(String, String)>,
}

impl Deferred {
    async fn drop_all(txn: &DatabaseTransaction) -> AppResult<Self> {
        let started = Instant::now();
        let tables = LOADED.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
        let foreign_keys = Self::constraints(txn, &tables, "c.contype = 'f'").await?;
        let keys = Self::constraints(
            txn,
            &tables,
            "c.contype IN ('p', 'u') \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)",
        )
        .await?;
        let mut indexes = Vec::new();
        for row in txn
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i \
                     WHERE NOT i.indisprimary AND NOT i.indisunique AND i.indrelid::regclass::text IN ({tables}) \
                     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1"
                ),
            ))
            .await?
        {
            indexes.push((row.try_get_by_index(0)?, row.try_get_by_index(1)?));
        }
        for (table, name, _) in foreign_keys.iter().chain(&keys) {
            txn.execute_unprepared(&format!("ALTER TABLE {table} DROP CONSTRAINT {name}")).await?;
        }
        for (name, _) in &indexes {
            txn.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        eprintln!(
            "seed: dropped {} foreign keys, {} keys and {} indexes for the load in {:.1} s",
            foreign_keys.len(),
            keys.len(),
            indexes.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(Self { foreign_keys, keys, indexes })
    }

    /// The constraints of `tables` (a quoted, comma-separated list) that `filter` (on
    /// `pg_constraint c`) keeps: (table, quoted name, definition).
    async fn constraints(
        txn: &DatabaseTransaction,
        tables: &str,
        filter: &str,
    ) -> AppResult<Vec<(String, String, String)>> {
        let sql = format!(
            "SELECT c.conrelid::regclass::text, quote_ident(c.conname), pg_get_constraintdef(c.oid) \
             FROM pg_constraint c WHERE c.conrelid::regclass::text IN ({tables}) AND {filter} ORDER BY 1, 2"
        );
        let mut out = Vec::new();
        for row in txn.query_all_raw(Statement::from_string(DbBackend::Postgres, sql)).await? {
            out.push((row.try_get_by_index(0)?, row.try_get_by_index(1)?, row.try_get_by_index(2)?));
        }
        Ok(out)
    }

    /// Adds back the keys (checking them) and builds the indexes, then adds back (and so
    /// validates) the foreign keys.
    async fn restore(self, txn: &DatabaseTransaction) -> AppResult<()> {
        let started = Instant::now();
        txn.execute_unprepared("SET LOCAL maintenance_work_mem = '256MB'").await?;
        for (table, name, definition) in &self.keys {
            txn.execute_unprepared(&format!("ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")).await?;
        }
        for (_, create) in &self.indexes {
            txn.execute_unprepared(create).await?;
        }
        let indexed = started.elapsed().as_secs_f64();
        for (table, name, definition) in &self.foreign_keys {
            txn.execute_unprepared(&format!("ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")).await?;
        }
        eprintln!(
            "seed: rebuilt {} keys and {} indexes in {indexed:.1} s and checked {} foreign keys in {:.1} s",
            self.keys.len(),
            self.indexes.len(),
            self.foreign_keys.len(),
            started.elapsed().as_secs_f64() - indexed
        );
        Ok(())
    }
}

/// Inserts `rows` in batches of as many rows as `limit` bind parameters allow (one parameter per
/// column of the table, counted from its entity, so a new column cannot overflow the limit),
/// inside the caller's transaction.
async fn insert_all<A, I>(txn: &DatabaseTransaction, table: &str, limit: usize, rows: I) -> AppResult<u64>
where
    A: ActiveModelTrait,
    I: IntoIterator<Item = A>,
{
    let cols = <<A::Entity as EntityTrait>::Column as sea_orm::Iterable>::iter().count().max(1);
    let started = Instant::now();
    let per = (limit / cols).max(1);
    let mut buf: Vec<A> = Vec::with_capacity(per);
    let mut n: u64 = 0;
    for row in rows {
        buf.push(row);
        if buf.len() == per {
            n += buf.len() as u64;
            <A::Entity as EntityTrait>::insert_many(std::mem::replace(&mut buf, Vec::with_capacity(per)))
                .exec_without_returning(txn)
                .await?;
        }
    }
    if !buf.is_empty() {
        n += buf.len() as u64;
        <A::Entity as EntityTrait>::insert_many(buf).exec_without_returning(txn).await?;
    }
    eprintln!("seed: {table}: {n} rows in {:.1} s", started.elapsed().as_secs_f64());
    Ok(n)
}

async fn write(
    db: &DatabaseTransaction,
    d: &Data,
    hash: &str,
    clip: &ClipFacts,
    model: (&str, &str),
    limit: usize,
) -> AppResult<SeedSummary> {
    let mut s = SeedSummary::default();
    let uid = |i: u32| d.users.get(i as usize).map(|u| u.id).unwrap_or_default();
    let vid = |i: u32| d.videos.get(i as usize).map(|v| v.id).unwrap_or_default();

    s.users = insert_all(
        db,
        "users",
        limit,
        d.users.iter().enumerate().map(|(i, u)| users::ActiveModel {
            id: Set(u.id),
            email: Set(format!("seed_{i}@seed.invalid")),
            username: Set(format!("seed_{i}")),
            username_key: Set(format!("seed_{i}")),
            display_name: Set(Some(u.display_name.clone())),
            password_hash: Set(hash.to_owned()),
            role: Set(Role::User),
            email_verified_at: Set(Some(u.created_at + Duration::minutes(3))),
            banned_at: Set(None),
            ban_reason: Set(None),
            invited_by: Set(None),
            invite_id: Set(None),
            created_at: Set(u.created_at),
            follower_count: Set(u.followers),
            following_count: Set(u.following),
            birth_month: Set(None),
            time_zone: Set(None),
            daily_feed_minutes: Set(None),
        }),
    )
    .await?;

    s.follows = insert_all(
        db,
        "follows",
        limit,
        d.follows.iter().map(|(a, b, at)| follows::ActiveModel {
            follower_id: Set(uid(*a)),
            followee_id: Set(uid(*b)),
            created_at: Set(*at),
        }),
    )
    .await?;

    s.jobs = insert_all(
        db,
        "generation_jobs",
        limit,
        d.videos.iter().map(|v| {
            let started = v.job_created_at + Duration::seconds(2);
            jobs::ActiveModel {
                id: Set(v.id),
                user_id: Set(uid(v.author)),
                status: Set(JobStatus::Succeeded),
                prompt: Set(v.prompt.clone()),
                seed: Set(v.seed),
                duration_seconds: Set(1),
                aspect_ratio: Set(AspectRatio::Square),
                step: Set(8),
                total_steps: Set(8),
                attempts: Set(1),
                worker: Set(Some("seed-worker".into())),
                error_code: Set(None),
                error_message: Set(None),
                video_id: Set(Some(v.id)),
                created_at: Set(v.job_created_at),
                started_at: Set(Some(started)),
                finished_at: Set(Some(v.created_at)),
                updated_at: Set(v.created_at),
                dispatched_at: Set(Some(v.job_created_at)),
                frame_scores: Set(None),
                remix_of: Set(v.remix_of.map(vid)),
                // The seed's jobs asked for no sound: their fixture clips are silent.
                audio_mode: Set(AudioMode::Silent),
                shots: Set(None),
                caption: Set(None),
                failure_dismissed_at: Set(None),
                trace_parent: Set(None),
            }
        }),
    )
    .await?;

    let frame_scores = serde_json::json!({"indices": [0, 2, 4, 6, 8, 10, 11, 11], "scores": [0.01, 0.02, 0.01, 0.01, 0.03, 0.02, 0.01, 0.01]}).to_string();
    s.videos = insert_all(
        db,
        "videos",
        limit,
        d.videos.iter().map(|v| {
            let job_ms = (v.created_at - v.job_created_at).num_milliseconds().max(1);
            let stages = serde_json::json!({
                "queue_wait": 1500, "text_encode": 20, "denoise": job_ms / 2, "decode": job_ms / 8, "encode": 40,
                "mux": 2, "store": 5, "moderate": 60, "watermark": 15, "sign": 8
            })
            .to_string();
            videos::ActiveModel {
                id: Set(v.id),
                author_id: Set(uid(v.author)),
                job_id: Set(v.id),
                status: Set(v.status),
                prompt: Set(v.prompt.clone()),
                caption: Set(None),
                seed: Set(v.seed),
                aspect_ratio: Set(AspectRatio::Square),
                video_key: Set(clip_key(v.clip)),
                thumbnail_key: Set(thumb_key(v.clip)),
                width: Set(CLIP_SIDE as i32),
                height: Set(CLIP_SIDE as i32),
                duration_ms: Set(clip.duration_ms),
                frame_count: Set(clip.frame_count),
                fps: Set(CLIP_FPS as i32),
                model_name: Set(model.0.to_owned()),
                model_version: Set(model.1.to_owned()),
                execution_provider: Set("cpu".into()),
                stage_millis: Set(stages),
                remix_allowed: Set(true),
                created_at: Set(v.created_at),
                published_at: Set(v.published_at),
                watermark_id: Set(Some(v.watermark)),
                verdict: Set(Verdict::Pass),
                verdict_reason: Set(None),
                frame_scores: Set(Some(frame_scores.clone())),
                frame_strip_key: Set(None),
                manifest_issuer: Set(Some("SoraVibe".into())),
                manifest_valid: Set(true),
                removed_at: Set((v.status == VideoStatus::Removed)
                    .then(|| v.published_at.unwrap_or(v.created_at) + Duration::hours(2))),
                removal_reason: Set(
                    (v.status == VideoStatus::Removed).then(|| "seed: removed by a moderator".to_owned())
                ),
                remix_of: Set(v.remix_of.map(vid)),
                root_id: Set(v.root.map(vid)),
                like_count: Set(v.likes),
                view_count: Set(v.views),
                watch_ms_total: Set(v.watch_ms_total),
                comment_count: Set(v.comments),
                // The seed's fixture clips are silent.
                has_audio: Set(false),
                captions_key: Set(None),
                maturity: Set(Maturity::General),
            }
        }),
    )
    .await?;
    s.published = d.videos.iter().filter(|v| v.status == VideoStatus::Published).count() as u64;

    s.likes = insert_all(
        db,
        "likes",
        limit,
        d.likes.iter().map(|(u, v, at)| likes::ActiveModel {
            user_id: Set(uid(*u)),
            video_id: Set(vid(*v)),
            created_at: Set(*at),
        }),
    )
    .await?;
    s.views = insert_all(
        db,
        "views",
        limit,
        d.views.iter().map(|(u, v, ms, at)| views::ActiveModel {
            user_id: Set(uid(*u)),
            video_id: Set(vid(*v)),
            watch_ms: Set(*ms),
            viewed_at: Set(*at),
        }),
    )
    .await?;
    s.comments = insert_all(
        db,
        "comments",
        limit,
        d.comments.iter().map(|(id, v, u, body, at)| comments::ActiveModel {
            id: Set(*id),
            video_id: Set(vid(*v)),
            author_id: Set(uid(*u)),
            body: Set((*body).to_owned()),
            status: Set(CommentStatus::Visible),
            created_at: Set(*at),
        }),
    )
    .await?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use sea_orm::DatabaseConnection;

    async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
        let row =
            // As BIGINT whatever the engine's type for the expression (PostgreSQL's COUNT is
            // BIGINT, its MAX of an INTEGER is not).
            db.query_one_raw(Statement::from_string(db.get_database_backend(), format!("SELECT CAST(({sql}) AS BIGINT)")))
                .await
                .unwrap()
                .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    #[test]
    fn generation_is_reproducible() {
        let o = SeedOptions { users: 50, videos: 200, seed: 7, password: "x".into() };
        let now = Utc::now();
        let (a, b) = (generate(&o, now), generate(&o, now));
        assert_eq!(a.users.iter().map(|u| u.id).collect::<Vec<_>>(), b.users.iter().map(|u| u.id).collect::<Vec<_>>());
        assert_eq!(a.follows.len(), b.follows.len());
        assert_eq!(a.likes.len(), b.likes.len());
        assert_eq!(
            a.videos.iter().map(|v| v.prompt.clone()).collect::<Vec<_>>(),
            b.videos.iter().map(|v| v.prompt.clone()).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn seeds_a_consistent_dataset() {
        seed_and_check(None).await;
    }

    /// The same on PostgreSQL (a fresh database).
    #[tokio::test]
    async fn seeds_a_consistent_dataset_on_postgres() {
        let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
            eprintln!("TEST_POSTGRES_URL unset: skipped");
            return;
        };
        let name = format!("seed_{}", Uuid::new_v4().simple());
        let admin = Database::connect(&admin_url).await.unwrap();
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
        let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
        seed_and_check(Some(format!("{base}/{name}"))).await;
        // The foreign keys and indexes dropped for the load are all back, as the migrations made
        // them (compared with a database that was only migrated).
        let reference = format!("{name}_ref");
        admin.execute_unprepared(&format!("CREATE DATABASE {reference}")).await.unwrap();
        Store::connect(&format!("{base}/{reference}"), 1).await.unwrap().migrate().await.unwrap();
        let schema_of = |db_name: String| {
            let url = format!("{base}/{db_name}");
            async move {
                let db = Database::connect(&url).await.unwrap();
                let mut out = Vec::new();
                let sql = "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
                           FROM pg_constraint WHERE contype IN ('f', 'p', 'u') \
                           UNION ALL SELECT pg_get_indexdef(indexrelid) FROM pg_index i \
                           JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                           WHERE n.nspname = 'public' ORDER BY 1";
                for row in db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap() {
                    out.push(row.try_get_by_index::<String>(0).unwrap());
                }
                db.close().await.unwrap();
                out
            }
        };
        let (seeded, migrated) = (schema_of(name.clone()).await, schema_of(reference.clone()).await);
        assert!(migrated.iter().any(|d| d.contains("idx_likes_video")), "{migrated:?}");
        assert!(migrated.iter().any(|d| d.contains("FOREIGN KEY")), "{migrated:?}");
        assert_eq!(seeded, migrated);
        for db_name in [name, reference] {
            admin.execute_unprepared(&format!("DROP DATABASE {db_name} WITH (FORCE)")).await.unwrap();
        }
    }

    async fn seed_and_check(database_url: Option<String>) {
        let dir = std::env::temp_dir().join(format!("sv-seed-{}", Uuid::new_v4().simple()));
        let mut config = Config::default();
        config.storage.data_dir = dir.clone();
        config.database.url = database_url.map(Secret::new);
        let opts = SeedOptions { users: 200, videos: 1000, seed: 42, password: "seed-password-1".into() };
        let summary = run(&config, &opts).await.unwrap();
        assert_eq!(summary.users, 200);
        assert_eq!(summary.published, 1000);
        assert!(summary.videos > 1000);
        assert_eq!(summary.jobs, summary.videos);

        let db = Database::connect(config.effective_database_url()).await.unwrap();
        let zero = |sql: &'static str| {
            let db = db.clone();
            async move { assert_eq!(scalar(&db, sql).await, 0, "{sql}") }
        };
        // Counters equal rows.
        zero(
            "SELECT COUNT(*) FROM videos v WHERE like_count <> (SELECT COUNT(*) FROM likes l WHERE l.video_id = v.id)",
        )
        .await;
        zero(
            "SELECT COUNT(*) FROM videos v WHERE view_count <> (SELECT COUNT(*) FROM views w WHERE w.video_id = v.id)",
        )
        .await;
        zero("SELECT COUNT(*) FROM videos v WHERE watch_ms_total <> (SELECT COALESCE(SUM(watch_ms), 0) FROM views w WHERE w.video_id = v.id)").await;
        zero("SELECT COUNT(*) FROM videos v WHERE comment_count <> (SELECT COUNT(*) FROM comments c WHERE c.video_id = v.id)").await;
        zero("SELECT COUNT(*) FROM users u WHERE follower_count <> (SELECT COUNT(*) FROM follows f WHERE f.followee_id = u.id)").await;
        zero("SELECT COUNT(*) FROM users u WHERE following_count <> (SELECT COUNT(*) FROM follows f WHERE f.follower_id = u.id)").await;
        // No self-follows, no engagement on drafts, watches within the clip.
        zero("SELECT COUNT(*) FROM follows WHERE follower_id = followee_id").await;
        zero(
            "SELECT COUNT(*) FROM videos WHERE status <> 'PUBLISHED' AND (like_count + view_count + comment_count) > 0",
        )
        .await;
        zero("SELECT COUNT(*) FROM views w JOIN videos v ON v.id = w.video_id WHERE w.watch_ms > v.duration_ms").await;
        // Every video has its succeeded job with the same id.
        zero("SELECT COUNT(*) FROM videos v LEFT JOIN generation_jobs j ON j.id = v.id WHERE j.id IS NULL OR j.status <> 'SUCCEEDED' OR j.video_id <> v.id").await;
        // Remix lineage: the root is the source's root, or the source when it is an original.
        zero(
            "SELECT COUNT(*) FROM videos v JOIN videos s ON s.id = v.remix_of \
             WHERE v.root_id IS NULL OR v.root_id <> COALESCE(s.root_id, s.id) OR s.status <> 'PUBLISHED' OR s.published_at > v.published_at",
        )
        .await;
        zero("SELECT COUNT(*) FROM videos WHERE (remix_of IS NULL) <> (root_id IS NULL)").await;
        let remixes = scalar(&db, "SELECT COUNT(*) FROM videos WHERE remix_of IS NOT NULL").await;
        assert!((150..=350).contains(&remixes), "{remixes} remixes");
        // A chain of depth ≥ 5.
        let deepest = scalar(
            &db,
            "WITH RECURSIVE chain(id, depth) AS ( \
               SELECT id, 0 FROM videos WHERE remix_of IS NULL \
               UNION ALL SELECT v.id, c.depth + 1 FROM videos v JOIN chain c ON v.remix_of = c.id) \
             SELECT MAX(depth) FROM chain",
        )
        .await;
        assert!((5..=20).contains(&deepest), "deepest chain {deepest}");
        // Heavy tail: the top account has more than 10x the median follower count.
        let mut counts: Vec<i64> = Vec::new();
        for row in db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT CAST(follower_count AS BIGINT) FROM users".to_owned(),
            ))
            .await
            .unwrap()
        {
            counts.push(row.try_get_by_index::<i64>(0).unwrap());
        }
        counts.sort();
        let median = counts[counts.len() / 2];
        let top = *counts.last().unwrap();
        assert!(top > 10 * median.max(1), "top {top}, median {median}");
        let likes = scalar(&db, "SELECT COUNT(*) FROM likes").await as f64 / 1000.0;
        let views = scalar(&db, "SELECT COUNT(*) FROM views").await as f64 / 1000.0;
        assert!((4.0..=14.0).contains(&likes), "likes per video {likes}");
        assert!((9.0..=22.0).contains(&views), "views per video {views}");
        eprintln!(
            "seed test: {summary}; deepest chain {deepest}, remixes {remixes}, followers top {top} median {median}, likes/video {likes:.1}, views/video {views:.1}"
        );
        // Log-ins work with the shared hash.
        let (_, hash): (domain::model::User, String) = {
            let store = Store::connect(&config.effective_database_url(), 1).await.unwrap();
            store.credentials_by_username("seed_7").await.unwrap().unwrap()
        };
        let pool = PasswordHasherPool::new(1).unwrap();
        assert!(pool.verify(Secret::new("seed-password-1".into()), Some(hash)).await.unwrap());
        // A second run refuses.
        assert!(run(&config, &opts).await.is_err());
        db.close().await.unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }
}
