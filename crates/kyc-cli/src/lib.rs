//! KYC Desk's command line (`serve`, `user add`, `simulate`), shared by the desktop binary: the
//! binary parses [`Cli`], opens the window when no subcommand is given, and calls [`run`] otherwise.

pub mod simulate;

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kyc_core::config::{self, Loaded};
use kyc_core::desk::Desk;
use kyc_core::users::{AccountChange, Role};
use kyc_server::services::DB_FILE;
use kyc_server::{Running, UiAssets};
use kyc_store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "kyc-desk",
    version,
    about = "KYC Desk: receive Ditto ID identity verifications, review them, answer Ditto ID"
)]
pub struct Cli {
    /// Config file (default: $KYC_DESK_CONFIG, else <data dir>/kyc-desk.toml, written on first start).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Desktop app: connect to a team's KYC Desk server instead of running a desk on this
    /// computer (kept in the config's [client] section; the window's Desk menu changes it).
    #[arg(long, value_name = "URL")]
    pub connect: Option<String>,
    /// With --connect: the SHA-256 fingerprint of the server's certificate as its `serve`
    /// printed it; any other certificate is refused. Without it the window shows the
    /// server's fingerprint and asks.
    #[arg(long, value_name = "SHA256", requires = "connect")]
    pub fingerprint: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the receiver and the review API without a window (a server for a team).
    Serve,
    /// Manage reviewer accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Act as Ditto ID: POST realistic submissions to this KYC Desk and print each answer.
    Simulate(simulate::SimulateArgs),
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Back up the store while it runs: a consistent snapshot of the database, exactly the image
    /// files it references, and a manifest (SHA-256 of every file, the audit chain's head). The
    /// master key is not included: keep it apart.
    Backup {
        /// A new (or empty) folder to write the backup into.
        #[arg(long, value_name = "DIR")]
        output: PathBuf,
    },
    /// Restore a backup into the config's data folder, which must not hold a store yet: the whole
    /// backup is checked against its manifest first, then the audit trail of what was restored.
    Restore {
        /// The backup folder (from `kyc-desk backup`).
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
    },
    /// Move a desk's store from its SQLite file to PostgreSQL: every case, decision, account and
    /// audit entry as stored (nothing is re-sealed), into an empty database, then checked. Stop
    /// the desk first; both configs must use the same master key.
    MigrateStore {
        /// The config of the desk to move (its store is the SQLite file in its data folder).
        #[arg(long, value_name = "CONFIG")]
        from: PathBuf,
        /// A config whose `[storage] url` names the PostgreSQL database to move it into.
        #[arg(long, value_name = "CONFIG")]
        to: PathBuf,
    },
    /// Print the kyc.service.api.config JSON for Ditto ID's Gateway Management Console, or
    /// (--import) write the KYC Desk config matching such a JSON.
    DittoConfig {
        /// Read a kyc.service.api.config JSON and write the matching KYC Desk config.
        #[arg(long, value_name = "FILE")]
        import: Option<PathBuf>,
        /// How the imported key/IV text turns into bytes in Ditto ID: text (UTF-8), base64 or hex.
        #[arg(long, default_value = "text")]
        key_encoding: kyc_core::ditto::KeyEncoding,
        /// Where --import writes (default: the config file in use; the old one is kept as .bak).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Check the chain and every signed checkpoint; report the first broken link or the
    /// checkpoint the trail no longer holds (exit code 1).
    Verify {
        /// The checkpoint folder (default: `[audit] checkpoint_dir`).
        #[arg(long, value_name = "DIR")]
        checkpoints: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create an account (the password is read from standard input).
    Add {
        name: String,
        #[arg(long, value_parser = ROLES)]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List the accounts: role, state, last sign-in.
    List,
    /// Disable an account: it cannot sign in, its sessions end at once (never deleted: the
    /// audit trail names it).
    Disable { name: String },
    /// Enable a disabled account again.
    Enable { name: String },
    /// Change an account's role (its sessions end).
    SetRole {
        name: String,
        #[arg(value_parser = ROLES)]
        role: String,
    },
    /// Set a temporary password (from standard input); the account must choose its own at its
    /// next sign-in, and its sessions end.
    ResetPassword {
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

const ROLES: [&str; 4] = ["reviewer", "supervisor", "admin", "auditor"];

/// Logs go to stderr; `RUST_LOG` overrides the default level.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Loads the config (writing defaults on first start) or explains what is wrong.
pub fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<Loaded> {
    let loaded = config::load_or_init(path)?;
    if loaded.created {
        eprintln!(
            "Wrote a new config with safe defaults: {}",
            loaded.path.display()
        );
    }
    Ok(loaded)
}

/// The config if its file exists (nothing is written), else None.
pub fn load_config_if_present(path: Option<&std::path::Path>) -> Option<Loaded> {
    let resolved = config::resolve_path(path).ok()?;
    resolved
        .exists()
        .then(|| config::load_or_init(Some(&resolved)).ok())
        .flatten()
}

/// Runs a subcommand to completion and returns the process exit code.
pub fn run(cli: Cli, ui: Option<Arc<dyn UiAssets>>) -> ExitCode {
    init_logging();
    let result = match cli.command {
        None => Err(anyhow::anyhow!("no command given")),
        Some(Command::Serve) => serve(cli.config, ui),
        Some(Command::User { action }) => user(cli.config, action),
        Some(Command::Simulate(args)) => simulate::run(cli.config, args),
        Some(Command::Audit {
            action: AuditAction::Verify { checkpoints },
        }) => audit_verify(cli.config, checkpoints),
        Some(Command::DittoConfig {
            import,
            key_encoding,
            output,
        }) => ditto_config(cli.config, import, key_encoding, output),
        Some(Command::Backup { output }) => backup(cli.config, &output),
        Some(Command::Restore { from }) => restore(cli.config, &from),
        Some(Command::MigrateStore { from, to }) => migrate_store(&from, &to),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kyc-desk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What `serve` (and the desktop app) prints once both listeners are up.
pub fn describe(loaded: &Loaded, running: &Running) -> String {
    let cfg = &loaded.config;
    let recv = kyc_server::services::browsable(running.receiver_addr);
    let mut out = String::new();
    out += "KYC Desk is running.\n";
    out += &format!("receiver listening on {}\n", running.receiver_addr);
    out += &format!("review listening on {}\n", running.review_addr);
    out += &format!(
        "  Ditto ID posts to:   https://{recv}{}\n",
        cfg.receiver.path
    );
    out += &format!(
        "  TLS certificate:     SHA-256 {}{}\n",
        running.tls.fingerprint,
        if running.tls.self_signed {
            " (self-signed)"
        } else {
            ""
        }
    );
    out += &format!("  Receiver auth mode:  {:?}\n", cfg.receiver.auth.mode);
    out += &format!("  Review desk:         {}\n", running.review_url());
    if let Some(code) = running.setup.display() {
        out += &format!("  Setup code:          {code}\n");
        out +=
            "    No account yet: open the review desk and enter this one-time code to create the\n";
        out += "    first admin (or: kyc-desk user add NAME --role admin --password-stdin).\n";
    }
    out += &format!("  Config:              {}\n", loaded.path.display());
    out += &format!("  Data:                {}\n", loaded.data_dir.display());
    out
}

/// Opens the store; with a passphrase master key not given in `KYC_DESK_PASSPHRASE`, asks for it
/// on the terminal (not echoed) when standard input is one.
pub fn open_store(loaded: &Loaded) -> anyhow::Result<Store> {
    use std::io::IsTerminal;
    Ok(kyc_core::bootstrap::open_store(loaded, || {
        std::io::stdin()
            .is_terminal()
            .then(|| rpassword::prompt_password("KYC Desk master passphrase: ").ok())
            .flatten()
    })?)
}

fn serve(config: Option<PathBuf>, ui: Option<Arc<dyn UiAssets>>) -> anyhow::Result<()> {
    let loaded = load_config(config.as_deref())?;
    if let Some(server) = &loaded.config.client.server {
        anyhow::bail!(
            "{}: client.server = {server:?} makes this the config of a desktop app connected to a \
             team server; `serve` runs a desk and needs a config without [client] server",
            loaded.path.display()
        );
    }
    // Opened before the runtime: the store's calls are blocking ones.
    let desk = Desk::for_config(open_store(&loaded)?, &loaded);
    let hold_secs = loaded.config.decision.hold_secs;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let mut running = kyc_server::start_with(&loaded, desk, ui).await?;
        let stop = stop_requested();
        print!("{}", describe(&loaded, &running));
        use std::io::Write;
        std::io::stdout().flush()?;
        tokio::select! {
            r = running.wait() => r?,
            _ = stop => {
                let again = stop_requested();
                // Held requests may wait a whole window for their answers.
                eprintln!(
                    "Stopping (requests in flight get up to {} s to finish, or to the end of a \
                     later window of their own): the receiver takes no new submission; what it \
                     holds ({} connection(s) open) is answered by a decision, here or on another \
                     instance, or by the fallback when its window closes, while the review desk \
                     serves on. Stop again to end at once.",
                    (Duration::from_secs(hold_secs) + DRAIN_MARGIN).as_secs(),
                    running.receiver_connections(),
                );
                running.drain(DRAIN_MARGIN, again, Duration::from_secs(5)).await;
                eprintln!("Stopped.");
            }
        }
        Ok(())
    })
}

/// What a stopping `serve` waits past the last hold window for that request's answer (the
/// fallback's write and its response).
const DRAIN_MARGIN: Duration = Duration::from_secs(10);

/// Ctrl-C, or (on Unix) SIGTERM as a service manager stops a service: either ends `serve`
/// gracefully (requests held are answered, the closing audit checkpoint is signed); a second
/// one ends it at once.
fn stop_requested() -> impl std::future::Future<Output = ()> {
    // Listening from now on, not from the first poll: a signal sent meanwhile is not missed.
    #[cfg(unix)]
    let listening = {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::terminate())
            .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
            .ok()
    };
    async move {
        #[cfg(unix)]
        if let Some((mut term, mut interrupt)) = listening {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The first line of standard input, without its line end; refused when empty.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        anyhow::bail!("no password on standard input (use --password-stdin and pipe it in)");
    }
    Ok(password)
}

/// The machine's administrator, as the command line acts on the desk (`system` in the trail): who
/// holds the config and the master key may do what an admin may.
fn system() -> kyc_core::users::User {
    kyc_core::users::User {
        name: "system".into(),
        role: Role::Admin,
        must_change_password: false,
    }
}

/// Runs `f` on the configured desk (the store opened with a passphrase prompt when needed).
fn on_desk<T>(
    loaded: &Loaded,
    tune: impl FnOnce(Desk) -> Desk,
    f: impl AsyncFnOnce(&Desk) -> Result<T, kyc_core::CoreError>,
) -> anyhow::Result<T> {
    let desk = tune(Desk::for_config(open_store(loaded)?, loaded));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(f(&desk))?)
}

fn user(config: Option<PathBuf>, action: UserAction) -> anyhow::Result<()> {
    let loaded = load_config(config.as_deref())?;
    let change = match action {
        UserAction::Add { name, role, .. } => {
            let role: Role = role.parse()?;
            let password = password_from_stdin()?;
            let user = on_desk(
                &loaded,
                |d| d,
                async |desk| desk.add_user(&system(), name, role, password).await,
            )?;
            println!("Created {} account {}", user.role.as_str(), user.name);
            return Ok(());
        }
        UserAction::List => {
            let accounts = on_desk(&loaded, |d| d, async |desk| desk.accounts(&system()).await)?;
            println!("{:<24} {:<10} {:<22} LAST SIGN-IN", "NAME", "ROLE", "STATE");
            for a in accounts {
                let state = match (a.disabled, a.must_change_password) {
                    (true, _) => "disabled",
                    (false, true) => "must change password",
                    (false, false) => "active",
                };
                println!(
                    "{:<24} {:<10} {:<22} {}",
                    a.name,
                    a.role.as_str(),
                    state,
                    a.last_login_at.as_deref().unwrap_or("never")
                );
            }
            return Ok(());
        }
        UserAction::Disable { name } => (name, AccountChange::Disable),
        UserAction::Enable { name } => (name, AccountChange::Enable),
        UserAction::SetRole { name, role } => (name, AccountChange::SetRole(role.parse()?)),
        UserAction::ResetPassword { name, .. } => {
            (name, AccountChange::ResetPassword(password_from_stdin()?))
        }
    };
    let (name, change) = change;
    let what = match &change {
        AccountChange::Disable => "disabled".to_string(),
        AccountChange::Enable => "enabled".to_string(),
        AccountChange::SetRole(r) => format!("now {}", r.as_str()),
        AccountChange::ResetPassword(_) => {
            "given a temporary password (a new one is chosen at the next sign-in)".to_string()
        }
    };
    let account = on_desk(
        &loaded,
        |d| d,
        async |desk| desk.change_account(&system(), name, change).await,
    )?;
    println!("Account {} {what}; its sessions have ended.", account.name);
    Ok(())
}

fn ditto_config(
    config: Option<PathBuf>,
    import: Option<PathBuf>,
    key_encoding: kyc_core::ditto::KeyEncoding,
    output: Option<PathBuf>,
) -> anyhow::Result<()> {
    let loaded = load_config(config.as_deref())?;
    let Some(file) = import else {
        let json = kyc_core::ditto::export(&loaded.config);
        println!("{}", serde_json::to_string_pretty(&json)?);
        let r = &loaded.config.receiver;
        for enc in [&r.request_encryption, &r.response_encryption] {
            if let Some(key) = enc.key.as_deref().filter(|_| enc.enable) {
                let (_, encoding) = kyc_core::ditto::console_secret(key);
                if encoding != kyc_core::ditto::KeyEncoding::Text {
                    eprintln!("note: the AES key and IV above are {encoding:?}-encoded; Ditto ID must read them that way");
                }
            }
        }
        if r.public_url.is_none() {
            eprintln!(
                "note: the url uses {}; set receiver.public_url to the address Ditto ID reaches",
                kyc_core::ditto::public_base(&loaded.config)
            );
        }
        return Ok(());
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", file.display()))?;
    let imported = kyc_core::ditto::import(&json, &loaded.config, key_encoding)?;
    for note in kyc_core::ditto::import_notes(&json) {
        eprintln!("note: {note}");
    }
    let target = output.unwrap_or_else(|| loaded.path.clone());
    if target.exists() {
        let backup = target.with_extension("toml.bak");
        std::fs::copy(&target, &backup)?;
        eprintln!("Kept the previous config as {}", backup.display());
    }
    let body = format!(
        "# KYC Desk configuration, imported from Ditto ID's kyc.service.api.config ({}).\n\n{}",
        file.display(),
        toml::to_string_pretty(&imported)?
    );
    kyc_store::fsutil::write_private(&target, body.as_bytes())?;
    println!(
        "Wrote {} (receiver auth {:?}, path {})",
        target.display(),
        imported.receiver.auth.mode,
        imported.receiver.path
    );
    Ok(())
}

fn audit_verify(config: Option<PathBuf>, checkpoints: Option<PathBuf>) -> anyhow::Result<()> {
    let loaded = load_config(config.as_deref())?;
    let db = loaded.data_dir.join(DB_FILE);
    let on_postgres = kyc_core::bootstrap::postgres_target(&loaded)?.is_some();
    if !on_postgres && !db.exists() {
        anyhow::bail!("no database at {} (nothing to verify yet)", db.display());
    }
    let dir = checkpoints.unwrap_or_else(|| loaded.checkpoint_dir());
    let checked = on_desk(
        &loaded,
        |d| d.with_checkpoints(dir.clone()),
        async |desk| desk.verify_audit(&system()).await,
    )?;
    match (checked.0, checked.1) {
        (kyc_domain::audit::Verdict::Intact { entries }, agreed) => {
            println!(
                "{agreed} signed checkpoints in {} agree with it",
                dir.display()
            );
            println!("audit trail intact: {entries} entries");
            Ok(())
        }
        (kyc_domain::audit::Verdict::Broken { id, reason }, _) => {
            anyhow::bail!("audit trail broken at entry {id}: {reason}")
        }
    }
}

/// `backup` and `restore` copy the SQLite file and its image folder; a PostgreSQL store is the
/// operator's to back up.
fn sqlite_only(loaded: &Loaded, command: &str) -> anyhow::Result<()> {
    if kyc_core::bootstrap::postgres_target(loaded)?.is_some() {
        anyhow::bail!(
            "{command} works on the embedded SQLite store; this config's store is on PostgreSQL \
             ([storage] url): back it up with PostgreSQL's own tools (pg_basebackup and WAL \
             archiving, or pg_dump), as the README's \"Several instances\" says"
        );
    }
    Ok(())
}

fn backup(config: Option<PathBuf>, output: &std::path::Path) -> anyhow::Result<()> {
    let loaded = load_config(config.as_deref())?;
    sqlite_only(&loaded, "backup")?;
    let db = loaded.data_dir.join(DB_FILE);
    if !db.exists() {
        anyhow::bail!("no database at {} (nothing to back up yet)", db.display());
    }
    let manifest = open_store(&loaded)?.backup_to(output)?;
    println!(
        "Backup written to {}: {} cases, {} files, audit trail up to entry {}.",
        output.display(),
        manifest.cases,
        manifest.files.len(),
        manifest.audit_head.as_ref().map_or(0, |h| h.id)
    );
    println!(
        "The master key is not in it: keep the key file (or the passphrase) apart from the backup."
    );
    Ok(())
}

fn migrate_store(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    let (source, dest) = (existing_config(from)?, existing_config(to)?);
    if kyc_core::bootstrap::postgres_target(&source)?.is_some() {
        anyhow::bail!(
            "{}: its [storage] url already names a PostgreSQL database; --from takes the config \
             of a desk on SQLite",
            from.display()
        );
    }
    let db = source.data_dir.join(DB_FILE);
    if !db.exists() {
        anyhow::bail!("no database at {} (nothing to move)", db.display());
    }
    let Some(target) = kyc_core::bootstrap::postgres_target(&dest)? else {
        anyhow::bail!(
            "{}: set [storage] url = \"postgres://user@host:port/database\" to say where the \
             store goes",
            to.display()
        );
    };
    let (from_key, to_key) = (&source.config.storage, &dest.config.storage);
    if from_key.key_source != to_key.key_source {
        anyhow::bail!("both configs must take the master key the same way (storage.key_source)");
    }
    if to_key.key_source == kyc_core::config::KeySource::File {
        let (src_file, dest_file) = (
            kyc_core::bootstrap::key_file_path(from_key, &source.data_dir),
            kyc_core::bootstrap::key_file_path(to_key, &dest.data_dir),
        );
        if !dest_file.exists() {
            anyhow::bail!(
                "the master key file {} is missing: copy {} there first (the moved cases are \
                 sealed under it)",
                dest_file.display(),
                src_file.display()
            );
        }
    }
    let store = open_store(&source)?;
    let report = store.copy_to_postgres(&target)?;
    drop(store);
    let moved = open_store(&dest)?;
    let entries = match moved.verify_audit()? {
        kyc_domain::audit::Verdict::Intact { entries } => entries,
        kyc_domain::audit::Verdict::Broken { id, reason } => {
            anyhow::bail!("moved, but the audit trail is broken at entry {id}: {reason}")
        }
    };
    let count = |t: &str| report.rows.iter().find(|(n, _)| *n == t).map_or(0, |r| r.1);
    println!(
        "Moved {} cases ({} with images), {} decisions, {} accounts to {}; audit trail intact \
         ({entries} entries).",
        count("cases"),
        report.blobs,
        count("decisions"),
        count("users"),
        kyc_store::pg::redact_url(&target.url),
    );
    println!(
        "Start the desk with {} from now on; {} is no longer written to.",
        to.display(),
        db.display()
    );
    Ok(())
}

/// A config that must exist (a command that moves data never writes a fresh one).
fn existing_config(path: &std::path::Path) -> anyhow::Result<Loaded> {
    if !path.exists() {
        anyhow::bail!("{}: no such config file", path.display());
    }
    load_config(Some(path))
}

fn restore(config: Option<PathBuf>, from: &std::path::Path) -> anyhow::Result<()> {
    let loaded = load_config(config.as_deref())?;
    sqlite_only(&loaded, "restore")?;
    let storage = &loaded.config.storage;
    if storage.key_source == kyc_core::config::KeySource::File {
        let key = kyc_core::bootstrap::key_file_path(storage, &loaded.data_dir);
        if !key.exists() {
            anyhow::bail!(
                "the master key file {} is missing: put the key the backup's store used there \
                 first (a backup never holds it; a new key could not read the cases)",
                key.display()
            );
        }
    }
    let manifest = kyc_store::backup::restore(from, &loaded.data_dir)?;
    let store = open_store(&loaded)?;
    kyc_store::backup::head_matches(&loaded.data_dir.join(DB_FILE), &manifest)?;
    match store.verify_audit()? {
        kyc_domain::audit::Verdict::Intact { entries } => println!(
            "Restored {} cases into {}; audit trail intact ({entries} entries, ending where the \
             backup says).",
            manifest.cases,
            loaded.data_dir.display()
        ),
        kyc_domain::audit::Verdict::Broken { id, reason } => {
            anyhow::bail!("restored, but the audit trail is broken at entry {id}: {reason}")
        }
    }
    Ok(())
}
