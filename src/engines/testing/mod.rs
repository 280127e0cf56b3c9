//! Test fixtures built by the tests themselves: tiny ONNX graphs with the same tensor names, dtypes
//! and shapes as the real models, so the real loading and decoding code runs without real weights.

pub mod musicgen_graphs;
pub mod onnx;
