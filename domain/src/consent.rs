//! Consent: whether a member may put a cameo into a video, now. The rule itself is pure
//! ([`decide`], over the facts that matter: the cameo's state and permission, blocks, the
//! owner's approval list and mutual follows); [`may_use`] gathers those facts from the store.
//!
//! Invariant: every path that puts a cameo into a video or keeps it there — submitting a job
//! ([`consented_cameos`]), finishing it and publishing it ([`uses_still_consented`]) — asks
//! this module, so the rule lives once. An unknown cameo id reads as not usable, never as
//! "does not exist".
//!
//! # The rule
//!
//! A cameo that is not `ACTIVE` may be used by no one, its owner included. The owner may always use
//! their own `ACTIVE` cameo. A member in a block with the owner, either way, may not, whatever the
//! permission; the refusal reads like the one for a cameo that does not exist, so the block is not
//! revealed. Anyone else by the permission as it is now:
//!
//! | permission | a member the owner approved | a mutual | anyone else |
//! | --- | --- | --- | --- |
//! | `ONLY_ME` | no | no | no |
//! | `APPROVED` | yes | no | no |
//! | `MUTUALS` | no | yes | no |
//! | `EVERYONE` | yes | yes | yes |
//!
//! A mutual follows the owner and is followed back, both now: an unfollow on either side, or a block
//! (which ends both follows), ends it. Approvals count only under `APPROVED` and are kept when the
//! permission changes.
//!
//! # When it is checked
//!
//! Three times, each against the cameo as it is at that moment (versions are recorded, not
//! compared: a change that still admits the author stops nothing already accepted):
//!
//! 1. At submit (`VideoService::create`, through [`consented_cameos`]): every id given and, for a
//!    remix, every cameo inherited from the source; the first refused answers `CONSENT_REQUIRED`
//!    naming it.
//! 2. When the job succeeds (`VideoService::apply_event`, [`uses_still_consented`] without the
//!    per-video approval): consent lapsed while it ran → the job ends `REJECTED`
//!    (`CONSENT_REQUIRED`), its files are deleted, no video exists. The worker never checks consent.
//! 3. At publish (`ModerationService::publish`, with the per-video approval): when the owner set
//!    `requireApproval`, each video by someone else needs `approveCameoAppearance` first.
//!
//! A revocation or a removed appearance does not wait for these: `CameoService` takes the videos
//! down and cancels live jobs at once.

use crate::Deps;
use app_core::age::BirthMonth;
use app_core::error::{AppError, AppResult};
use app_core::model::{Cameo, CameoPermission, CameoStatus, CameoUse};
use app_core::types::{CameoId, UserId};
use store::Store;

/// What the consent rule needs to know about a cameo and a member, beyond the cameo itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    /// The cameo's owner is a teen account today (`teens`).
    pub owner_teen: bool,
    /// Either has blocked the other.
    pub blocked_either: bool,
    /// The owner put the member on the cameo's approved list.
    pub approved: bool,
    /// Each follows the other.
    pub mutuals: bool,
}

/// The consent rule: Ok when `user` may use `cameo` given `rel`, else the reason (naming the
/// cameo) in words the member understands.
pub fn decide(cameo: &Cameo, user: UserId, rel: Relation) -> Result<(), String> {
    if cameo.status != CameoStatus::Active {
        let why = match cameo.status {
            CameoStatus::PendingReview => "is not verified yet",
            CameoStatus::Rejected => "was not verified",
            _ => "was withdrawn by its owner",
        };
        return Err(format!("the cameo \"{}\" {why}", cameo.name));
    }
    if cameo.owner_id == user {
        return Ok(());
    }
    // A block either way ends every permission, whatever the cameo says.
    if rel.blocked_either {
        return Err(format!("the cameo \"{}\" is not available to you", cameo.name));
    }
    // A teen's cameo: approved and mutual, whatever the permission says (never everyone).
    if rel.owner_teen {
        if cameo.permission != CameoPermission::OnlyMe && rel.approved && rel.mutuals {
            return Ok(());
        }
        return Err(format!(
            "the cameo \"{}\" belongs to a teen account: only mutuals they approved may use it",
            cameo.name
        ));
    }
    let allowed = match cameo.permission {
        CameoPermission::Everyone => true,
        CameoPermission::Approved => rel.approved,
        CameoPermission::Mutuals => rel.mutuals,
        CameoPermission::OnlyMe => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(format!("the owner of the cameo \"{}\" has not allowed you to use it", cameo.name))
    }
}

/// The facts [`decide`] needs, read from the store (only those the cameo's permission asks for).
async fn relation(store: &Store, cameo: &Cameo, user: UserId, adult_cutoff: Option<BirthMonth>) -> AppResult<Relation> {
    if cameo.status != CameoStatus::Active || cameo.owner_id == user {
        return Ok(Relation::default());
    }
    if store.blocked_either(cameo.owner_id, user).await? {
        return Ok(Relation { blocked_either: true, ..Relation::default() });
    }
    let owner_teen = match adult_cutoff {
        Some(cutoff) => store.user(cameo.owner_id).await?.and_then(|o| o.birth_month).is_some_and(|m| m > cutoff),
        None => false,
    };
    if owner_teen {
        let mutuals = store.follows(cameo.owner_id, user).await? && store.follows(user, cameo.owner_id).await?;
        let approved = mutuals && store.is_cameo_approved(cameo.id, user).await?;
        return Ok(Relation { owner_teen, approved, mutuals, blocked_either: false });
    }
    Ok(match cameo.permission {
        CameoPermission::Approved => {
            Relation { approved: store.is_cameo_approved(cameo.id, user).await?, ..Relation::default() }
        }
        // Mutuals: each follows the other, now.
        CameoPermission::Mutuals => Relation {
            mutuals: store.follows(cameo.owner_id, user).await? && store.follows(user, cameo.owner_id).await?,
            ..Relation::default()
        },
        CameoPermission::Everyone | CameoPermission::OnlyMe => Relation::default(),
    })
}

/// Whether `user` may put `cameo` into a video now; the reason when not.
pub async fn may_use(deps: &Deps, cameo: &Cameo, user: UserId) -> AppResult<Result<(), String>> {
    Ok(decide(cameo, user, relation(&deps.store, cameo, user, deps.adult_cutoff()).await?))
}

/// The cameos `ids` if `user` may use every one of them now; `CONSENT_REQUIRED` naming the first
/// that they may not (an unknown id reads as not usable, never as "does not exist").
pub async fn consented_cameos(deps: &Deps, user: UserId, ids: &[CameoId]) -> AppResult<Vec<Cameo>> {
    let found = deps.store.cameos(ids).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(cameo) = found.iter().find(|c| c.id == *id) else {
            return Err(AppError::ConsentRequired(format!("the cameo {id} is not available to you")));
        };
        if let Err(why) = may_use(deps, cameo, user).await? {
            return Err(AppError::ConsentRequired(why));
        }
        out.push(cameo.clone());
    }
    Ok(out)
}

/// Whether every cameo recorded for a video still consents to its author now (and, where the
/// owner asked for it, approved this use): the cameos when they do, the reason when not.
pub async fn uses_still_consented(
    deps: &Deps,
    author: UserId,
    uses: &[CameoUse],
    need_owner_approval: bool,
) -> AppResult<Result<Vec<Cameo>, String>> {
    let ids: Vec<CameoId> = uses.iter().map(|u| u.cameo_id).collect();
    let found = if ids.is_empty() { Vec::new() } else { deps.store.cameos(&ids).await? };
    for u in uses {
        let Some(cameo) = found.iter().find(|c| c.id == u.cameo_id) else {
            return Ok(Err(format!("the cameo {} no longer exists", u.cameo_id)));
        };
        if let Err(why) = may_use(deps, cameo, author).await? {
            return Ok(Err(why));
        }
        if need_owner_approval && cameo.require_approval && cameo.owner_id != author && u.owner_approved_at.is_none() {
            return Ok(Err(format!("the owner of the cameo \"{}\" has not approved this video yet", cameo.name)));
        }
    }
    Ok(Ok(found))
}

/// The `@handle`s a prompt names, lowercased, in order, once each: `@` at the start or after a
/// character that is not a letter, digit, `_` or `.` (so an address like `bob@example.com` is not
/// one), then 3–30 letters, digits, `_` or `.` (a final `.` ends a sentence, not the handle).
pub fn handles_in(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let is_handle_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let starts = c == '@' && (i == 0 || chars.get(i - 1).is_none_or(|p| !is_handle_char(*p) && *p != '@'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while chars.get(j).is_some_and(|c| is_handle_char(*c)) {
            j += 1;
        }
        let handle: String = chars.get(i + 1..j).unwrap_or(&[]).iter().collect();
        let handle = handle.trim_end_matches('.').to_lowercase();
        let n = handle.chars().count();
        if (3..=30).contains(&n) && handle.starts_with(|c: char| c.is_ascii_alphanumeric()) && !out.contains(&handle) {
            out.push(handle);
        }
        i = j.max(i + 1);
    }
    out
}

/// The cameo each `@handle` of `handles` names for `user`: the member with that handle's newest
/// active cameo that `user` may use now. A handle naming no member, or a member with no cameo
/// `user` may use, answers `CONSENT_REQUIRED`, as an unusable cameo id does.
pub async fn cameos_by_handle(deps: &Deps, user: UserId, handles: &[String]) -> AppResult<Vec<CameoId>> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        let not_available = || AppError::ConsentRequired(format!("no cameo @{handle} is available to you"));
        let Some(owner) = deps.store.user_by_username(handle).await? else { return Err(not_available()) };
        if owner.banned_at.is_some() {
            return Err(not_available());
        }
        let mut chosen = None;
        for cameo in deps.store.cameos_of(owner.id).await? {
            if cameo.status == CameoStatus::Active && may_use(deps, &cameo, user).await?.is_ok() {
                chosen = Some(cameo.id);
                break;
            }
        }
        out.push(chosen.ok_or_else(not_available)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cameo(owner: UserId, permission: CameoPermission, status: CameoStatus) -> Cameo {
        Cameo {
            id: CameoId::new(),
            owner_id: owner,
            name: "Ada".into(),
            permission,
            restrictions: None,
            status,
            clip_key: "k".into(),
            challenge_phrase: "p".into(),
            consent_version: 1,
            require_approval: false,
            reference: vec![],
            clip_duration_ms: 3000,
            review_note: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            revoked_at: None,
        }
    }

    #[test]
    fn an_ended_cameos_clip_is_kept_for_thirty_days() {
        let now = chrono::Utc::now();
        let days = |n| now - chrono::Duration::days(n);
        for status in [CameoStatus::PendingReview, CameoStatus::Active] {
            let mut c = cameo(UserId::new(), CameoPermission::OnlyMe, status);
            c.updated_at = days(400);
            assert!(c.clip_kept(now), "{status:?}");
        }
        let mut rejected = cameo(UserId::new(), CameoPermission::OnlyMe, CameoStatus::Rejected);
        rejected.updated_at = days(29);
        assert!(rejected.clip_kept(now));
        rejected.updated_at = days(31);
        assert!(!rejected.clip_kept(now));
        // A revoked cameo counts from its revocation, not its last change.
        let mut revoked = cameo(UserId::new(), CameoPermission::Everyone, CameoStatus::Revoked);
        revoked.updated_at = days(60);
        revoked.revoked_at = Some(days(2));
        assert!(revoked.clip_kept(now));
        revoked.revoked_at = Some(days(31));
        assert!(!revoked.clip_kept(now));
    }

    const NONE: Relation = Relation { owner_teen: false, blocked_either: false, approved: false, mutuals: false };
    const BLOCKED: Relation = Relation { blocked_either: true, approved: true, mutuals: true, owner_teen: false };
    const APPROVED: Relation = Relation { approved: true, ..NONE };
    const MUTUALS: Relation = Relation { mutuals: true, ..NONE };

    /// The consent matrix: permission × relation → allowed, for someone who is not the owner.
    #[test]
    fn the_consent_matrix() {
        use CameoPermission::*;
        let owner = UserId::new();
        let other = UserId::new();
        let cases = [
            (Everyone, NONE, true),
            (Everyone, BLOCKED, false),
            (Approved, NONE, false),
            (Approved, APPROVED, true),
            (Approved, MUTUALS, false),
            (Approved, BLOCKED, false),
            (Mutuals, NONE, false),
            (Mutuals, MUTUALS, true),
            (Mutuals, APPROVED, false),
            (Mutuals, BLOCKED, false),
            (OnlyMe, NONE, false),
            (OnlyMe, Relation { approved: true, mutuals: true, ..NONE }, false),
        ];
        for (permission, rel, allowed) in cases {
            let c = cameo(owner, permission, CameoStatus::Active);
            assert_eq!(decide(&c, other, rel).is_ok(), allowed, "{permission:?} with {rel:?}");
        }
    }

    /// A teen's cameo: approved and mutual, under every permission but `ONLY_ME`; a block still
    /// wins and reads as for an adult's cameo.
    #[test]
    fn the_teen_consent_matrix() {
        use CameoPermission::*;
        let owner = UserId::new();
        let other = UserId::new();
        let teen = |approved, mutuals| Relation { owner_teen: true, approved, mutuals, blocked_either: false };
        for permission in [Everyone, Mutuals, Approved] {
            for (rel, allowed) in [
                (teen(false, false), false),
                (teen(true, false), false),
                (teen(false, true), false),
                (teen(true, true), true),
            ] {
                let c = cameo(owner, permission, CameoStatus::Active);
                assert_eq!(decide(&c, other, rel).is_ok(), allowed, "teen {permission:?} with {rel:?}");
            }
        }
        let only_me = cameo(owner, OnlyMe, CameoStatus::Active);
        assert!(decide(&only_me, other, teen(true, true)).is_err());
        assert!(decide(&only_me, owner, teen(false, false)).is_ok(), "the teen may use their own");
        let err = decide(&cameo(owner, Everyone, CameoStatus::Active), other, teen(true, false)).unwrap_err();
        assert!(err.contains("teen account"), "{err}");
        let blocked = Relation { owner_teen: true, ..BLOCKED };
        assert_eq!(
            decide(&cameo(owner, Everyone, CameoStatus::Active), other, blocked).unwrap_err(),
            "the cameo \"Ada\" is not available to you"
        );
    }

    #[test]
    fn the_owner_may_always_use_an_active_cameo() {
        let owner = UserId::new();
        for p in
            [CameoPermission::Everyone, CameoPermission::Approved, CameoPermission::Mutuals, CameoPermission::OnlyMe]
        {
            assert!(decide(&cameo(owner, p, CameoStatus::Active), owner, NONE).is_ok());
        }
    }

    #[test]
    fn an_inactive_cameo_is_usable_by_nobody_and_says_why() {
        let owner = UserId::new();
        for (status, why) in [
            (CameoStatus::PendingReview, "is not verified yet"),
            (CameoStatus::Rejected, "was not verified"),
            (CameoStatus::Revoked, "was withdrawn by its owner"),
        ] {
            let c = cameo(owner, CameoPermission::Everyone, status);
            let err = decide(&c, owner, NONE).unwrap_err();
            assert!(err.contains(why) && err.contains("Ada"), "{err}");
            assert!(decide(&c, UserId::new(), APPROVED).is_err());
        }
    }

    #[test]
    fn refusals_name_the_cameo_without_revealing_a_block() {
        let c = cameo(UserId::new(), CameoPermission::Everyone, CameoStatus::Active);
        let err = decide(&c, UserId::new(), BLOCKED).unwrap_err();
        assert_eq!(err, "the cameo \"Ada\" is not available to you");
    }

    #[test]
    fn handles_are_read_from_prompts() {
        assert_eq!(handles_in("@Ann and @bob_2 dancing with @ann."), ["ann", "bob_2"]);
        assert_eq!(handles_in("mail bob@example.com about @al"), Vec::<String>::new());
        assert_eq!(handles_in("(@cara.lee) at a party, @x, @@dan"), ["cara.lee"]);
        assert_eq!(handles_in("no handles here"), Vec::<String>::new());
    }
}
