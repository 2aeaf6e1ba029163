//! The labelled evaluation set (`moderation/assets/policy_eval.tsv`) and the figures computed on
//! it: precision and recall with "block" as the positive class, recall per category, the
//! mistakes, and the latency of [`PromptPolicy::check`].

use std::time::{Duration, Instant};

use super::{Category, PolicyContext, PromptPolicy};

/// The committed evaluation set: `label` (allow|block), `category` (expected code or `-`), `prompt`.
pub const EVAL_SET: &str = include_str!("../../assets/policy_eval.tsv");

/// One labelled prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalCase {
    /// Whether the policy should refuse it.
    pub block: bool,
    /// The category a refusal should name, if any.
    pub category: Option<Category>,
    /// The prompt text.
    pub prompt: String,
}

/// Parses the TSV; rows that do not parse are returned as errors naming their line.
pub fn parse_eval_set(tsv: &str) -> Result<Vec<EvalCase>, String> {
    let mut cases = Vec::new();
    for (n, line) in tsv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let mut cols = line.splitn(3, '\t');
        let (Some(label), Some(category), Some(prompt)) = (cols.next(), cols.next(), cols.next()) else {
            return Err(format!("line {}: expected 3 tab-separated columns", n + 1));
        };
        let block = match label {
            "block" => true,
            "allow" => false,
            other => return Err(format!("line {}: label {other:?} is neither allow nor block", n + 1)),
        };
        let category = match category {
            "-" => None,
            code => Some(Category::parse(code).ok_or_else(|| format!("line {}: unknown category {code:?}", n + 1))?),
        };
        cases.push(EvalCase { block, category, prompt: prompt.to_owned() });
    }
    Ok(cases)
}

/// Figures from one run over the set.
#[derive(Debug, Clone, Default)]
pub struct EvalReport {
    /// Number of prompts.
    pub total: usize,
    /// Blocked and labelled block.
    pub true_positives: usize,
    /// Blocked but labelled allow, with the categories named.
    pub false_positives: Vec<(String, Vec<Category>)>,
    /// Allowed but labelled block, with the expected category.
    pub false_negatives: Vec<(String, Option<Category>)>,
    /// Blocked rows whose expected category was not among those named.
    pub wrong_category: Vec<(String, Category, Vec<Category>)>,
    /// Per category: (rows labelled with it whose refusal named it, rows labelled with it).
    pub per_category: Vec<(Category, usize, usize)>,
    /// Latency of each `check` call, sorted.
    pub latencies: Vec<Duration>,
}

impl EvalReport {
    /// TP / (TP + FP); 1 when nothing was blocked.
    pub fn precision(&self) -> f64 {
        let fp = self.false_positives.len();
        ratio(self.true_positives, self.true_positives + fp)
    }

    /// TP / (TP + FN); 1 when nothing should have been blocked.
    pub fn recall(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_negatives.len())
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }

    /// The latency at quantile `q` (0..=1).
    pub fn latency_quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let last = self.latencies.len() - 1;
        let idx = ((last as f64) * q.clamp(0.0, 1.0)).round() as usize;
        self.latencies.get(idx.min(last)).copied().unwrap_or_default()
    }
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 { 1.0 } else { num as f64 / den as f64 }
}

/// Runs `policy` over `cases` with an empty context.
pub fn evaluate(policy: &PromptPolicy, cases: &[EvalCase]) -> EvalReport {
    let ctx = PolicyContext::default();
    let mut report = EvalReport { total: cases.len(), ..EvalReport::default() };
    let mut per_category: Vec<(Category, usize, usize)> = Category::ALL.iter().map(|c| (*c, 0, 0)).collect();
    for case in cases {
        let started = Instant::now();
        let violations = policy.check(&case.prompt, &ctx);
        report.latencies.push(started.elapsed());
        let named: Vec<Category> = violations.iter().map(|v| v.category).collect();
        let blocked = !named.is_empty();
        match (case.block, blocked) {
            (true, true) => report.true_positives += 1,
            (false, true) => report.false_positives.push((case.prompt.clone(), named.clone())),
            (true, false) => report.false_negatives.push((case.prompt.clone(), case.category)),
            (false, false) => {}
        }
        if let (true, Some(expected)) = (case.block, case.category) {
            if let Some(row) = per_category.iter_mut().find(|(c, _, _)| *c == expected) {
                row.2 += 1;
                if named.contains(&expected) {
                    row.1 += 1;
                }
            }
            if blocked && !named.contains(&expected) {
                report.wrong_category.push((case.prompt.clone(), expected, named));
            }
        }
    }
    report.latencies.sort();
    report.per_category = per_category;
    report
}

/// The labelled restriction/prompt pairs the meaning threshold was tuned on.
pub const RESTRICTION_PAIRS: &str = include_str!("../../assets/restriction_pairs.tsv");

/// One labelled pair: whether `prompt` breaks the restriction text `restriction`.
#[derive(Debug, Clone)]
pub struct RestrictionPair {
    /// The owner's restriction, e.g. "no political content".
    pub restriction: String,
    /// The prompt.
    pub prompt: String,
    /// Whether the prompt breaks it.
    pub breaks: bool,
}

/// Parses `restriction \t prompt \t 0|1` lines (`#` comments and blank lines skipped).
pub fn parse_restriction_pairs(tsv: &str) -> Result<Vec<RestrictionPair>, String> {
    let mut out = Vec::new();
    for (n, line) in tsv.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [restriction, prompt, label] = cols.as_slice() else {
            return Err(format!("line {}: expected 3 tab-separated columns", n + 1));
        };
        let breaks = match *label {
            "1" => true,
            "0" => false,
            other => return Err(format!("line {}: label {other:?} is not 0 or 1", n + 1)),
        };
        out.push(RestrictionPair { restriction: (*restriction).into(), prompt: (*prompt).into(), breaks });
    }
    Ok(out)
}

/// Counts of a restriction check over labelled pairs.
#[derive(Debug, Clone, Default)]
pub struct PairReport {
    /// Pairs refused that break the restriction.
    pub true_positives: usize,
    /// Pairs refused that do not.
    pub false_positives: Vec<(String, String)>,
    /// Pairs passed that break it.
    pub false_negatives: Vec<(String, String)>,
    /// Pairs passed that do not.
    pub true_negatives: usize,
}

impl PairReport {
    /// Refused and breaking over refused.
    pub fn precision(&self) -> f64 {
        let refused = self.true_positives + self.false_positives.len();
        if refused == 0 { 1.0 } else { self.true_positives as f64 / refused as f64 }
    }

    /// Refused and breaking over breaking.
    pub fn recall(&self) -> f64 {
        let breaking = self.true_positives + self.false_negatives.len();
        if breaking == 0 { 1.0 } else { self.true_positives as f64 / breaking as f64 }
    }
}

/// Runs `refuses(restriction, prompt)` over `pairs`.
pub fn evaluate_pairs(pairs: &[RestrictionPair], mut refuses: impl FnMut(&str, &str) -> bool) -> PairReport {
    let mut r = PairReport::default();
    for p in pairs {
        let refused = refuses(&p.restriction, &p.prompt);
        let pair = || (p.restriction.clone(), p.prompt.clone());
        match (refused, p.breaks) {
            (true, true) => r.true_positives += 1,
            (true, false) => r.false_positives.push(pair()),
            (false, true) => r.false_negatives.push(pair()),
            (false, false) => r.true_negatives += 1,
        }
    }
    r
}
