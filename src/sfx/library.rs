//! The bundled sound-effect library: a manifest of our own synthesised effects (see
//! [`super::synth`]), a scored search over it, and rendering an effect to a WAV file.
//!
//! The keys, durations and uses follow the upstream library's 19 effects, so cues written for it
//! (`"whoosh"`, `"impact-bass-1"`, …) resolve here too; the audio itself is generated.

use std::path::Path;

use super::synth;
use crate::audio::wav::{self, SampleFormat};
use crate::engines::error::{EngineError, EngineResult};

/// One effect of the library.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SfxEntry {
    /// The key, e.g. `"whoosh-short"`.
    pub name: &'static str,
    /// What it sounds like and what it is for.
    pub description: &'static str,
    /// Extra search words.
    pub tags: &'static [&'static str],
    /// Length in seconds of the rendered audio (exactly).
    pub duration: f64,
}

const fn entry(
    name: &'static str,
    duration: f64,
    description: &'static str,
    tags: &'static [&'static str],
) -> SfxEntry {
    SfxEntry { name, description, tags, duration }
}

static MANIFEST: [SfxEntry; 19] = [
    entry(
        "chime",
        2.5,
        "Bright rising bell arpeggio for success and completion",
        &["success", "done", "bell", "positive"],
    ),
    entry("click", 0.37, "Crisp UI button click", &["button", "ui", "tap", "press"]),
    entry("click-soft", 0.37, "Soft muted tap for subtle UI interactions", &["ui", "tap", "gentle", "button"]),
    entry(
        "error",
        1.62,
        "Two falling buzzy tones signalling a failure",
        &["fail", "wrong", "alert", "negative", "warning"],
    ),
    entry(
        "glitch-1",
        2.64,
        "Digital glitch with hard cuts and stutters",
        &["digital", "stutter", "cut", "bitcrush", "tech"],
    ),
    entry(
        "glitch-2",
        3.5,
        "Harsh dense digital glitch for an aggressive transition",
        &["digital", "noise", "bitcrush", "tech"],
    ),
    entry("glitch-3", 3.1, "Subtle sparse glitch for a gentle shift", &["digital", "soft", "tech"]),
    entry(
        "impact-bass-1",
        2.12,
        "Deep bass impact for a logo slam or reveal",
        &["hit", "boom", "drop", "sub", "reveal"],
    ),
    entry("impact-bass-2", 2.59, "Reverse swell into a heavy bass hit", &["hit", "boom", "build", "reveal", "sub"]),
    entry("key-press", 0.4, "Single mechanical keyboard keystroke", &["keyboard", "key", "type", "typing"]),
    entry(
        "notification",
        2.46,
        "Soft two-note ding for a toast or message",
        &["toast", "message", "alert", "ding", "popup"],
    ),
    entry(
        "ping",
        1.32,
        "Clean high ping accent for a data point or highlight",
        &["accent", "data", "highlight", "blip"],
    ),
    entry("pop", 0.72, "Bubbly pop for elements popping in", &["appear", "bubble", "pop-in", "bounce"]),
    entry(
        "riser",
        10.03,
        "Ten second tension build that ends at the climax",
        &["build", "tension", "rise", "uplifter", "swell"],
    ),
    entry("sparkle", 1.8, "Twinkling magical shimmer", &["magic", "twinkle", "glitter", "shine", "shimmer"]),
    entry("typing", 1.5, "Burst of keyboard typing", &["keyboard", "keys", "type", "keystrokes"]),
    entry("whoosh", 0.57, "Punchy whoosh for a quick scene transition", &["swoosh", "swish", "sweep", "fast"]),
    entry(
        "whoosh-cinematic",
        5.54,
        "Long cinematic whoosh sweep with deep rumble",
        &["swoosh", "sweep", "trailer", "epic"],
    ),
    entry("whoosh-short", 0.57, "Short airy swipe for slides and cards", &["swoosh", "swipe", "swish", "slide"]),
];

/// All effects, sorted by name.
pub fn manifest() -> &'static [SfxEntry] {
    &MANIFEST
}

/// Lowercase alphanumeric words of `s`.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// Words too common to count as overlap.
const STOP_WORDS: &[&str] =
    &["a", "an", "and", "the", "for", "of", "to", "in", "on", "or", "with", "sound", "sfx", "effect"];

/// A light singular form, so "transitions" matches "transition".
fn stem(w: &str) -> &str {
    if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
        &w[..w.len() - 1]
    } else {
        w
    }
}

/// Whether the word sequence `needle` appears contiguously in `hay` (non-empty needle).
fn contains_words(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The meaningful words of a query: stop words dropped, stemmed, each once.
fn query_terms(query: &[String]) -> Vec<&str> {
    let mut terms: Vec<&str> = Vec::new();
    for w in query {
        let w = stem(w);
        if !STOP_WORDS.contains(&w) && !terms.contains(&w) {
            terms.push(w);
        }
    }
    terms
}

/// The words of `entry` a query can match: its name's, description's and tags', stemmed.
fn vocabulary(entry: &SfxEntry) -> Vec<String> {
    let mut vocabulary = words(entry.name);
    vocabulary.extend(words(entry.description));
    for tag in entry.tags {
        vocabulary.extend(words(tag));
    }
    vocabulary.iter().map(|w| stem(w).to_string()).collect()
}

/// The score of `entry` for the query words: 100 for the exact name; 90 for the name's words in
/// another order ("soft click" ↔ `click-soft`); 50 when the name's words and the query's words
/// contain one another as a contiguous run ("whoosh" ↔ "whoosh-short", "ui click" ↔ "click");
/// else the number of distinct query words found among the name, description and tag words
/// (whole words only, ignoring a few stop words; a trailing plural "s" is ignored).
fn score(entry: &SfxEntry, query: &[String]) -> u32 {
    let name = words(entry.name);
    if query == name.as_slice() {
        return 100;
    }
    let (mut sorted_query, mut sorted_name) = (query.to_vec(), name.clone());
    sorted_query.sort();
    sorted_name.sort();
    if sorted_query == sorted_name {
        return 90;
    }
    if contains_words(&name, query) || contains_words(query, &name) {
        return 50;
    }
    let vocabulary = vocabulary(entry);
    query_terms(query).iter().filter(|w| vocabulary.iter().any(|v| v == *w)).count() as u32
}

/// How an effect was found for a query: its score (see [`score`]), the query's meaningful words
/// and those of them the effect has (in its name, description or tags).
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub entry: &'static SfxEntry,
    pub score: u32,
    pub query_words: Vec<String>,
    pub matched_words: Vec<String>,
}

impl Match {
    /// Some of the query's words are nowhere in the effect ("door slam" → `impact-bass-1` has
    /// "slam" but no "door"): worth telling the user.
    pub fn is_loose(&self) -> bool {
        self.matched_words.len() < self.query_words.len()
    }
}

/// Effects matching `query`, best first, with their scores (only scores above 0; equal scores in
/// alphabetical order of name). See [`score`] for the rules.
pub fn search(query: &str) -> Vec<(&'static SfxEntry, u32)> {
    let query = words(query);
    if query.is_empty() {
        return Vec::new();
    }
    let mut hits: Vec<(&'static SfxEntry, u32)> =
        MANIFEST.iter().map(|e| (e, score(e, &query))).filter(|(_, s)| *s > 0).collect();
    hits.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.name.cmp(b.0.name)));
    hits
}

/// The best match for `query`, if any.
#[cfg(test)]
pub fn best(query: &str) -> Option<&'static SfxEntry> {
    best_match(query).map(|m| m.entry)
}

/// The best match for `query` with what matched, if any.
pub fn best_match(query: &str) -> Option<Match> {
    let (entry, score) = search(query).into_iter().next()?;
    let query = words(query);
    let vocabulary = vocabulary(entry);
    let query_words: Vec<String> = query_terms(&query).into_iter().map(String::from).collect();
    let matched_words = query_words.iter().filter(|w| vocabulary.contains(w)).cloned().collect();
    Some(Match { entry, score, query_words, matched_words })
}

/// Every effect's name, the ones most like `query` first (by the best Jaro–Winkler likeness of
/// the query, or any of its words, to the name or any of the name's words).
pub fn closest_names(query: &str) -> Vec<&'static str> {
    let query = query.to_lowercase();
    let mut query_parts = words(&query);
    query_parts.push(query.trim().to_string());
    let likeness = |e: &SfxEntry| {
        let mut name_parts = words(e.name);
        name_parts.push(e.name.to_string());
        let mut best = 0.0_f64;
        for q in &query_parts {
            for n in &name_parts {
                best = best.max(strsim::jaro_winkler(q, n));
            }
        }
        best
    };
    let mut ranked: Vec<(f64, &'static str)> = MANIFEST.iter().map(|e| (likeness(e), e.name)).collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    ranked.into_iter().map(|(_, n)| n).collect()
}

/// The entry whose name is `name`, ignoring case and separators ("Whoosh Short" = `whoosh-short`).
pub fn get(name: &str) -> Option<&'static SfxEntry> {
    let key = words(name).join("-");
    MANIFEST.iter().find(|e| e.name == key)
}

/// Renders effect `name` (see [`get`]) and writes it to `path` as 16-bit 44.1 kHz mono WAV
/// (atomically; parent directories are created). Returns its duration in seconds.
pub fn render_wav(name: &str, path: &Path) -> EngineResult<f64> {
    let entry = get(name).ok_or_else(|| {
        EngineError::new("UNKNOWN_SFX", format!("no bundled sound effect named {name:?}"))
            .with_hint(format!("available, the closest first: {}", closest_names(name).join(", ")))
    })?;
    let samples = synth::render(entry.name)
        .ok_or_else(|| EngineError::new("UNKNOWN_SFX", format!("{} cannot be rendered", entry.name)))?;
    wav::write_wav(path, &samples, synth::SAMPLE_RATE, SampleFormat::Int16)?;
    Ok(samples.len() as f64 / f64::from(synth::SAMPLE_RATE))
}

/// A file name for an effect: lowercase, runs of anything but letters and digits → `-`,
/// trimmed, at most 40 chars, else `x`.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t: String = out.trim_matches('-').chars().take(40).collect();
    let t = t.trim_end_matches('-').to_string();
    if t.is_empty() {
        "x".into()
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::wav::{peak, rms};

    fn names(hits: &[(&SfxEntry, u32)]) -> Vec<&'static str> {
        hits.iter().map(|(e, _)| e.name).collect()
    }

    #[test]
    fn manifest_matches_the_synth() {
        let listed: Vec<&str> = manifest().iter().map(|e| e.name).collect();
        assert_eq!(listed, synth::NAMES);
        assert_eq!(manifest().len(), 19);
        for e in manifest() {
            assert!(!e.description.is_empty() && !e.tags.is_empty(), "{}", e.name);
        }
    }

    #[test]
    fn every_entry_renders_cleanly() {
        let rate = f64::from(synth::SAMPLE_RATE);
        for e in manifest() {
            let s = synth::render(e.name).unwrap();
            let duration = s.len() as f64 / rate;
            assert!((duration - e.duration).abs() < 1e-9, "{}: rendered {duration} s, listed {}", e.name, e.duration);
            let p = peak(&s);
            assert!(p <= 1.0 && p > 0.5, "{}: peak {p}", e.name);
            assert!((p - synth::PEAK).abs() < 1e-4, "{}: peak {p}", e.name);
            assert!(s.iter().all(|v| v.is_finite()), "{}", e.name);
            let mean = s.iter().map(|&v| f64::from(v)).sum::<f64>() / s.len() as f64;
            assert!(mean.abs() < 2e-3, "{}: DC {mean}", e.name);
            // Starts and ends at silence, and the last 10 ms are quiet.
            assert!(s[0].abs() < 1e-6 && s[s.len() - 1].abs() < 1e-6, "{}", e.name);
            let tail = &s[s.len() - 441..];
            assert!(rms(tail) < 0.03, "{}: tail rms {}", e.name, rms(tail));
            assert!(rms(&s) > 0.005, "{}: nearly silent", e.name);
        }
    }

    #[test]
    fn rendering_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["whoosh", "typing", "glitch-2", "sparkle"] {
            assert_eq!(synth::render(name), synth::render(name));
            let (a, b) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
            render_wav(name, &a).unwrap();
            render_wav(name, &b).unwrap();
            assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "{name}");
        }
    }

    #[test]
    fn render_wav_writes_a_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sfx/pop.wav");
        let d = render_wav("Pop", &path).unwrap();
        assert!((d - 0.72).abs() < 1e-9);
        let (s, rate, ch) = wav::read_wav(&path).unwrap();
        assert_eq!((rate, ch, s.len()), (44_100, 1, 31_752));
        let e = render_wav("kazoo", &dir.path().join("x.wav")).unwrap_err();
        assert_eq!(e.code, "UNKNOWN_SFX");
        assert!(e.hint.unwrap().contains("whoosh-short"));
        assert!(!dir.path().join("x.wav").exists());
    }

    #[test]
    fn get_normalises_names() {
        assert_eq!(get("whoosh_short").unwrap().name, "whoosh-short");
        assert_eq!(get(" Impact Bass 1 ").unwrap().name, "impact-bass-1");
        assert!(get("whoosh short please").is_none());
        assert!(get("").is_none());
    }

    #[test]
    fn exact_name_wins() {
        let hits = search("click");
        assert_eq!(hits[0].0.name, "click");
        assert_eq!(hits[0].1, 100);
        // "click-soft" contains the query's words: the substring rule.
        assert_eq!(hits[1], (get("click-soft").unwrap(), 50));
        assert_eq!(best("CLICK").unwrap().name, "click");
        assert_eq!(best("whoosh short").unwrap().name, "whoosh-short");
    }

    #[test]
    fn whoosh_exact_beats_longer_names() {
        let hits = search("whoosh");
        assert_eq!(names(&hits)[..3], ["whoosh", "whoosh-cinematic", "whoosh-short"]);
        assert_eq!(hits.iter().map(|h| h.1).collect::<Vec<_>>()[..3], [100, 50, 50]);
    }

    #[test]
    fn longer_query_finds_the_name_inside_it() {
        // "ui click" holds the name "click" (50); "click-soft" and the rest only share words.
        let hits = search("ui click");
        assert_eq!(hits[0], (get("click").unwrap(), 50));
        assert_eq!(best("ui click").unwrap().name, "click");
        assert_eq!(hits[1], (get("click-soft").unwrap(), 2)); // "ui" tag, "click" in the description
    }

    #[test]
    fn word_overlap_with_descriptions_and_tags() {
        // "transition" is in no name: found through descriptions only (a plural works too).
        let hits = search("transition");
        assert_eq!(names(&hits), ["glitch-2", "whoosh"]);
        assert!(hits.iter().all(|h| h.1 == 1));
        assert_eq!(search("transitions"), hits);
        // A soft button tap: both words of "soft tap" are in click-soft's description.
        assert_eq!(best("soft button tap").unwrap().name, "click-soft");
        assert_eq!(best("logo reveal boom").unwrap().name, "impact-bass-1");
        assert_eq!(best("success").unwrap().name, "chime");
        assert_eq!(best("keyboard").unwrap().name, "key-press");
        // Stop words alone find nothing.
        assert!(search("the sound of a").is_empty());
    }

    #[test]
    fn ties_are_alphabetical() {
        // Every glitch holds "glitch" in its name: equal 50s, by name.
        let hits = search("glitch");
        assert_eq!(names(&hits), ["glitch-1", "glitch-2", "glitch-3"]);
        assert!(hits.iter().all(|h| h.1 == 50));
        let hits = search("digital");
        assert_eq!(names(&hits), ["glitch-1", "glitch-2", "glitch-3"]);
        let hits = search("alert");
        assert_eq!(names(&hits), ["error", "notification"]);
    }

    #[test]
    fn nothing_matches_nonsense() {
        assert!(search("zzz").is_empty());
        assert!(search("").is_empty());
        assert!(search("  --  ").is_empty());
        assert!(best("zzz").is_none());
        // Fragments of words are not substrings of names; stop words do not count.
        assert!(search("ick").is_empty());
        assert!(search("in").is_empty());
    }

    #[test]
    fn the_names_words_in_any_order_beat_a_name_inside_the_query() {
        // "soft click" holds the name "click", but is click-soft's own words.
        assert_eq!(search("soft click")[0], (get("click-soft").unwrap(), 90));
        assert_eq!(best("bass impact 1").unwrap().name, "impact-bass-1");
        let m = best_match("soft click").unwrap();
        assert_eq!((m.matched_words.len(), m.is_loose()), (2, false));
    }

    #[test]
    fn a_match_says_which_words_matched_and_when_it_is_loose() {
        let m = best_match("door slam").unwrap();
        assert_eq!(m.entry.name, "impact-bass-1");
        assert_eq!(
            (m.score, m.query_words.clone(), m.matched_words.clone()),
            (1, vec!["door".into(), "slam".into()], vec!["slam".to_string()])
        );
        assert!(m.is_loose());
        let m = best_match("the whoosh").unwrap();
        assert_eq!((m.entry.name, m.score, m.is_loose()), ("whoosh", 50, false), "stop words are not missed");
        assert!(!best_match("ui click").unwrap().is_loose());
        assert!(best_match("zzz").is_none());
    }

    #[test]
    fn the_closest_names_come_first() {
        assert_eq!(closest_names("wosh")[0], "whoosh");
        assert_eq!(closest_names("glich")[..3], ["glitch-1", "glitch-2", "glitch-3"]);
        assert_eq!(closest_names("sparkel")[0], "sparkle");
        assert_eq!(closest_names("x").len(), manifest().len());
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("UI Click!!"), "ui-click");
        assert_eq!(slug("  ***  "), "x");
        assert_eq!(slug(&"a".repeat(50)).len(), 40);
    }
}
