//! `cargo bench --features bench --bench musicgen` (or `bench/musicgen.sh`): steps per second of the generation loop on the tiny test-built model, ours
//! against the same loop in Python (onnxruntime + numpy, `bench/musicgen_peer.py`) on the same
//! files, in the same run. Prints figures and ratios; asserts no time. It does assert that both
//! sides' greedy codes are identical, so the two loops are known to do the same work.

use std::path::PathBuf;
use std::time::Instant;

use super::TempDir;
use crate::engines::musicgen::engine::{GenerateOptions, MusicGen};
use crate::engines::runtime;
use crate::engines::testing::musicgen_graphs::{write_model_dir, TINY};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("HYPERFRAMES_BENCH_PYTHON") {
        return Some(PathBuf::from(p));
    }
    Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache/bench-venv/bin/python")).filter(|p| p.is_file())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Prints the figures; panics when the two loops' greedy codes differ.
pub fn run() {
    let seconds: f64 = env_or("HYPERFRAMES_BENCH_SECONDS", 10.0);
    let runs: usize = env_or("HYPERFRAMES_BENCH_RUNS", 3).max(1);
    let prompt = "calm piano lofi beats";
    let tmp = TempDir::new("musicgen");
    let dir = tmp.path().join("musicgen-small");
    write_model_dir(&dir, TINY);
    let engine = MusicGen::open(&dir).expect("the tiny model loads");
    let threads = runtime::threads();
    engine.generate(prompt, &GenerateOptions::new(0.04, 0), &|_, _| {}).unwrap();

    let mut ours = Vec::new();
    let mut steps = 0;
    for run in 0..runs {
        let t0 = Instant::now();
        let g = engine.generate(prompt, &GenerateOptions::new(seconds, run as u64), &|_, _| {}).unwrap();
        ours.push(t0.elapsed().as_secs_f64() * 1e3);
        steps = g.steps;
    }
    let greedy = GenerateOptions { top_k: 1, ..GenerateOptions::new(seconds, 0) };
    let greedy = engine.generate(prompt, &greedy, &|_, _| {}).unwrap();
    let ours_ms = median(ours.clone());
    println!(
        "MusicGen generation loop, tiny graph ({} layers, {} heads × {}, 4 codebooks × 2048 codes)",
        TINY.layers, TINY.heads, TINY.head_dim
    );
    println!("{seconds} s of audio = {} frames = {steps} decoder steps (batch 2, guidance 3, top-k 250), {threads} intra-op thread(s), {runs} run(s)", greedy.codes[0].len());
    println!(
        "  hyperframes (Rust, ort):  median {ours_ms:8.1} ms/run  {:8.1} steps/s  {:6.3} ms/step  runs {ours:.1?}",
        steps as f64 / ours_ms * 1e3,
        ours_ms / steps as f64
    );

    let Some(py) = python() else {
        println!(
            "  peer: skipped (no Python with onnxruntime: set HYPERFRAMES_BENCH_PYTHON or create .cache/bench-venv)"
        );
        return;
    };
    let job = tmp.path().join("job.json");
    let frames = greedy.codes[0].len();
    let spec = serde_json::json!({
        "model_dir": dir, "ids": greedy.prompt_ids, "frames": frames, "threads": threads, "runs": runs, "seed": 0,
    });
    std::fs::write(&job, spec.to_string()).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/musicgen_peer.py");
    let out = std::process::Command::new(&py).arg(&script).arg(&job).output().expect("the peer runs");
    assert!(out.status.success(), "peer failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the peer prints JSON");
    let peer: Vec<f64> = report["runs"].as_array().unwrap().iter().map(|r| r["run_ms"].as_f64().unwrap()).collect();
    let peer_steps = report["runs"][0]["steps"].as_u64().unwrap() as usize;
    assert_eq!(peer_steps, steps);
    let peer_ms = median(peer.clone());
    println!(
        "  peer (Python onnxruntime {} + numpy): median {peer_ms:8.1} ms/run  {:8.1} steps/s  {:6.3} ms/step  runs {peer:.1?}",
        report["onnxruntime"].as_str().unwrap_or("?"),
        steps as f64 / peer_ms * 1e3,
        peer_ms / steps as f64
    );
    println!(
        "  ratio: hyperframes time / peer time = {:.2}×  (steps/s {:.2}× the peer's)",
        ours_ms / peer_ms,
        peer_ms / ours_ms
    );
    let peer_codes: Vec<Vec<i64>> = serde_json::from_value(report["greedy_codes"].clone()).unwrap();
    assert_eq!(peer_codes, greedy.codes, "both loops must compute the same greedy codes");
    println!("  greedy codes identical on both sides: yes ({} × {frames})", peer_codes.len());
}
