use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = flopprint::cli::Cli::parse();
    match flopprint::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
