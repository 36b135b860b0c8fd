//! The command line, declared with clap. Only the shape of the arguments lives here; each
//! command's behaviour is in `commands/`, and settings shared by every command (database,
//! logging) go through the layered configuration in `config.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "relata",
    version,
    about = "Relata CRM: one binary on SQLite or PostgreSQL",
    long_about = "Relata CRM: one binary on SQLite or PostgreSQL.\n\n\
        Settings are layered: built-in defaults, then relata.toml (--config FILE, else \
        ./relata.toml when present), then RELATA_* environment variables, then flags. \
        `relata config --default` prints every setting."
)]
pub struct Cli {
    /// Configuration file [default: ./relata.toml when present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Database: sqlite://PATH or postgres://USER@HOST/DB[?schema=NAME] [env: RELATA_DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Log filter, e.g. info or relata_store=debug [env: RELATA_LOG]
    #[arg(long, global = true, value_name = "FILTER")]
    pub log: Option<String>,

    /// Log line format [env: RELATA_LOG_FORMAT]
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (API and health checks)
    Serve(ServeArgs),
    /// Apply pending database migrations and list them
    Migrate,
    /// Manage API tokens
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Load a realistic bilingual (Chinese/English) demo data set through the record service
    Demo(DemoArgs),
    /// Write every live record of one object as JSON Lines
    Export(ExportArgs),
    /// Create or update records of one object from JSON Lines (matched by id)
    Import(ImportArgs),
    /// Write a consistent online backup of the database to a new SQLite file
    Backup(BackupArgs),
    /// Copy a whole database to another (empty) one: SQLite ⇄ PostgreSQL
    DbCopy(DbCopyArgs),
    /// Print the effective configuration, or the defaults, as TOML
    Config(ConfigArgs),
    /// Run background jobs and recurring schedules without the HTTP server
    Worker,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [env: RELATA_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// On an empty database, load the demo data set and print an admin token
    #[arg(long)]
    pub demo: bool,

    /// Size of the demo data set loaded by --demo
    #[arg(long, value_enum, default_value_t = DemoScale::Medium, requires = "demo")]
    pub demo_scale: DemoScale,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an administrator token and print it (only the token) on stdout
    Create {
        /// A name to recognise the token by
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoScale {
    /// A few hundred records (for tests)
    Small,
    /// Thousands of records per object
    Medium,
    /// About a million records (100,000 accounts)
    Large,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[arg(long, value_enum, default_value_t = DemoScale::Medium)]
    pub scale: DemoScale,

    /// Random seed: the same seed gives the same data
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Object API name, e.g. account
    #[arg(long)]
    pub object: String,

    /// File format: jsonl, csv, xlsx, or vcf (vCard, contacts only)
    #[arg(long, default_value = "jsonl")]
    pub format: String,

    /// Output file [default: stdout]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Object API name, e.g. account
    #[arg(long)]
    pub object: String,

    /// Input file: CSV or XLSX (mapped by its headings), or JSON Lines (as `relata export`
    /// writes) [default: JSON Lines from stdin]
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// csv, xlsx or jsonl [default: from the file's extension]
    #[arg(long)]
    pub format: Option<String>,

    /// create, update or upsert (CSV/XLSX)
    #[arg(long, default_value = "create")]
    pub mode: String,

    /// The field rows are matched on in update and upsert mode: id or a unique field
    #[arg(long)]
    pub key: Option<String>,

    /// What a row that would create a possible duplicate does: skip, update or create
    #[arg(long, default_value = "skip")]
    pub on_duplicate: String,

    /// A column's field, overriding the guess: HEADING=FIELD (FIELD empty skips the column);
    /// repeatable
    #[arg(long = "map", value_name = "HEADING=FIELD")]
    pub map: Vec<String>,

    /// A CSV's encoding, utf8 or gb18030 [default: guessed]
    #[arg(long)]
    pub encoding: Option<String>,

    /// How to read dates like 03/04/2025: ymd, dmy or mdy
    #[arg(long, default_value = "ymd")]
    pub date_order: String,

    /// Check every row and report, writing nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Write the failed and skipped rows, with what was wrong, to this CSV file
    #[arg(long, value_name = "FILE")]
    pub errors: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to create (a SQLite database; must not exist yet)
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct DbCopyArgs {
    /// Source database URL (sqlite://PATH or postgres://…)
    #[arg(long, value_name = "URL")]
    pub from: String,

    /// Target database URL; must be new or freshly migrated and empty
    #[arg(long, value_name = "URL")]
    pub to: String,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print the built-in defaults instead of the effective configuration
    #[arg(long)]
    pub default: bool,
}
