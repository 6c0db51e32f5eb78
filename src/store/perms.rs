//! File modes, checked the way ssh's `StrictModes` checks `~/.ssh`. The data folder must belong
//! to the user and not be writable by others, the key file must be the user's and readable by
//! nobody else. The settings (the config folder, `config.toml`, `prompts/` and what is in it)
//! must be the user's or root's and writable by nobody else: whoever can write them can send
//! the API key and every question to a server of theirs, or rewrite the instructions. What is
//! unsafe is refused with the command to run, its path quoted for the shell; the store's own
//! files left too open (a database, its `-wal`/`-shm`, the log) are tightened to 0600 and said
//! so, since that is always safe to do.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::answer::hidden;

/// A file or folder iching will not use as it is: what is wrong with it, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {problem}; iching will not use it. To go on, {fix}.", sh_quote(.path.as_os_str()))]
pub struct Unsafe {
    /// The file or folder.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
    /// What to do about it, as the end of a sentence ("run `chmod 600 FILE`").
    pub fix: String,
}

/// The effective user id of this process.
fn me() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Root's user id: a settings file root owns is the system's, as safe as the system.
const ROOT: u32 = 0;

/// The data folder: ours, and writable by nobody else.
pub(super) fn check_dir(dir: &Path) -> Result<(), Unsafe> {
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(());
    };
    let mode = meta.permissions().mode() & 0o7777;
    let refuse = |problem: String, fix: String| {
        Err(Unsafe {
            path: dir.to_path_buf(),
            problem,
            fix,
        })
    };
    if meta.uid() != me() {
        return refuse(
            format!("belongs to another user (uid {})", meta.uid()),
            "pass --home with a folder of your own".into(),
        );
    }
    if mode & 0o022 != 0 {
        return refuse(
            format!("can be written by other users (mode {mode:o})"),
            format!("run `chmod go-w {}`", sh_quote(dir.as_os_str())),
        );
    }
    Ok(())
}

/// The key file, when there is one: ours, and 0600 or tighter.
pub(super) fn check_key_file(path: &Path) -> Result<(), Unsafe> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let mode = meta.permissions().mode() & 0o7777;
    let refuse = |problem: String, fix: String| {
        Err(Unsafe {
            path: path.to_path_buf(),
            problem,
            fix,
        })
    };
    if meta.uid() != me() {
        return refuse(
            format!("belongs to another user (uid {})", meta.uid()),
            "use your own copy of the key file".into(),
        );
    }
    if mode & 0o077 != 0 {
        return refuse(
            format!(
                "can be read by other users (mode {mode:o}); anyone who copied it can open your readings"
            ),
            format!("run `chmod 600 {}`", sh_quote(path.as_os_str())),
        );
    }
    Ok(())
}

/// A file or folder settings or prompts are read from (the config folder, `config.toml`,
/// `prompts/`, a folder in it, a prompt file), when there is one: the user's or root's, and
/// writable by nobody else. Links are followed: what is checked is what is read.
pub fn check_settings(path: &Path) -> Result<(), Unsafe> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    match settings_problem(meta.uid(), meta.permissions().mode(), me()) {
        None => Ok(()),
        Some(Problem::Owner(uid)) => {
            let mut aside = path.as_os_str().to_owned();
            aside.push(".theirs");
            Err(Unsafe {
                path: path.to_path_buf(),
                problem: format!(
                    "belongs to another user (uid {uid}), who can change it at any time"
                ),
                fix: format!(
                    "move it aside with `mv {} {}` and make one of your own",
                    sh_quote(path.as_os_str()),
                    sh_quote(&aside)
                ),
            })
        }
        Some(Problem::Writable { mode, root }) => Err(Unsafe {
            path: path.to_path_buf(),
            problem: format!(
                "can be written by other users (mode {mode:o}), who could send your API key and \
                 questions to a server of theirs or rewrite the instructions"
            ),
            fix: format!(
                "run `{}chmod go-w {}`",
                if root { "sudo " } else { "" },
                sh_quote(path.as_os_str())
            ),
        }),
    }
}

/// What is wrong with a settings file or folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    /// Neither the user's nor root's: this uid's.
    Owner(u32),
    /// Group- or world-writable (the permission bits); `root` when root owns it (and only root
    /// can change its mode) while the user is someone else.
    Writable { mode: u32, root: bool },
}

/// The rule for settings: owned by `me` or by root, and writable by nobody else.
fn settings_problem(owner: u32, mode: u32, me: u32) -> Option<Problem> {
    let mode = mode & 0o7777;
    if owner != me && owner != ROOT {
        Some(Problem::Owner(owner))
    } else if mode & 0o022 != 0 {
        Some(Problem::Writable {
            mode,
            root: owner != me,
        })
    } else {
        None
    }
}

/// Tightens one of the store's own files (ours, too open) to 0600; returns what it did.
pub fn tighten(path: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let mode = meta.permissions().mode() & 0o7777;
    if !meta.is_file() || meta.uid() != me() || mode & 0o077 == 0 {
        return None;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).ok()?;
    Some(format!(
        "{} could be read by other users (mode {mode:o}); it is now 0600",
        path.display()
    ))
}

/// `path` as one word for a POSIX shell: as it is when it has only characters no shell reads
/// specially, else in single quotes. A path with a control or invisible character (or bytes
/// that are not UTF-8) is written as `$'...'` with each such byte as `\xHH`: bash, zsh and ksh
/// read it back as the same bytes, and a terminal shows every one of them.
pub fn sh_quote(path: &OsStr) -> String {
    let bytes = path.as_bytes();
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"/._-+:@%,=".contains(b);
    if !bytes.is_empty() && bytes.iter().all(plain) {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(hidden) => format!("'{}'", s.replace('\'', r"'\''")),
        _ => {
            let mut out = String::from("$'");
            for chunk in bytes.utf8_chunks() {
                for c in chunk.valid().chars() {
                    match c {
                        '\\' | '\'' => {
                            out.push('\\');
                            out.push(c);
                        }
                        c if hidden(c) => {
                            let mut buf = [0; 4];
                            for b in c.encode_utf8(&mut buf).bytes() {
                                out.push_str(&format!("\\x{b:02x}"));
                            }
                        }
                        c => out.push(c),
                    }
                }
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out.push('\'');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_the_users_or_roots_and_written_by_no_one_else() {
        // The file-type bits of `st_mode`, which the rule must not mistake for permissions.
        const FILE: u32 = 0o100_000;
        const DIR: u32 = 0o40_000;
        let me = 1000;
        assert_eq!(settings_problem(me, FILE | 0o600, me), None);
        assert_eq!(settings_problem(me, DIR | 0o755, me), None);
        assert_eq!(settings_problem(me, DIR | 0o700, me), None);
        // Root's is the system's: fine while only root can write it.
        assert_eq!(settings_problem(ROOT, FILE | 0o644, me), None);
        assert_eq!(
            settings_problem(ROOT, FILE | 0o664, me),
            Some(Problem::Writable {
                mode: 0o664,
                root: true
            })
        );
        for mode in [0o666, 0o664, 0o646, 0o777, 0o775, 0o757, 0o1777, 0o620] {
            assert_eq!(
                settings_problem(me, mode, me),
                Some(Problem::Writable { mode, root: false }),
                "{mode:o}"
            );
        }
        // Anyone else's, however closed: they can change it at any time.
        assert_eq!(
            settings_problem(1001, FILE | 0o600, me),
            Some(Problem::Owner(1001))
        );
        // Root running it owns what root owns.
        assert_eq!(settings_problem(ROOT, FILE | 0o600, ROOT), None);
        assert_eq!(
            settings_problem(ROOT, FILE | 0o666, ROOT),
            Some(Problem::Writable {
                mode: 0o666,
                root: false
            })
        );
    }

    #[test]
    fn paths_are_quoted_for_the_shell_with_controls_visible() {
        let q = |s: &str| sh_quote(OsStr::new(s));
        assert_eq!(q("/tmp/home/config.toml"), "/tmp/home/config.toml");
        assert_eq!(
            q("/Users/me/Library/Application Support/iching"),
            "'/Users/me/Library/Application Support/iching'"
        );
        assert_eq!(q("it's $HOME"), r"'it'\''s $HOME'");
        assert_eq!(q(""), "''");
        assert_eq!(q("/tmp/a\u{1b}[31mb/x"), r"$'/tmp/a\x1b[31mb/x'");
        assert_eq!(q("/tmp/it's\n\\"), r"$'/tmp/it\'s\x0a\\'");
        assert_eq!(q("/tmp/a\u{202e}b"), r"$'/tmp/a\xe2\x80\xaeb'");
        assert_eq!(q("/tmp/café"), "'/tmp/café'");
        assert_eq!(
            sh_quote(OsStr::from_bytes(b"/tmp/\xff\x07")),
            r"$'/tmp/\xff\x07'"
        );
    }

    #[test]
    fn a_settings_file_others_can_write_is_refused_with_the_chmod_that_fixes_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("my config\u{1b}[2J.toml");
        std::fs::write(&file, "").unwrap();
        let set = |m: u32| {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(m)).unwrap();
        };
        set(0o600);
        assert_eq!(check_settings(&file), Ok(()));
        assert_eq!(check_settings(&dir.path().join("missing")), Ok(()));
        set(0o666);
        let err = check_settings(&file).unwrap_err().to_string();
        let quoted = sh_quote(file.as_os_str());
        assert!(quoted.contains(r"\x1b[2J"), "{quoted}");
        assert!(
            err.starts_with(&format!(
                "{quoted} can be written by other users (mode 666)"
            )),
            "{err}"
        );
        assert!(
            err.ends_with(&format!("To go on, run `chmod go-w {quoted}`.")),
            "{err}"
        );
        assert!(!err.contains('\u{1b}'), "no raw escape reaches a terminal");
        // The command it gives is the fix.
        let quoted_fix = err
            .rsplit('`')
            .nth(1)
            .expect("a command in backquotes")
            .to_owned();
        let ran = std::process::Command::new("bash")
            .arg("-c")
            .arg(&quoted_fix)
            .status()
            .unwrap();
        assert!(ran.success(), "{quoted_fix}");
        assert_eq!(check_settings(&file), Ok(()));
    }
}
