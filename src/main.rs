//! The `clickrec` binary: parse arguments, run, print errors with their whole context chain.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`clickrec ... | head`) like other Unix tools, instead of
    // panicking in println!.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
