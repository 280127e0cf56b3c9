pub mod beats;
pub mod captions;
pub mod decode;
pub mod limit;
pub mod limiter;
pub mod loudness;
pub mod resample;
#[cfg(test)]
pub mod test_signals;
pub mod wav;
