//! Integration tests: the binary as users run it (one test binary, a module per area).

mod common;

mod bad_config;
mod bad_data;
mod commands;
mod fields;
mod fuzz;
mod models;
mod protocols;
mod readme;
mod serving;
mod trust;
mod tune;
