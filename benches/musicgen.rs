//! `cargo bench --features bench --bench musicgen` (see `hyperframes::bench::musicgen`).
fn main() {
    hyperframes::bench::musicgen::run();
}
