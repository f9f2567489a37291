//! clickrec

pub mod synth;
