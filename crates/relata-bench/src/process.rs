//! Child processes the benchmark drives: servers (Relata and the bare handler), wrk, and the
//! facts read from /proc (RSS, machine).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::results::{Latency, Machine};

/// A free port on 127.0.0.1 (bound, then released for the child to take).
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// A server running as a child process; killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub spawned: Instant,
    pub log: PathBuf,
}

impl Server {
    /// Starts `cmd` (which must listen on `addr`), its output going to `log`.
    pub fn spawn(mut cmd: Command, addr: SocketAddr, log: &Path) -> anyhow::Result<Server> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let spawned = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
        Ok(Server {
            child: Some(child),
            addr,
            spawned,
            log: log.to_owned(),
        })
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Polls `path` until it answers 200; returns the time since the process was spawned.
    pub async fn wait_ready(
        &mut self,
        http: &reqwest::Client,
        path: &str,
        limit: Duration,
    ) -> anyhow::Result<Duration> {
        let url = format!("{}{path}", self.base());
        loop {
            let ok = http
                .get(&url)
                .timeout(Duration::from_secs(1))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return Ok(self.spawned.elapsed());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "the server exited ({status}) before it was ready; see {}",
                    self.log.display()
                );
            }
            if self.spawned.elapsed() > limit {
                bail!(
                    "the server was not ready within {limit:?}; see {}",
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Resident and peak resident memory of the process, in MB.
    pub fn memory_mb(&self) -> anyhow::Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kb = |key: &str| -> anyhow::Result<f64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(key))
                .with_context(|| format!("no {key} in /proc status"))?;
            let n: f64 = line
                .split_whitespace()
                .nth(1)
                .context("malformed /proc status")?
                .parse()?;
            Ok(n / 1024.0)
        };
        Ok((kb("VmRSS:")?, kb("VmHWM:")?))
    }

    /// Threads of the process (its async workers plus its blocking pool), from /proc.
    pub fn threads(&self) -> Option<u64> {
        self.status_number("Threads:").map(|n| n as u64)
    }

    /// The first number on the line of `/proc/PID/status` that starts with `key`.
    fn status_number(&self, key: &str) -> Option<f64> {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix(key))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// `kill -9`: the process gets no chance to flush, finish or say goodbye.
    pub fn crash(mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?; // SIGKILL on Unix
            child.wait()?;
        }
        Ok(())
    }

    /// Anonymous resident memory (heap and stacks, not mapped files such as SQLite's
    /// memory-mapped database), in MB: what a leak grows.
    pub fn anon_mb(&self) -> Option<f64> {
        self.status_number("RssAnon:").map(|kb| kb / 1024.0)
    }

    /// SIGTERM, then wait up to `grace` for a clean exit before killing.
    pub fn stop(mut self, grace: Duration) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < grace {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill()?;
        child.wait()?;
        bail!("the server did not stop within {grace:?}; killed it")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One wrk run: `connections` over `threads` for `seconds`, rotating over `lines`.
#[derive(Debug, Clone)]
pub struct Wrk {
    pub script: PathBuf,
    pub threads: u32,
    pub connections: u32,
    pub seconds: u32,
    pub lines: PathBuf,
    pub token: String,
    /// POST each line as a JSON body to this path (else GET each line as a path).
    pub post_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WrkErrors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub status: u64,
    pub timeout: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WrkLatency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WrkResult {
    pub requests: u64,
    pub duration_us: u64,
    pub errors: WrkErrors,
    pub latency_us: WrkLatency,
}

impl WrkResult {
    /// Successful (2xx/3xx) requests per second.
    pub fn ok_per_second(&self) -> f64 {
        let e = &self.errors;
        let bad = e.status + e.timeout + e.read + e.write + e.connect;
        self.requests.saturating_sub(bad) as f64 / (self.duration_us as f64 / 1e6).max(1e-9)
    }

    pub fn error_count(&self) -> u64 {
        let e = &self.errors;
        e.status + e.timeout + e.read + e.write + e.connect
    }

    pub fn latency_ms(&self) -> Latency {
        Latency {
            p50: self.latency_us.p50 / 1000.0,
            p95: self.latency_us.p95 / 1000.0,
            p99: self.latency_us.p99 / 1000.0,
        }
    }
}

impl Wrk {
    /// Runs wrk (blocking) against `base`; bounded by `seconds` plus wrk's own 10 s timeout.
    pub fn run(&self, base: &str) -> anyhow::Result<WrkResult> {
        let mut cmd = Command::new("wrk");
        cmd.arg(format!("-t{}", self.threads.min(self.connections)))
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", self.seconds))
            .arg("--timeout")
            .arg("10s")
            .arg("-s")
            .arg(&self.script)
            .arg(base)
            .arg("--")
            .arg(&self.lines)
            .arg(&self.token);
        if let Some(p) = &self.post_path {
            cmd.arg(p);
        }
        let out = cmd
            .output()
            .context("cannot run wrk (scripts/bench.sh installs it)")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "wrk failed ({}): {stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("WRK_JSON "))
            .with_context(|| format!("wrk printed no result line: {stdout}"))?;
        Ok(serde_json::from_str(line)?)
    }

    pub fn describe(&self) -> String {
        format!(
            "wrk -t{} -c{} -d{}s",
            self.threads.min(self.connections),
            self.connections,
            self.seconds
        )
    }
}

/// The first line of a command's output, or "unknown".
pub fn version_of(program: &str, arg: &str) -> String {
    Command::new(program)
        .arg(arg)
        .output()
        .ok()
        .map(|o| {
            let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&o.stderr));
            text.lines().next().unwrap_or_default().trim().to_owned()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

pub fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

pub fn machine() -> Machine {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_mb = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".into(), |(_, m)| m.trim().to_owned());
    Machine {
        nproc: std::thread::available_parallelism().map_or(1, usize::from),
        memory_mb,
        cpu_model,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".into(), |s| s.trim().to_owned()),
        loadavg_start: loadavg(),
        loadavg_end: 0.0,
    }
}

/// The commit checked out, and whether the work tree has uncommitted changes.
pub fn commit() -> (String, bool) {
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "unknown".into(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        );
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    (head, dirty)
}
