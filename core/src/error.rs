//! The one error enum of the service. Each variant is a client-visible code; internal causes
//! are logged where they are mapped and never sent to clients.

/// Every way a request can be refused.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No valid sign-in.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The thing does not exist (or the caller may not know it does).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Input that cannot be accepted; `field` names the argument when there is one.
    #[error("{message}")]
    BadUserInput {
        /// What is wrong, in words a user can act on.
        message: String,
        /// The input field at fault.
        field: Option<&'static str>,
    },
    /// A bad, used-up, expired or revoked invite code (deliberately not saying which).
    #[error("this invite code cannot be used")]
    InviteInvalid,
    /// Too many requests; try again after the given seconds.
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// The content breaks the policy; `reasons` name each category and what to change.
    #[error("this text breaks the content policy")]
    PolicyViolation {
        /// One line per broken rule.
        reasons: Vec<String>,
    },
    /// The publish gate refused: `check` names the failed check (`VERDICT`, `WATERMARK`,
    /// `MANIFEST`, `CONSENT`), `reason` says what was found.
    #[error("this video cannot be published: {reason}")]
    PublishRefused {
        /// Which check failed.
        check: PublishCheck,
        /// What it found.
        reason: String,
    },
    /// A cameo in the request may not be used (now) by this member; the message names it.
    #[error("{0}")]
    ConsentRequired(String),
    /// The request conflicts with the current state (a taken username, say).
    #[error("{0}")]
    Conflict(String),
    /// A feed cursor whose ranked list has expired: load the feed again from the top.
    #[error("this feed page has expired; load the feed again from the top")]
    CursorExpired,
    /// A dependency the operation needs does not answer (Redis, say): nothing was changed; try
    /// again after the given seconds. The cause is logged where it is mapped.
    #[error("{what} is unavailable for a moment; try again in {retry_after_secs} s")]
    Unavailable {
        /// What the member was asking for ("the feed").
        what: &'static str,
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// A daily limit is used up (a teen's feed time, or a member's own): nothing more until
    /// `resets_at`.
    #[error("{message}")]
    LimitReached {
        /// What is used up and when it opens again, in words.
        message: String,
        /// When the limit resets (the member's next midnight).
        resets_at: chrono::DateTime<chrono::Utc>,
    },
    /// Anything else: logged with its cause, reported to the client only as INTERNAL.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// The publish gate's checks: `extensions.check` of a `PUBLISH_REFUSED` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishCheck {
    /// The frame check's verdict, or the video's status, does not allow publishing.
    Verdict,
    /// The stored file does not carry this video's invisible watermark (or does not decode).
    Watermark,
    /// The stored file's C2PA manifest is missing, invalid, untrusted or names another video.
    Manifest,
    /// In the contract's list but not raised: consent at publish answers `CONSENT_REQUIRED`.
    Consent,
}

impl PublishCheck {
    /// The client-visible spelling (`extensions.check`).
    pub fn as_str(self) -> &'static str {
        match self {
            PublishCheck::Verdict => "VERDICT",
            PublishCheck::Watermark => "WATERMARK",
            PublishCheck::Manifest => "MANIFEST",
            PublishCheck::Consent => "CONSENT",
        }
    }
}

impl std::fmt::Display for PublishCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AppError {
    /// The stable `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::BadUserInput { .. } => "BAD_USER_INPUT",
            AppError::InviteInvalid => "INVITE_INVALID",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::PolicyViolation { .. } => "POLICY_VIOLATION",
            AppError::PublishRefused { .. } => "PUBLISH_REFUSED",
            AppError::ConsentRequired(_) => "CONSENT_REQUIRED",
            AppError::Conflict(_) => "CONFLICT",
            AppError::CursorExpired => "CURSOR_EXPIRED",
            AppError::Unavailable { .. } => "UNAVAILABLE",
            AppError::LimitReached { .. } => "LIMIT_REACHED",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    /// Shorthand for a bad input on a named field.
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        AppError::BadUserInput { message: message.into(), field: Some(field) }
    }

    /// Shorthand for an internal failure with context.
    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        AppError::Internal(anyhow::anyhow!("{context}: {e}"))
    }
}

/// Seconds a client waits before trying again when the database does not answer: about what a
/// restart of PostgreSQL takes.
#[cfg(feature = "db")]
pub const DATABASE_RETRY_SECS: u64 = 3;

#[cfg(feature = "db")]
impl From<sea_orm::DbErr> for AppError {
    /// A database that cannot be reached (restarting, connections cut, pool exhausted) is
    /// `UNAVAILABLE` with a time to retry, its cause logged; any other database error is
    /// `INTERNAL`.
    fn from(e: sea_orm::DbErr) -> Self {
        if database_unreachable(&e) {
            tracing::warn!(error = %e, "the database does not answer");
            return AppError::Unavailable { what: "the service", retry_after_secs: DATABASE_RETRY_SECS };
        }
        AppError::Internal(anyhow::Error::new(e).context("database"))
    }
}

/// Whether `e` says the database could not be reached rather than refused the statement: no
/// connection in the pool in time, none could be opened (refused, or turned away by the server:
/// starting up, the database gone), a connection that broke (I/O, TLS, protocol), or PostgreSQL's
/// connection-exception class `08` and its shutdown and start-up codes (`57P01`–`57P03`).
#[cfg(feature = "db")]
pub fn database_unreachable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        // No connection could be had or made, whatever the server said.
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(x)) | DbErr::Query(RuntimeErr::SqlxError(x)) => match x.as_ref() {
            Sqlx::Io(_)
            | Sqlx::Tls(_)
            | Sqlx::Protocol(_)
            | Sqlx::PoolTimedOut
            | Sqlx::PoolClosed
            | Sqlx::WorkerCrashed => true,
            Sqlx::Database(d) => {
                d.code().is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03"))
            }
            _ => false,
        },
        _ => false,
    }
}

/// Result alias used by domain services.
pub type AppResult<T> = Result<T, AppError>;
