//! `shenhe`: check submissions against rule packs, run pack fixtures, build bundles.
#![allow(clippy::disallowed_methods, reason = "the CLI is the I/O host: it reads files and the environment")]

mod batchrun;
mod check;
mod corpus;
mod delivery;
mod diff;
mod export;
mod html;
mod load;
mod mutate_cmd;
mod render;
mod serve;
mod sheets;
mod test_cmd;

use std::{path::PathBuf, process::ExitCode};

/// mimalloc: a third fewer instructions than glibc's malloc on a checked submission
/// (BENCHMARKS.md, issue 10 step 4). Allocation never changes a report.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

/// shenhe (审核): validate health-programme report submissions with Rhai rule packs.
///
/// Exit codes: 0 no error findings; 1 at least one error finding (or a
/// failing fixture); 2 usage problem or unreadable input.
#[derive(Parser)]
#[command(name = "shenhe", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DiffFormat {
    /// A plain listing.
    Text,
    /// One self-contained page.
    Html,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Readable zh-CN/English listing (coloured on a terminal).
    Text,
    /// The canonical JSON report (NDJSON for several inputs).
    Json,
    /// A self-contained HTML summary of the batch (charts per rule and per
    /// jurisdiction, roll-ups, cross-record findings), for officials.
    Html,
}

#[derive(Subcommand)]
enum Command {
    /// Validate submissions and print their reports.
    ///
    /// One FILE prints one JSON report; several FILEs, a `.ndjson`/`.jsonl`
    /// file or `-` (NDJSON on stdin) print one report per line.
    ///
    /// Spreadsheets (`.csv`, `.xlsx`) are read with the column mapping of the
    /// pack whose headers they have (`columns.toml`: the Chinese headers as
    /// counties write them). Each submission's report then carries `source`
    /// (file and rows) and each finding its `cell`, e.g. `Sheet1!D7`. CSV may
    /// be UTF-8 or GBK/GB18030.
    ///
    /// Everything checked in one run is also a batch: cross-record rules
    /// (NT-15 one team per hospital, QZ-06 one report per month, the coverage
    /// of WH-09 and QZ-03 against --registry) run over it. Their findings are
    /// in the batch report (--batch-report, the end of --format text, and
    /// --format html), never in a submission's report, and they leave the
    /// exit code alone: it follows the submissions' own reports.
    #[command(
        after_help = "Examples:\n  shenhe check team.json\n  shenhe check --format text --rules rules/ a.json b.json\n  cat batch.ndjson | shenhe check -\n  shenhe check --rules national-medical-team-2024.bundle.json --pack national-medical-team-2024 team.json\n  shenhe check --batch-report batch.json teams.xlsx > reports.ndjson\n  shenhe check --format html --registry quangang-institutions.csv 2022-monthly.xlsx > summary.html"
    )]
    Check {
        /// Rules: a directory of packs, one pack directory, or a bundle file.
        #[arg(long, default_value = "rules", value_name = "DIR|BUNDLE")]
        rules: PathBuf,
        /// Use this pack id instead of matching on the submission's form and policy.
        #[arg(long, value_name = "ID")]
        pack: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// Reference list for the coverage rules (WH-09 villages, QZ-03
        /// institutions): a JSON array of objects or a CSV with columns
        /// code/区划代码, name/名称, type/机构类别. Without it those rules are
        /// skipped with an info finding.
        #[arg(long, value_name = "FILE")]
        registry: Option<PathBuf>,
        /// Also write the batch report (JSON) to FILE.
        #[arg(long, value_name = "FILE")]
        batch_report: Option<PathBuf>,
        /// Threads that judge submissions; 0 (the default) uses every core.
        /// `--jobs 1` keeps a shared server responsive and makes single-core
        /// benchmarks; the reports are the same bytes, in the same order.
        #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
        jobs: usize,
        /// Run every rule in Rhai's interpreter instead of its compiled form.
        /// Slower; the reports are the same bytes (the parity run checks it).
        #[arg(long)]
        interpreter_only: bool,
        /// Submission files: .json, .ndjson/.jsonl, .csv, .xlsx (`-` for NDJSON on stdin).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Run every pack's fixtures (`<pack>/tests/*.json`) and print pass/fail per case.
    ///
    /// Also checks that every rule has a fixture where it fires and one where it does not.
    Test {
        /// Rules: a directory of packs or one pack directory.
        #[arg(long, default_value = "rules", value_name = "DIR")]
        rules: PathBuf,
        /// Only run cases whose name contains this text.
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
        /// Mutation testing instead: make small slips in every rule of every
        /// pack (or of pack PACK), run the fixtures on each, and list the ones
        /// no case notices as `file:line: what changed`.
        #[arg(long, value_name = "PACK", num_args = 0..=1, default_missing_value = "", conflicts_with = "filter")]
        mutate: Option<String>,
        /// With --mutate: fail when a pack's fixtures kill less than this
        /// percentage of its mutants.
        #[arg(long, value_name = "PERCENT", default_value_t = 97.0, requires = "mutate")]
        min_score: f64,
        /// With --mutate: mutants judged at once (default: every core).
        #[arg(long, value_name = "N", requires = "mutate")]
        jobs: Option<usize>,
        /// Also print which lines of each rule script the fixtures ran, per
        /// pack and per file, with the lines no case reaches.
        #[arg(long, conflicts_with = "mutate")]
        coverage: bool,
    },
    /// What a change to the rules would change: judge the same submissions
    /// with the old and the new rules, and list the submissions that change
    /// status and the findings that appear or disappear, per rule.
    ///
    /// Run it before publishing a new threshold. Exit code 0: nothing
    /// changes; 1: something does; 2: an input could not be read.
    #[command(
        after_help = "Examples:\n  shenhe diff --old rules --new rules-2025 teams.ndjson\n  shenhe diff --old rules --new rules-2025 --db shenhe.db --format html > impact.html"
    )]
    Diff {
        /// The rules in force: a directory of packs, one pack directory, or a bundle.
        #[arg(long, value_name = "DIR|BUNDLE")]
        old: PathBuf,
        /// The rules as changed.
        #[arg(long, value_name = "DIR|BUNDLE")]
        new: PathBuf,
        /// A `shenhe serve` store (a SQLite file or a postgres:// URL), read only:
        /// compare on the submissions it stored, as it judged them.
        #[arg(long, value_name = "FILE|URL")]
        db: Option<String>,
        /// Use this pack id instead of matching on the submission's form and policy.
        #[arg(long, value_name = "ID")]
        pack: Option<String>,
        /// Output format: `text`, or `html` for a reviewer.
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
        /// Examples shown per status change and per rule.
        #[arg(long, value_name = "N", default_value_t = 3)]
        examples: usize,
        /// Threads that judge submissions; 0 (the default) uses every core.
        #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
        jobs: usize,
        /// Submission files, as `shenhe check` takes them (.json, .ndjson/.jsonl, .csv, .xlsx).
        #[arg(value_name = "INPUT")]
        files: Vec<PathBuf>,
    },
    /// Compile a pack directory into one bundle JSON file (what the browser fetches).
    Bundle {
        /// The pack directory (holding pack.toml).
        pack: PathBuf,
        /// Output file; `-` for stdout.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Write what the browser fetches: every pack's bundle, and for the
    /// playground each pack's editable files and sample submissions.
    ///
    /// Writes OUT/bundles/<id>.json, OUT/bundles/all.json (an array),
    /// OUT/packs/index.json and OUT/packs/<id>.json.
    #[command(after_help = "Example:\n  shenhe export --rules rules --out www/gen")]
    Export {
        /// A directory of packs, or one pack directory.
        #[arg(long, default_value = "rules", value_name = "DIR")]
        rules: PathBuf,
        /// Output directory (created if missing).
        #[arg(long, default_value = "www/gen", value_name = "DIR")]
        out: PathBuf,
    },
    /// Write the parity corpus: every fixture's submission and every base
    /// submission mutated at every path, one per line (for tests/browser).
    #[command(hide = true)]
    Corpus {
        #[arg(long, default_value = "rules", value_name = "DIR")]
        rules: PathBuf,
        /// NDJSON of submissions.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// One line per submission saying what it is.
        #[arg(long, value_name = "FILE")]
        names: PathBuf,
    },
    /// Run the schema layer over `[{schema, data}]` cases; print the outcomes.
    #[command(hide = true)]
    SchemaSuite {
        /// JSON array of `{ "schema": …, "data": … }`.
        cases: PathBuf,
    },
    /// Serve the re-validation API and the demo portal.
    ///
    /// Routes: POST /api/validate (a submission in, the report out: the same
    /// bytes as `shenhe check`); POST /api/submissions (`{"bundle_hash",
    /// "submission"}` or a bare submission: stamped with the receipt time,
    /// re-validated, compared with the client's bundle hash, and stored with
    /// its report whatever its status); GET /api/submissions/{id}; POST
    /// /api/batches[?name=FILE] (NDJSON, CSV or .xlsx: every submission
    /// stamped, judged and stored with the file as received and the batch
    /// report); GET /api/batches[?name=FILE] (the latest uploads); GET
    /// /api/batches/{id} and /api/batches/{id}/summary (HTML); GET
    /// /api/packs; GET /gen/bundles/<pack>.json (what the browser loads); and
    /// the files of --www (the portal, /playground/).
    ///
    /// Every route that stores or returns stored data needs `Authorization:
    /// Bearer <token>` (`shenhe token add`, or a JWT with --jwt-key), and
    /// answers only inside the token's division: filing outside it is 403,
    /// reading outside it 404. GET /api/submissions?status=&pack=&division=
    /// is the worklist; GET /api/audit the audit log (admins).
    #[command(
        after_help = "In production: run it behind a reverse proxy (nginx, Caddy) that terminates TLS and forwards /api/ and the static files. \
Give each office its own token (shenhe token add --db … --role submitter --division CODE --expires DATE), or configure \
--jwt-key/--jwt-issuer/--jwt-audience for a portal's sign-in, and --allow-origin/--frame-ancestors for a portal on another origin.\n\n\
The process keeps no state besides the database, so several replicas can serve one province: give them all the same \
--db postgres://user:password@host/dbname (a pool of 16 connections each; the schema is migrated at start-up, once, \
whichever replica starts first) behind a reverse proxy such as nginx (README: Replicas on PostgreSQL, with a sample \
configuration). Alone, a SQLite file is enough (WAL mode, synchronous=FULL). A submission is acknowledged after its \
commit; GET /readyz shows the settings that make the commit durable (SQLite journal_mode/synchronous, PostgreSQL \
synchronous_commit/fsync) and each pack's hash. Watch GET /healthz, /readyz and /metrics (Prometheus: requests, latency, \
evaluations, pool use) and the request log (--log-format json); send Idempotency-Key on filings that may be retried, \
on any replica; SIGTERM finishes the requests in flight. Back up the database (pg_dump, or sqlite3 .backup). Upgrade the \
rule packs by restarting with a new --rules, one replica at a time; the pack hash in every report and row says which \
rules judged it.\n\n\
Examples:\n  shenhe serve --rules rules --addr 127.0.0.1:8080 --db shenhe.db\n  \
shenhe serve --rules rules --addr 10.0.0.11:8080 --db postgres://shenhe:PASSWORD@db.example/shenhe --log-format json"
    )]
    Serve {
        /// Rules: a directory of packs, one pack directory, or a bundle file.
        #[arg(long, default_value = "rules", value_name = "DIR|BUNDLE")]
        rules: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
        addr: std::net::SocketAddr,
        /// The store: a SQLite file (created if missing), or a PostgreSQL URL
        /// (postgres://user:password@host:5432/dbname) that several replicas share.
        #[arg(long, default_value = "shenhe.db", value_name = "FILE|URL")]
        db: String,
        /// Static files to serve (the demo portal; build www/pkg with scripts/build-wasm.sh).
        #[arg(long, default_value = "www", value_name = "DIR")]
        www: PathBuf,
        /// Largest request body, in bytes.
        #[arg(long, default_value_t = 2 * 1024 * 1024, value_name = "BYTES")]
        max_body: usize,
        /// Per-request time limit, in milliseconds.
        #[arg(long, default_value_t = 10_000, value_name = "MS")]
        timeout_ms: u64,
        /// Largest batch upload (POST /api/batches), in bytes.
        #[arg(long, default_value_t = 64 * 1024 * 1024, value_name = "BYTES")]
        max_batch_body: usize,
        /// Time limit for one batch upload, in milliseconds.
        #[arg(long, default_value_t = 300_000, value_name = "MS")]
        batch_timeout_ms: u64,
        /// Reference list for the coverage rules of uploaded batches (see `check --registry`).
        #[arg(long, value_name = "FILE")]
        registry: Option<PathBuf>,
        /// Also accept JWTs signed by a portal's identity provider: its public key (PEM).
        #[arg(long, value_name = "FILE", requires_all = ["jwt_issuer", "jwt_audience"])]
        jwt_key: Option<PathBuf>,
        /// The JWT signature algorithm (only this one is accepted).
        #[arg(long, value_enum, default_value = "rs256")]
        jwt_algorithm: serve::access::JwtAlgorithm,
        /// The `iss` a JWT must carry.
        #[arg(long, value_name = "ISSUER")]
        jwt_issuer: Option<String>,
        /// The `aud` a JWT must carry.
        #[arg(long, value_name = "AUDIENCE")]
        jwt_audience: Option<String>,
        /// The claim that carries the role (submitter, reviewer or admin).
        #[arg(long, default_value = "shenhe_role", value_name = "CLAIM")]
        jwt_role_claim: String,
        /// The claim that carries the division code (§4.3).
        #[arg(long, default_value = "shenhe_division", value_name = "CLAIM")]
        jwt_division_claim: String,
        /// Who may frame the pages (CSP frame-ancestors): 'self', 'none', or origins.
        #[arg(long, default_value = "'self'", value_name = "SOURCES")]
        frame_ancestors: String,
        /// A portal origin allowed to call the API from the browser (CORS); repeat for several.
        #[arg(long = "allow-origin", value_name = "ORIGIN")]
        allow_origins: Vec<String>,
        /// Request logs on stdout: one line per request (route, status, time; no personal data).
        #[arg(long, value_enum, default_value = "text")]
        log_format: serve::ops::LogFormat,
    },
    /// Manage the access tokens of `shenhe serve` (stored in its database).
    #[command(subcommand)]
    Token(TokenCommand),
    /// List the packs, their rules and the rules they do not implement.
    Packs {
        /// Rules: a directory of packs, one pack directory, or a bundle file.
        #[arg(long, default_value = "rules", value_name = "DIR|BUNDLE")]
        rules: PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once, as the last line, and only its hash is kept.
    #[command(after_help = "Example:\n  shenhe token add --db shenhe.db --role submitter --division 141029 --name 乡宁县卫健局 --expires 2026-12-31")]
    Add {
        /// The server's database: a SQLite file (created if missing) or a postgres:// URL.
        #[arg(long, value_name = "FILE|URL")]
        db: String,
        /// submitter: files and reads its division's submissions; reviewer: reads them and
        /// has the worklist; admin: reads the audit log.
        #[arg(long, value_enum)]
        role: serve::access::Role,
        /// The division it covers (§4.3): CN (national), a province (14), a prefecture
        /// (141000), a county (141029), or a 9- or 12-digit township or village code.
        #[arg(long, value_name = "CODE")]
        division: String,
        /// Who holds it (shown by `token list` and in the audit log's token entries).
        #[arg(long, default_value = "", value_name = "TEXT")]
        name: String,
        /// Last day it works (YYYY-MM-DD, Asia/Shanghai).
        #[arg(long, value_name = "DATE")]
        expires: Option<String>,
    },
    /// List the tokens (ids, roles, divisions; never the secrets).
    List {
        /// The server's database: a SQLite file or a postgres:// URL.
        #[arg(long, value_name = "FILE|URL")]
        db: String,
    },
    /// Revoke a token by its id (`tok_…`, from `token list`); it stops working at once.
    Revoke {
        /// The server's database: a SQLite file or a postgres:// URL.
        #[arg(long, value_name = "FILE|URL")]
        db: String,
        /// The token id.
        id: String,
    },
}

fn token(command: TokenCommand) -> anyhow::Result<ExitCode> {
    let now = serve::now_shanghai();
    match command {
        TokenCommand::Add {
            db,
            role,
            division,
            name,
            expires,
        } => {
            let store = serve::Store::open(&db)?;
            let token = store.transaction(|db| serve::access::add(db, role, &division, &name, expires.as_deref(), &now))?;
            #[allow(clippy::print_stdout, reason = "the token is the command's output")]
            {
                println!(
                    "{} token for division {division} ({}); keep it secret, it is not shown again:",
                    role.as_str(),
                    shenhe::division::level_zh(&division)
                );
                println!("{token}");
            }
        }
        TokenCommand::List { db } => {
            let store = serve::Store::open(&db)?;
            #[allow(clippy::print_stdout, reason = "the list is the command's output")]
            for t in store.transaction(serve::access::list)? {
                println!("{t}");
            }
        }
        TokenCommand::Revoke { db, id } => {
            let store = serve::Store::open(&db)?;
            store.transaction(|db| serve::access::revoke(db, &id, &now))?;
            eprintln!("revoked {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check {
            rules,
            pack,
            format,
            registry,
            batch_report,
            jobs,
            interpreter_only,
            files,
        } => check::run(&check::Options {
            rules: &rules,
            pack: pack.as_deref(),
            output: match format {
                Format::Json => check::Output::Json,
                Format::Text => check::Output::Text,
                Format::Html => check::Output::Html,
            },
            files: &files,
            registry: registry.as_deref(),
            batch_report: batch_report.as_deref(),
            jobs,
            interpreter_only,
        }),
        Command::Test {
            rules,
            filter,
            mutate: None,
            coverage,
            ..
        } => test_cmd::run(&rules, filter.as_deref(), coverage),
        Command::Test {
            rules,
            mutate: Some(pack),
            min_score,
            jobs,
            ..
        } => mutate_cmd::run(
            &rules,
            Some(pack.as_str()).filter(|p| !p.is_empty()),
            min_score,
            jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get)),
        ),
        Command::Diff {
            old,
            new,
            db,
            pack,
            format,
            examples,
            jobs,
            files,
        } => diff::run(&diff::Options {
            old: &old,
            new: &new,
            files: &files,
            db: db.as_deref(),
            pack: pack.as_deref(),
            format: match format {
                DiffFormat::Text => diff::Format::Text,
                DiffFormat::Html => diff::Format::Html,
            },
            examples,
            jobs,
        }),
        Command::Bundle { pack, output } => bundle(&pack, &output),
        Command::Export { rules, out } => export::run(&rules, &out),
        Command::Corpus { rules, out, names } => corpus::run(&rules, &out, &names),
        Command::SchemaSuite { cases } => corpus::schema_suite(&cases),
        Command::Serve {
            rules,
            addr,
            db,
            www,
            max_body,
            timeout_ms,
            max_batch_body,
            batch_timeout_ms,
            registry,
            jwt_key,
            jwt_algorithm,
            jwt_issuer,
            jwt_audience,
            jwt_role_claim,
            jwt_division_claim,
            frame_ancestors,
            allow_origins,
            log_format,
        } => (|| {
            let jwt = match jwt_key {
                None => None,
                Some(file) => {
                    let pem = std::fs::read(&file).with_context(|| format!("cannot read --jwt-key {}", file.display()))?;
                    Some(serve::access::JwtConfig::new(
                        &pem,
                        jwt_algorithm,
                        jwt_issuer.as_deref().unwrap_or_default(),
                        jwt_audience.as_deref().unwrap_or_default(),
                        &jwt_role_claim,
                        &jwt_division_claim,
                    )?)
                }
            };
            serve::run(serve::Options {
                rules,
                addr,
                db,
                www,
                max_body,
                timeout: std::time::Duration::from_millis(timeout_ms),
                max_batch_body,
                batch_timeout: std::time::Duration::from_millis(batch_timeout_ms),
                registry,
                jwt,
                frame_ancestors,
                allow_origins,
                log_format,
            })
        })(),
        Command::Token(command) => token(command),
        Command::Packs { rules } => packs(&rules),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            #[allow(clippy::print_stderr, reason = "the CLI reports errors on stderr")]
            {
                eprintln!("shenhe: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}

fn bundle(pack: &std::path::Path, output: &std::path::Path) -> anyhow::Result<ExitCode> {
    let sources = load::read_pack_dir(pack)?;
    // Compile before writing, so a bundle never holds a pack that does not load.
    let compiled = sources
        .iter()
        .map(|s| shenhe::CompiledPack::compile(s.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    // One edition is one bundle; several are a JSON array of bundles, as
    // /bundles/all.json is (PackSource::bundles_from_json reads both).
    let text = match sources.as_slice() {
        [one] => one.to_bundle_json(),
        all => shenhe::PackSource::bundles_to_json(all),
    };
    if output.as_os_str() == "-" {
        println!("{text}");
    } else {
        std::fs::write(output, text + "\n").map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
        for c in &compiled {
            eprintln!(
                "{} {}{} → {} ({})",
                c.manifest().id,
                c.manifest().version,
                c.source().edition.as_ref().map_or_else(String::new, |e| format!(" edition {e}")),
                output.display(),
                c.hash()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn packs(rules: &std::path::Path) -> anyhow::Result<ExitCode> {
    let (set, _) = load::load_rules(rules)?;
    for p in set.packs() {
        let m = p.manifest();
        println!(
            "{} v{}{}  {}  form={}  policy={}/{}/{}  {}",
            m.id,
            m.version,
            p.source().edition.as_ref().map_or_else(String::new, |e| format!(" edition {e}")),
            m.title,
            m.form,
            m.policy.program,
            m.policy.year,
            m.policy.region,
            p.hash()
        );
        for r in p.rules() {
            println!("  {:<8} {:<7} {}", r.id, r.severity.as_str(), r.file);
        }
        for n in &m.not_implemented {
            println!("  {:<8} not implemented: {}", n.id, n.reason);
        }
    }
    Ok(ExitCode::SUCCESS)
}
