//! `seed`: fills a fresh database with synthetic members, follows, videos and engagement, for load
//! tests and demos (`scripts/bench-feed.sh`). Reads the service's configuration (`APP_*`, the
//! `config` crate) to find the database and the media store; see the library for the data's shape.

use std::process::ExitCode;

use clap::Parser;

/// Fill the store with synthetic members, follows, videos and engagement.
#[derive(Parser)]
#[command(name = "seed", version)]
struct Cli {
    /// Members (`seed_0` … `seed_{N-1}`).
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Published videos (about 4% drafts and removed ones come on top).
    #[arg(long, default_value_t = 100_000)]
    videos: usize,
    /// RNG seed (same seed, same data).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The password every seeded member logs in with.
    #[arg(long, default_value = "seed-password-1")]
    password: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match config::Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log.filter))
        .with_writer(std::io::stderr)
        .init();
    let opts = seed::SeedOptions { users: cli.users, videos: cli.videos, seed: cli.seed, password: cli.password };
    match seed::run(&config, &opts).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let app_core::error::AppError::Internal(cause) = &e {
                eprintln!("cause: {cause:#}");
            }
            ExitCode::FAILURE
        }
    }
}
