//! `cargo bench --features bench --bench voice_pack` (see `hyperframes::bench::voice_pack`).
fn main() {
    hyperframes::bench::voice_pack::run();
}
