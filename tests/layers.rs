//! The crate's arrows run one way. Every `crate::…` and `super::…` path in the non-test source
//! is read as an import of the file that defines it; no two files may import each other, and a
//! top-level module may only import modules on a lower layer than its own (or its own).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or tool fails by panicking"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module imports only from layers below it, or its own.
const LAYERS: &[&[&str]] = &[
    &["text"],
    &["model", "oracle", "crypto", "logging"],
    &["plan", "search"],
    &["response"],
    &["events"],
    &["llm", "config", "store"],
    &["orchestrator", "report", "book"],
    &["reading"],
    &["service"],
    &["prompt"],
    &["cli", "tui"],
];

/// Top-level modules allowed to import each other's files within one layer, one way only:
/// (from, to).
const SAME_LAYER: &[(&str, &str)] = &[("config", "llm"), ("config", "store")];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's module path: `src/tui/screens/mod.rs` -> [tui, screens].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts
}

/// The source without comments and without its `#[cfg(test)] mod tests { ... }` tail.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths after `prefix` (`crate::` or `super::`) in `text`, as segments.
fn paths(text: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let mut segs = Vec::new();
        let mut tail = rest;
        loop {
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(tail.len());
            if end == 0 {
                break;
            }
            segs.push(tail[..end].to_owned());
            tail = &tail[end..];
            match tail.strip_prefix("::") {
                Some(t) => tail = t,
                None => break,
            }
        }
        // `use super::{a, b::C}`: each name in the braces.
        if let Some(t) = tail.strip_prefix('{') {
            let inner = &t[..t.find('}').unwrap_or(t.len())];
            for name in inner.split(',') {
                let first = name.trim().split("::").next().unwrap_or("").trim();
                if first.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !first.is_empty() {
                    let mut p = segs.clone();
                    p.push(first.to_owned());
                    out.push(p);
                }
            }
        }
        out.push(segs);
    }
    out
}

#[test]
fn no_two_files_import_each_other_and_no_module_imports_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| {
            let s = f.to_string_lossy();
            !s.contains("/tests/") && !s.ends_with("/tests.rs")
        })
        .collect();
    let by_module: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_of(&src, f), f.clone()))
        .collect();
    let layer = |m: &str| LAYERS.iter().position(|l| l.contains(&m));
    let mut imports: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    let mut wrong_way = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let text = code(&std::fs::read_to_string(file).unwrap());
        let mut targets = paths(&text, "crate::");
        let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
        for p in paths(&text, "super::") {
            // `super` is the parent module, whether the file is `a/b.rs` or `a/b/mod.rs`.
            targets.push(parent.iter().cloned().chain(p).collect());
        }
        for target in targets {
            let Some(defining) = (1..=target.len())
                .rev()
                .find_map(|k| by_module.get(&target[..k]))
            else {
                continue;
            };
            if defining != file {
                imports
                    .entry(file.clone())
                    .or_default()
                    .insert(defining.clone());
            }
            let (Some(from), Some(to)) = (module.first(), target.first()) else {
                continue;
            };
            if from == to {
                continue;
            }
            let (Some(lf), Some(lt)) = (layer(from), layer(to)) else {
                wrong_way.push(format!("{from} or {to} is on no layer (add it to LAYERS)"));
                continue;
            };
            let allowed =
                lt < lf || (lt == lf && SAME_LAYER.contains(&(from.as_str(), to.as_str())));
            if !allowed {
                wrong_way.push(format!(
                    "{} imports {} ({from} is on layer {lf}, {to} on layer {lt})",
                    file.display(),
                    target.join("::")
                ));
            }
        }
    }
    let mut circles = Vec::new();
    for (a, targets) in &imports {
        for b in targets {
            if a < b && imports.get(b).is_some_and(|t| t.contains(a)) {
                circles.push(format!("{} <-> {}", a.display(), b.display()));
            }
        }
    }
    wrong_way.sort();
    wrong_way.dedup();
    assert!(
        circles.is_empty(),
        "files importing each other:\n{}",
        circles.join("\n")
    );
    assert!(
        wrong_way.is_empty(),
        "imports against the layers:\n{}",
        wrong_way.join("\n")
    );
}
