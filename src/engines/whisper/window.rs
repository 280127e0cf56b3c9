//! Sequential windowing, as the reference transcriber does it: a window's tokens are cut into
//! segments at consecutive timestamp pairs; the unfinished text after the last pair is dropped and
//! the next window starts at that last timestamp, so a word cut by the window edge is decoded
//! whole in the next window instead of being lost or written twice.

use super::mel::FRAMES_PER_SECOND;
use super::model::Specials;

/// Mel frames per timestamp step (20 ms).
const FRAMES_PER_TIMESTAMP: usize = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Seconds from the start of the audio.
    pub start: f64,
    pub end: f64,
    /// Text tokens only.
    pub tokens: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WindowSplit {
    pub segments: Vec<Segment>,
    /// Where the next window starts, in mel frames.
    pub next_seek: usize,
    /// The window ended with a lone timestamp: everything in it was consumed.
    pub consumed_all: bool,
}

/// Splits one window's sampled tokens (timestamps included, end token excluded).
pub fn split_window(tokens: &[u32], sp: &Specials, seek: usize, segment_frames: usize) -> WindowSplit {
    let tb = sp.timestamp_begin;
    let offset = seek as f64 / FRAMES_PER_SECOND;
    let is_ts = |t: u32| t >= tb;
    let secs = |t: u32| f64::from(t - tb) * FRAMES_PER_TIMESTAMP as f64 / FRAMES_PER_SECOND;
    let text = |ts: &[u32]| ts.iter().copied().filter(|&t| t < sp.eot).collect::<Vec<u32>>();
    let n = tokens.len();
    let single_ending = n >= 2 && !is_ts(tokens[n - 2]) && is_ts(tokens[n - 1]) || n == 1 && is_ts(tokens[0]);
    let mut consecutive: Vec<usize> = (1..n).filter(|&i| is_ts(tokens[i - 1]) && is_ts(tokens[i])).collect();
    let mut segments = Vec::new();
    if !consecutive.is_empty() {
        if single_ending {
            consecutive.push(n);
        }
        let mut last = 0;
        for &cut in &consecutive {
            let slice = &tokens[last..cut];
            if slice.len() >= 2 && is_ts(slice[0]) {
                let end_tok = if is_ts(slice[slice.len() - 1]) { slice[slice.len() - 1] } else { slice[0] };
                let body = text(slice);
                if !body.is_empty() {
                    segments.push(Segment {
                        start: offset + secs(slice[0]),
                        end: offset + secs(end_tok),
                        tokens: body,
                    });
                }
            }
            last = cut;
        }
        let next_seek = if single_ending {
            seek + segment_frames
        } else {
            // The last pair's timestamp: where the unfinished text began.
            seek + (tokens[last - 1] - tb) as usize * FRAMES_PER_TIMESTAMP
        };
        WindowSplit { segments, next_seek: next_seek.max(seek + 1), consumed_all: single_ending }
    } else {
        let mut duration = segment_frames as f64 / FRAMES_PER_SECOND;
        if let Some(&last_ts) = tokens.iter().rev().find(|&&t| is_ts(t)) {
            if last_ts != tb {
                duration = secs(last_ts);
            }
        }
        let body = text(tokens);
        if !body.is_empty() {
            segments.push(Segment { start: offset, end: offset + duration, tokens: body });
        }
        WindowSplit { segments, next_seek: seek + segment_frames, consumed_all: true }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn specials() -> Specials {
        Specials {
            eot: 100,
            sot: 101,
            transcribe: None,
            no_speech: None,
            no_timestamps: 102,
            timestamp_begin: 103,
            suppress: vec![],
            begin_suppress: vec![],
            multilingual: false,
            languages: vec![],
        }
    }

    fn ts(seconds: f64) -> u32 {
        103 + (seconds / 0.02).round() as u32
    }

    #[test]
    fn unfinished_text_is_left_for_the_next_window() {
        let sp = specials();
        // <0.00> a b <2.00><2.00> c d <5.00><5.00> e f  (cut off by the window edge)
        let tokens = [ts(0.0), 1, 2, ts(2.0), ts(2.0), 3, 4, ts(5.0), ts(5.0), 5, 6];
        let split = split_window(&tokens, &sp, 1000, 3000);
        assert_eq!(split.segments.len(), 2);
        assert_eq!(split.segments[0], Segment { start: 10.0, end: 12.0, tokens: vec![1, 2] });
        assert_eq!(split.segments[1], Segment { start: 12.0, end: 15.0, tokens: vec![3, 4] });
        assert_eq!(split.next_seek, 1000 + 500, "the next window starts where e f began");
        assert!(!split.consumed_all);
    }

    #[test]
    fn a_lone_final_timestamp_consumes_the_window() {
        let sp = specials();
        let tokens = [ts(0.0), 1, 2, ts(2.0), ts(2.5), 3, ts(4.0)];
        let split = split_window(&tokens, &sp, 0, 3000);
        assert_eq!(split.segments.len(), 2);
        assert_eq!(split.segments[1], Segment { start: 2.5, end: 4.0, tokens: vec![3] });
        assert_eq!(split.next_seek, 3000);
        assert!(split.consumed_all);
    }

    #[test]
    fn no_pairs_make_one_segment_up_to_the_last_timestamp() {
        let sp = specials();
        let split = split_window(&[ts(0.0), 1, 2, ts(3.0)], &sp, 0, 1200);
        assert_eq!(split.segments, vec![Segment { start: 0.0, end: 3.0, tokens: vec![1, 2] }]);
        assert_eq!(split.next_seek, 1200);
        assert!(split_window(&[], &sp, 0, 1200).segments.is_empty());
    }

    /// A token stream over 80 s cut into windows: every word appears exactly once.
    #[test]
    fn synthetic_stream_across_windows_loses_and_doubles_nothing() {
        let sp = specials();
        // Words 0..40, word k spoken at 2k seconds, each its own timestamped segment.
        let words: Vec<(u32, f64)> = (0..40).map(|k| (k as u32, 2.0 * k as f64)).collect();
        let mut seek = 0usize;
        let total_frames = 8000;
        let mut seen = Vec::new();
        while seek < total_frames {
            let start = seek as f64 / 100.0;
            let segment_frames = 3000.min(total_frames - seek);
            let end = start + segment_frames as f64 / 100.0;
            // The "model" sees words whose start is inside the window; a word within 1 s of the
            // edge is cut off (no closing timestamp).
            let mut tokens = Vec::new();
            for &(w, t) in words.iter().filter(|(_, t)| *t >= start && *t < end) {
                tokens.push(ts(t - start));
                tokens.push(w);
                if t + 1.0 <= end {
                    tokens.push(ts(t + 1.0 - start));
                }
            }
            let split = split_window(&tokens, &sp, seek, segment_frames);
            for s in &split.segments {
                seen.extend(s.tokens.iter().copied());
            }
            assert!(split.next_seek > seek);
            seek = split.next_seek;
        }
        assert_eq!(seen, (0..40).collect::<Vec<u32>>());
    }
}
