//! `cargo bench --features bench --bench whisper_heads -- MODEL_DIR CALIBRATION_DIR [CHECK_DIR]`
//! (see `hyperframes::bench::whisper_heads`; `bench/whisper-heads.js` prepares the folders).
fn main() {
    hyperframes::bench::whisper_heads::run();
}
