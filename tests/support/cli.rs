//! Running the real binary from integration tests: a clean environment (nothing of the caller's
//! `ICHING_*`, `OPENAI_*`, API keys or proxies), its exit code and output, and a guard that only
//! catches a hang.

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

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The binary with a clean environment, `ICHING_HOME` = `home`, `OPENAI_API_KEY` = `key`,
/// `NO_COLOR`, then `env`.
pub fn command(home: &Path, args: &[&str], key: &str, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_iching"));
    c.args(args);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("ICHING_")
            || name.starts_with("OPENAI_")
            || name.ends_with("_API_KEY")
            || name.to_ascii_lowercase().ends_with("_proxy")
        {
            c.env_remove(&name);
        }
    }
    c.env("ICHING_HOME", home)
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
