//! The `clickrec` binary: parse arguments, run, print errors with their whole context chain.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = clickrec::cli::Cli::parse();
    match clickrec::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e.exit_code();
            eprintln!("error: {:#}", anyhow::Error::new(e));
            ExitCode::from(code)
        }
    }
}
