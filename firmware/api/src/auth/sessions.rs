//! The administrator's browser sessions, in memory (a restart logs everyone out).
//!
//! The browser holds a random token in a cookie; the server keeps only its SHA-256, so
//! a memory dump or a log line shows no usable cookie. Each session has its own CSRF
//! token, which the page reads from `GET /api/v1/session` and sends back in
//! `X-CSRF-Token` with every change (a cross-site form can send the cookie, never
//! that header). A session ends after [`IDLE`] without use, [`ABSOLUTE`] after login
//! whatever its use, at logout, or when the password changes; at most [`MAX_SESSIONS`]
//! exist (a new login drops the oldest).

use super::secrets;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

pub(crate) const MAX_SESSIONS: usize = 16;
pub(crate) const IDLE: Duration = Duration::from_secs(8 * 3600);
pub(crate) const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);

/// Which session a request belongs to: its token's digest (never the token).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionKey(pub(crate) [u8; 32]);

struct Session {
    key: SessionKey,
    csrf: String,
    created: Instant,
    last_used: Instant,
}

impl Session {
    fn alive(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.created) < ABSOLUTE
            && now.saturating_duration_since(self.last_used) < IDLE
    }
}

/// A new session as its creator sees it once.
pub(crate) struct NewSession {
    /// For the cookie.
    pub token: String,
    pub csrf: String,
}

#[derive(Default)]
pub(crate) struct Sessions {
    list: Vec<Session>,
    /// Bumped whenever every session (but perhaps the caller's) is ended: a login that
    /// began before cannot be trusted to know the password in force (see
    /// [`Sessions::create_unless_ended`]).
    epoch: u64,
}

impl Sessions {
    /// The current epoch: read it before checking a password, give it to
    /// [`create_unless_ended`](Self::create_unless_ended).
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// A new session, unless every session was ended since `epoch` was read (the
    /// password changed, or the box was reset, while the login checked the password).
    pub(crate) fn create_unless_ended(&mut self, epoch: u64, now: Instant) -> Option<NewSession> {
        (self.epoch == epoch).then(|| self.create(now))
    }

    pub(crate) fn create(&mut self, now: Instant) -> NewSession {
        self.list.retain(|s| s.alive(now));
        while self.list.len() >= MAX_SESSIONS {
            // The list is in creation order.
            self.list.remove(0);
        }
        let token = secrets::token();
        let csrf = secrets::token();
        self.list.push(Session {
            key: SessionKey(secrets::digest(&token)),
            csrf: csrf.clone(),
            created: now,
            last_used: now,
        });
        NewSession { token, csrf }
    }

    /// The session of a cookie's token, if it is alive (it then counts as used); its
    /// key and CSRF token. A dead one is dropped.
    pub(crate) fn find(&mut self, token: &str, now: Instant) -> Option<(SessionKey, String)> {
        let digest = secrets::digest(token);
        // Compared in constant time, though a digest of a guess says little anyway.
        let index = self
            .list
            .iter()
            .position(|s| bool::from(s.key.0.ct_eq(&digest)))?;
        if !self.list[index].alive(now) {
            self.list.remove(index);
            return None;
        }
        let session = &mut self.list[index];
        session.last_used = now;
        Some((session.key, session.csrf.clone()))
    }

    /// Whether the session is still alive, without counting this as a use.
    pub(crate) fn alive(&self, key: SessionKey, now: Instant) -> bool {
        self.list.iter().any(|s| s.key == key && s.alive(now))
    }

    pub(crate) fn end(&mut self, key: SessionKey) -> bool {
        let before = self.list.len();
        self.list.retain(|s| s.key != key);
        self.list.len() != before
    }

    /// Ends every session but `keep`; returns how many ended.
    pub(crate) fn end_all_but(&mut self, keep: Option<SessionKey>) -> usize {
        self.epoch += 1;
        let before = self.list.len();
        self.list.retain(|s| Some(s.key) == keep);
        before - self.list.len()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.list.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_token_only() {
        let mut s = Sessions::default();
        let now = Instant::now();
        let a = s.create(now);
        let b = s.create(now);
        assert_ne!(a.token, b.token);
        assert_ne!(a.csrf, b.csrf);
        let (key, csrf) = s.find(&a.token, now).expect("a");
        assert_eq!(csrf, a.csrf);
        assert_eq!(key.0, secrets::digest(&a.token));
        assert!(
            s.find(&a.csrf, now).is_none(),
            "the CSRF token is no cookie"
        );
        assert!(s.find("", now).is_none());
        assert!(s.end(key));
        assert!(s.find(&a.token, now).is_none());
        assert!(s.find(&b.token, now).is_some());
    }

    #[test]
    fn idle_and_absolute_timeouts() {
        let mut s = Sessions::default();
        let start = Instant::now();
        let a = s.create(start);
        // Used every 7 hours, it lives until 12 h after login.
        for hours in [7, 14 - 3] {
            let at = start + Duration::from_secs(hours * 3600);
            assert!(s.find(&a.token, at).is_some(), "used at {hours} h");
        }
        assert!(
            s.find(&a.token, start + ABSOLUTE).is_none(),
            "12 h after login"
        );
        assert_eq!(s.len(), 0, "a dead session is dropped");

        let b = s.create(start);
        assert!(
            s.find(&b.token, start + IDLE - Duration::from_secs(1))
                .is_some()
        );
        let c = s.create(start);
        assert!(s.find(&c.token, start + IDLE).is_none(), "8 h without use");
    }

    #[test]
    fn at_most_sixteen_the_oldest_goes() {
        let mut s = Sessions::default();
        let now = Instant::now();
        let all: Vec<NewSession> = (0..MAX_SESSIONS + 2).map(|_| s.create(now)).collect();
        assert_eq!(s.len(), MAX_SESSIONS);
        assert!(s.find(&all[0].token, now).is_none());
        assert!(s.find(&all[1].token, now).is_none());
        assert!(s.find(&all[2].token, now).is_some());
        assert!(s.find(&all[MAX_SESSIONS + 1].token, now).is_some());
    }

    #[test]
    fn ending_all_but_one() {
        let mut s = Sessions::default();
        let now = Instant::now();
        let a = s.create(now);
        let b = s.create(now);
        let c = s.create(now);
        let (keep, _) = s.find(&b.token, now).unwrap();
        assert_eq!(s.end_all_but(Some(keep)), 2);
        assert!(s.find(&a.token, now).is_none());
        assert!(s.find(&c.token, now).is_none());
        assert!(s.find(&b.token, now).is_some());
        assert_eq!(s.end_all_but(None), 1);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn a_login_that_began_before_all_sessions_ended_gets_none() {
        let mut s = Sessions::default();
        let now = Instant::now();
        let before = s.epoch();
        let kept = s.create(now);
        let (key, _) = s.find(&kept.token, now).unwrap();
        assert!(s.alive(key, now));
        s.end_all_but(Some(key));
        assert!(s.alive(key, now), "the changer's own session stays");
        assert!(s.create_unless_ended(before, now).is_none());
        let after = s.epoch();
        let new = s.create_unless_ended(after, now).expect("a fresh login");
        assert!(s.find(&new.token, now).is_some());
        assert!(s.end(key));
        assert!(!s.alive(key, now));
        assert!(!s.alive(key, now + ABSOLUTE), "nor later");
    }
}
