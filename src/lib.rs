//! clickrec

pub mod ncf;
