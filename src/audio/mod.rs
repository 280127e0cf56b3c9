pub mod captions;
pub mod wav;
