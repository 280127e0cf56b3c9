pub mod captions;
pub mod decode;
pub mod resample;
pub mod wav;
