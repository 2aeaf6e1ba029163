//! Plain domain records: what services reason about. No SQL, HTTP or GraphQL types.

use chrono::{DateTime, Utc};

use crate::types::{InviteId, UserId};

/// Roles, in increasing power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// A member.
    User,
    /// Works the review queue; may ban.
    Moderator,
    /// Everything, including roles and invites.
    Admin,
}

impl Role {
    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "USER",
            Role::Moderator => "MODERATOR",
            Role::Admin => "ADMIN",
        }
    }
    /// Reads the stored spelling; anything unknown is the least powerful role.
    pub fn from_stored(s: &str) -> Role {
        match s {
            "ADMIN" => Role::Admin,
            "MODERATOR" => Role::Moderator,
            _ => Role::User,
        }
    }
}

/// A member as the rules see them.
#[derive(Debug, Clone)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Lower-cased address.
    pub email: String,
    /// Handle as typed at sign-up (unique ignoring case).
    pub username: String,
    /// Optional display name.
    pub display_name: Option<String>,
    /// Role.
    pub role: Role,
    /// When the address was confirmed.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// When the member was banned.
    pub banned_at: Option<DateTime<Utc>>,
    /// Why.
    pub ban_reason: Option<String>,
    /// Who invited them: the code's owner, or the admin who minted or granted it (none for
    /// command-line admins and command-line codes).
    pub invited_by: Option<UserId>,
    /// When they joined.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// Whether the member is banned.
    pub fn is_banned(&self) -> bool {
        self.banned_at.is_some()
    }
}

/// An invite code.
#[derive(Debug, Clone)]
pub struct Invite {
    /// Id.
    pub id: InviteId,
    /// The normalised (upper-case) code.
    pub code: String,
    /// The member whose quota it belongs to.
    pub owner_id: Option<UserId>,
    /// The admin who minted it.
    pub created_by: Option<UserId>,
    /// Redemptions allowed.
    pub max_uses: i32,
    /// Redemptions so far.
    pub uses: i32,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revocation.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Admin's note.
    pub note: Option<String>,
    /// Creation.
    pub created_at: DateTime<Utc>,
}

impl Invite {
    /// Redemptions left (never negative).
    pub fn uses_left(&self) -> i32 {
        (self.max_uses - self.uses).max(0)
    }
}
