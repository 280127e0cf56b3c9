//! Procedural synthesis of the bundled sound effects: every sound is computed from code at
//! 44.1 kHz mono, on demand, with a fixed seed per name, so the output is identical on every run
//! and no audio files (or their licences) need shipping.
//!
//! Each sound ends with the same finishing pass: DC removal, short raised-cosine fades so the
//! first and last samples are exactly 0, and peak normalisation to −1 dBFS.

use std::f64::consts::{PI, TAU};

/// Sample rate of every rendered effect.
pub const SAMPLE_RATE: u32 = 44_100;
const RATE: f64 = SAMPLE_RATE as f64;
/// Target peak: −1 dBFS.
pub const PEAK: f32 = 0.891_250_9;

#[cfg(test)]
/// The names [`render`] knows, in the manifest's (alphabetical) order.
pub const NAMES: &[&str] = &[
    "chime",
    "click",
    "click-soft",
    "error",
    "glitch-1",
    "glitch-2",
    "glitch-3",
    "impact-bass-1",
    "impact-bass-2",
    "key-press",
    "notification",
    "ping",
    "pop",
    "riser",
    "sparkle",
    "typing",
    "whoosh",
    "whoosh-cinematic",
    "whoosh-short",
];

/// Renders the effect `name` (one of [`NAMES`], or the aliases `glitch` = `glitch-1` and
/// `impact-bass` = `impact-bass-1`) as 44.1 kHz mono samples; `None` for an unknown name.
pub fn render(name: &str) -> Option<Vec<f32>> {
    let name = match name {
        "glitch" => "glitch-1",
        "impact-bass" => "impact-bass-1",
        other => other,
    };
    let mut rng = Rng::for_name(name);
    let r = &mut rng;
    let (buf, fade_in, fade_out) = match name {
        "chime" => (chime(), 0.001, 0.05),
        "click" => (click(r), 0.0005, 0.02),
        "click-soft" => (click_soft(r), 0.001, 0.02),
        "error" => (error(), 0.002, 0.05),
        "glitch-1" => (glitch(r, &GLITCH_HARD), 0.001, 0.05),
        "glitch-2" => (glitch(r, &GLITCH_HARSH), 0.001, 0.05),
        "glitch-3" => (glitch(r, &GLITCH_SUBTLE), 0.001, 0.05),
        "impact-bass-1" => (impact_bass(r), 0.001, 0.05),
        "impact-bass-2" => (impact_swell(r), 0.01, 0.05),
        "key-press" => (key_press_sound(r), 0.0005, 0.02),
        "notification" => (notification(), 0.001, 0.05),
        "ping" => (ping(), 0.001, 0.05),
        "pop" => (pop(r), 0.0005, 0.02),
        "riser" => (riser(r), 0.05, 0.03),
        "sparkle" => (sparkle(r), 0.005, 0.05),
        "typing" => (typing(r), 0.0005, 0.02),
        "whoosh" => (whoosh(r, &WHOOSH), 0.005, 0.03),
        "whoosh-cinematic" => (whoosh(r, &WHOOSH_CINEMATIC), 0.02, 0.1),
        "whoosh-short" => (whoosh(r, &WHOOSH_SHORT), 0.003, 0.03),
        _ => return None,
    };
    Some(finish(buf, fade_in, fade_out))
}

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

/// SplitMix64: tiny, fast and good enough for noise; seeded from the sound's name.
struct Rng(u64);

impl Rng {
    fn for_name(name: &str) -> Self {
        // FNV-1a of the name, so every sound has its own stable seed.
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for b in name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Rng(h)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [-1, 1): white noise.
    fn noise(&mut self) -> f64 {
        2.0 * self.unit() - 1.0
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

fn samples(seconds: f64) -> usize {
    (seconds * RATE).round() as usize
}

fn silence(seconds: f64) -> Vec<f64> {
    vec![0.0; samples(seconds)]
}

/// Topology-preserving state-variable filter (Simper): low, band and high outputs from one
/// state, stable under per-sample cutoff changes (needed for sweeps).
#[derive(Default)]
struct Svf {
    ic1: f64,
    ic2: f64,
}

struct SvfOut {
    low: f64,
    band: f64,
    high: f64,
}

impl Svf {
    fn process(&mut self, x: f64, cutoff: f64, q: f64) -> SvfOut {
        let g = (PI * cutoff.clamp(10.0, 0.45 * RATE) / RATE).tan();
        let k = 1.0 / q.max(0.05);
        let a1 = 1.0 / (1.0 + g * (g + k));
        let a2 = g * a1;
        let a3 = g * a2;
        let v3 = x - self.ic2;
        let v1 = a1 * self.ic1 + a2 * v3;
        let v2 = self.ic2 + a2 * self.ic1 + a3 * v3;
        self.ic1 = 2.0 * v1 - self.ic1;
        self.ic2 = 2.0 * v2 - self.ic2;
        SvfOut { low: v2, band: v1, high: x - k * v1 - v2 }
    }

    /// Band-pass with unity gain at the centre.
    fn band(&mut self, x: f64, cutoff: f64, q: f64) -> f64 {
        self.process(x, cutoff, q).band / q.max(0.05)
    }
}

/// One-pole low-pass (and, by subtraction, high-pass).
#[derive(Default)]
struct OnePole {
    z: f64,
}

impl OnePole {
    fn low(&mut self, x: f64, cutoff: f64) -> f64 {
        let a = 1.0 - (-TAU * cutoff / RATE).exp();
        self.z += a * (x - self.z);
        self.z
    }

    fn high(&mut self, x: f64, cutoff: f64) -> f64 {
        x - self.low(x, cutoff)
    }
}

/// Smooth 0 → 1 ramp over `attack` seconds, then exponential decay with time constant `tau`.
fn attack_decay(t: f64, attack: f64, tau: f64) -> f64 {
    if t < 0.0 {
        0.0
    } else if t < attack {
        let x = t / attack;
        x * x * (3.0 - 2.0 * x)
    } else {
        (-(t - attack) / tau).exp()
    }
}

/// Adds a decaying sine partial starting at `start` seconds: frequency `hz`, amplitude `amp`.
fn add_partial(buf: &mut [f64], start: f64, hz: f64, amp: f64, attack: f64, tau: f64) {
    if hz >= 0.45 * RATE {
        return;
    }
    let first = samples(start);
    let len = samples(attack + tau * 9.0).min(buf.len().saturating_sub(first));
    for i in 0..len {
        let t = i as f64 / RATE;
        buf[first + i] += amp * attack_decay(t, attack, tau) * (TAU * hz * t).sin();
    }
}

/// A struck bell or bar: several (possibly inharmonic) partials, higher ones dying faster.
/// `partials` holds (frequency ratio, relative amplitude, relative decay).
fn add_bell(buf: &mut [f64], start: f64, f0: f64, amp: f64, tau: f64, partials: &[(f64, f64, f64)]) {
    for &(ratio, rel, decay) in partials {
        add_partial(buf, start, f0 * ratio, amp * rel, 0.0015, tau * decay);
    }
}

/// Adds band-passed noise with an attack/decay envelope at `start` seconds.
#[allow(clippy::too_many_arguments)]
fn add_noise_burst(buf: &mut [f64], rng: &mut Rng, start: f64, center: f64, q: f64, amp: f64, attack: f64, tau: f64) {
    let first = samples(start);
    let len = samples(attack + tau * 9.0).min(buf.len().saturating_sub(first));
    let mut f = Svf::default();
    for i in 0..len {
        let t = i as f64 / RATE;
        buf[first + i] += amp * attack_decay(t, attack, tau) * f.band(rng.noise(), center, q);
    }
}

/// Feedback echo in place: each repeat `delay` seconds later, `feedback` as loud, darkened a
/// little each time (a cheap room), mixed in at `mix`.
fn echo(buf: &mut [f64], delay: f64, feedback: f64, mix: f64) {
    let d = samples(delay).max(1);
    let mut wet = vec![0.0; buf.len()];
    let mut lp = OnePole::default();
    for i in d..buf.len() {
        let src = buf[i - d] + feedback * wet[i - d];
        wet[i] = lp.low(src, 5_000.0);
    }
    for (b, w) in buf.iter_mut().zip(&wet) {
        *b += mix * w;
    }
}

/// Soft saturation normalised so full scale maps to full scale.
fn saturate(x: f64, drive: f64) -> f64 {
    (x * drive).tanh() / drive.tanh()
}

/// Exponential (log-frequency) interpolation from `a` to `b` as `x` goes 0 → 1.
fn log_lerp(a: f64, b: f64, x: f64) -> f64 {
    a * (b / a).powf(x.clamp(0.0, 1.0))
}

/// DC removal, fades (first and last sample exactly 0), −1 dBFS peak, conversion to `f32`.
fn finish(mut buf: Vec<f64>, fade_in: f64, fade_out: f64) -> Vec<f32> {
    for v in buf.iter_mut() {
        if !v.is_finite() {
            *v = 0.0;
        }
    }
    // A gentle 12 Hz high-pass takes out slow drift, then the remaining mean is subtracted.
    let mut hp = OnePole::default();
    for v in buf.iter_mut() {
        *v = hp.high(*v, 12.0);
    }
    let mean = buf.iter().sum::<f64>() / buf.len().max(1) as f64;
    for v in buf.iter_mut() {
        *v -= mean;
    }
    let len = buf.len();
    let ramp = |i: usize, n: usize| 0.5 * (1.0 - (PI * i as f64 / n as f64).cos());
    let fade_in = samples(fade_in).clamp(1, len / 2);
    for (i, v) in buf.iter_mut().take(fade_in).enumerate() {
        *v *= ramp(i, fade_in);
    }
    let fade_out = samples(fade_out).clamp(1, len / 2);
    for i in 0..fade_out {
        buf[len - 1 - i] *= ramp(i, fade_out);
    }
    let peak = buf.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let gain = if peak > 0.0 { f64::from(PEAK) / peak } else { 0.0 };
    buf.iter().map(|v| (v * gain) as f32).collect()
}

// ---------------------------------------------------------------------------------------------
// Whooshes: noise through a resonant band-pass whose centre sweeps up and back down, under a
// swelling then decaying envelope, with a low "air" layer for body.
// ---------------------------------------------------------------------------------------------

struct WhooshShape {
    duration: f64,
    /// Time of the loudest point.
    peak_at: f64,
    /// Decay time constant after the peak.
    tau: f64,
    /// Band centre at the start, at the peak and at the end (Hz).
    f_start: f64,
    f_peak: f64,
    f_end: f64,
    q: f64,
    /// Level of the low rumble layer (low-passed noise plus, for the long sweep, a sub tone).
    body: f64,
    sub_hz: f64,
}

const WHOOSH: WhooshShape = WhooshShape {
    duration: 0.57,
    peak_at: 0.2,
    tau: 0.085,
    f_start: 350.0,
    f_peak: 3_800.0,
    f_end: 900.0,
    q: 1.4,
    body: 0.5,
    sub_hz: 0.0,
};

const WHOOSH_SHORT: WhooshShape = WhooshShape {
    duration: 0.57,
    peak_at: 0.1,
    tau: 0.05,
    f_start: 1_200.0,
    f_peak: 7_000.0,
    f_end: 2_400.0,
    q: 1.8,
    body: 0.2,
    sub_hz: 0.0,
};

const WHOOSH_CINEMATIC: WhooshShape = WhooshShape {
    duration: 5.54,
    peak_at: 2.5,
    tau: 0.65,
    f_start: 120.0,
    f_peak: 2_600.0,
    f_end: 260.0,
    q: 1.0,
    body: 0.9,
    sub_hz: 48.0,
};

fn whoosh(rng: &mut Rng, s: &WhooshShape) -> Vec<f64> {
    let mut buf = silence(s.duration);
    let (mut a, mut b) = (Svf::default(), Svf::default());
    let mut body = OnePole::default();
    let mut sub_phase = 0.0;
    for (i, out) in buf.iter_mut().enumerate() {
        let t = i as f64 / RATE;
        let (env, centre) = if t < s.peak_at {
            let x = t / s.peak_at;
            ((PI / 2.0 * x).sin().powi(2), log_lerp(s.f_start, s.f_peak, x.powf(1.3)))
        } else {
            let x = (t - s.peak_at) / (s.duration - s.peak_at);
            ((-(t - s.peak_at) / s.tau).exp(), log_lerp(s.f_peak, s.f_end, x.powf(0.6)))
        };
        let n = rng.noise();
        // Two bands a fifth-ish apart, the second trailing slightly, give the sweep movement.
        let main = a.band(n, centre, s.q);
        let upper = b.band(n, centre * 1.6, s.q * 1.5);
        let air = body.low(n, 180.0 + centre * 0.08) * 3.0;
        let mut v = main + 0.45 * upper + s.body * air;
        if s.sub_hz > 0.0 {
            // A slow pitch dip of the sub follows the sweep's movement past the listener.
            let f = s.sub_hz * (1.0 + 0.35 * (centre / s.f_peak));
            sub_phase += TAU * f / RATE;
            v += 0.5 * s.body * sub_phase.sin();
        }
        *out = env * v;
    }
    buf
}

// ---------------------------------------------------------------------------------------------
// Clicks, keys and pops: very short transients.
// ---------------------------------------------------------------------------------------------

/// A UI button: sharp bright tick, a short resonant body, a quieter release tick.
fn click(rng: &mut Rng) -> Vec<f64> {
    let mut buf = silence(0.37);
    let t0 = 0.002;
    add_noise_burst(&mut buf, rng, t0, 5_500.0, 1.2, 1.0, 0.0002, 0.0012);
    add_partial(&mut buf, t0, 2_300.0, 0.55, 0.0003, 0.005);
    add_partial(&mut buf, t0, 1_150.0, 0.3, 0.0005, 0.012);
    let release = t0 + 0.055;
    add_noise_burst(&mut buf, rng, release, 6_500.0, 1.5, 0.35, 0.0002, 0.0009);
    add_partial(&mut buf, release, 2_600.0, 0.18, 0.0003, 0.004);
    echo(&mut buf, 0.019, 0.3, 0.25);
    buf
}

/// A soft tap: rounded, low-passed, no bright tick.
fn click_soft(rng: &mut Rng) -> Vec<f64> {
    let mut buf = silence(0.37);
    let t0 = 0.002;
    add_partial(&mut buf, t0, 1_050.0, 0.7, 0.0012, 0.009);
    add_partial(&mut buf, t0, 520.0, 0.45, 0.0015, 0.018);
    add_noise_burst(&mut buf, rng, t0, 1_400.0, 0.8, 0.5, 0.0008, 0.0025);
    echo(&mut buf, 0.021, 0.25, 0.2);
    buf
}

/// One mechanical keystroke at `at` seconds: switch tick, plastic "thock", bottoming out, and a
/// quieter release. `pitch` scales all frequencies (variation between keys).
fn add_keystroke(buf: &mut [f64], rng: &mut Rng, at: f64, pitch: f64, amp: f64) {
    add_noise_burst(buf, rng, at, 3_200.0 * pitch, 2.0, amp, 0.0002, 0.0022);
    add_partial(buf, at, 230.0 * pitch, 0.45 * amp, 0.0008, 0.018);
    add_partial(buf, at, 470.0 * pitch, 0.25 * amp, 0.0005, 0.008);
    let bottom = at + 0.008 + rng.range(0.0, 0.004);
    add_noise_burst(buf, rng, bottom, 1_900.0 * pitch, 1.5, 0.6 * amp, 0.0003, 0.0035);
    let release = at + rng.range(0.075, 0.11);
    add_noise_burst(buf, rng, release, 3_800.0 * pitch, 2.0, 0.28 * amp, 0.0002, 0.0018);
}

fn key_press_sound(rng: &mut Rng) -> Vec<f64> {
    let mut buf = silence(0.4);
    add_keystroke(&mut buf, rng, 0.002, 1.0, 1.0);
    echo(&mut buf, 0.017, 0.3, 0.22);
    buf
}

/// A burst of keystrokes with human timing: uneven gaps, the odd pause, one space bar.
fn typing(rng: &mut Rng) -> Vec<f64> {
    let mut buf = silence(1.5);
    let mut t = 0.003;
    let mut count = 0;
    while t < 1.3 {
        let space = count == 7;
        let pitch = if space { 0.72 } else { rng.range(0.9, 1.12) };
        let amp = if space { 1.0 } else { rng.range(0.55, 1.0) };
        add_keystroke(&mut buf, rng, t, pitch, amp);
        count += 1;
        t += rng.range(0.065, 0.15) + if rng.chance(0.12) { 0.12 } else { 0.0 };
    }
    echo(&mut buf, 0.017, 0.3, 0.22);
    buf
}

/// A bubbly pop: a sine whose pitch jumps up fast, a tiny lip tick, a short slap-back.
fn pop(rng: &mut Rng) -> Vec<f64> {
    let mut buf = silence(0.72);
    let t0 = 0.002;
    let first = samples(t0);
    let mut phase: f64 = 0.0;
    for i in 0..samples(0.3) {
        let t = i as f64 / RATE;
        let f = 280.0 + 900.0 * (1.0 - (-t / 0.011).exp());
        phase += TAU * f / RATE;
        let env = attack_decay(t, 0.0015, 0.032);
        buf[first + i] += env * (phase.sin() + 0.22 * (2.0 * phase).sin());
    }
    add_noise_burst(&mut buf, rng, t0, 2_500.0, 0.7, 0.5, 0.0002, 0.0009);
    echo(&mut buf, 0.07, 0.2, 0.18);
    buf
}

// ---------------------------------------------------------------------------------------------
// Tonal UI sounds: bells and bars.
// ---------------------------------------------------------------------------------------------

/// Glockenspiel-like partials (ratio, amplitude, relative decay).
const BELL: &[(f64, f64, f64)] =
    &[(1.0, 1.0, 1.0), (2.0, 0.4, 0.6), (2.76, 0.28, 0.45), (4.07, 0.14, 0.3), (5.4, 0.07, 0.2)];
/// Marimba-like bar: fundamental, a weak octave and the bar's 3.9× mode that dies fast.
const BAR: &[(f64, f64, f64)] = &[(1.0, 1.0, 1.0), (2.0, 0.15, 0.5), (3.93, 0.12, 0.18)];

/// A clean, bright accent: one high sine with a faint octave, a small echo.
fn ping() -> Vec<f64> {
    let mut buf = silence(1.32);
    add_bell(&mut buf, 0.0, 1_975.5, 1.0, 0.2, &[(1.0, 1.0, 1.0), (2.0, 0.12, 0.5), (3.01, 0.05, 0.3)]);
    echo(&mut buf, 0.11, 0.3, 0.25);
    buf
}

/// "Success": a rising major arpeggio of bell tones (C6 E6 G6 C7).
fn chime() -> Vec<f64> {
    let mut buf = silence(2.5);
    for (k, (hz, amp)) in [(1_046.5, 0.7), (1_318.5, 0.75), (1_568.0, 0.8), (2_093.0, 0.9)].into_iter().enumerate() {
        add_bell(&mut buf, 0.002 + 0.1 * k as f64, hz, amp, 0.42, BELL);
    }
    echo(&mut buf, 0.13, 0.35, 0.3);
    buf
}

/// A toast: a soft two-note rising "ding-dong" on a marimba-like bar, with some space.
fn notification() -> Vec<f64> {
    let mut buf = silence(2.46);
    add_bell(&mut buf, 0.002, 880.0, 0.8, 0.26, BAR);
    add_bell(&mut buf, 0.15, 1_318.5, 1.0, 0.3, BAR);
    echo(&mut buf, 0.18, 0.38, 0.35);
    buf
}

/// Failure: two buzzy, slightly dissonant notes falling a tritone.
fn error() -> Vec<f64> {
    let mut buf = silence(1.62);
    for (start, hz) in [(0.002, 329.6), (0.2, 233.1)] {
        let first = samples(start);
        let mut lp = OnePole::default();
        for i in 0..samples(0.6) {
            let t = i as f64 / RATE;
            let env = if t < 0.13 { attack_decay(t, 0.005, 10.0) } else { (-(t - 0.13) / 0.045).exp() };
            let mut v = 0.0;
            for (h, a) in [(1.0, 1.0), (3.0, 0.33), (5.0, 0.2), (7.0, 0.14)] {
                v += a * (TAU * hz * h * t).sin() + 0.6 * a * (TAU * hz * 1.013 * h * t).sin();
            }
            buf[first + i] += env * lp.low(v, 2_200.0);
        }
    }
    echo(&mut buf, 0.09, 0.3, 0.2);
    buf
}

/// Shimmer: a cloud of short high twinkles on a pentatonic scale, thinning out, over faint air.
fn sparkle(rng: &mut Rng) -> Vec<f64> {
    let mut buf = silence(1.8);
    const NOTES: [f64; 8] = [2_093.0, 2_349.3, 2_637.0, 3_136.0, 3_520.0, 4_186.0, 4_698.6, 5_274.0];
    for k in 0..30 {
        let start = 0.002 + 1.1 * rng.unit().powf(1.4);
        let hz = NOTES[(rng.unit() * NOTES.len() as f64) as usize % NOTES.len()];
        let amp = rng.range(0.35, 0.9) * (1.0 - 0.5 * start / 1.1) * if k == 0 { 1.2 } else { 1.0 };
        let tau = rng.range(0.05, 0.14);
        add_partial(&mut buf, start, hz, amp, 0.002, tau);
        add_partial(&mut buf, start, hz * 2.0, 0.18 * amp, 0.002, tau * 0.5);
    }
    let mut air = Svf::default();
    for (i, v) in buf.iter_mut().enumerate() {
        let t = i as f64 / RATE;
        let env = (PI * (t / 1.3).min(1.0)).sin().powi(2);
        *v += 0.06 * env * air.process(rng.noise(), 7_000.0, 0.7).high;
    }
    echo(&mut buf, 0.09, 0.4, 0.35);
    buf
}

// ---------------------------------------------------------------------------------------------
// Builds and hits.
// ---------------------------------------------------------------------------------------------

/// A ten-second build to a climax at the very end: a noise band opening up, a detuned saw
/// climbing three octaves, and a tremolo that speeds up.
fn riser(rng: &mut Rng) -> Vec<f64> {
    let mut buf = silence(10.03);
    let len = buf.len() as f64;
    let mut band = Svf::default();
    let (mut p1, mut p2, mut trem) = (0.0f64, 0.0f64, 0.0f64);
    for (i, out) in buf.iter_mut().enumerate() {
        let x = i as f64 / len;
        let noise = band.band(rng.noise(), log_lerp(200.0, 8_000.0, x), 1.2 + 1.8 * x);
        let f = log_lerp(110.0, 880.0, x.powf(1.5));
        p1 = (p1 + TAU * f / RATE) % TAU;
        p2 = (p2 + TAU * f * 1.006 / RATE) % TAU;
        let mut saw = 0.0;
        for h in 1..=6 {
            let hf = f64::from(h);
            saw += ((hf * p1).sin() + (hf * p2).sin()) / hf;
        }
        trem += TAU * (2.0 + 16.0 * x * x) / RATE;
        let tremolo = 1.0 - 0.45 * x * (0.5 + 0.5 * trem.sin());
        *out = tremolo * (x.powf(2.2) * noise * 1.4 + 0.22 * x.powf(1.8) * saw);
    }
    buf
}

/// The hit shared by both impacts at `at` seconds: a sub sine dropping from ~150 Hz to 38 Hz,
/// a crunchy low-passed noise burst, a mid thump and a dark rumble tail, softly saturated.
fn add_impact(buf: &mut [f64], rng: &mut Rng, at: f64, tau: f64) {
    let first = samples(at);
    let mut crunch = OnePole::default();
    let mut rumble = OnePole::default();
    let mut phase = 0.0f64;
    for i in 0..buf.len().saturating_sub(first) {
        let t = i as f64 / RATE;
        let f = 38.0 + 110.0 * (-t / 0.07).exp();
        phase += TAU * f / RATE;
        let n = rng.noise();
        let sub = attack_decay(t, 0.002, tau) * phase.sin();
        let thump = 0.35 * attack_decay(t, 0.001, 0.11) * (TAU * 92.0 * t).sin();
        let crack = 0.7 * attack_decay(t, 0.0005, 0.028) * crunch.low(n, 1_300.0) * 2.0;
        let tail = 0.25 * attack_decay(t, 0.02, tau * 1.1) * rumble.low(n, 250.0) * 4.0;
        buf[first + i] += saturate(sub + thump + crack + tail, 1.8);
    }
}

fn impact_bass(rng: &mut Rng) -> Vec<f64> {
    let mut buf = silence(2.12);
    add_impact(&mut buf, rng, 0.003, 0.42);
    buf
}

/// A reversed-sounding swell that sucks in for 0.9 s, then the hit.
fn impact_swell(rng: &mut Rng) -> Vec<f64> {
    let mut buf = silence(2.59);
    let hit = 0.9;
    let mut lp = Svf::default();
    let mut phase = 0.0f64;
    for (i, out) in buf.iter_mut().enumerate().take(samples(hit)) {
        let x = i as f64 / (hit * RATE);
        let cut = (1.0 - x) * RATE * hit; // samples before the hit
        let gate = (cut / samples(0.004) as f64).min(1.0); // a 4 ms duck into the hit
        let noise = lp.process(rng.noise(), log_lerp(300.0, 3_500.0, x), 0.9).low;
        phase += TAU * log_lerp(55.0, 130.0, x) / RATE;
        *out = gate * x.powi(3) * (0.8 * noise + 0.45 * phase.sin());
    }
    add_impact(&mut buf, rng, hit, 0.36);
    buf
}

// ---------------------------------------------------------------------------------------------
// Glitches: a sequence of short digital fragments (bit-crushed tones, sample-and-hold noise,
// stutters of the fragment before, dropouts), then an echo tail.
// ---------------------------------------------------------------------------------------------

struct GlitchShape {
    duration: f64,
    /// How long fragments keep coming.
    active: f64,
    /// Fragment length range (s).
    min_len: f64,
    max_len: f64,
    /// Probability of a dropout instead of a fragment.
    gaps: f64,
    /// Bit depth range of the crusher.
    bits: (f64, f64),
    /// Low-pass applied to everything (Hz), softening the harsher variants.
    tone: f64,
    /// Ring-modulation amount for harshness.
    ring: f64,
}

const GLITCH_HARD: GlitchShape = GlitchShape {
    duration: 2.64,
    active: 1.55,
    min_len: 0.025,
    max_len: 0.12,
    gaps: 0.2,
    bits: (3.0, 6.0),
    tone: 9_000.0,
    ring: 0.3,
};

const GLITCH_HARSH: GlitchShape = GlitchShape {
    duration: 3.5,
    active: 2.5,
    min_len: 0.015,
    max_len: 0.09,
    gaps: 0.08,
    bits: (2.0, 4.0),
    tone: 14_000.0,
    ring: 0.8,
};

const GLITCH_SUBTLE: GlitchShape = GlitchShape {
    duration: 3.1,
    active: 2.1,
    min_len: 0.02,
    max_len: 0.07,
    gaps: 0.55,
    bits: (5.0, 8.0),
    tone: 2_800.0,
    ring: 0.0,
};

fn crush(x: f64, bits: f64) -> f64 {
    let levels = 2f64.powf(bits - 1.0);
    (x * levels).round() / levels
}

fn glitch(rng: &mut Rng, s: &GlitchShape) -> Vec<f64> {
    let mut buf = silence(s.duration);
    let mut t = 0.002;
    let mut last: Option<(usize, usize)> = None; // previous fragment (start, length) for stutters
    while t < s.active {
        let len = samples(rng.range(s.min_len, s.max_len));
        let start = samples(t);
        let end = (start + len).min(buf.len());
        let amp = rng.range(0.45, 1.0);
        let bits = rng.range(s.bits.0, s.bits.1);
        let hold = 1 + (rng.unit() * 14.0) as usize; // sample-and-hold factor (rate reduction)
        let kind = if rng.chance(s.gaps) { 0 } else { 1 + (rng.unit() * 4.0) as usize };
        match (kind, last) {
            (0, _) => {}
            // Stutter: the previous fragment's first slice repeated several times.
            (4, Some((from, from_len))) => {
                let grain = (from_len / 3).clamp(samples(0.008), samples(0.03));
                let repeats = 2 + (rng.unit() * 4.0) as usize;
                let mut pos = start;
                for _ in 0..repeats {
                    for k in 0..grain {
                        if pos + k < buf.len() && from + k < start {
                            buf[pos + k] = buf[from + k];
                        }
                    }
                    pos += grain;
                }
                t += (pos - start) as f64 / RATE;
                last = Some((start, pos - start));
                continue;
            }
            // Crushed square tone at a random pitch, or a tape-stop style falling saw.
            (k @ (1 | 4), _) | (k @ 3, _) => {
                let mut hz = log_lerp(70.0, 2_400.0, rng.unit());
                let falling = k == 3;
                let mut phase = 0.0f64;
                let mut held = 0.0;
                for (j, v) in buf[start..end].iter_mut().enumerate() {
                    if falling {
                        hz *= 0.9993;
                    }
                    phase = (phase + hz / RATE) % 1.0;
                    let raw = if falling {
                        2.0 * phase - 1.0
                    } else if phase < 0.5 {
                        0.8
                    } else {
                        -0.8
                    };
                    if j % hold == 0 {
                        held = crush(raw, bits);
                    }
                    *v += amp * held;
                }
            }
            // Sample-and-hold noise, crushed.
            _ => {
                let mut held = 0.0;
                for (j, v) in buf[start..end].iter_mut().enumerate() {
                    if j % hold == 0 {
                        held = crush(rng.noise(), bits);
                    }
                    *v += amp * 0.8 * held;
                }
            }
        }
        // Micro-fades (0.5 ms) on each fragment: hard cuts, but no DC steps.
        let edge = samples(0.0005).min((end - start) / 2);
        for k in 0..edge {
            let g = k as f64 / edge as f64;
            buf[start + k] *= g;
            buf[end - 1 - k] *= g;
        }
        last = Some((start, end - start));
        t += len as f64 / RATE;
    }
    if s.ring > 0.0 {
        for (i, v) in buf.iter_mut().enumerate() {
            let m = (TAU * 1_330.0 * i as f64 / RATE).sin();
            *v *= 1.0 - s.ring + s.ring * m;
        }
    }
    let mut lp = Svf::default();
    for v in buf.iter_mut() {
        *v = lp.process(*v, s.tone, 0.7).low;
    }
    echo(&mut buf, 0.075, 0.45, 0.4);
    // The echo tail after the last fragment dies away to silence.
    let active_end = samples(s.active + s.max_len);
    let n = buf.len();
    for (i, v) in buf.iter_mut().enumerate().skip(active_end.min(n)) {
        *v *= (-((i - active_end) as f64 / RATE) / 0.18).exp();
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_spread() {
        let mut a = Rng::for_name("x");
        let mut b = Rng::for_name("x");
        let mut c = Rng::for_name("y");
        let va: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(va, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(va, (0..5).map(|_| c.next_u64()).collect::<Vec<_>>());
        let mut r = Rng::for_name("noise");
        let xs: Vec<f64> = (0..100_000).map(|_| r.noise()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!(xs.iter().all(|x| (-1.0..1.0).contains(x)));
    }

    #[test]
    fn every_name_renders_and_unknown_is_none() {
        for name in NAMES {
            assert!(render(name).is_some(), "{name}");
        }
        assert!(render("nope").is_none());
        assert!(render("").is_none());
        assert_eq!(render("glitch"), render("glitch-1"));
        assert_eq!(render("impact-bass"), render("impact-bass-1"));
        let mut sorted = NAMES.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, NAMES);
    }

    fn band_energy(s: &[f32], lo: f64, hi: f64) -> f64 {
        // Crude: energy after an SVF band-pass centred geometrically between lo and hi.
        let mut f = Svf::default();
        let c = (lo * hi).sqrt();
        let q = c / (hi - lo);
        s.iter().map(|&v| f.band(f64::from(v), c, q).powi(2)).sum::<f64>() / s.len() as f64
    }

    #[test]
    fn sounds_have_their_character() {
        let get = |n| render(n).unwrap();
        // Impacts are dominated by low end, sparkle and clicks by highs.
        let impact = get("impact-bass-1");
        assert!(band_energy(&impact, 30.0, 200.0) > 10.0 * band_energy(&impact, 2_000.0, 8_000.0));
        let sparkle = get("sparkle");
        assert!(band_energy(&sparkle, 2_000.0, 8_000.0) > 10.0 * band_energy(&sparkle, 50.0, 500.0));
        // The riser gets louder towards the end.
        let riser = get("riser");
        let q = riser.len() / 4;
        assert!(crate::audio::wav::rms(&riser[3 * q..]) > 4.0 * crate::audio::wav::rms(&riser[..q]));
        // A click is over in a few tens of milliseconds.
        let click = get("click");
        let energy_at = |s: &[f32], from: usize| s[from..].iter().map(|v| v * v).sum::<f32>();
        assert!(energy_at(&click, samples(0.1)) < 0.02 * energy_at(&click, 0));
        // Typing has many separate onsets.
        let typing = get("typing");
        let win = samples(0.01);
        let levels: Vec<f32> = typing.chunks(win).map(crate::audio::wav::peak).collect();
        let onsets = levels.windows(2).filter(|w| w[1] > 0.3 && w[1] > 3.0 * w[0]).count();
        assert!(onsets >= 8, "{onsets} onsets");
    }
}
