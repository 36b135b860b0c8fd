//! The CSV import figure (issues 5 and 7): a file of generated contacts with Chinese
//! headings, uploaded to the running server and imported as a background job with the
//! default duplicate check (by email and phone against the contacts already loaded), timed
//! from the start of the job to its end, the server's resident memory sampled meanwhile.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value as Json, json};

use crate::data::contact;
use crate::load::Api;
use crate::process::Server;

/// What the import did and what it cost.
pub struct CsvImport {
    pub rows: u64,
    pub bytes: u64,
    pub upload_seconds: f64,
    pub seconds: f64,
    pub created: u64,
    pub skipped: u64,
    pub failed: u64,
    pub peak_rss_mb: f64,
    pub peak_anon_mb: f64,
}

/// Writes `rows` contacts (records `first..first + rows` of the data set) as a UTF-8 CSV
/// with a byte-order mark and the headings a Chinese spreadsheet would have.
pub fn write_csv(path: &Path, seed: u64, first: u64, rows: u64) -> anyhow::Result<u64> {
    let mut out =
        String::from("\u{feff}external_id,姓名,名,姓,邮箱,电话,手机,城市,职务,部门,来源,生日\n");
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut bytes = 0u64;
    for i in first..first + rows {
        let c = contact(seed, i);
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            c.external_id,
            c.name,
            c.first_name,
            c.last_name,
            c.email,
            c.phone,
            c.mobile.as_deref().unwrap_or(""),
            c.city,
            c.title,
            c.department,
            c.source,
            c.birthday
                .map(|b| b.format("%Y/%-m/%-d").to_string())
                .unwrap_or_default()
        );
        if out.len() > 1 << 20 {
            bytes += out.len() as u64;
            std::io::Write::write_all(&mut file, out.as_bytes())?;
            out.clear();
        }
    }
    bytes += out.len() as u64;
    std::io::Write::write_all(&mut file, out.as_bytes())?;
    std::io::Write::flush(&mut file)?;
    Ok(bytes)
}

fn count(job: &Json, key: &str) -> u64 {
    job[key].as_u64().unwrap_or(0)
}

/// Uploads `path`, starts the import and waits (at most `limit`) for it to end.
pub async fn run(
    api: &Api,
    server: &Server,
    path: &Path,
    rows: u64,
    limit: Duration,
) -> anyhow::Result<CsvImport> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let bytes = data.len() as u64;
    let uploaded = Instant::now();
    let resp = api
        .http
        .post(format!(
            "{}/api/v1/imports?object=contact&file_name=contacts.csv",
            api.base
        ))
        .bearer_auth(&api.token)
        .header("content-type", "text/csv")
        .body(data)
        .send()
        .await?;
    let status = resp.status();
    let job: Json = resp.json().await.unwrap_or(Json::Null);
    if !status.is_success() {
        bail!("upload: HTTP {status}: {job}");
    }
    let upload_seconds = uploaded.elapsed().as_secs_f64();
    let id = job["id"]
        .as_str()
        .context("upload answered no job id")?
        .to_owned();
    let started = Instant::now();
    api.post(&format!("/api/v1/imports/{id}/start"), &json!({}))
        .await?;
    let (mut peak_rss, mut peak_anon) = (0f64, 0f64);
    let job = loop {
        if let Ok((rss, _)) = server.memory_mb() {
            peak_rss = peak_rss.max(rss);
        }
        peak_anon = peak_anon.max(server.anon_mb().unwrap_or(0.0));
        let job = api.get(&format!("/api/v1/imports/{id}")).await?;
        match job["status"].as_str() {
            Some("queued" | "running") => {}
            Some(_) => break job,
            None => bail!("the import answered no status: {job}"),
        }
        if started.elapsed() > limit {
            bail!("the import of {rows} rows did not end within {limit:?}: {job}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    if job["status"] != "done" {
        bail!("the import ended {}: {job}", job["status"]);
    }
    Ok(CsvImport {
        rows: count(&job, "rows_done"),
        bytes,
        upload_seconds,
        seconds,
        created: count(&job, "created"),
        skipped: count(&job, "skipped"),
        failed: count(&job, "failed"),
        peak_rss_mb: peak_rss,
        peak_anon_mb: peak_anon,
    })
}

/// `relata-bench import`: the CSV import figure alone, against a database loaded by an earlier
/// `run --keep` — how the import's speed is profiled and compared between builds without a
/// whole run. Prints rows/s and the job's counts; writes no results file.
pub async fn alone(opts: &Alone) -> anyhow::Result<CsvImport> {
    let http = reqwest::Client::new();
    let token = crate::run::relata_token(&opts.relata, &opts.db)?;
    let addr = crate::process::free_addr()?;
    std::fs::create_dir_all(&opts.work)?;
    let log = opts.work.join("import-alone.log");
    let mut server = Server::spawn(
        crate::run::relata_serve(&opts.relata, &opts.db, addr),
        addr,
        &log,
    )?;
    server
        .wait_ready(&http, "/healthz", Duration::from_secs(60))
        .await?;
    eprintln!("[bench] relata pid {} on {}", server.pid(), server.base());
    let api = Api {
        http,
        base: server.base(),
        token,
    };
    let csv = opts.work.join("import-alone.csv");
    write_csv(&csv, opts.seed, opts.first, opts.rows)?;
    let result = run(&api, &server, &csv, opts.rows, Duration::from_secs(7_200)).await;
    let _ = std::fs::remove_file(&csv);
    server.stop(Duration::from_secs(30))?;
    result
}

/// What `relata-bench import` is told.
pub struct Alone {
    pub relata: std::path::PathBuf,
    /// The loaded database (`sqlite://…` or `postgres://…?schema=…`); the import writes into it.
    pub db: String,
    pub work: std::path::PathBuf,
    pub seed: u64,
    /// The first record of the data set the file holds (records below it are the loaded ones).
    pub first: u64,
    pub rows: u64,
}
