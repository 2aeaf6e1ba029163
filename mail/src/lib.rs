//! Outgoing mail through lettre: SMTP in production, `.eml` files under `<data>/mail` by default.
//!
//! Architecture invariant: templates and transports only; callers decide when a mail is due.

use std::path::Path;

use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use app_core::error::{AppError, AppResult};

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// One `.eml` file per message in a folder.
    File(AsyncFileTransport<Tokio1Executor>),
    /// A real SMTP relay.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// A message ready to send.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// A link that unsubscribes the recipient with one `POST` (RFC 8058: sent as
    /// `List-Unsubscribe` with `List-Unsubscribe-Post: List-Unsubscribe=One-Click`), for mail
    /// that is not a reply to something the recipient did.
    pub unsubscribe: Option<String>,
}

/// Sends mail from one sender address.
#[derive(Clone)]
pub struct MailService {
    from: Mailbox,
    transport: Mailer,
    public_url: String,
}

impl MailService {
    /// SMTP when `smtp_url` is set, else files under `mail_dir`.
    pub fn new(from: &str, smtp_url: Option<&str>, mail_dir: &Path, public_url: &str) -> AppResult<Self> {
        let from: Mailbox = from.parse().map_err(|e| AppError::internal("mail_from", e))?;
        let transport = match smtp_url {
            Some(url) => Mailer::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| AppError::internal("smtp url", e))?
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(mail_dir).map_err(|e| AppError::internal("create mail folder", e))?;
                Mailer::File(AsyncFileTransport::<Tokio1Executor>::new(mail_dir))
            }
        };
        Ok(Self { from, transport, public_url: public_url.trim_end_matches('/').to_owned() })
    }

    /// Sends one message.
    pub async fn send(&self, mail: Mail) -> AppResult<()> {
        let to: Mailbox = mail.to.parse().map_err(|e| AppError::internal("mail recipient", e))?;
        let mut builder = Message::builder().from(self.from.clone()).to(to).subject(mail.subject);
        if let Some(link) = &mail.unsubscribe {
            builder = builder
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{link}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        let msg =
            builder.header(ContentType::TEXT_PLAIN).body(mail.body).map_err(|e| AppError::internal("build mail", e))?;
        match &self.transport {
            Mailer::File(t) => t.send(msg).await.map(|_| ()).map_err(|e| AppError::internal("write mail", e)),
            Mailer::Smtp(t) => t.send(msg).await.map(|_| ()).map_err(|e| AppError::internal("smtp send", e)),
        }
    }

    /// The email-verification message.
    pub fn verification(&self, to: &str, username: &str, token: &str) -> Mail {
        Mail {
            to: to.into(),
            subject: "Confirm your email".into(),
            body: format!(
                "Hi {username},\n\nConfirm your email address by opening this link:\n\n{}/verify-email?token={token}\n\nor by entering this code in the app:\n\ntoken: {token}\n\nIf you did not sign up, ignore this message.\n",
                self.public_url
            ),
            unsubscribe: None,
        }
    }

    /// The password-reset message.
    pub fn password_reset(&self, to: &str, token: &str, minutes: u64) -> Mail {
        Mail {
            to: to.into(),
            subject: "Reset your password".into(),
            body: format!(
                "Someone asked to reset the password of this account.\n\nOpen this link within {minutes} minutes to choose a new one:\n\n{}/reset-password?token={token}\n\ntoken: {token}\n\nResetting signs you out everywhere. If it was not you, ignore this message.\n",
                self.public_url
            ),
            unsubscribe: None,
        }
    }

    /// The waitlist grant: an invite code.
    pub fn waitlist_invite(&self, to: &str, code: &str) -> Mail {
        Mail {
            to: to.into(),
            subject: "You're in: your invite code".into(),
            body: format!(
                "Your spot on the waitlist came up.\n\nJoin with this link:\n\n{}/join?code={code}\n\ninvite code: {code}\n",
                self.public_url
            ),
            unsubscribe: None,
        }
    }
}

impl MailService {
    /// The weekly digest: a summary line, the newest notifications, and a link that turns the
    /// digest off without signing in.
    pub fn weekly_digest(&self, to: &str, username: &str, summary: &[String], lines: &[String], token: &str) -> Mail {
        let head = if summary.is_empty() {
            "Here is your week.".to_owned()
        } else {
            format!("This week: {}.", summary.join(", "))
        };
        let list = if lines.is_empty() { String::new() } else { format!("\n{}\n", lines.join("\n")) };
        Mail {
            to: to.into(),
            subject: "Your week on soravibe".into(),
            body: format!(
                "Hi {username},\n\n{head}\n{list}\nSee everything: {url}/notifications\n\nYou get this weekly email because you have no phone or browser set up for notifications. To stop it, open:\n\n{url}/unsubscribe?token={token}\n",
                url = self.public_url
            ),
            unsubscribe: Some(format!("{}/unsubscribe?token={token}", self.public_url)),
        }
    }
}

/// Whether `address` is a mail address the transport accepts (RFC 5321 syntax, as lettre reads it).
pub fn is_valid_address(address: &str) -> bool {
    address.parse::<lettre::Address>().is_ok()
}
