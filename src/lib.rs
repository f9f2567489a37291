//! clickrec
