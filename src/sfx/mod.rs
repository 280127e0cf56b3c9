pub mod library;
pub mod synth;
