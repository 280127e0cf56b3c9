pub mod captions;
pub mod decode;
pub mod limit;
pub mod resample;
pub mod wav;
