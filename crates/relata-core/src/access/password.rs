//! Password hashing with Argon2id on a dedicated, low-priority thread.
//!
//! A hash costs tens of milliseconds of CPU and 19 MiB by design. Run on the blocking pool,
//! fifty concurrent logins took every core of a 2-core machine: the measured get-by-id
//! throughput fell to 5% of its baseline, the pool grew to its 512-thread cap and the process
//! to 1.3 GB. Here every hash and check waits in one bounded queue for one thread whose OS
//! priority is lowered (nice 10): sign-ins proceed at full speed on an idle server and yield
//! the CPU to other requests on a busy one, and memory stays at one hash's worth.
//!
//! The queue is also where the per-address login throttle is applied: a check for an address
//! over its limit is refused before it is computed, and a wrong password is counted right
//! after, on the same thread — so guesses sent concurrently cannot slip past the limit.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::sessions::LoginThrottle;
use crate::error::CoreError;

/// Checks and hashes waiting at most; past this a sign-in is asked to retry (429).
const QUEUE: usize = 256;

/// How far the hashing thread steps back for other work (Linux niceness, 0–19).
const NICENESS: i32 = 10;

/// OWASP's recommended Argon2id setting: 19 MiB, 2 passes, one lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password` under a fresh salt.
pub fn hash_blocking(password: &str) -> Result<String, CoreError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Internal(format!("password hashing failed: {e}")))
}

/// Whether `password` matches the stored PHC string (false for an unreadable one).
pub fn verify_blocking(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the account does not exist, so that an unknown email takes
/// as long to refuse as a wrong password (no account enumeration by timing).
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_blocking("decoy password, never valid").unwrap_or_default())
}

/// The address throttle a sign-in's check goes through.
pub(crate) struct Gate {
    pub throttle: Arc<LoginThrottle>,
    pub addr: String,
    pub limit: usize,
    pub now: DateTime<Utc>,
}

/// What a check answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Match,
    NoMatch,
    /// The address is over its limit: not checked. Retry after this many seconds.
    Throttled(u64),
}

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, CoreError>>,
    },
    Verify {
        password: String,
        stored: Option<String>,
        gate: Option<Gate>,
        reply: oneshot::Sender<Verdict>,
    },
}

/// The hashing thread's queue. The thread ends when the last handle is dropped.
pub(crate) struct Passwords {
    queue: SyncSender<Job>,
}

fn busy() -> CoreError {
    CoreError::TooManyRequests {
        code: "too_many_logins",
        message: "too many sign-ins at once; retry shortly".into(),
        retry_after_secs: 2,
    }
}

fn gone() -> CoreError {
    CoreError::Unavailable("the password thread has stopped".into())
}

impl Passwords {
    pub(crate) fn start() -> Passwords {
        let (queue, jobs) = sync_channel(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("relata-passwords".into())
            .spawn(move || work(jobs));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the password thread; sign-ins will fail");
        }
        Passwords { queue }
    }

    fn send(&self, job: Job) -> Result<(), CoreError> {
        self.queue.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => busy(),
            TrySendError::Disconnected(_) => gone(),
        })
    }

    pub(crate) async fn hash(&self, password: String) -> Result<String, CoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Hash { password, reply })?;
        answer.await.map_err(|_| gone())?
    }

    /// Checks `password` against `stored` (a decoy when there is none, for equal timing),
    /// through `gate` when it is a sign-in.
    pub(crate) async fn verify(
        &self,
        password: String,
        stored: Option<String>,
        gate: Option<Gate>,
    ) -> Result<Verdict, CoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Verify {
            password,
            stored,
            gate,
            reply,
        })?;
        answer.await.map_err(|_| gone())
    }
}

fn work(jobs: Receiver<Job>) {
    #[cfg(target_os = "linux")]
    {
        // this thread only (on Linux a thread is its own scheduling entity)
        let me = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(me), NICENESS) {
            tracing::warn!(error = %e, "cannot lower the password thread's priority");
        }
    }
    for job in jobs {
        match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_blocking(&password));
            }
            Job::Verify {
                password,
                stored,
                gate,
                reply,
            } => {
                if let Some(g) = &gate {
                    let (recent, oldest) = g.throttle.recent(&g.addr, g.now);
                    if recent >= g.limit {
                        let _ =
                            reply.send(Verdict::Throttled(LoginThrottle::wait_secs(oldest, g.now)));
                        continue;
                    }
                }
                let ok = match &stored {
                    Some(s) => verify_blocking(&password, s),
                    None => {
                        verify_blocking(&password, decoy_hash());
                        false
                    }
                };
                if !ok && let Some(g) = &gate {
                    g.throttle.fail(&g.addr, g.now);
                }
                let _ = reply.send(if ok { Verdict::Match } else { Verdict::NoMatch });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash_blocking("correct horse battery").unwrap();
        let b = hash_blocking("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify_blocking("correct horse battery", &a));
        assert!(!verify_blocking("correct horse battery!", &a));
        assert!(!verify_blocking("x", "not a phc string"));
    }

    #[tokio::test]
    async fn the_queue_throttles_an_address_exactly_even_when_guesses_arrive_together() {
        let passwords = Arc::new(Passwords::start());
        let throttle = Arc::new(LoginThrottle::default());
        let stored = hash_blocking("the right password").unwrap();
        let now = chrono::DateTime::UNIX_EPOCH;
        let mut guesses = Vec::new();
        for i in 0..6 {
            let (p, t, s) = (passwords.clone(), throttle.clone(), stored.clone());
            guesses.push(tokio::spawn(async move {
                let gate = Gate {
                    throttle: t,
                    addr: "10.0.0.9".into(),
                    limit: 3,
                    now,
                };
                p.verify(format!("guess {i}"), Some(s), Some(gate))
                    .await
                    .unwrap()
            }));
        }
        let mut verdicts = Vec::new();
        for g in guesses {
            verdicts.push(g.await.unwrap());
        }
        assert_eq!(
            verdicts.iter().filter(|v| **v == Verdict::NoMatch).count(),
            3,
            "{verdicts:?}"
        );
        assert_eq!(
            verdicts
                .iter()
                .filter(|v| matches!(v, Verdict::Throttled(_)))
                .count(),
            3
        );
        // the right password is not even checked now
        let gate = Gate {
            throttle: throttle.clone(),
            addr: "10.0.0.9".into(),
            limit: 3,
            now,
        };
        let v = passwords
            .verify(
                "the right password".into(),
                Some(stored.clone()),
                Some(gate),
            )
            .await
            .unwrap();
        assert!(matches!(v, Verdict::Throttled(_)));
        // another address is unaffected
        let gate = Gate {
            throttle,
            addr: "10.0.0.10".into(),
            limit: 3,
            now,
        };
        let v = passwords
            .verify("the right password".into(), Some(stored), Some(gate))
            .await
            .unwrap();
        assert_eq!(v, Verdict::Match);
    }
}
