//! What a video should sound like, read from its prompt.
//!
//! The prompt is lower-cased and cut into words (Unicode-aware, apostrophes kept inside words);
//! each word, or pair of words ("living room", "outer space"), is looked up in a vocabulary of
//! sound cues, first as written, then with simple English endings taken off ("rainy", "raining",
//! "waves", "parties"). Words just before a colour ("forest green", "snow-white", "fire-engine
//! red") name a colour, not a sound, and are skipped. "no", "not", "without", "never" and "n't"
//! negate the next cue word (and any joined to it by "or"/"nor"), which removes that cue.
//! Intensity words ("heavy", "light", "distant") scale the next cue.
//!
//! Invariants: [`from_prompt`] never panics, whatever UTF-8 it is given (empty, emoji, 10 kB of
//! text; only the first [`MAX_PROMPT_CHARS`] characters are read); the result always has between
//! one and [`MAX_CUES`] cues, no cue twice, every level in `0.05..=1`, strongest first; and when
//! nothing in the prompt is continuous sound (only birds, footsteps, music, thunder…) a quiet bed
//! is added under it (soft wind outdoors, room tone indoors), so a mix is never bare.

use std::collections::HashMap;
use std::sync::LazyLock;

/// Most cues a scene keeps (more is a wall of noise).
pub const MAX_CUES: usize = 4;

/// Characters of a prompt that are read; the rest is ignored.
pub const MAX_PROMPT_CHARS: usize = 20_000;

/// Lowest level a kept cue has.
const MIN_LEVEL: f32 = 0.05;

/// One kind of sound a scene can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cue {
    /// Rainfall: dense hiss with droplets.
    Rain,
    /// Wind with gusts.
    Wind,
    /// Sea waves: slow swells breaking and washing.
    Waves,
    /// Birdsong: chirps and short phrases.
    Birds,
    /// A crowd's murmur.
    Crowd,
    /// Road traffic: a low rumble with cars passing.
    Traffic,
    /// Footsteps at a walking pace.
    Footsteps,
    /// A running engine (car, truck, motorbike).
    Engine,
    /// A fire: low roar with crackles.
    Fire,
    /// A soft chord pad with a gentle arpeggio.
    Music,
    /// Crickets chirping at night.
    Crickets,
    /// Distant thunder rumbles.
    Thunder,
    /// A low drone for outer space.
    Space,
    /// A quiet room's tone.
    Room,
    /// A babbling stream or river.
    Stream,
    /// Snow falling: a soft, muffled wind.
    Snow,
}

impl Cue {
    /// Every cue, in the order used to break ties between equal levels.
    pub const ALL: [Cue; 16] = [
        Cue::Rain,
        Cue::Waves,
        Cue::Stream,
        Cue::Wind,
        Cue::Snow,
        Cue::Traffic,
        Cue::Crowd,
        Cue::Fire,
        Cue::Engine,
        Cue::Space,
        Cue::Thunder,
        Cue::Birds,
        Cue::Crickets,
        Cue::Music,
        Cue::Footsteps,
        Cue::Room,
    ];

    /// The cue's name in lower case ("rain", "waves"…).
    pub fn name(self) -> &'static str {
        match self {
            Cue::Rain => "rain",
            Cue::Wind => "wind",
            Cue::Waves => "waves",
            Cue::Birds => "birds",
            Cue::Crowd => "crowd",
            Cue::Traffic => "traffic",
            Cue::Footsteps => "footsteps",
            Cue::Engine => "engine",
            Cue::Fire => "fire",
            Cue::Music => "music",
            Cue::Crickets => "crickets",
            Cue::Thunder => "thunder",
            Cue::Space => "space",
            Cue::Room => "room",
            Cue::Stream => "stream",
            Cue::Snow => "snow",
        }
    }

    /// Whether the cue sounds all the time (a bed), rather than now and then.
    pub fn is_continuous(self) -> bool {
        !matches!(self, Cue::Birds | Cue::Footsteps | Cue::Music | Cue::Thunder | Cue::Crickets)
    }

    fn rank(self) -> usize {
        Cue::ALL.iter().position(|c| *c == self).unwrap_or(Cue::ALL.len())
    }
}

/// What a scene sounds like: cues with their levels, strongest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SceneSound {
    /// Each cue with its level in 0..1; no cue twice, strongest first.
    pub cues: Vec<(Cue, f32)>,
}

impl SceneSound {
    /// The level of `cue`, if the scene has it.
    pub fn level(&self, cue: Cue) -> Option<f32> {
        self.cues.iter().find(|(c, _)| *c == cue).map(|(_, l)| *l)
    }

    /// Whether the scene has `cue`.
    pub fn has(&self, cue: Cue) -> bool {
        self.level(cue).is_some()
    }

    /// The cues without their levels, strongest first.
    pub fn cue_list(&self) -> Vec<Cue> {
        self.cues.iter().map(|(c, _)| *c).collect()
    }
}

/// What a word contributes.
#[derive(Debug, Clone, Copy)]
enum Meaning {
    /// Adds these cues at these levels.
    Sound(&'static [(Cue, f32)]),
    /// The scene is indoors (room tone is its bed; night does not mean crickets).
    Indoor(f32),
    /// The scene is outdoors under the sky.
    Outdoor,
    /// The scene is at night (crickets outdoors, unless in space or indoors).
    Night(f32),
    /// A known word that is no sound ("parking", "fired", "waving"), so stemming stops here.
    Nothing,
}

use Cue::*;
use Meaning::*;

/// Single words. Inflections that simple stemming would get wrong are listed explicitly.
const WORDS: &[(&str, Meaning)] = &[
    // Rain and storms.
    ("rain", Sound(&[(Rain, 0.8)])),
    ("rainfall", Sound(&[(Rain, 0.8)])),
    ("raindrop", Sound(&[(Rain, 0.7)])),
    ("rainstorm", Sound(&[(Rain, 0.9), (Thunder, 0.35), (Wind, 0.3)])),
    ("downpour", Sound(&[(Rain, 1.0)])),
    ("drizzle", Sound(&[(Rain, 0.45)])),
    ("drizzly", Sound(&[(Rain, 0.45)])),
    ("shower", Sound(&[(Rain, 0.6)])),
    ("monsoon", Sound(&[(Rain, 1.0), (Wind, 0.4)])),
    ("umbrella", Sound(&[(Rain, 0.5)])),
    ("puddle", Sound(&[(Rain, 0.4)])),
    ("wet", Sound(&[(Rain, 0.3)])),
    ("storm", Sound(&[(Rain, 0.8), (Thunder, 0.55), (Wind, 0.45)])),
    ("thunderstorm", Sound(&[(Rain, 0.8), (Thunder, 0.65), (Wind, 0.35)])),
    ("tempest", Sound(&[(Rain, 0.8), (Thunder, 0.5), (Wind, 0.6)])),
    ("thunder", Sound(&[(Thunder, 0.7), (Rain, 0.6)])),
    ("thunderclap", Sound(&[(Thunder, 0.8), (Rain, 0.5)])),
    ("thundering", Sound(&[(Thunder, 0.7), (Rain, 0.5)])),
    ("lightning", Sound(&[(Thunder, 0.65), (Rain, 0.6)])),
    ("hurricane", Sound(&[(Wind, 1.0), (Rain, 0.7)])),
    ("typhoon", Sound(&[(Wind, 1.0), (Rain, 0.7)])),
    ("tornado", Sound(&[(Wind, 1.0)])),
    // Wind, desert, mountains, fog.
    ("wind", Sound(&[(Wind, 0.65)])),
    ("windy", Sound(&[(Wind, 0.7)])),
    ("winds", Sound(&[(Wind, 0.65)])),
    ("breeze", Sound(&[(Wind, 0.4)])),
    ("breezy", Sound(&[(Wind, 0.45)])),
    ("gust", Sound(&[(Wind, 0.7)])),
    ("gusty", Sound(&[(Wind, 0.7)])),
    ("gale", Sound(&[(Wind, 0.9)])),
    ("windstorm", Sound(&[(Wind, 0.95)])),
    ("sandstorm", Sound(&[(Wind, 1.0)])),
    ("desert", Sound(&[(Wind, 0.55)])),
    ("dune", Sound(&[(Wind, 0.5)])),
    ("sand", Sound(&[(Wind, 0.45)])),
    ("sahara", Sound(&[(Wind, 0.55)])),
    ("arid", Sound(&[(Wind, 0.45)])),
    ("wasteland", Sound(&[(Wind, 0.5)])),
    ("canyon", Sound(&[(Wind, 0.5)])),
    ("mountain", Sound(&[(Wind, 0.55)])),
    ("mountaintop", Sound(&[(Wind, 0.65)])),
    ("summit", Sound(&[(Wind, 0.6)])),
    ("cliff", Sound(&[(Wind, 0.5)])),
    ("plain", Sound(&[(Wind, 0.35)])),
    ("prairie", Sound(&[(Wind, 0.45), (Birds, 0.25)])),
    ("tundra", Sound(&[(Wind, 0.55)])),
    ("arctic", Sound(&[(Wind, 0.6)])),
    ("antarctic", Sound(&[(Wind, 0.65)])),
    ("fog", Sound(&[(Wind, 0.25)])),
    ("foggy", Sound(&[(Wind, 0.25)])),
    ("mist", Sound(&[(Wind, 0.22)])),
    ("misty", Sound(&[(Wind, 0.22)])),
    ("haze", Sound(&[(Wind, 0.2)])),
    ("hazy", Sound(&[(Wind, 0.2)])),
    ("cloud", Sound(&[(Wind, 0.25)])),
    ("cloudy", Sound(&[(Wind, 0.3)])),
    // Snow: the ground is windswept, falling snow is hushed.
    ("snow", Sound(&[(Wind, 0.5)])),
    ("snowy", Sound(&[(Wind, 0.5)])),
    ("snowfield", Sound(&[(Wind, 0.5)])),
    ("blizzard", Sound(&[(Wind, 0.95), (Snow, 0.5)])),
    ("snowstorm", Sound(&[(Wind, 0.8), (Snow, 0.6)])),
    ("snowfall", Sound(&[(Snow, 0.5)])),
    ("snowing", Sound(&[(Snow, 0.5)])),
    ("snowflake", Sound(&[(Snow, 0.45)])),
    ("snowflakes", Sound(&[(Snow, 0.45)])),
    ("winter", Sound(&[(Wind, 0.45)])),
    ("wintry", Sound(&[(Wind, 0.5)])),
    ("frozen", Sound(&[(Wind, 0.45)])),
    ("icy", Sound(&[(Wind, 0.45)])),
    ("glacier", Sound(&[(Wind, 0.55)])),
    // Sea and water.
    ("ocean", Sound(&[(Waves, 0.8)])),
    ("sea", Sound(&[(Waves, 0.8)])),
    ("seas", Sound(&[(Waves, 0.8)])),
    ("wave", Sound(&[(Waves, 0.8)])),
    ("waves", Sound(&[(Waves, 0.85)])),
    ("beach", Sound(&[(Waves, 0.75)])),
    ("surf", Sound(&[(Waves, 0.85)])),
    ("surfing", Sound(&[(Waves, 0.85)])),
    ("surfer", Sound(&[(Waves, 0.8)])),
    ("shore", Sound(&[(Waves, 0.7)])),
    ("seashore", Sound(&[(Waves, 0.75)])),
    ("seaside", Sound(&[(Waves, 0.7)])),
    ("coast", Sound(&[(Waves, 0.65)])),
    ("coastal", Sound(&[(Waves, 0.65)])),
    ("coastline", Sound(&[(Waves, 0.7)])),
    ("tide", Sound(&[(Waves, 0.6)])),
    ("seagull", Sound(&[(Waves, 0.55), (Birds, 0.45)])),
    ("gull", Sound(&[(Waves, 0.5), (Birds, 0.4)])),
    ("harbour", Sound(&[(Waves, 0.5), (Birds, 0.3)])),
    ("harbor", Sound(&[(Waves, 0.5), (Birds, 0.3)])),
    ("boat", Sound(&[(Waves, 0.5)])),
    ("sailing", Sound(&[(Waves, 0.6), (Wind, 0.35)])),
    ("sailboat", Sound(&[(Waves, 0.6), (Wind, 0.35)])),
    ("ship", Sound(&[(Waves, 0.55)])),
    ("island", Sound(&[(Waves, 0.55)])),
    ("underwater", Sound(&[(Space, 0.45), (Stream, 0.2)])),
    ("water", Sound(&[(Waves, 0.45)])),
    ("lake", Sound(&[(Waves, 0.3), (Birds, 0.3)])),
    ("pond", Sound(&[(Stream, 0.25), (Birds, 0.3)])),
    ("river", Sound(&[(Stream, 0.7)])),
    ("riverbank", Sound(&[(Stream, 0.6), (Birds, 0.3)])),
    ("stream", Sound(&[(Stream, 0.7)])),
    ("creek", Sound(&[(Stream, 0.7)])),
    ("brook", Sound(&[(Stream, 0.65)])),
    ("waterfall", Sound(&[(Stream, 0.95)])),
    ("fountain", Sound(&[(Stream, 0.6)])),
    ("rapids", Sound(&[(Stream, 0.9)])),
    ("babbling", Sound(&[(Stream, 0.6)])),
    // Countryside and birds.
    ("forest", Sound(&[(Birds, 0.6), (Wind, 0.2)])),
    ("woods", Sound(&[(Birds, 0.55), (Wind, 0.2)])),
    ("woodland", Sound(&[(Birds, 0.55), (Wind, 0.2)])),
    ("jungle", Sound(&[(Birds, 0.7), (Crickets, 0.3)])),
    ("rainforest", Sound(&[(Birds, 0.7), (Rain, 0.35), (Crickets, 0.25)])),
    ("park", Sound(&[(Birds, 0.5)])),
    ("meadow", Sound(&[(Birds, 0.55)])),
    ("garden", Sound(&[(Birds, 0.5)])),
    ("bird", Sound(&[(Birds, 0.75)])),
    ("birdsong", Sound(&[(Birds, 0.8)])),
    ("chirp", Sound(&[(Birds, 0.7)])),
    ("chirping", Sound(&[(Birds, 0.7)])),
    ("tweet", Sound(&[(Birds, 0.65)])),
    ("tweeting", Sound(&[(Birds, 0.7)])),
    ("songbird", Sound(&[(Birds, 0.8)])),
    ("grass", Sound(&[(Birds, 0.45)])),
    ("grassy", Sound(&[(Birds, 0.45)])),
    ("grassland", Sound(&[(Birds, 0.45), (Wind, 0.3)])),
    ("lawn", Sound(&[(Birds, 0.4)])),
    ("field", Sound(&[(Birds, 0.4)])),
    ("pasture", Sound(&[(Birds, 0.45)])),
    ("countryside", Sound(&[(Birds, 0.5)])),
    ("farm", Sound(&[(Birds, 0.45)])),
    ("hill", Sound(&[(Birds, 0.35), (Wind, 0.25)])),
    ("valley", Sound(&[(Birds, 0.4)])),
    ("tree", Sound(&[(Birds, 0.4)])),
    ("orchard", Sound(&[(Birds, 0.5)])),
    ("dawn", Sound(&[(Birds, 0.55)])),
    ("sunrise", Sound(&[(Birds, 0.45)])),
    ("morning", Sound(&[(Birds, 0.35)])),
    ("spring", Sound(&[(Birds, 0.35)])),
    ("summer", Sound(&[(Birds, 0.3)])),
    ("sunset", Sound(&[(Birds, 0.3)])),
    ("sundown", Sound(&[(Birds, 0.3)])),
    ("dusk", Night(0.3)),
    ("twilight", Night(0.3)),
    ("evening", Night(0.25)),
    // Cities and traffic.
    ("city", Sound(&[(Traffic, 0.6)])),
    ("cities", Sound(&[(Traffic, 0.6)])),
    ("cityscape", Sound(&[(Traffic, 0.55)])),
    ("street", Sound(&[(Traffic, 0.55)])),
    ("traffic", Sound(&[(Traffic, 0.75)])),
    ("cars", Sound(&[(Traffic, 0.65)])),
    ("road", Sound(&[(Traffic, 0.45)])),
    ("highway", Sound(&[(Traffic, 0.75)])),
    ("freeway", Sound(&[(Traffic, 0.75)])),
    ("motorway", Sound(&[(Traffic, 0.75)])),
    ("downtown", Sound(&[(Traffic, 0.6), (Crowd, 0.3)])),
    ("urban", Sound(&[(Traffic, 0.55)])),
    ("intersection", Sound(&[(Traffic, 0.65)])),
    ("crosswalk", Sound(&[(Traffic, 0.55), (Footsteps, 0.3)])),
    ("sidewalk", Sound(&[(Traffic, 0.45), (Footsteps, 0.35)])),
    ("pavement", Sound(&[(Traffic, 0.4), (Footsteps, 0.3)])),
    ("avenue", Sound(&[(Traffic, 0.55)])),
    ("metropolis", Sound(&[(Traffic, 0.65)])),
    ("taxi", Sound(&[(Traffic, 0.55)])),
    ("parking", Sound(&[(Traffic, 0.35)])),
    ("rush", Nothing),
    // Engines.
    ("car", Sound(&[(Engine, 0.6)])),
    ("truck", Sound(&[(Engine, 0.65)])),
    ("lorry", Sound(&[(Engine, 0.65)])),
    ("van", Sound(&[(Engine, 0.55)])),
    ("bus", Sound(&[(Engine, 0.55), (Traffic, 0.35)])),
    ("motorbike", Sound(&[(Engine, 0.7)])),
    ("motorcycle", Sound(&[(Engine, 0.7)])),
    ("scooter", Sound(&[(Engine, 0.5)])),
    ("engine", Sound(&[(Engine, 0.7)])),
    ("motor", Sound(&[(Engine, 0.6)])),
    ("driving", Sound(&[(Engine, 0.55)])),
    ("drive", Sound(&[(Engine, 0.5)])),
    ("drove", Sound(&[(Engine, 0.5)])),
    ("driver", Sound(&[(Engine, 0.5)])),
    ("racing", Sound(&[(Engine, 0.75)])),
    ("racecar", Sound(&[(Engine, 0.8)])),
    ("tractor", Sound(&[(Engine, 0.6), (Birds, 0.25)])),
    ("train", Sound(&[(Engine, 0.6)])),
    ("locomotive", Sound(&[(Engine, 0.65)])),
    ("airplane", Sound(&[(Engine, 0.55), (Wind, 0.3)])),
    ("aeroplane", Sound(&[(Engine, 0.55), (Wind, 0.3)])),
    ("plane", Sound(&[(Engine, 0.5), (Wind, 0.3)])),
    ("jet", Sound(&[(Engine, 0.6), (Wind, 0.3)])),
    ("helicopter", Sound(&[(Engine, 0.7)])),
    ("rocket", Sound(&[(Engine, 0.75)])),
    ("motorboat", Sound(&[(Engine, 0.6), (Waves, 0.5)])),
    // Crowds.
    ("crowd", Sound(&[(Crowd, 0.75)])),
    ("crowded", Sound(&[(Crowd, 0.7)])),
    ("stadium", Sound(&[(Crowd, 0.85)])),
    ("arena", Sound(&[(Crowd, 0.8)])),
    ("party", Sound(&[(Crowd, 0.6), (Music, 0.45)])),
    ("parties", Sound(&[(Crowd, 0.6), (Music, 0.45)])),
    ("market", Sound(&[(Crowd, 0.65)])),
    ("marketplace", Sound(&[(Crowd, 0.65)])),
    ("bazaar", Sound(&[(Crowd, 0.7)])),
    ("audience", Sound(&[(Crowd, 0.65)])),
    ("cheering", Sound(&[(Crowd, 0.85)])),
    ("cheer", Sound(&[(Crowd, 0.8)])),
    ("applause", Sound(&[(Crowd, 0.8)])),
    ("clapping", Sound(&[(Crowd, 0.7)])),
    ("festival", Sound(&[(Crowd, 0.65), (Music, 0.4)])),
    ("carnival", Sound(&[(Crowd, 0.65), (Music, 0.4)])),
    ("parade", Sound(&[(Crowd, 0.65), (Music, 0.4)])),
    ("protest", Sound(&[(Crowd, 0.75)])),
    ("cafe", Sound(&[(Crowd, 0.45)])),
    ("café", Sound(&[(Crowd, 0.45)])),
    ("restaurant", Sound(&[(Crowd, 0.5)])),
    ("pub", Sound(&[(Crowd, 0.55)])),
    ("mall", Sound(&[(Crowd, 0.5)])),
    ("station", Sound(&[(Crowd, 0.5)])),
    ("airport", Sound(&[(Crowd, 0.5)])),
    ("people", Sound(&[(Crowd, 0.35)])),
    ("tourist", Sound(&[(Crowd, 0.4)])),
    ("playground", Sound(&[(Crowd, 0.5), (Birds, 0.25)])),
    ("school", Sound(&[(Crowd, 0.35)])),
    ("classroom", Sound(&[(Crowd, 0.3), (Room, 0.35)])),
    ("fair", Sound(&[(Crowd, 0.45)])),
    // Fire.
    ("fire", Sound(&[(Fire, 0.7)])),
    ("campfire", Sound(&[(Fire, 0.75)])),
    ("bonfire", Sound(&[(Fire, 0.8)])),
    ("fireplace", Sound(&[(Fire, 0.6), (Room, 0.3)])),
    ("fireside", Sound(&[(Fire, 0.6)])),
    ("flame", Sound(&[(Fire, 0.65)])),
    ("flames", Sound(&[(Fire, 0.65)])),
    ("burning", Sound(&[(Fire, 0.6)])),
    ("blaze", Sound(&[(Fire, 0.7)])),
    ("blazing", Sound(&[(Fire, 0.7)])),
    ("ember", Sound(&[(Fire, 0.45)])),
    ("fiery", Sound(&[(Fire, 0.5)])),
    ("wildfire", Sound(&[(Fire, 0.9), (Wind, 0.35)])),
    ("fired", Nothing),
    ("parked", Nothing),
    ("crackling", Sound(&[(Fire, 0.6)])),
    ("crackle", Sound(&[(Fire, 0.6)])),
    ("firing", Nothing),
    ("firework", Nothing),
    ("fireworks", Nothing),
    ("firefly", Sound(&[(Crickets, 0.3)])),
    ("fireflies", Sound(&[(Crickets, 0.3)])),
    // Footsteps.
    ("walking", Sound(&[(Footsteps, 0.5)])),
    ("walk", Sound(&[(Footsteps, 0.45)])),
    ("walker", Sound(&[(Footsteps, 0.45)])),
    ("running", Sound(&[(Footsteps, 0.55)])),
    ("run", Sound(&[(Footsteps, 0.5)])),
    ("ran", Sound(&[(Footsteps, 0.5)])),
    ("runner", Sound(&[(Footsteps, 0.55)])),
    ("jogging", Sound(&[(Footsteps, 0.5)])),
    ("jog", Sound(&[(Footsteps, 0.45)])),
    ("footstep", Sound(&[(Footsteps, 0.7)])),
    ("hiking", Sound(&[(Footsteps, 0.5), (Wind, 0.25)])),
    ("hike", Sound(&[(Footsteps, 0.45), (Wind, 0.25)])),
    ("hiker", Sound(&[(Footsteps, 0.45), (Wind, 0.25)])),
    ("marching", Sound(&[(Footsteps, 0.6)])),
    ("march", Sound(&[(Footsteps, 0.55)])),
    ("strolling", Sound(&[(Footsteps, 0.45)])),
    ("stroll", Sound(&[(Footsteps, 0.45)])),
    ("stomping", Sound(&[(Footsteps, 0.6)])),
    ("wandering", Sound(&[(Footsteps, 0.4)])),
    ("trekking", Sound(&[(Footsteps, 0.5), (Wind, 0.25)])),
    // Music.
    ("music", Sound(&[(Music, 0.55)])),
    ("musical", Sound(&[(Music, 0.5)])),
    ("musician", Sound(&[(Music, 0.55)])),
    ("dancing", Sound(&[(Music, 0.6)])),
    ("dance", Sound(&[(Music, 0.55)])),
    ("dancer", Sound(&[(Music, 0.55)])),
    ("concert", Sound(&[(Music, 0.7), (Crowd, 0.4)])),
    ("song", Sound(&[(Music, 0.5)])),
    ("singing", Sound(&[(Music, 0.45)])),
    ("singer", Sound(&[(Music, 0.5)])),
    ("melody", Sound(&[(Music, 0.5)])),
    ("tune", Sound(&[(Music, 0.45)])),
    ("piano", Sound(&[(Music, 0.55)])),
    ("guitar", Sound(&[(Music, 0.55)])),
    ("violin", Sound(&[(Music, 0.55)])),
    ("orchestra", Sound(&[(Music, 0.65)])),
    ("disco", Sound(&[(Music, 0.7), (Crowd, 0.35)])),
    ("nightclub", Sound(&[(Music, 0.75), (Crowd, 0.4)])),
    ("dj", Sound(&[(Music, 0.65)])),
    ("ballet", Sound(&[(Music, 0.55)])),
    ("ballroom", Sound(&[(Music, 0.55), (Room, 0.3)])),
    ("lullaby", Sound(&[(Music, 0.45)])),
    ("karaoke", Sound(&[(Music, 0.6), (Room, 0.3)])),
    // Night.
    ("night", Night(0.45)),
    ("nighttime", Night(0.45)),
    ("midnight", Night(0.4)),
    ("moon", Night(0.4)),
    ("moonlight", Night(0.45)),
    ("moonlit", Night(0.45)),
    ("starry", Night(0.4)),
    ("stars", Night(0.3)),
    ("cricket", Sound(&[(Crickets, 0.7)])),
    ("crickets", Sound(&[(Crickets, 0.75)])),
    ("cicada", Sound(&[(Crickets, 0.7)])),
    ("cicadas", Sound(&[(Crickets, 0.75)])),
    ("insect", Sound(&[(Crickets, 0.55)])),
    ("swamp", Sound(&[(Crickets, 0.6), (Stream, 0.25)])),
    // Space.
    ("space", Sound(&[(Space, 0.7)])),
    ("cosmos", Sound(&[(Space, 0.75)])),
    ("cosmic", Sound(&[(Space, 0.7)])),
    ("galaxy", Sound(&[(Space, 0.75)])),
    ("galaxies", Sound(&[(Space, 0.75)])),
    ("galactic", Sound(&[(Space, 0.7)])),
    ("planet", Sound(&[(Space, 0.6)])),
    ("planets", Sound(&[(Space, 0.65)])),
    ("universe", Sound(&[(Space, 0.7)])),
    ("nebula", Sound(&[(Space, 0.7)])),
    ("orbit", Sound(&[(Space, 0.65)])),
    ("orbiting", Sound(&[(Space, 0.65)])),
    ("spaceship", Sound(&[(Space, 0.75)])),
    ("spacecraft", Sound(&[(Space, 0.75)])),
    ("starship", Sound(&[(Space, 0.75)])),
    ("astronaut", Sound(&[(Space, 0.7)])),
    ("asteroid", Sound(&[(Space, 0.65)])),
    ("satellite", Sound(&[(Space, 0.6)])),
    ("void", Sound(&[(Space, 0.6)])),
    ("interstellar", Sound(&[(Space, 0.75)])),
    ("gravity", Sound(&[(Space, 0.4)])),
    // Indoors.
    ("kitchen", Indoor(0.5)),
    ("room", Indoor(0.5)),
    ("bedroom", Indoor(0.5)),
    ("bathroom", Indoor(0.5)),
    ("office", Indoor(0.5)),
    ("studio", Indoor(0.5)),
    ("house", Indoor(0.45)),
    ("home", Indoor(0.4)),
    ("indoors", Indoor(0.5)),
    ("indoor", Indoor(0.5)),
    ("inside", Indoor(0.35)),
    ("apartment", Indoor(0.45)),
    ("flat", Nothing),
    ("library", Indoor(0.5)),
    ("hallway", Indoor(0.45)),
    ("corridor", Indoor(0.45)),
    ("hall", Indoor(0.45)),
    ("garage", Indoor(0.45)),
    ("basement", Indoor(0.45)),
    ("attic", Indoor(0.45)),
    ("lab", Indoor(0.45)),
    ("laboratory", Indoor(0.45)),
    ("museum", Indoor(0.45)),
    ("gallery", Indoor(0.45)),
    ("church", Indoor(0.5)),
    ("cathedral", Indoor(0.5)),
    ("warehouse", Indoor(0.45)),
    ("workshop", Indoor(0.45)),
    ("table", Indoor(0.35)),
    ("desk", Indoor(0.35)),
    ("sofa", Indoor(0.35)),
    ("couch", Indoor(0.35)),
    ("bed", Indoor(0.35)),
    ("window", Indoor(0.3)),
    ("cosy", Indoor(0.35)),
    ("cozy", Indoor(0.35)),
    // Outdoors.
    ("sky", Outdoor),
    ("outdoors", Outdoor),
    ("outdoor", Outdoor),
    ("outside", Outdoor),
    ("landscape", Outdoor),
    ("horizon", Outdoor),
    ("sun", Outdoor),
    ("sunny", Outdoor),
    // Known words that are no sound, stopping a wrong stem.
    ("waving", Nothing),
    ("waved", Nothing),
    ("wavy", Nothing),
    ("seat", Nothing),
    ("rainbow", Nothing),
    ("driveway", Nothing),
    ("runway", Nothing),
    ("spacing", Nothing),
    ("rowing", Sound(&[(Waves, 0.45)])),
];

/// Pairs of words, read before single words (the pair's second word is then not read alone).
const PAIRS: &[(&str, &str, Meaning)] = &[
    ("living", "room", Indoor(0.5)),
    ("outer", "space", Sound(&[(Space, 0.8)])),
    ("deep", "space", Sound(&[(Space, 0.8)])),
    ("fire", "engine", Sound(&[(Engine, 0.65), (Traffic, 0.4)])),
    ("fire", "truck", Sound(&[(Engine, 0.65), (Traffic, 0.4)])),
    ("fire", "station", Sound(&[(Engine, 0.4), (Room, 0.3)])),
    ("race", "car", Sound(&[(Engine, 0.8)])),
    ("night", "sky", Night(0.4)),
    ("open", "water", Sound(&[(Waves, 0.75)])),
    ("zero", "gravity", Sound(&[(Space, 0.6)])),
    ("milky", "way", Sound(&[(Space, 0.65)])),
    ("rush", "hour", Sound(&[(Traffic, 0.8)])),
    ("heavy", "traffic", Sound(&[(Traffic, 0.9)])),
    ("heavy", "rain", Sound(&[(Rain, 1.0)])),
    ("light", "rain", Sound(&[(Rain, 0.45)])),
    ("pouring", "rain", Sound(&[(Rain, 1.0)])),
    ("train", "station", Sound(&[(Crowd, 0.55), (Engine, 0.35)])),
    ("dining", "room", Indoor(0.5)),
    ("sound", "of", Nothing),
];

/// Words that negate the next cue word.
const NEGATORS: &[&str] = &["no", "not", "without", "never", "nor", "none", "minus", "sans", "nothing"];

/// Words that scale the next cue (within two words).
const INTENSIFIERS: &[(&str, f32)] = &[
    ("heavy", 1.25),
    ("heavily", 1.25),
    ("strong", 1.25),
    ("loud", 1.3),
    ("pouring", 1.25),
    ("torrential", 1.3),
    ("roaring", 1.3),
    ("crashing", 1.25),
    ("raging", 1.3),
    ("howling", 1.3),
    ("busy", 1.2),
    ("huge", 1.2),
    ("light", 0.6),
    ("gentle", 0.6),
    ("soft", 0.6),
    ("quiet", 0.55),
    ("distant", 0.55),
    ("faint", 0.5),
    ("slight", 0.6),
    ("calm", 0.6),
    ("mild", 0.65),
];

/// Colour words: a cue word right before one names a colour ("forest green").
const COLOURS: &[&str] = &[
    "red", "green", "blue", "yellow", "white", "black", "orange", "purple", "pink", "brown", "grey", "gray", "gold",
    "golden", "silver", "coloured", "colored", "colour", "color", "tone",
];

/// One piece of a prompt: a word, or a break (punctuation) that ends a negation.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Break,
}

/// Longest word considered (longer "words" are noise, e.g. a URL or a hash).
const MAX_WORD_CHARS: usize = 40;

fn tokenise(prompt: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut word_chars = 0usize;
    fn flush(word: &mut String, word_chars: &mut usize, tokens: &mut Vec<Token>) {
        // Trailing apostrophes and possessives ("ocean's", "waves'") are not part of the word.
        let trimmed = word.trim_matches('\'');
        let trimmed = trimmed.strip_suffix("'s").unwrap_or(trimmed);
        if !trimmed.is_empty() && *word_chars <= MAX_WORD_CHARS {
            tokens.push(Token::Word(trimmed.to_owned()));
        }
        word.clear();
        *word_chars = 0;
    }
    for c in prompt.chars().take(MAX_PROMPT_CHARS) {
        let c = if matches!(c, '\u{2019}' | '\u{2018}' | '`' | '\u{b4}') { '\'' } else { c };
        if c.is_alphanumeric() || (c == '\'' && !word.is_empty()) {
            for lower in c.to_lowercase() {
                word.push(lower);
            }
            word_chars += 1;
        } else {
            flush(&mut word, &mut word_chars, &mut tokens);
            if matches!(c, ',' | '.' | ';' | ':' | '!' | '?' | '(' | ')' | '[' | ']' | '\n' | '|' | '•' | '—')
                && tokens.last() != Some(&Token::Break)
            {
                tokens.push(Token::Break);
            }
        }
    }
    flush(&mut word, &mut word_chars, &mut tokens);
    tokens
}

/// The vocabulary as maps, built on first use.
static VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(Vocabulary::new);

/// The vocabulary's words and pairs, for lookup.
struct Vocabulary {
    words: HashMap<&'static str, Meaning>,
    pairs: HashMap<(&'static str, &'static str), Meaning>,
}

impl Vocabulary {
    fn new() -> Self {
        Self {
            words: WORDS.iter().map(|(w, m)| (*w, *m)).collect(),
            pairs: PAIRS.iter().map(|(a, b, m)| ((*a, *b), *m)).collect(),
        }
    }

    /// The meaning of `word`, as written or with a simple English ending removed.
    fn word(&self, word: &str) -> Option<Meaning> {
        if let Some(m) = self.words.get(word) {
            return Some(*m);
        }
        stems(word).into_iter().find_map(|stem| self.words.get(stem.as_str()).copied())
    }
}

/// Candidate stems of `word`: plural, -ing, -ed, -y and -er endings removed (with a doubled
/// consonant undone and a dropped "e" restored). Tried in order; only known words count.
fn stems(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    if word.chars().count() < 4 || !word.is_ascii() {
        return out;
    }
    fn push_base(base: &str, out: &mut Vec<String>) {
        if base.len() < 2 {
            return;
        }
        out.push(base.to_owned());
        out.push(format!("{base}e"));
        // "running" -> "runn" -> "run" (the word is ASCII, so byte slicing is on a boundary).
        if let [.., a, b] = base.as_bytes()
            && a == b
        {
            out.push(base.get(..base.len() - 1).unwrap_or(base).to_owned());
        }
    }
    if let Some(base) = word.strip_suffix("ies") {
        out.push(format!("{base}y"));
    }
    if let Some(base) = word.strip_suffix("es") {
        out.push(base.to_owned());
    }
    if let Some(base) = word.strip_suffix('s')
        && !base.ends_with('s')
    {
        out.push(base.to_owned());
    }
    for suffix in ["ing", "ed", "er", "y", "ly"] {
        if let Some(base) = word.strip_suffix(suffix) {
            push_base(base, &mut out);
        }
    }
    out
}

/// What was heard in the prompt, before ranking.
#[derive(Default)]
struct Findings {
    levels: HashMap<Cue, (f32, u32)>,
    /// Negated cues; `true` for a word's own cue ("thunder"), `false` for one it only brings
    /// along (the rain "thunder" implies), which stays if another word asks for it.
    negated: Vec<(Cue, bool)>,
    indoor: f32,
    outdoor: bool,
    night: f32,
    night_negated: bool,
}

impl Findings {
    fn add(&mut self, cue: Cue, level: f32) {
        let entry = self.levels.entry(cue).or_insert((0.0, 0));
        entry.0 = entry.0.max(level);
        entry.1 += 1;
    }
}

/// Where a negation stands while reading the prompt.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Negation {
    /// Nothing is negated.
    Off,
    /// A negator was read: the next cue word within this many words is negated.
    Seeking(usize),
    /// A cue word was just negated: "or"/"nor" carry the negation on to the next one.
    AfterHit,
}

/// What `prompt` should sound like: see the module documentation for the rules.
pub fn from_prompt(prompt: &str) -> SceneSound {
    let vocabulary = &*VOCABULARY;
    let tokens = tokenise(prompt);
    let colour_modifier = colour_modifiers(&tokens);
    let mut found = Findings::default();

    let mut negation = Negation::Off;
    // Intensity for the next cue word: factor and words left.
    let mut intensity: Option<(f32, usize)> = None;
    let mut skip_next = false;

    for (i, token) in tokens.iter().enumerate() {
        if skip_next {
            skip_next = false;
            continue;
        }
        let Token::Word(word) = token else {
            negation = Negation::Off;
            intensity = None;
            continue;
        };
        let word = word.as_str();
        if is_negator(word) {
            negation = Negation::Seeking(4);
            continue;
        }
        if negation == Negation::AfterHit {
            if matches!(word, "or" | "nor") {
                negation = Negation::Seeking(3);
                continue;
            }
            negation = Negation::Off;
        }
        if matches!(word, "but" | "with" | "only" | "and" | "except" | "while") {
            negation = Negation::Off;
        }

        // A pair first ("living room", "outer space"), unless its second word starts a colour.
        let next_word = match tokens.get(i + 1) {
            Some(Token::Word(next)) => Some(next.as_str()),
            _ => None,
        };
        let mut meaning = None;
        let mut pair = false;
        if let Some(next) = next_word
            && let Some(m) = vocabulary.pairs.get(&(word, next))
            && !colour_modifier.get(i + 1).copied().unwrap_or(false)
        {
            meaning = Some(*m);
            pair = true;
        }
        if meaning.is_none() && !colour_modifier.get(i).copied().unwrap_or(false) {
            meaning = vocabulary.word(word);
        }
        skip_next = pair;
        let factor = intensity.map_or(1.0, |(f, _)| f);
        if let Some(&(_, f)) = INTENSIFIERS.iter().find(|(w, _)| *w == word) {
            intensity = Some((f, 2));
        } else if let Some((f, left)) = intensity {
            intensity = if left > 1 { Some((f, left - 1)) } else { None };
        }

        // "music-free", "car-free": the word itself is negated.
        let free = !pair && next_word == Some("free");
        let negating = matches!(negation, Negation::Seeking(_)) || free;
        let names_something = matches!(meaning, Some(Sound(_) | Indoor(_) | Night(_)));
        match meaning {
            Some(Sound(cues)) => {
                if negating {
                    for (k, (cue, _)) in cues.iter().enumerate() {
                        found.negated.push((*cue, k == 0));
                    }
                } else {
                    for (cue, level) in cues {
                        found.add(*cue, level * factor);
                    }
                }
                intensity = None;
            }
            Some(Indoor(level)) => {
                if !negating {
                    found.indoor = found.indoor.max(level);
                }
            }
            Some(Outdoor) => {
                if !negating {
                    found.outdoor = true;
                }
            }
            Some(Night(level)) => {
                if negating {
                    found.night_negated = true;
                } else {
                    found.night = found.night.max(level * factor);
                }
            }
            Some(Nothing) | None => {}
        }
        negation = match negation {
            Negation::Seeking(_) if names_something => Negation::AfterHit,
            Negation::Seeking(left) if matches!(word, "any" | "more" | "of" | "the" | "a") => Negation::Seeking(left),
            Negation::Seeking(left) if left > 1 => Negation::Seeking(left - 1),
            Negation::Seeking(_) => Negation::Off,
            other => other,
        };
    }
    rank(found)
}

fn is_negator(word: &str) -> bool {
    NEGATORS.contains(&word) || word.ends_with("n't") || matches!(word, "dont" | "doesnt" | "isnt" | "arent" | "cant")
}

/// For each token, whether it is a word naming a colour's shade ("forest" in "forest green",
/// "fire" and "engine" in "fire-engine red") rather than a sound.
fn colour_modifiers(tokens: &[Token]) -> Vec<bool> {
    let mut modifier = vec![false; tokens.len()];
    for i in (0..tokens.len()).rev() {
        let next_is_colour = match tokens.get(i + 1) {
            Some(Token::Word(next)) => COLOURS.contains(&next.as_str()),
            _ => false,
        };
        // Two words before a colour ("fire-engine red"), no more.
        let next_is_modifier = modifier.get(i + 1).copied().unwrap_or(false)
            && matches!(tokens.get(i + 2), Some(Token::Word(w)) if COLOURS.contains(&w.as_str()));
        let is_word = matches!(tokens.get(i), Some(Token::Word(w)) if !COLOURS.contains(&w.as_str()));
        if let Some(slot) = modifier.get_mut(i) {
            *slot = is_word && (next_is_colour || next_is_modifier);
        }
    }
    modifier
}

/// The findings as a ranked scene: night and indoor context applied, negations removed, at most
/// [`MAX_CUES`] cues, and a bed under sparse cues.
fn rank(found: Findings) -> SceneSound {
    let mut levels: Vec<(Cue, f32)> = found
        .levels
        .iter()
        // A cue named again and again is a little stronger.
        .map(|(cue, (level, count))| (*cue, level + 0.05 * (count.saturating_sub(1)).min(4) as f32))
        .collect();

    let has = |levels: &[(Cue, f32)], cue: Cue| levels.iter().any(|(c, _)| *c == cue);
    // Night outdoors means crickets, quieter in a city, none in space or indoors.
    let indoors_only = found.indoor > 0.0 && !found.outdoor;
    if found.night > 0.0 && !found.night_negated && !has(&levels, Cue::Space) && !indoors_only {
        let urban = has(&levels, Cue::Traffic) || has(&levels, Cue::Crowd);
        let level = if urban { found.night * 0.5 } else { found.night };
        match levels.iter_mut().find(|(c, _)| *c == Cue::Crickets) {
            Some(entry) => entry.1 = entry.1.max(level),
            None => levels.push((Cue::Crickets, level)),
        }
        // Birds sleep at night.
        for entry in levels.iter_mut().filter(|(c, _)| *c == Cue::Birds) {
            entry.1 *= 0.4;
        }
    }
    if found.indoor > 0.0 && !has(&levels, Cue::Room) {
        levels.push((Cue::Room, found.indoor * 0.6));
    }
    let removed =
        |cue: Cue| found.negated.iter().any(|(c, own)| *c == cue && (*own || !found.levels.contains_key(&cue)));
    levels.retain(|(cue, _)| !removed(*cue));
    for entry in levels.iter_mut() {
        entry.1 = entry.1.clamp(MIN_LEVEL, 1.0);
    }
    sort(&mut levels);

    // Room tone only matters when little else is heard; keep it last and quiet.
    if levels.len() > 1 {
        for entry in levels.iter_mut().filter(|(c, _)| *c == Cue::Room) {
            entry.1 = entry.1.min(0.3);
        }
        sort(&mut levels);
    }
    levels.truncate(MAX_CUES);

    if !levels.iter().any(|(c, _)| c.is_continuous()) {
        let bed = if found.indoor > 0.0 && !found.outdoor { Cue::Room } else { Cue::Wind };
        if !removed(bed) || levels.is_empty() {
            levels.truncate(MAX_CUES - 1);
            let level = if bed == Cue::Room { 0.3 } else { 0.2 };
            levels.push((bed, level));
        }
    }
    SceneSound { cues: levels }
}

fn sort(levels: &mut [(Cue, f32)]) {
    levels.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.rank().cmp(&b.0.rank())));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cues(prompt: &str) -> Vec<Cue> {
        from_prompt(prompt).cue_list()
    }

    fn check_invariants(prompt: &str) {
        let scene = from_prompt(prompt);
        assert!(!scene.cues.is_empty(), "{prompt:?}: no cue");
        assert!(scene.cues.len() <= MAX_CUES, "{prompt:?}: {:?}", scene.cues);
        for (i, (cue, level)) in scene.cues.iter().enumerate() {
            assert!((MIN_LEVEL..=1.0).contains(level), "{prompt:?}: {cue:?} at {level}");
            assert!(!scene.cues[i + 1..].iter().any(|(c, _)| c == cue), "{prompt:?}: {cue:?} twice");
        }
        assert!(scene.cues.iter().any(|(c, _)| c.is_continuous()), "{prompt:?}: no bed in {:?}", scene.cues);
    }

    #[test]
    fn rain_phrasings() {
        for prompt in [
            "rain",
            "a rainy day in london",
            "it's raining on the roof",
            "RAIN!!!",
            "heavy rainstorm",
            "a sudden downpour",
            "in the rain",
            "while it rains",
            "during a rainstorm",
        ] {
            assert_eq!(cues(prompt).first(), Some(&Cue::Rain), "{prompt}: {:?}", from_prompt(prompt));
        }
        // Drizzle is quieter than a downpour.
        let drizzle = from_prompt("drizzle").level(Cue::Rain).unwrap();
        let downpour = from_prompt("downpour").level(Cue::Rain).unwrap();
        assert!(drizzle + 0.2 < downpour, "{drizzle} vs {downpour}");
        assert!(from_prompt("light drizzle over the fields").has(Cue::Rain));
        assert!(from_prompt("light rain").level(Cue::Rain).unwrap() < 0.6);
    }

    #[test]
    fn vocabulary_examples() {
        let expect: &[(&str, Cue)] = &[
            ("waves on the beach", Cue::Waves),
            ("over the sea", Cue::Waves),
            ("above the ocean", Cue::Waves),
            ("surf's up", Cue::Waves),
            ("above the open water", Cue::Waves),
            ("a walk in the forest", Cue::Birds),
            ("a quiet meadow", Cue::Birds),
            ("birdsong at dawn", Cue::Birds),
            ("two birds in a garden", Cue::Birds),
            ("a busy city street", Cue::Traffic),
            ("cars in traffic", Cue::Traffic),
            ("a red car driving fast", Cue::Engine),
            ("a truck on the highway", Cue::Engine),
            ("a motorbike", Cue::Engine),
            ("a cheering crowd in a stadium", Cue::Crowd),
            ("a birthday party", Cue::Crowd),
            ("a busy market", Cue::Crowd),
            ("friends around a campfire", Cue::Fire),
            ("a crackling fireplace", Cue::Fire),
            ("flames everywhere", Cue::Fire),
            ("a man walking", Cue::Footsteps),
            ("running through town", Cue::Footsteps),
            ("footsteps in the hall", Cue::Footsteps),
            ("people dancing", Cue::Music),
            ("a concert", Cue::Music),
            ("a song for you", Cue::Music),
            ("a field at night", Cue::Crickets),
            ("thunder and lightning", Cue::Thunder),
            ("floating in space", Cue::Space),
            ("drifting through the cosmos", Cue::Space),
            ("in the galaxy among the planets", Cue::Space),
            ("a windy day", Cue::Wind),
            ("in the desert", Cue::Wind),
            ("a blizzard", Cue::Wind),
            ("on the mountain", Cue::Wind),
            ("in the snow", Cue::Wind),
            ("with snow falling", Cue::Wind),
            ("in a snowfall", Cue::Snow),
            ("it is snowing", Cue::Snow),
            ("a river in spring", Cue::Stream),
            ("a waterfall", Cue::Stream),
            ("in the kitchen", Cue::Room),
            ("a cat in a living room", Cue::Room),
        ];
        for (prompt, cue) in expect {
            let scene = from_prompt(prompt);
            assert!(scene.has(*cue), "{prompt:?} should have {cue:?}: {scene:?}");
            check_invariants(prompt);
        }
    }

    #[test]
    fn storms_bring_thunder_and_rain() {
        for prompt in ["a storm at sea", "thunder", "lightning strikes", "a thunderstorm"] {
            let scene = from_prompt(prompt);
            assert!(scene.has(Cue::Thunder) && scene.has(Cue::Rain), "{prompt}: {scene:?}");
        }
    }

    #[test]
    fn shipped_model_settings_map_sensibly() {
        let expect: &[(&str, &[Cue])] = &[
            ("a red ball bouncing on green grass under a blue sky", &[Cue::Birds, Cue::Wind]),
            ("a blue cube moving left in a grassy field", &[Cue::Birds]),
            ("a yellow star on a lawn", &[Cue::Birds]),
            ("a green ball in a park", &[Cue::Birds]),
            ("a white ball moving right over the sea", &[Cue::Waves]),
            ("an orange cube at sea, rising up", &[Cue::Waves]),
            ("a pink star over ocean waves", &[Cue::Waves]),
            ("a purple ball in the desert", &[Cue::Wind]),
            ("a red cube over desert sand", &[Cue::Wind]),
            ("a ball in the sand dunes", &[Cue::Wind]),
            ("a blue ball on a snowy field", &[Cue::Wind]),
            ("a white cube in a winter landscape", &[Cue::Wind]),
            ("a red ball at night", &[Cue::Crickets]),
            ("a cube under the night sky", &[Cue::Crickets]),
            ("a yellow star on a dark night with stars", &[Cue::Crickets]),
            ("a red ball in outer space", &[Cue::Space]),
            ("a ball in space among the stars", &[Cue::Space]),
            ("a green cube bouncing on the grass in the rain", &[Cue::Rain, Cue::Birds]),
            ("a ball over the sea during a rainstorm", &[Cue::Rain, Cue::Waves]),
            ("a ball in the desert with snow falling", &[Cue::Wind]),
            ("a red ball on a lawn as snowflakes fall", &[Cue::Snow]),
            ("a ball on a foggy day over the sea", &[Cue::Waves, Cue::Wind]),
            ("a ball in thick fog", &[Cue::Wind]),
            ("a cube on the grass at sunset", &[Cue::Birds]),
            ("a ball in the evening glow over the sea", &[Cue::Waves]),
        ];
        for (prompt, wanted) in expect {
            let scene = from_prompt(prompt);
            for cue in *wanted {
                assert!(scene.has(*cue), "{prompt:?} should have {cue:?}: {scene:?}");
            }
            check_invariants(prompt);
        }
        // Space has no crickets even with stars; a night at sea keeps the sea first.
        assert!(!from_prompt("a ball in space among the stars").has(Cue::Crickets));
        assert_eq!(cues("a ball over the sea at night").first(), Some(&Cue::Waves));
    }

    #[test]
    fn colour_words_are_not_sounds() {
        assert!(!from_prompt("a forest green ball").has(Cue::Birds));
        assert!(!from_prompt("a fire-engine red cube").has(Cue::Fire));
        assert!(!from_prompt("a fire-engine red cube").has(Cue::Engine));
        // Only the quiet bed, not the snow's wind.
        assert!(from_prompt("a snow-white star").level(Cue::Wind).unwrap_or(0.0) <= 0.2);
        assert!(!from_prompt("a sea green ball").has(Cue::Waves));
        assert!(!from_prompt("a sky blue ball in the desert").has(Cue::Birds));
        // The colour of a ball in a real setting keeps the setting.
        assert!(from_prompt("a forest green ball in the rain").has(Cue::Rain));
        assert!(from_prompt("a red fire").has(Cue::Fire));
    }

    #[test]
    fn negation_removes_cues() {
        assert!(!from_prompt("a beach with no rain").has(Cue::Rain));
        assert!(from_prompt("a beach with no rain").has(Cue::Waves));
        assert!(!from_prompt("a party without music").has(Cue::Music));
        assert!(from_prompt("a party without music").has(Cue::Crowd));
        assert!(!from_prompt("a storm without thunder").has(Cue::Thunder));
        assert!(from_prompt("a storm without thunder").has(Cue::Rain));
        assert!(!from_prompt("it isn't raining").has(Cue::Rain));
        assert!(!from_prompt("it isn\u{2019}t raining").has(Cue::Rain));
        assert!(!from_prompt("no rain or wind, just birds").has(Cue::Rain));
        assert!(
            !from_prompt("no rain or wind, just birds").has(Cue::Wind) || {
                // Wind may only come back as the quiet bed under the birds, never strong.
                from_prompt("no rain or wind, just birds").level(Cue::Wind).unwrap_or(0.0) <= 0.2
            }
        );
        assert!(from_prompt("no rain or wind, just birds").has(Cue::Birds));
        assert!(!from_prompt("not at night").has(Cue::Crickets));
        // A negation does not reach across a clause.
        let scene = from_prompt("no music, but heavy rain");
        assert!(scene.has(Cue::Rain) && !scene.has(Cue::Music), "{scene:?}");
        let scene = from_prompt("without cars and with birds singing");
        assert!(!scene.has(Cue::Traffic) && scene.has(Cue::Birds), "{scene:?}");
        // A negation ends with the cue it negates.
        let scene = from_prompt("no rain on the beach");
        assert!(!scene.has(Cue::Rain) && scene.has(Cue::Waves), "{scene:?}");
        // "no storm" takes the storm's thunder and wind with it.
        let scene = from_prompt("a sunny beach, no storm");
        assert!(!scene.has(Cue::Thunder) && !scene.has(Cue::Rain), "{scene:?}");
        // "not moving" negates nothing that sounds.
        assert!(from_prompt("a ball not moving, on the beach").has(Cue::Waves));
    }

    #[test]
    fn nothing_found_gives_a_quiet_bed() {
        for prompt in ["", "   ", "a red ball", "🦀🦀🦀", "lorem ipsum dolor", "a cube, standing still", "日本語の文章"]
        {
            let scene = from_prompt(prompt);
            assert_eq!(scene.cues.len(), 1, "{prompt:?}: {scene:?}");
            let (cue, level) = scene.cues[0];
            assert_eq!(cue, Cue::Wind, "{prompt:?}");
            assert!(level <= 0.25, "{prompt:?}: {level}");
        }
        for prompt in ["a red ball in the kitchen", "an office", "a cat in my house", "in a music-free studio room"] {
            let scene = from_prompt(prompt);
            assert!(scene.has(Cue::Room), "{prompt:?}: {scene:?}");
            assert!(!scene.has(Cue::Wind), "{prompt:?}: {scene:?}");
        }
        assert!(!from_prompt("in a music-free studio room").has(Cue::Music));
        assert!(!from_prompt("a car-free street").has(Cue::Engine));
        assert!(from_prompt("a car-free street").has(Cue::Traffic));
        // Indoors at night: no crickets.
        assert!(!from_prompt("a kitchen at night").has(Cue::Crickets));
        // Sparse cues get a bed.
        let scene = from_prompt("a man walking");
        assert!(scene.has(Cue::Footsteps) && scene.has(Cue::Wind), "{scene:?}");
    }

    #[test]
    fn at_most_four_strongest_first() {
        let prompt = "a stormy night in the city, crowds cheering at a concert by the beach, \
                      fire, cars, birds, wind, a river and footsteps";
        let scene = from_prompt(prompt);
        assert_eq!(scene.cues.len(), MAX_CUES, "{scene:?}");
        for pair in scene.cues.windows(2) {
            assert!(pair[0].1 >= pair[1].1, "{scene:?}");
        }
        check_invariants(prompt);
        // Same prompt, same answer.
        assert_eq!(from_prompt(prompt), scene);
    }

    #[test]
    fn inflections() {
        for (prompt, cue) in [
            ("raining", Cue::Rain),
            ("rained", Cue::Rain),
            ("rains", Cue::Rain),
            ("storms", Cue::Rain),
            ("oceans", Cue::Waves),
            ("beaches", Cue::Waves),
            ("forests", Cue::Birds),
            ("gardens", Cue::Birds),
            ("streets", Cue::Traffic),
            ("trucks", Cue::Engine),
            ("engines", Cue::Engine),
            ("markets", Cue::Crowd),
            ("crowds", Cue::Crowd),
            ("fires", Cue::Fire),
            ("walks", Cue::Footsteps),
            ("hikers", Cue::Footsteps),
            ("songs", Cue::Music),
            ("dances", Cue::Music),
            ("nights", Cue::Crickets),
            ("mountains", Cue::Wind),
            ("deserts", Cue::Wind),
            ("stormy", Cue::Rain),
            ("sandy", Cue::Wind),
            ("rivers", Cue::Stream),
        ] {
            assert!(from_prompt(prompt).has(cue), "{prompt:?}: {:?}", from_prompt(prompt));
        }
        // Words that only look like cue words.
        assert!(!from_prompt("a car parked in a parking lot").has(Cue::Birds));
        assert!(!from_prompt("he got fired").has(Cue::Fire));
        assert!(!from_prompt("waving goodbye").has(Cue::Waves));
        assert!(!from_prompt("a rainbow").has(Cue::Rain));
        assert!(!from_prompt("seats").has(Cue::Waves));
    }

    #[test]
    fn weird_input_never_panics() {
        let long = "rain ".repeat(3_000);
        let emoji = "🌧️🌊🔥🎵".repeat(500);
        let mixed = "ÀÉÎÕÜ ß ǅ İstanbul ﬁre ＦＩＲＥ \u{0}\u{7f}\u{200b}\u{feff} \u{1F600} rain\u{301}y".to_owned();
        let many_words: String = (0..5_000).map(|i| format!("w{i} ")).collect();
        let apostrophes = "'''' ' 's ''s rain's '".to_owned();
        let long_word = "a".repeat(10_000);
        for prompt in [long.as_str(), &emoji, &mixed, &many_words, &apostrophes, &long_word, "no", "not not no", "n't"]
        {
            check_invariants(prompt);
        }
        assert_eq!(cues(&long).first(), Some(&Cue::Rain));
        // Turkish dotted capital I lower-cases to two chars; must not matter.
        check_invariants("İİİ rain İ");
        assert!(from_prompt("İİİ rain İ").has(Cue::Rain));
        assert!(from_prompt("RAIN ON THE SEA").has(Cue::Waves));
    }

    #[test]
    fn tokeniser_splits_on_punctuation_and_keeps_apostrophes() {
        let words: Vec<_> = tokenise("It's rain-soaked; the sea's waves.")
            .into_iter()
            .filter_map(|t| match t {
                Token::Word(w) => Some(w),
                Token::Break => None,
            })
            .collect();
        assert_eq!(words, ["it", "rain", "soaked", "the", "sea", "waves"]);
    }

    #[test]
    fn stems_are_plausible() {
        assert!(stems("raining").contains(&"rain".to_owned()));
        assert!(stems("running").contains(&"run".to_owned()));
        assert!(stems("parties").contains(&"party".to_owned()));
        assert!(stems("breezes").contains(&"breeze".to_owned()));
        assert!(stems("sea").is_empty());
        assert!(stems("éèêë").is_empty());
    }
}
