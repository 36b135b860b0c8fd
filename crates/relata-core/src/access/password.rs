//! Password hashing with Argon2id on a dedicated, low-priority thread.
//!
//! A hash costs tens of milliseconds of CPU and 19 MiB by design. Run on the blocking pool,
//! fifty concurrent logins took every core of a 2-core machine: the measured get-by-id
//! throughput fell to 5% of its baseline, the pool grew to its 512-thread cap and the process
//! to 1.3 GB. Here every hash and check waits in one bounded queue for one thread, and memory
//! stays at one hash's worth.
//!
//! At nice 10 that thread still cost other requests a quarter of their throughput (0.72–0.79×
//! under 50 logins on a 2-core machine): it hashed a core's worth in the moments between
//! requests, and a request arriving meanwhile waited for the rest of the thread's slice. So:
//! - it runs in the idle scheduling class, which any request thread preempts at once (see
//!   [`Standing`], which lifts it back to nice 10 when it is starved);
//! - it paces itself: after each hash it looks at how much CPU the rest of the process used
//!   meanwhile, and when that is more than half a core it rests for the hash's own CPU time
//!   times the cores the rest used — the busier the server, the longer the rest. On an idle
//!   server sign-ins run back to back.
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

/// How far the hashing thread steps back for other work where it cannot be SCHED_IDLE
/// (Linux niceness, 0–19).
const NICENESS: i32 = 10;

/// The rest of the process counts as busy when it used more than this share of one core
/// while a hash was computed.
const BUSY_SHARE: f64 = 0.5;

/// The longest rest, in hash times: a sign-in waits at most this much longer on a server
/// however busy.
const MAX_REST_CORES: f64 = 4.0;

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
    let mut standing = Standing::Idle;
    standing.take();
    for job in jobs {
        standing.review(std::time::Instant::now());
        let pace = Pace::start();
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
        standing.after_job(pace.wall.elapsed(), std::time::Instant::now());
        // after the answer is sent: the rest delays the next sign-in, not this one
        if let Some(rest) = pace.rest() {
            std::thread::sleep(rest);
        }
    }
}

/// How the hashing thread stands with the scheduler (Linux; elsewhere it keeps its priority).
///
/// SCHED_IDLE: a request thread waking up takes the core at once (a nice thread keeps it for
/// the rest of its slice, milliseconds, which every request waiting behind it paid). But an
/// idle-class thread runs only on a core nobody else wants: on a server busy on every core a
/// hash could wait for minutes. A hash that took longer than [`STARVED`] lifts the thread to
/// the normal class at nice 10 (a tenth of a core's share under contention) for
/// [`LIFTED_FOR`]; then it tries idle again.
enum Standing {
    Idle,
    Lifted { until: std::time::Instant },
}

/// A hash (tens of milliseconds of CPU) that took this long was starved of CPU.
const STARVED: std::time::Duration = std::time::Duration::from_secs(1);
/// How long the thread stays lifted after a starved hash.
const LIFTED_FOR: std::time::Duration = std::time::Duration::from_secs(60);

impl Standing {
    /// Takes the current standing for this thread.
    fn take(&self) {
        #[cfg(target_os = "linux")]
        {
            use thread_priority::{
                NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
                set_thread_priority_and_policy, thread_native_id,
            };
            let class = match self {
                Standing::Idle => NormalThreadSchedulePolicy::Idle,
                Standing::Lifted { .. } => NormalThreadSchedulePolicy::Other,
            };
            // this thread only (on Linux a thread is its own scheduling entity)
            let set = set_thread_priority_and_policy(
                thread_native_id(),
                ThreadPriority::Min,
                ThreadSchedulePolicy::Normal(class),
            );
            if let Err(e) = &set {
                tracing::debug!(error = ?e, "cannot set the password thread's scheduling class");
            }
            if matches!(self, Standing::Lifted { .. }) || set.is_err() {
                let me = rustix::thread::gettid();
                if let Err(e) = rustix::process::setpriority_process(Some(me), NICENESS) {
                    tracing::warn!(error = %e, "cannot lower the password thread's priority");
                }
            }
        }
    }

    /// After a job that took `wall`: a starved one lifts the thread to the normal class at
    /// nice 10 until a while after `now`.
    fn after_job(&mut self, wall: std::time::Duration, now: std::time::Instant) {
        if self.lifted_by(wall, now) {
            self.take();
        }
    }

    /// Before a job: back to idle once the lift has run its time.
    fn review(&mut self, now: std::time::Instant) {
        if self.lapsed_at(now) {
            self.take();
        }
    }

    /// The transition of [`Standing::after_job`]; whether the class changed.
    fn lifted_by(&mut self, wall: std::time::Duration, now: std::time::Instant) -> bool {
        if wall <= STARVED {
            return false;
        }
        let was_idle = matches!(self, Standing::Idle);
        if was_idle {
            tracing::info!("password hashing was starved of CPU; it runs at nice 10 for a minute");
        }
        *self = Standing::Lifted {
            until: now + LIFTED_FOR,
        };
        was_idle
    }

    /// The transition of [`Standing::review`]; whether the class changed.
    fn lapsed_at(&mut self, now: std::time::Instant) -> bool {
        match self {
            Standing::Lifted { until } if now >= *until => {
                *self = Standing::Idle;
                true
            }
            _ => false,
        }
    }
}

/// CPU time of this thread and of the whole process at the start of one job.
struct Pace {
    wall: std::time::Instant,
    thread: std::time::Duration,
    process: std::time::Duration,
}

impl Pace {
    fn start() -> Pace {
        Pace {
            wall: std::time::Instant::now(),
            thread: cpu_time(Clock::Thread),
            process: cpu_time(Clock::Process),
        }
    }

    /// How long to rest after the job (see the module's comment).
    fn rest(&self) -> Option<std::time::Duration> {
        let wall = self.wall.elapsed();
        let own = cpu_time(Clock::Thread).saturating_sub(self.thread);
        let others = cpu_time(Clock::Process)
            .saturating_sub(self.process)
            .saturating_sub(own);
        rest_for(own, others, wall)
    }
}

/// The rest after a job that took `own` CPU while the rest of the process used `others` over
/// `wall`: none unless the others used more than [`BUSY_SHARE`] of a core, else `own` times
/// the cores they used (at most [`MAX_REST_CORES`]).
fn rest_for(
    own: std::time::Duration,
    others: std::time::Duration,
    wall: std::time::Duration,
) -> Option<std::time::Duration> {
    if wall.is_zero() {
        return None;
    }
    let cores = others.as_secs_f64() / wall.as_secs_f64();
    (cores > BUSY_SHARE).then(|| own.mul_f64(cores.min(MAX_REST_CORES)))
}

enum Clock {
    Thread,
    Process,
}

/// CPU time used so far (zero where the platform cannot tell, which turns pacing off).
fn cpu_time(clock: Clock) -> std::time::Duration {
    #[cfg(target_os = "linux")]
    {
        use rustix::time::{ClockId, clock_gettime};
        let t = clock_gettime(match clock {
            Clock::Thread => ClockId::ThreadCPUTime,
            Clock::Process => ClockId::ProcessCPUTime,
        });
        std::time::Duration::new(
            t.tv_sec.max(0) as u64,
            t.tv_nsec.clamp(0, 999_999_999) as u32,
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = clock;
        std::time::Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_rests_only_while_the_rest_of_the_process_is_busy() {
        use std::time::Duration;
        let ms = Duration::from_millis;
        let rest_ms = |own, others, wall| {
            rest_for(ms(own), ms(others), ms(wall)).map(|d| d.as_secs_f64() * 1000.0)
        };
        let near = |got: Option<f64>, want: f64| got.is_some_and(|g| (g - want).abs() < 0.01);
        // a 30 ms hash over 40 ms of wall time
        assert_eq!(rest_ms(30, 10, 40), None, "a quarter of a core is not busy");
        assert!(near(rest_ms(30, 30, 40), 22.5), "three quarters of a core");
        assert!(near(rest_ms(30, 60, 40), 45.0), "one and a half cores");
        assert!(near(rest_ms(30, 800, 40), 120.0), "capped");
        assert_eq!(rest_for(ms(5), ms(5), Duration::ZERO), None);
        // the clocks advance with work done
        let before = cpu_time(Clock::Thread);
        let _ = hash_blocking("some work");
        assert!(cpu_time(Clock::Thread) > before);
        assert!(cpu_time(Clock::Process) >= cpu_time(Clock::Thread));
    }

    #[test]
    fn a_starved_hash_lifts_the_thread_for_a_while_and_then_it_is_idle_again() {
        use std::time::{Duration, Instant};
        let t0 = Instant::now();
        let mut standing = Standing::Idle;
        assert!(
            !standing.lifted_by(Duration::from_millis(900), t0),
            "not starved"
        );
        assert!(matches!(standing, Standing::Idle));
        assert!(
            standing.lifted_by(Duration::from_millis(1_500), t0),
            "starved"
        );
        assert!(!standing.lapsed_at(t0 + LIFTED_FOR / 2), "still lifted");
        // another starved hash while lifted extends the lift without changing the class
        let later = t0 + LIFTED_FOR / 2;
        assert!(!standing.lifted_by(Duration::from_secs(2), later));
        assert!(!standing.lapsed_at(t0 + LIFTED_FOR), "extended");
        assert!(standing.lapsed_at(later + LIFTED_FOR), "lapsed");
        assert!(matches!(standing, Standing::Idle));
        assert!(
            !standing.lapsed_at(later + LIFTED_FOR * 2),
            "idle stays idle"
        );
    }

    /// The class is really set on Linux: the kernel reports the idle policy for the thread.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_hashing_thread_runs_in_the_idle_class() {
        const SCHED_IDLE: &str = "5";
        let policy = std::thread::spawn(|| {
            Standing::Idle.take();
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            // fields after the command name (which ends with the last ')'); policy is field 41
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
            fields[41 - 3].to_owned()
        })
        .join()
        .unwrap();
        assert_eq!(policy, SCHED_IDLE);
    }

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
