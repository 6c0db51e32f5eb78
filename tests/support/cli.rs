//! Running the real binary from integration tests: a clean environment (nothing of the caller's
//! `ICHING_*`, `OPENAI_*`, API keys, proxies, `RUST_LOG`, `NO_COLOR` or `COLUMNS`), its exit
//! code and output, and a guard that only catches a hang.

use std::future::Future;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

/// What a run of the binary left behind.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout as JSON (panics with the whole run when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Self {
        Self {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `sh -c script` in a private mount namespace (as mapped root with `map_root`), with only
/// `PATH`, `ICHING` (the binary), `ICHING_HOME` (`home`), `NO_COLOR` and `TZ=UTC` in its
/// environment.
pub async fn in_mount_namespace(home: &Path, script: &str, map_root: bool) -> Run {
    let mut args = vec!["--mount", "--propagation", "private"];
    if map_root {
        args.insert(0, "--map-root-user");
    }
    args.extend(["--", "sh", "-c", script]);
    tokio::process::Command::new("unshare")
        .args(&args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ICHING", env!("CARGO_BIN_EXE_iching"))
        .env("ICHING_HOME", home)
        .env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("unshare (util-linux) runs")
        .into()
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Variables the app (or a library it uses) reads, cleared for every child whether the caller
/// has them or not.
pub const CLEARED: &[&str] = &[
    "ICHING_HOME",
    "ICHING_PROVIDER",
    "ICHING_MODEL",
    "ICHING_PASSPHRASE",
    "ICHING_OFFLINE_PACE_MS",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENROUTER_API_KEY",
    "GROQ_API_KEY",
    "GEMINI_API_KEY",
    "ANTHROPIC_API_KEY",
    "RUST_LOG",
    "NO_COLOR",
    "COLUMNS",
];

/// Whether a variable of the caller's must not reach the binary: anything `ICHING_*` or
/// `OPENAI_*`, any `*_API_KEY`, any proxy setting, and the names in [`CLEARED`].
pub fn foreign(name: &str) -> bool {
    name.starts_with("ICHING_")
        || name.starts_with("OPENAI_")
        || name.ends_with("_API_KEY")
        || name.to_ascii_lowercase().ends_with("_proxy")
        || CLEARED.contains(&name)
}

/// What to remove from a child's environment, given the names in the caller's: [`CLEARED`]
/// and every [`foreign`] name.
pub fn to_clear(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = CLEARED.iter().map(|&n| n.to_owned()).collect();
    for name in names {
        if foreign(&name) && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// [`to_clear`] for this process's environment.
pub fn callers_foreign_vars() -> Vec<String> {
    to_clear(
        std::env::vars_os()
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
    )
}

/// The binary with none of the caller's [`foreign`] variables (`NO_COLOR` included), on UTC
/// whatever the machine's zone (a test that means another sets `TZ`): every test that starts
/// it goes through here ([`binary`], [`pty_command`]) and then sets what it means to.
pub fn std_binary() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_iching"));
    for name in callers_foreign_vars() {
        c.env_remove(name);
    }
    c.env("TZ", "UTC");
    c
}

/// [`std_binary`] for tokio.
pub fn binary() -> Command {
    Command::from(std_binary())
}

/// [`binary`] for a pseudo-terminal (`portable_pty`), which starts from a copy of the caller's
/// environment.
pub fn pty_command() -> portable_pty::CommandBuilder {
    let mut c = portable_pty::CommandBuilder::new(env!("CARGO_BIN_EXE_iching"));
    for name in callers_foreign_vars() {
        c.env_remove(name);
    }
    c.env("TZ", "UTC");
    c
}

/// The [`binary`] with `ICHING_HOME` = `home`, `OPENAI_API_KEY` = `key`, `NO_COLOR`, then `env`.
pub fn command(home: &Path, args: &[&str], key: &str, env: &[(&str, &str)]) -> Command {
    let mut c = binary();
    c.args(args)
        .env("ICHING_HOME", home)
        .env("OPENAI_API_KEY", key)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Runs [`command`] to its end.
pub async fn run(home: &Path, args: &[&str], key: &str, env: &[(&str, &str)]) -> Run {
    let out = command(home, args, key, env).output().await.unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `f` under an outer guard that only catches a hang; it is never a timing assertion.
pub async fn guard<F: Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("the {secs} s guard ran out: something hangs"))
}

/// A report's sections.
pub fn sections(report: &Value) -> &Vec<Value> {
    report["sections"].as_array().expect("sections")
}

/// How many of a report's sections are complete.
pub fn complete_sections(report: &Value) -> usize {
    sections(report)
        .iter()
        .filter(|s| s["status"] == "complete")
        .count()
}
