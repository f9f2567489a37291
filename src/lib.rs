//! clickrec

pub mod metrics;
