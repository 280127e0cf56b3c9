//! Word timing from cross-attention (the published method): the timing heads' attention over the
//! audio frames is re-normalised, z-scored along the tokens, median-filtered along time (width 7),
//! averaged over heads and aligned to the tokens by dynamic time warping.

/// Seconds per encoder frame (1500 per 30 s).
pub const SECONDS_PER_TOKEN_FRAME: f64 = 0.02;
const MEDIAN_WIDTH: usize = 7;

/// Attention of the timing heads (see `heads`): `heads × tokens × frames`, row-major.
pub struct HeadAttention {
    pub heads: usize,
    pub tokens: usize,
    pub frames: usize,
    pub data: Vec<f32>,
}

/// Median filter of odd `width` along a row, reflect-padded at both ends (as the reference).
pub fn median_filter(row: &[f32], width: usize) -> Vec<f32> {
    let n = row.len();
    let pad = width / 2;
    if n <= pad {
        return row.to_vec();
    }
    let at = |i: isize| -> f32 {
        let i = if i < 0 {
            -i
        } else if i >= n as isize {
            2 * (n as isize - 1) - i
        } else {
            i
        };
        row[i as usize]
    };
    let mut buf = vec![0f32; width];
    (0..n)
        .map(|i| {
            for (k, slot) in buf.iter_mut().enumerate() {
                *slot = at(i as isize + k as isize - pad as isize);
            }
            buf.sort_by(f32::total_cmp);
            buf[pad]
        })
        .collect()
}

/// The token × frame similarity matrix from the heads' attention, restricted to the first
/// `frames` audio frames (the rest of the window is padding).
pub fn alignment_matrix(att: &HeadAttention, frames: usize) -> Vec<f32> {
    let frames = frames.clamp(1, att.frames);
    let (t, f) = (att.tokens, att.frames);
    let mut out = vec![0f32; t * frames];
    for h in 0..att.heads {
        // Re-normalise each token's attention over the kept frames.
        let mut w: Vec<f32> = Vec::with_capacity(t * frames);
        for i in 0..t {
            let row = &att.data[(h * t + i) * f..(h * t + i) * f + frames];
            let sum: f32 = row.iter().sum::<f32>().max(1e-12);
            w.extend(row.iter().map(|v| v / sum));
        }
        // z-score along tokens, for every frame.
        for j in 0..frames {
            let mean = (0..t).map(|i| w[i * frames + j]).sum::<f32>() / t as f32;
            let var = (0..t).map(|i| (w[i * frames + j] - mean).powi(2)).sum::<f32>() / t as f32;
            let std = var.sqrt().max(1e-10);
            for i in 0..t {
                w[i * frames + j] = (w[i * frames + j] - mean) / std;
            }
        }
        for i in 0..t {
            let filtered = median_filter(&w[i * frames..(i + 1) * frames], MEDIAN_WIDTH);
            for (o, v) in out[i * frames..(i + 1) * frames].iter_mut().zip(filtered) {
                *o += v / att.heads as f32;
            }
        }
    }
    out
}

/// Dynamic time warping over `cost` (`n × m`): the monotonic path from (0, 0) to (n−1, m−1) of
/// least total cost, as (row, column) pairs. Ties prefer the diagonal, then moving down a row.
pub fn dtw(cost: &[f32], n: usize, m: usize) -> Vec<(usize, usize)> {
    if n == 0 || m == 0 {
        return Vec::new();
    }
    let w = m + 1;
    let mut acc = vec![f64::INFINITY; (n + 1) * w];
    let mut trace = vec![0u8; (n + 1) * w];
    acc[0] = 0.0;
    for j in 1..=m {
        for i in 1..=n {
            let c0 = acc[(i - 1) * w + j - 1];
            let c1 = acc[(i - 1) * w + j];
            let c2 = acc[i * w + j - 1];
            let (c, t) = if c0 < c1 && c0 < c2 {
                (c0, 0)
            } else if c1 < c0 && c1 < c2 {
                (c1, 1)
            } else {
                (c2, 2)
            };
            acc[i * w + j] = f64::from(cost[(i - 1) * m + j - 1]) + c;
            trace[i * w + j] = t;
        }
    }
    let (mut i, mut j) = (n, m);
    let mut path = Vec::with_capacity(n + m);
    while i > 0 || j > 0 {
        path.push((i.saturating_sub(1), j.saturating_sub(1)));
        let t = if i == 0 {
            2
        } else if j == 0 {
            1
        } else {
            trace[i * w + j]
        };
        match t {
            0 => {
                i -= 1;
                j -= 1;
            }
            1 => i -= 1,
            _ => j -= 1,
        }
    }
    path.reverse();
    path
}

/// The time (in seconds from the window start) at which each row of the path is first entered:
/// row `r` (token `r` of the aligned sequence) starts at `starts[r]`.
pub fn row_start_times(path: &[(usize, usize)], rows: usize) -> Vec<f64> {
    let mut starts = vec![f64::NAN; rows];
    let mut last_row = usize::MAX;
    for &(r, c) in path {
        if r != last_row && r < rows {
            starts[r] = c as f64 * SECONDS_PER_TOKEN_FRAME;
            last_row = r;
        }
    }
    // Rows never entered (cannot happen on a full path) inherit the previous start.
    let mut prev = 0.0;
    for s in &mut starts {
        if s.is_nan() {
            *s = prev;
        }
        prev = *s;
    }
    starts
}

/// Token boundary times for `text_tokens` tokens aligned with the matrix rows
/// `[prompt-last, text_0 .. text_{n-1}]` (row k predicts text token k): returns n + 1 times, the
/// start of each token and the end of the last.
pub fn token_times(att: &HeadAttention, frames: usize, first_row: usize, text_tokens: usize) -> Vec<f64> {
    let frames = frames.clamp(1, att.frames);
    let full = alignment_matrix(att, frames);
    let rows = text_tokens + 1;
    let slice: Vec<f32> = full[first_row * frames..(first_row + rows) * frames].iter().map(|v| -v).collect();
    let path = dtw(&slice, rows, frames);
    row_start_times(&path, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtw_follows_the_cheap_diagonal_and_covers_every_row() {
        // 3 tokens × 6 frames, cheap cells on a staircase: token 0 at frames 0–1, 1 at 2–3, 2 at 4–5.
        let mut cost = vec![1.0f32; 18];
        for (r, c) in [(0, 0), (0, 1), (1, 2), (1, 3), (2, 4), (2, 5)] {
            cost[r * 6 + c] = 0.0;
        }
        let path = dtw(&cost, 3, 6);
        assert_eq!(path.first(), Some(&(0, 0)));
        assert_eq!(path.last(), Some(&(2, 5)));
        assert_eq!(row_start_times(&path, 3), vec![0.0, 0.04, 0.08]);
        for w in path.windows(2) {
            assert!(w[1].0 >= w[0].0 && w[1].1 >= w[0].1, "monotonic: {path:?}");
        }
    }

    #[test]
    fn dtw_on_a_single_row_or_column() {
        assert_eq!(dtw(&[0.0, 0.0, 0.0], 1, 3), vec![(0, 0), (0, 1), (0, 2)]);
        assert_eq!(dtw(&[0.0, 0.0], 2, 1), vec![(0, 0), (1, 0)]);
        assert!(dtw(&[], 0, 0).is_empty());
    }

    #[test]
    fn median_filter_reflects_at_the_edges() {
        // Position 0 sees [9, 1, 9] after reflection.
        assert_eq!(median_filter(&[1.0, 9.0, 2.0, 3.0, 8.0], 3), vec![9.0, 2.0, 3.0, 3.0, 3.0]);
        assert_eq!(median_filter(&[5.0], 7), vec![5.0]);
    }

    #[test]
    fn token_times_from_attention_that_walks_across_the_audio() {
        // One head, 4 rows (prompt end + 3 tokens), 40 frames: row k attends to frames 10k..10k+9.
        let (tokens, frames) = (4, 40);
        let mut data = vec![0.001f32; tokens * frames];
        for k in 0..tokens {
            for f in 10 * k..10 * k + 10 {
                data[k * frames + f] = 1.0;
            }
        }
        let att = HeadAttention { heads: 1, tokens, frames, data };
        let times = token_times(&att, frames, 0, 3);
        assert_eq!(times.len(), 4);
        for (k, t) in times.iter().enumerate() {
            assert!((t - 0.2 * k as f64).abs() <= 0.061, "row {k} at {t}");
        }
    }
}
