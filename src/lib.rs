//! clickrec
pub mod als;
