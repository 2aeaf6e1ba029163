//! Topics of prompts and viewer preferences written in plain words.
//!
//! This module turns free text into a small set of topic strings. Its
//! invariant: prompts ([`topics_of`]) and preferences ([`Preferences::parse`])
//! go through the *same* tokenizer, stopword list, stemmer and family
//! lexicon, so a preference topic matches a video topic exactly when they
//! were derived from related words ("more cooking" matches a prompt about a
//! chef in a kitchen, both yield `cook`).
//!
//! Topics are lowercase stems (see [`stem`]) plus *families*: about 25
//! hand-written groups named by a canonical word (`animal`, `cook`, `prank`,
//! …) that collect related stems (`puppy`, `kitten`, `chef`, `kitchen`, …).
//! A stem that is just an inflection of its family's name (`cooking`,
//! `animals`) is replaced by the family name itself.
//!
//! In the ranking a video's preference score is the sum of the weights of its distinct topics,
//! clamped to ±[`SCORE_BOUND`]; FOR_YOU multiplies by exp(2·score/3), so one matching topic at +1
//! about doubles a video's score and at −1 about halves it.
//!
//! Meaning: a preference word no family lists ([`unplaced_words`]) can be placed in a family by
//! the sentence encoder (the domain does it, with `meaning::TextEncoder`): "videos about <word>"
//! is compared with each family's sentence ([`family_sentences`]), and the word joins the closest
//! family when the similarity reaches [`FAMILY_MEANING_THRESHOLD`] and beats the runner-up by
//! [`FAMILY_MEANING_MARGIN`] ([`place_by_similarity`]); [`Preferences::parse_placed`] then reads the
//! sentence with those placements. So "more felines" weighs `animal` and "fewer spooky things"
//! `horror`, while "more politics" (no family close enough) stays its own stem.
//!
//! Limits: prompts are read through the lexicon only (a prompt about "a sommelier" has no
//! `drink`), a word the cue lists do not know changes nothing ("everything except pranks" reads
//! "pranks" as wanted); English only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The most topics [`topics_of`] returns for one text.
pub const MAX_TOPICS: usize = 24;
/// The most topics a [`Preferences`] value holds.
pub const MAX_PREFERENCE_TOPICS: usize = 32;
/// The longest preference text [`Preferences::parse`] accepts, in characters.
pub const MAX_PREFERENCE_CHARS: usize = 500;
/// The bound of [`Preferences::score`]: scores lie in `[-SCORE_BOUND, SCORE_BOUND]`.
pub const SCORE_BOUND: f32 = 3.0;

/// Words that carry no topic: a compact English list plus video-prompt filler
/// and words people use when talking about their feed.
#[rustfmt::skip]
const STOPWORDS: &[&str] = &[
    // English function words
    "the", "and", "for", "with", "without", "from", "into", "onto", "over", "under", "about",
    "above", "below", "between", "through", "during", "before", "after", "while", "then", "than",
    "that", "this", "these", "those", "there", "here", "where", "when", "what", "which", "who",
    "whom", "whose", "why", "how", "are", "was", "were", "been", "being", "have", "has", "had",
    "having", "does", "did", "doing", "done", "will", "would", "should", "could", "can", "may",
    "might", "must", "shall", "its", "his", "her", "hers", "him", "she", "they", "them", "their",
    "theirs", "our", "ours", "your", "yours", "you", "mine", "myself", "yourself", "itself",
    "not", "but", "all", "any", "some", "each", "every", "both", "few", "most", "other", "such",
    "only", "own", "same", "too", "very", "just", "also", "again", "once", "out", "off", "down",
    "upon", "onto", "like", "get", "got", "gets", "getting", "make", "makes", "made", "making",
    "one", "two", "three", "very", "really", "much", "many", "lot", "lots", "way", "tons",
    "more", "less", "fewer", "less", "please", "thing", "things", "stuff", "kind", "kinds", "sort",
    "anything", "everything", "something", "nothing", "none", "see", "seeing", "watch", "watching",
    "feed", "content", "post", "posts", "clip", "clips", "reel", "reels", "want", "show", "shows",
    "plenty", "extra", "enjoy", "prefer", "love", "hate", "dislike", "avoid", "stop", "skip",
    "never", "dont", "don't", "doesnt", "didnt", "cant", "wont", "isnt", "arent", "aren't",
    "maybe", "even", "ever", "still", "yet", "well", "okay", "yes", "actually", "instead",
    "mostly", "especially", "probably", "lately", "anymore", "recently", "today", "now", "day",
    "days", "time", "times", "people", "someone", "somebody", "them", "stuff", "random",
    // video-prompt filler
    "video", "videos", "scene", "scenes", "shot", "shots", "cinematic", "4k", "8k", "hd", "uhd",
    "footage", "style", "styled", "beautiful", "realistic", "photorealistic", "hyperrealistic",
    "detailed", "high", "quality", "resolution", "camera", "closeup", "close", "view", "shows",
    "showing", "featuring", "background", "foreground", "slow", "motion", "lighting", "light",
    "render", "rendered", "ultra", "epic", "stunning", "amazing", "awesome", "cool", "nice",
    "vibrant", "dramatic", "film", "movie", "frame", "frames", "angle", "wide", "shallow",
    "depth", "field", "bokeh", "sharp", "focus", "aesthetic", "vertical", "horizontal",
];

/// Plural words whose singular ends in "ie" (so "-ies" is not "-y").
#[rustfmt::skip]
const IE_WORDS: &[&str] = &[
    "movie", "cookie", "zombie", "brownie", "selfie", "smoothie", "hoodie", "rookie", "pie", "tie",
    "lie", "calorie", "genie", "pixie", "boogie", "goalie", "indie", "aussie", "auntie",
];

/// Words ending in "s" that are not plurals.
#[rustfmt::skip]
const S_WORDS: &[&str] = &[
    "news", "series", "species", "physics", "gymnastics", "athletics", "mathematics", "bus",
    "lens", "yes", "chaos", "canvas", "atlas", "cosmos", "christmas", "tennis", "chess", "paris",
    "texas", "always", "bonus", "octopus", "cactus", "circus", "virus", "hippopotamus",
    "asparagus", "hummus", "couscous", "walrus", "platypus",
];

/// The family lexicon: `(family, forms of the family's own name, related words)`.
/// Entries are written as natural words; they are stemmed when the lookup
/// table is built, so they match whatever the stemmer makes of text.
#[rustfmt::skip]
const FAMILIES: &[(&str, &[&str], &[&str])] = &[
    ("animal", &["animal", "animals"], &[
        "dog", "puppy", "cat", "kitten", "kitty", "bird", "horse", "pony", "fox", "lion", "tiger",
        "bear", "rabbit", "bunny", "fish", "elephant", "pet", "wolf", "deer", "monkey", "panda",
        "koala", "owl", "eagle", "parrot", "duck", "penguin", "cow", "pig", "sheep", "goat",
        "chicken", "hamster", "squirrel", "giraffe", "zebra", "retriever", "labrador", "corgi",
        "poodle", "wildlife", "zoo", "otter", "hedgehog", "frog", "turtle", "snake", "lizard",
        "butterfly", "bee", "insect", "spider", "raccoon", "kangaroo", "camel", "dinosaur", "puppies",
    ]),
    ("cook", &["cook", "cooking", "cooks", "cooked"], &[
        "chef", "kitchen", "pasta", "recipe", "bake", "baking", "baker", "bread", "cake", "soup",
        "food", "meal", "restaurant", "pizza", "burger", "sushi", "noodle", "ramen", "dessert",
        "cookie", "pie", "salad", "grill", "barbecue", "bbq", "dinner", "lunch", "breakfast",
        "taco", "steak", "cuisine", "pastry", "chocolate", "cheese", "sandwich", "dumpling",
        "curry", "foodie", "oven", "frying", "fry", "cooker", "culinary", "snack", "pancake",
    ]),
    ("prank", &["prank", "pranks", "pranking", "prankster"], &[
        "trick", "joke", "scare", "jumpscare", "gag", "hoax", "pranked", "tricks",
    ]),
    ("sport", &["sport", "sports", "sporty"], &[
        "football", "soccer", "basketball", "baseball", "tennis", "golf", "hockey", "cricket",
        "rugby", "volleyball", "boxing", "wrestling", "skateboard", "skateboarding", "skate",
        "surf", "surfing", "ski", "skiing", "snowboard", "snowboarding", "athlete", "stadium",
        "match", "goal", "olympic", "olympics", "racing", "marathon", "climbing", "cycling",
        "bike", "bmx", "parkour", "gymnastics", "athletics", "swimming",
    ]),
    ("music", &["music", "musical", "musician"], &[
        "song", "sing", "singing", "singer", "guitar", "piano", "drum", "drums", "concert",
        "band", "rap", "rapper", "hiphop", "jazz", "rock", "orchestra", "violin", "dj", "beat",
        "melody", "karaoke", "choir", "opera", "festival", "album", "bass", "edm",
    ]),
    ("dance", &["dance", "dancing", "dances", "danced"], &[
        "dancer", "ballet", "ballerina", "choreography", "salsa", "tango", "breakdance",
        "twerk", "waltz", "hiphop", "moves", "tiktok",
    ]),
    ("travel", &["travel", "traveling", "travelling", "travels", "traveler", "traveller"], &[
        "trip", "vacation", "holiday", "tourist", "tourism", "journey", "adventure", "road",
        "roadtrip", "backpacking", "hotel", "airport", "passport", "explore", "exploring",
        "paris", "tokyo", "london", "rome", "italy", "japan", "landmark", "sightseeing",
    ]),
    ("nature", &["nature", "natural"], &[
        "forest", "mountain", "river", "lake", "tree", "flower", "garden", "waterfall",
        "landscape", "valley", "jungle", "desert", "canyon", "meadow", "hiking", "hike",
        "camping", "camp", "park", "sunset", "sunrise", "volcano", "cave", "leaf", "leaves",
    ]),
    ("ocean", &["ocean", "oceans", "oceanic"], &[
        "sea", "beach", "wave", "underwater", "coral", "reef", "whale", "dolphin", "shark",
        "sail", "sailing", "boat", "ship", "island", "diving", "scuba", "coast", "shore",
        "octopus", "jellyfish", "tide", "marine",
    ]),
    ("space", &["space"], &[
        "galaxy", "planet", "star", "astronaut", "rocket", "moon", "mars", "nebula", "cosmos",
        "universe", "alien", "spaceship", "spacecraft", "orbit", "asteroid", "comet", "nasa",
        "satellite", "telescope", "solar",
    ]),
    ("city", &["city", "cities"], &[
        "urban", "street", "skyline", "downtown", "skyscraper", "building", "subway", "metro",
        "traffic", "neon", "nyc", "town", "architecture", "bridge", "rooftop", "alley",
    ]),
    ("car", &["car", "cars"], &[
        "truck", "vehicle", "driving", "drive", "drift", "drifting", "motorcycle", "supercar",
        "engine", "garage", "race", "racecar", "ferrari", "lamborghini", "porsche", "tesla",
        "jeep", "automotive", "highway", "motorbike",
    ]),
    ("tech", &["tech", "technology", "technological"], &[
        "robot", "computer", "gadget", "phone", "smartphone", "coding", "code", "programming",
        "software", "cyberpunk", "futuristic", "drone", "android", "cyborg", "hologram",
        "laptop", "electronics", "startup", "hacker",
    ]),
    ("fashion", &["fashion", "fashionable"], &[
        "outfit", "dress", "clothes", "clothing", "model", "runway", "makeup", "style", "shoe",
        "sneaker", "jewelry", "hairstyle", "beauty", "cosmetics", "vogue", "designer", "hat",
        "jacket", "streetwear",
    ]),
    ("art", &["art", "arts", "artist", "artistic", "artwork"], &[
        "painting", "paint", "drawing", "draw", "sketch", "sculpture", "mural", "graffiti",
        "illustration", "anime", "cartoon", "animation", "watercolor", "canvas", "gallery",
        "museum", "pottery", "craft", "origami", "calligraphy",
    ]),
    ("game", &["game", "games", "gaming", "gamer"], &[
        "videogame", "minecraft", "fortnite", "esports", "console", "playstation", "xbox",
        "nintendo", "arcade", "pixel", "retro", "chess", "puzzle", "boardgame", "rpg", "mario",
        "pokemon",
    ]),
    ("comedy", &["comedy", "comedic", "comedian"], &[
        "funny", "humor", "humour", "hilarious", "meme", "skit", "sketch", "parody", "standup",
        "laugh", "laughing", "silly", "goofy", "sitcom", "satire",
    ]),
    ("fitness", &["fitness"], &[
        "workout", "gym", "exercise", "yoga", "training", "running", "run", "jogging", "pilates",
        "weightlifting", "lifting", "cardio", "crossfit", "bodybuilding", "stretching",
        "muscle", "pushup", "squat",
    ]),
    ("science", &["science", "sciences", "scientific", "scientist"], &[
        "experiment", "lab", "laboratory", "chemistry", "physics", "biology", "microscope",
        "atom", "molecule", "dna", "research", "engineering", "math", "mathematics",
    ]),
    ("history", &["history", "historic", "historical", "historian"], &[
        "ancient", "medieval", "castle", "knight", "viking", "samurai", "pharaoh", "egypt",
        "pyramid", "roman", "empire", "war", "victorian", "century", "renaissance", "ruins",
        "soldier",
    ]),
    ("fantasy", &["fantasy", "fantastical"], &[
        "dragon", "wizard", "witch", "magic", "magical", "elf", "fairy", "unicorn", "mermaid",
        "sorcerer", "spell", "enchanted", "mythical", "myth", "kingdom", "princess",
        "troll", "potion",
    ]),
    ("horror", &["horror", "horrific"], &[
        "scary", "creepy", "ghost", "haunted", "zombie", "monster", "vampire", "demon",
        "nightmare", "spooky", "halloween", "skeleton", "skull", "blood", "terror", "clown",
    ]),
    ("kid", &["kid", "kids"], &[
        "family", "child", "children", "baby", "toddler", "parent", "mom", "dad", "mother",
        "father", "toy", "toys", "playground", "school", "birthday", "grandma", "grandpa",
    ]),
    ("weather", &["weather"], &[
        "rain", "raining", "rainy", "storm", "snow", "snowing", "snowy", "thunder", "lightning",
        "tornado", "hurricane", "wind", "windy", "fog", "foggy", "cloud", "cloudy", "sunny",
        "rainbow", "blizzard", "winter", "summer", "thunderstorm", "snowstorm",
    ]),
    ("drink", &["drink", "drinks", "drinking"], &[
        "coffee", "tea", "cocktail", "beer", "wine", "juice", "smoothie", "latte", "espresso",
        "bar", "bartender", "barista", "soda", "milkshake", "whiskey", "boba",
    ]),
];

/// Similarity from which a preference word joins a family by meaning.
pub const FAMILY_MEANING_THRESHOLD: f32 = 0.60;
/// How much closer the chosen family must be than the next one.
pub const FAMILY_MEANING_MARGIN: f32 = 0.05;

/// Each family and the sentence it is compared by meaning as: "videos about" its name and its
/// first eight related words.
pub fn family_sentences() -> Vec<(&'static str, String)> {
    FAMILIES
        .iter()
        .map(|(family, forms, words)| {
            let listed: Vec<&str> = forms.iter().take(1).chain(words.iter().take(8)).copied().collect();
            (*family, format!("videos about {}", listed.join(", ")))
        })
        .collect()
}

/// The sentence a preference word is compared by meaning as.
pub fn word_sentence(word: &str) -> String {
    format!("videos about {word}")
}

/// The family a word joins, given its similarity to each family (see the module documentation).
pub fn place_by_similarity(similarities: &[(&'static str, f32)]) -> Option<&'static str> {
    let mut best: Option<(&'static str, f32)> = None;
    let mut second = f32::MIN;
    for &(family, s) in similarities {
        match best {
            Some((_, b)) if s <= b => second = second.max(s),
            _ => {
                if let Some((_, b)) = best {
                    second = second.max(b);
                }
                best = Some((family, s));
            }
        }
    }
    best.filter(|&(_, b)| b >= FAMILY_MEANING_THRESHOLD && b - second >= FAMILY_MEANING_MARGIN).map(|(f, _)| f)
}

/// Content words of a preference sentence that no family lists (lowercase, in order, once each):
/// the words meaning may place.
pub fn unplaced_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in tokens(text) {
        let cue = POSITIVE_CUES.contains(&w.as_str())
            || NEGATIVE_CUES.contains(&w.as_str())
            || INTENSIFIERS.contains(&w.as_str())
            || CONNECTORS.contains(&w.as_str())
            || w == "but";
        if cue || out.contains(&w) {
            continue;
        }
        if let Some((Some(_), None)) = word_topics(&w) {
            out.push(w);
        }
    }
    out
}

/// Lookup tables built once from [`FAMILIES`] and [`STOPWORDS`].
struct Lexicon {
    stopwords: HashSet<&'static str>,
    /// stem → family name, for every related word.
    family_of: HashMap<String, &'static str>,
    /// stem → family name, for the forms of a family's own name.
    self_form: HashMap<String, &'static str>,
}

fn lexicon() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(|| {
        let mut family_of = HashMap::new();
        let mut self_form = HashMap::new();
        for (family, forms, words) in FAMILIES {
            for w in *words {
                family_of.entry(stem(w)).or_insert(*family);
            }
            for w in *forms {
                self_form.insert(stem(w), *family);
            }
            self_form.insert((*family).to_owned(), *family);
        }
        Lexicon { stopwords: STOPWORDS.iter().copied().collect(), family_of, self_form }
    })
}

/// Whether a byte is an ASCII vowel (y counts).
fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// Strips `-ing` or `-ed` when what is left is a plausible stem (three or more
/// letters with a vowel), undoubling a final double consonant (`running` → `run`).
fn strip_verb_suffix(w: &str, suffix: &str) -> Option<String> {
    let base = w.strip_suffix(suffix)?;
    if base.len() < 3 || !base.bytes().any(is_vowel) {
        return None;
    }
    let b = base.as_bytes();
    if let [.., x, y] = b
        && x == y
        && !is_vowel(*x)
        && !matches!(*x, b'l' | b's' | b'z')
    {
        return base.get(..base.len() - 1).map(str::to_owned);
    }
    Some(base.to_owned())
}

/// A small deterministic suffix stripper applied to lowercase words.
///
/// Rules, first match wins: words of three letters or fewer are kept;
/// known non-plurals are kept; `-ies` → `-y` (`puppies` → `puppy`) unless the
/// singular ends in "ie"; `-sses` → `-ss`; `-ss`, `-us`, `-is` are kept;
/// `-es` after s/x/z/ch/sh is stripped; a final `-s` is stripped;
/// `-ing` and `-ed` are stripped when a stem with a vowel remains
/// (`cooking` → `cook`, `dancing` → `danc`, `running` → `run`).
/// The function is idempotent on its own outputs for the family names.
pub fn stem(word: &str) -> String {
    let w = word;
    if w.len() <= 3 || !w.is_ascii() || S_WORDS.contains(&w) {
        return w.to_owned();
    }
    if let Some(base) = w.strip_suffix("ies") {
        let singular = w.get(..w.len() - 1).unwrap_or(w);
        if IE_WORDS.contains(&singular) {
            return singular.to_owned();
        }
        if base.len() >= 2 {
            return format!("{base}y");
        }
        return w.to_owned();
    }
    if let Some(base) = w.strip_suffix("sses") {
        return format!("{base}ss");
    }
    if w.ends_with("ss") || w.ends_with("us") || w.ends_with("is") {
        return w.to_owned();
    }
    if let Some(base) = w.strip_suffix("es")
        && (base.ends_with('s')
            || base.ends_with('x')
            || base.ends_with('z')
            || base.ends_with("ch")
            || base.ends_with("sh"))
        && base.len() >= 3
    {
        return base.to_owned();
    }
    if let Some(base) = w.strip_suffix('s') {
        return base.to_owned();
    }
    if w.ends_with("ing")
        && let Some(s) = strip_verb_suffix(w, "ing")
    {
        return s;
    }
    if w.ends_with("ed")
        && !w.ends_with("eed")
        && let Some(s) = strip_verb_suffix(w, "ed")
    {
        return s;
    }
    w.to_owned()
}

/// Lowercase alphanumeric tokens of a text (apostrophes removed inside words,
/// so "don't" is "dont").
fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '\u{2019}'))
        .map(|t| t.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The words search matches a text by: lowercase, stemmed ([`stem`]), without stopwords and
/// one-letter words, in order (repeats kept: they count).
pub fn terms(text: &str) -> Vec<String> {
    let lex = lexicon();
    tokens(text)
        .into_iter()
        .filter(|t| t.chars().count() >= 2 && !lex.stopwords.contains(t.as_str()))
        .map(|t| stem(&t))
        .collect()
}

/// A content word's topics: its canonical stem and its family, if any.
/// Returns `(stem, family)`; the stem is `None` when it is just the family.
fn word_topics(word: &str) -> Option<(Option<String>, Option<&'static str>)> {
    let lex = lexicon();
    if word.chars().count() < 3 || word.chars().all(|c| c.is_numeric()) || lex.stopwords.contains(word) {
        return None;
    }
    let s = stem(word);
    if s.chars().count() < 3 || lex.stopwords.contains(s.as_str()) {
        return None;
    }
    if let Some(family) = lex.self_form.get(&s) {
        return Some((None, Some(family)));
    }
    let family = lex.family_of.get(&s).copied();
    Some((Some(s), family))
}

/// The topics of a prompt: distinct stems and families, in order of first
/// appearance, at most [`MAX_TOPICS`].
pub fn topics_of(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let push = |t: &str, out: &mut Vec<String>| {
        if out.len() < MAX_TOPICS && !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    };
    for tok in tokens(text) {
        if out.len() >= MAX_TOPICS {
            break;
        }
        if let Some((s, family)) = word_topics(&tok) {
            if let Some(s) = s {
                push(&s, &mut out);
            }
            if let Some(f) = family {
                push(f, &mut out);
            }
        }
    }
    out
}

/// Why a preference text could not be understood. Each message says what to
/// write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreferenceError {
    /// The text was blank.
    #[error(
        "preferences are empty: write what you want more or less of, e.g. \"more cooking and animals, fewer pranks\""
    )]
    Empty,
    /// The text was longer than [`MAX_PREFERENCE_CHARS`].
    #[error(
        "preferences are too long: keep them under 500 characters, e.g. \"more cooking and animals, fewer pranks\""
    )]
    TooLong,
    /// No topic could be recognised in the text.
    #[error("no topics recognised: name subjects you want more or less of, e.g. \"more space and music, less horror\"")]
    NoTopics,
}

/// A viewer's topic preferences: topic → weight (positive = more, negative = less).
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct Preferences {
    /// Topic weights, at most [`MAX_PREFERENCE_TOPICS`] entries; magnitudes are 1 or 2.
    pub weights: BTreeMap<String, f32>,
}

#[rustfmt::skip]
const POSITIVE_CUES: &[&str] = &[
    "more", "love", "like", "want", "show", "lots", "plenty", "extra", "again", "enjoy", "prefer",
    "loves", "likes", "wants", "enjoys", "prefers", "loving",
];
#[rustfmt::skip]
const NEGATIVE_CUES: &[&str] = &[
    "less", "fewer", "no", "not", "stop", "hate", "without", "avoid", "dislike", "dont",
    "never", "skip", "none", "hates", "dislikes", "doesnt", "didnt", "cant", "nothing",
];
const INTENSIFIERS: &[&str] = &["much", "way", "lot", "lots", "really", "tons", "loads"];
const CONNECTORS: &[&str] = &["and", "or", "plus", "also", "too", "of", "a", "an", "the", "some", "any"];

impl Preferences {
    /// Parses a sentence such as "more cooking and animals, fewer pranks"
    /// into weights (`cook: 1, animal: 1, prank: -1`).
    ///
    /// The text is split into clauses at `, ; . ! ?` and the word "but".
    /// Cue words set the polarity of the words after them (positive: more,
    /// love, like, want, show, lots, …; negative: less, fewer, no, not, stop,
    /// hate, without, avoid, don't, never, skip, …); a positive cue right after
    /// a negative one stays negative ("no more pranks", "don't want").
    /// A clause without cues inherits the previous clause's polarity (the
    /// first defaults to positive). Intensifiers (much, way, lot, lots,
    /// really, tons) make the magnitude 2. Content words map through the same
    /// stemming and families as [`topics_of`]: a word with a family adds the
    /// family, and its own stem unless the stem is just the family's name.
    /// When a topic appears twice, the last mention wins.
    pub fn parse(text: &str) -> Result<Preferences, PreferenceError> {
        Self::parse_placed(text, &HashMap::new())
    }

    /// [`Preferences::parse`], where a word without a family takes the one `placed` gives it
    /// (words as [`unplaced_words`] lists them; families placed by meaning).
    pub fn parse_placed(text: &str, placed: &HashMap<String, &'static str>) -> Result<Preferences, PreferenceError> {
        if text.trim().is_empty() {
            return Err(PreferenceError::Empty);
        }
        if text.chars().count() > MAX_PREFERENCE_CHARS {
            return Err(PreferenceError::TooLong);
        }
        let mut weights: BTreeMap<String, f32> = BTreeMap::new();
        let set = |topic: &str, w: f32, weights: &mut BTreeMap<String, f32>| {
            if weights.contains_key(topic) || weights.len() < MAX_PREFERENCE_TOPICS {
                weights.insert(topic.to_owned(), w);
            }
        };
        // Carried across clauses: a clause without cues inherits these.
        let mut positive = true;
        let mut magnitude = 1.0_f32;
        for clause in text.split([',', ';', '.', '!', '?', '\n']) {
            let words = tokens(clause);
            // Every clause starts a new group: a cue or intensifier resets the magnitude.
            let mut content_seen = true;
            let mut after_negative_cue = false;
            for w in words.split(|w| w == "but").flat_map(|part| {
                // "but" starts a new clause as well
                std::iter::once(None).chain(part.iter().map(Some))
            }) {
                let Some(w) = w else {
                    content_seen = true;
                    after_negative_cue = false;
                    continue;
                };
                let w = w.as_str();
                let is_pos = POSITIVE_CUES.contains(&w);
                let is_neg = NEGATIVE_CUES.contains(&w);
                let is_int = INTENSIFIERS.contains(&w);
                if is_pos || is_neg || is_int {
                    if content_seen {
                        magnitude = 1.0;
                        content_seen = false;
                    }
                    if is_int {
                        magnitude = 2.0;
                    }
                    if is_neg {
                        positive = false;
                        after_negative_cue = true;
                    } else if is_pos && !after_negative_cue {
                        positive = true;
                    }
                    continue;
                }
                if CONNECTORS.contains(&w) {
                    continue;
                }
                let Some((s, family)) = word_topics(w) else {
                    continue;
                };
                let family = family.or_else(|| placed.get(w).copied());
                content_seen = true;
                after_negative_cue = false;
                let weight = if positive { magnitude } else { -magnitude };
                if let Some(f) = family {
                    set(f, weight, &mut weights);
                }
                if let Some(s) = s {
                    set(&s, weight, &mut weights);
                }
            }
        }
        if weights.is_empty() {
            return Err(PreferenceError::NoTopics);
        }
        Ok(Preferences { weights })
    }

    /// The preference score of a video with these topics: the sum of the
    /// weights of its distinct topics, clamped to `[-3, 3]`; 0 when there are
    /// no preferences.
    pub fn score(&self, topics: &[String]) -> f32 {
        if self.weights.is_empty() {
            return 0.0;
        }
        let mut seen: HashSet<&str> = HashSet::new();
        let mut total = 0.0_f32;
        for t in topics {
            if seen.insert(t.as_str())
                && let Some(w) = self.weights.get(t)
                && w.is_finite()
            {
                total += w;
            }
        }
        total.clamp(-SCORE_BOUND, SCORE_BOUND)
    }

    /// A short human summary, e.g. "more: animal, cook; less: prank".
    /// Topics with weight 2 or more are listed under "much more"/"much less".
    pub fn describe(&self) -> String {
        let pick = |f: &dyn Fn(f32) -> bool| -> Vec<&str> {
            self.weights.iter().filter(|(_, w)| f(**w)).map(|(k, _)| k.as_str()).collect()
        };
        let groups = [
            ("much more", pick(&|w| w >= 2.0)),
            ("more", pick(&|w| w > 0.0 && w < 2.0)),
            ("less", pick(&|w| w < 0.0 && w > -2.0)),
            ("much less", pick(&|w| w <= -2.0)),
        ];
        let parts: Vec<String> = groups
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(label, v)| format!("{label}: {}", v.join(", ")))
            .collect();
        if parts.is_empty() { "no preferences".to_owned() } else { parts.join("; ") }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn w(p: &Preferences, t: &str) -> Option<f32> {
        p.weights.get(t).copied()
    }

    #[test]
    fn example_sentence() {
        let p = Preferences::parse("more cooking and animals, fewer pranks").unwrap();
        assert_eq!(w(&p, "cook"), Some(1.0));
        assert_eq!(w(&p, "animal"), Some(1.0));
        assert_eq!(w(&p, "prank"), Some(-1.0));
        assert_eq!(p.weights.len(), 3, "{p:?}");
        assert_eq!(p.describe(), "more: animal, cook; less: prank");
    }

    #[test]
    fn stemming() {
        assert_eq!(stem("cooking"), "cook");
        assert_eq!(stem("animals"), "animal");
        assert_eq!(stem("pranks"), "prank");
        assert_eq!(stem("puppies"), "puppy");
        assert_eq!(stem("dancing"), "danc");
        assert_eq!(stem("running"), "run");
        assert_eq!(stem("boxes"), "box");
        assert_eq!(stem("movies"), "movie");
        assert_eq!(stem("dress"), "dress");
        assert_eq!(stem("spring"), "spring");
        assert_eq!(stem("dog"), "dog");
        for (family, _, _) in FAMILIES {
            assert_eq!(stem(family), *family, "family names are fixed points");
        }
    }

    #[test]
    fn lexicon_has_no_conflicting_self_forms() {
        let lex = lexicon();
        for (s, f) in &lex.self_form {
            if let Some(g) = lex.family_of.get(s) {
                assert_eq!(g, f, "{s} is a form of {f} but listed under {g}");
            }
        }
        assert!(FAMILIES.len() >= 25);
    }

    #[test]
    fn prompt_topics_have_families() {
        let t = topics_of("A golden retriever puppy in a kitchen with a chef, cinematic 4k");
        for want in ["animal", "cook", "puppy", "kitchen", "chef", "golden", "retriever"] {
            assert!(t.contains(&want.to_owned()), "{want} missing from {t:?}");
        }
        for not in ["cinematic", "4k", "a", "in", "with"] {
            assert!(!t.contains(&not.to_owned()), "{not} in {t:?}");
        }
        // Order of first appearance, distinct.
        assert_eq!(t[0], "golden");
        let mut d = t.clone();
        d.dedup();
        assert_eq!(d.len(), t.len());
        assert_eq!(topics_of("Dancing dancers dance"), vec!["dance", "dancer"]);
        assert_eq!(topics_of("cooking pasta"), vec!["cook", "pasta"]);
        assert!(topics_of("2024 123 ab hd video").is_empty());
    }

    #[test]
    fn topics_are_capped() {
        let text: Vec<String> = (0..60).map(|i| format!("word{}x", i)).collect();
        assert_eq!(topics_of(&text.join(" ")).len(), MAX_TOPICS);
    }

    #[test]
    fn negation_cues() {
        let p = Preferences::parse("I don't want horror. Stop showing clowns").unwrap();
        assert_eq!(w(&p, "horror"), Some(-1.0));
        assert_eq!(w(&p, "clown"), Some(-1.0));
        let p = Preferences::parse("no more pranks").unwrap();
        assert_eq!(w(&p, "prank"), Some(-1.0));
        let p = Preferences::parse("I love space but not horror").unwrap();
        assert_eq!(w(&p, "space"), Some(1.0));
        assert_eq!(w(&p, "horror"), Some(-1.0));
        let p = Preferences::parse("less pranks more cooking").unwrap();
        assert_eq!(w(&p, "prank"), Some(-1.0));
        assert_eq!(w(&p, "cook"), Some(1.0));
        let p = Preferences::parse("never show me zombies").unwrap();
        assert_eq!(w(&p, "horror"), Some(-1.0));
        assert_eq!(w(&p, "zombie"), Some(-1.0));
    }

    #[test]
    fn intensifiers() {
        let p = Preferences::parse("way more music, a lot less horror, more cars").unwrap();
        assert_eq!(w(&p, "music"), Some(2.0));
        assert_eq!(w(&p, "horror"), Some(-2.0));
        assert_eq!(w(&p, "car"), Some(1.0));
        let p = Preferences::parse("lots of puppies").unwrap();
        assert_eq!(w(&p, "animal"), Some(2.0));
        assert_eq!(w(&p, "puppy"), Some(2.0));
        assert!(p.describe().starts_with("much more: animal, puppy"));
    }

    #[test]
    fn inheritance() {
        let p = Preferences::parse("fewer pranks, horror; space").unwrap();
        assert_eq!(w(&p, "prank"), Some(-1.0));
        assert_eq!(w(&p, "horror"), Some(-1.0));
        assert_eq!(w(&p, "space"), Some(-1.0));
        let p = Preferences::parse("dogs and cats, less rain").unwrap();
        assert_eq!(w(&p, "animal"), Some(1.0));
        assert_eq!(w(&p, "dog"), Some(1.0));
        assert_eq!(w(&p, "cat"), Some(1.0));
        assert_eq!(w(&p, "weather"), Some(-1.0));
    }

    #[test]
    fn last_mention_wins() {
        let p = Preferences::parse("more pranks, actually no pranks").unwrap();
        assert_eq!(w(&p, "prank"), Some(-1.0));
    }

    #[test]
    fn placed_words_join_their_family() {
        assert_eq!(unplaced_words("way more felines, fewer pranks and politics"), ["felines", "politics"]);
        let placed: HashMap<String, &'static str> = [("felines".to_owned(), "animal")].into();
        let p = Preferences::parse_placed("way more felines, fewer pranks and politics", &placed).unwrap();
        assert_eq!(w(&p, "animal"), Some(2.0));
        assert_eq!(w(&p, "prank"), Some(-1.0));
        assert_eq!(w(&p, &stem("politics")), Some(-1.0));
        assert!(p.score(&topics_of("a cat chasing a laser")) > 0.0);
        assert_eq!(family_sentences().len(), FAMILIES.len());
        assert_eq!(place_by_similarity(&[("animal", 0.70), ("nature", 0.49)]), Some("animal"));
        assert_eq!(place_by_similarity(&[("nature", 0.68), ("travel", 0.67)]), None, "too close to call");
        assert_eq!(place_by_similarity(&[("kid", 0.59), ("sport", 0.50)]), None, "not close enough");
        assert_eq!(place_by_similarity(&[]), None);
    }

    #[test]
    fn errors() {
        assert_eq!(Preferences::parse("   "), Err(PreferenceError::Empty));
        assert_eq!(Preferences::parse(&"a".repeat(501)), Err(PreferenceError::TooLong));
        assert_eq!(Preferences::parse("more of it, less of that"), Err(PreferenceError::NoTopics));
        for e in [PreferenceError::Empty, PreferenceError::TooLong, PreferenceError::NoTopics] {
            assert!(e.to_string().contains("e.g."), "{e}");
        }
    }

    #[test]
    fn preference_topics_capped() {
        let text: Vec<String> = (0..60).map(|i| format!("w{}x", i)).collect();
        let p = Preferences::parse(&format!("more {}", text.join(", "))).unwrap();
        assert_eq!(p.weights.len(), MAX_PREFERENCE_TOPICS);
    }

    #[test]
    fn score_and_clamp() {
        let p = Preferences::parse("more cooking and animals, fewer pranks").unwrap();
        assert_eq!(p.score(&topics_of("a chef cooks pasta for a puppy")), 2.0);
        assert_eq!(p.score(&topics_of("a prank on a dog")), 0.0);
        assert_eq!(p.score(&topics_of("a skyline at night")), 0.0);
        let strong = Preferences::parse("way more dogs, puppies, kittens, chefs, kitchens").unwrap();
        let s = strong.score(&topics_of("dog puppy kitten chef kitchen"));
        assert_eq!(s, 3.0);
        let neg = Preferences::parse("way less dogs, puppies, kittens, chefs").unwrap();
        assert_eq!(neg.score(&topics_of("dog puppy kitten chef")), -3.0);
        assert_eq!(Preferences::default().score(&topics_of("dog")), 0.0);
        assert_eq!(Preferences::default().describe(), "no preferences");
    }

    #[test]
    fn serde_round_trip() {
        let p = Preferences::parse("more cooking, fewer pranks").unwrap();
        let s = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Preferences>(&s).unwrap(), p);
    }
}
