//! `backend`: the service and its operator commands (see API.md, "Operator's interface").

use std::io::Read;
use std::process::ExitCode;

use app_core::types::Secret;
use backend::config::Config;
use clap::{Parser, Subcommand};
use domain::invites::Mint;

#[derive(Parser)]
#[command(name = "backend", about = "The short-video app's GraphQL service", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP/GraphQL service (migrations run first).
    Serve,
    /// Apply pending migrations (or roll back with --down N).
    Migrate {
        /// Roll back this many migrations instead.
        #[arg(long)]
        down: Option<u32>,
    },
    /// Print the GraphQL SDL; with --breaking-since, list what the server's schema would break
    /// for clients built against that SDL file (api::evolution) and fail when anything.
    Schema {
        /// A baseline SDL file, e.g. the committed schema.graphql before regenerating it.
        #[arg(long, value_name = "FILE")]
        breaking_since: Option<std::path::PathBuf>,
    },
    /// Invite codes.
    Invites {
        #[command(subcommand)]
        command: InvitesCommand,
    },
    /// Members.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Send the weekly email digests that are due now (the server also does every ten minutes).
    Digests,
    /// Delete orphaned media and end stuck jobs once (what every API node does every
    /// `APP_SWEEP_INTERVAL_SECS`); prints what it did.
    Sweep {
        /// Count what would be deleted or ended; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum InvitesCommand {
    /// Mint codes; prints one per line.
    Mint {
        /// How many codes.
        #[arg(long)]
        count: i32,
        /// Uses per code.
        #[arg(long, default_value_t = 1)]
        max_uses: i32,
        /// Days until the codes expire.
        #[arg(long)]
        expires_in_days: Option<i64>,
        /// A note kept with the codes.
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// A new access-token signing key under the data folder; the old one keeps verifying the
    /// tokens it signed (restart every API node to take the new key). Prints the old and new
    /// key ids.
    RotateJwt,
    /// Prints the JSON Web Key Set of the configured access-token keys.
    Jwks,
    /// A new invisible-watermark key under the data folder; videos marked with the old one keep
    /// verifying (restart every API node and generator to take the new key).
    RotateWatermark,
    /// A new C2PA signer key and certificate under the local root; manifests signed before keep
    /// verifying (restart the generators to sign with it). Prints the new certificate.
    RenewC2pa,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create an admin; the password is read from standard input.
    CreateAdmin {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Username.
        #[arg(long)]
        username: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Schema { breaking_since } = &cli.command {
        return schema(breaking_since.as_deref());
    }
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let telemetry = telemetry::init("backend", &config.log);
    let code = match run(cli.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if let app_core::error::AppError::Internal(cause) = &e {
                eprintln!("cause: {cause:#}");
            }
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}

/// `backend schema [--breaking-since FILE]`.
fn schema(breaking_since: Option<&std::path::Path>) -> ExitCode {
    let Some(path) = breaking_since else {
        print!("{}", api::sdl());
        return ExitCode::SUCCESS;
    };
    let baseline = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot read {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    match api::evolution::breaking_changes(&baseline, &api::sdl()) {
        Ok(broken) if broken.is_empty() => {
            println!("no breaking change since {}", path.display());
            ExitCode::SUCCESS
        }
        Ok(broken) => {
            println!("{} breaking change(s) since {}:", broken.len(), path.display());
            for b in broken {
                println!("- {b}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

async fn run(command: Command, config: Config) -> Result<(), app_core::error::AppError> {
    match command {
        Command::Schema { .. } => Ok(()),
        Command::Serve => {
            let running = backend::app::start(&config).await?;
            let handle = running.handle.clone();
            let stop_workers = running.stop_workers.clone();
            let close_sockets = running.close_sockets.clone();
            tokio::spawn(async move {
                generator::setup::stop_signal().await;
                tracing::info!("stopping: no new connections, requests in flight finish, WebSockets close with 1012");
                let _ = stop_workers.send(true);
                // The listener stops first (the command is sent now), then the sockets are told.
                let stopped = handle.stop(true);
                let _ = close_sockets.send(true);
                stopped.await;
            });
            let served = running.task.await;
            // In-process workers finish, or hand back, the job in hand within the stop grace.
            let _ = running.stop_workers.send(true);
            for worker in running.workers {
                let _ = worker.await;
            }
            match served {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(app_core::error::AppError::internal("server", e)),
                Err(e) => Err(app_core::error::AppError::internal("server task", e)),
            }
        }
        Command::Migrate { down } => {
            std::fs::create_dir_all(&config.storage.data_dir)
                .map_err(|e| app_core::error::AppError::internal("data folder", e))?;
            let store = store::Store::connect(&config.effective_database_url(), 2).await?;
            match down {
                Some(n) => store.migrate_down(n).await?,
                None => store.migrate().await?,
            }
            eprintln!("migrations done");
            Ok(())
        }
        Command::Invites { command: InvitesCommand::Mint { count, max_uses, expires_in_days, note } } => {
            let services = backend::app::build_services(&config).await?;
            let expires_at = expires_in_days.map(|d| chrono::Utc::now() + chrono::Duration::days(d));
            let list = services.invites.mint_as(None, Mint { count, max_uses, expires_at, note }).await?;
            for i in list {
                println!("{}", i.code);
            }
            Ok(())
        }
        Command::Keys { command: KeysCommand::RotateJwt } => {
            let (old, new) = backend::app::rotate_jwt_key(&config)?;
            println!("retired {old}");
            println!("signing {new}");
            eprintln!(
                "restart every API node to sign with the new key; tokens signed with the old one verify until they expire"
            );
            Ok(())
        }
        Command::Keys { command: KeysCommand::RotateWatermark } => {
            let kept = backend::app::rotate_watermark_key(&config)?;
            println!("new watermark key in place; {kept} previous key(s) kept for checking older videos");
            eprintln!("restart every API node and generator: generators mark with the new key from then on");
            Ok(())
        }
        Command::Keys { command: KeysCommand::RenewC2pa } => {
            let cert = backend::app::renew_c2pa_signer(&config)?;
            print!("{cert}");
            eprintln!(
                "restart every generator (and the API nodes with in-process workers) to sign with the new certificate"
            );
            Ok(())
        }
        Command::Keys { command: KeysCommand::Jwks } => {
            let services = backend::app::build_services(&config).await?;
            println!("{}", services.deps.jwks());
            Ok(())
        }
        Command::Digests => {
            let services = backend::app::build_services(&config).await?;
            let n = services.push.send_digests().await?;
            println!("sent {n} weekly digests");
            Ok(())
        }
        Command::Sweep { dry_run } => {
            let sweeper = backend::app::build_sweeper(&config).await?;
            let r = sweeper.sweep(dry_run).await?;
            let verb = if dry_run { "would delete" } else { "deleted" };
            println!(
                "listed {} objects; {verb} {} ({} bytes); left {} younger than an hour and {} unknown keys; {} deletions failed",
                r.listed, r.deleted, r.deleted_bytes, r.too_young, r.unknown, r.failed
            );
            let verb = if dry_run { "would end" } else { "ended" };
            println!("{verb} {} stuck jobs", r.stuck_jobs);
            Ok(())
        }
        Command::Users { command: UsersCommand::CreateAdmin { email, username } } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| app_core::error::AppError::internal("stdin", e))?;
            let password = password.trim_end_matches(['\n', '\r']).to_owned();
            let services = backend::app::build_services(&config).await?;
            let user = services.accounts.create_admin(&email, &username, Secret::new(password)).await?;
            println!("{}", user.id);
            Ok(())
        }
    }
}
