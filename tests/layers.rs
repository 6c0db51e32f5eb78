//! The crate's arrows run one way. Every `crate::…` and `super::…` path in the non-test source
//! is read as an import of the file that defines it; no two files may import each other, and a
//! top-level module may only import modules on a lower layer than its own (or its own). The front
//! ends (`cli`, `tui`) import only the Service, the passphrase prompt and the shared vocabulary.
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
    &["model", "oracle", "crypto", "logging", "when"],
    &["plan", "search"],
    &["answer"],
    &["events"],
    &["sync"],
    &["llm", "config", "store"],
    &["orchestrator", "report", "book"],
    &["generate"],
    &["service"],
    &["passphrase"],
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

/// The paths after `prefix` (`crate::` or `super::`) in `text`, as segments, each with the byte
/// offset where it is written; a `{...}` group (nested ones too) gives one path per name in it.
fn paths(text: &str, prefix: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find(prefix) {
        let found = at + i;
        at = found + prefix.len();
        let before = text[..found].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        tree(text, at, Vec::new(), &mut out);
    }
    out
}

/// The path written at `text[at..]` after the segments `segs`, into `out`; each name of a
/// `{a, b::{c, D}}` group as its own path.
fn tree(text: &str, at: usize, mut segs: Vec<String>, out: &mut Vec<(usize, Vec<String>)>) {
    let mut pos = at;
    loop {
        let tail = &text[pos..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        if end == 0 {
            break;
        }
        segs.push(tail[..end].to_owned());
        pos += end;
        if text[pos..].starts_with("::") {
            pos += 2;
        } else {
            break;
        }
    }
    if text[pos..].starts_with('{') {
        // The group's items, split at its own commas (not those of a nested group).
        let group = pos + 1;
        let mut depth = 0usize;
        let mut start = group;
        for (i, c) in text[group..].char_indices() {
            let i = group + i;
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    item(text, start, i, &segs, out);
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    item(text, start, i, &segs, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
    }
    out.push((at, segs));
}

/// The item `text[start..end]` of a `{...}` group under `segs`: `self`, a type, or a path.
fn item(
    text: &str,
    start: usize,
    end: usize,
    segs: &[String],
    out: &mut Vec<(usize, Vec<String>)>,
) {
    let raw = &text[start..end];
    let start = start + (raw.len() - raw.trim_start().len());
    let name = raw.trim();
    if name.is_empty() || name == "self" || name.starts_with("self ") {
        return;
    }
    tree(text, start, segs.to_vec(), out);
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
        let mut targets: Vec<Vec<String>> = paths(&text, "crate::")
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
        for (_, p) in paths(&text, "super::") {
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

/// What the front ends may import besides their own module: the Service, the passphrase prompt
/// and the shared vocabulary (model types, the oracle and the book, events, the report shape,
/// text helpers, the search rule, local times). Never the store, the providers, the settings, the plan, the
/// reading flow or the orchestrator: those are the Service's to use.
const FRONT_END_MAY_IMPORT: &[&str] = &[
    "service",
    "passphrase",
    "model",
    "oracle",
    "book",
    "events",
    "report",
    "answer",
    "text",
    "search",
    "when",
];

#[test]
fn the_front_ends_go_through_the_service() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offending = Vec::new();
    for front in ["cli", "tui"] {
        let mut files = Vec::new();
        rust_files(&src.join(front), &mut files);
        files.sort();
        for file in files {
            let s = file.to_string_lossy();
            // Test code: the front ends' own test files, as the rule above reads them.
            if s.contains("/tests/") || s.ends_with("/tests.rs") {
                continue;
            }
            let text = code(&std::fs::read_to_string(&file).unwrap());
            for (at, path) in paths(&text, "crate::") {
                let Some(first) = path.first() else {
                    continue;
                };
                if first == front || FRONT_END_MAY_IMPORT.contains(&first.as_str()) {
                    continue;
                }
                let line = text[..at].matches('\n').count() + 1;
                offending.push((file.clone(), line, path.join("::")));
            }
        }
    }
    offending.sort();
    offending.dedup();
    let offending: Vec<String> = offending
        .iter()
        .map(|(file, line, path)| {
            let file = file.strip_prefix(src.parent().unwrap()).unwrap_or(file);
            format!("{}:{line}: crate::{path}", file.display())
        })
        .collect();
    assert!(
        offending.is_empty(),
        "src/cli and src/tui go through the Service: they may import only {} and their own \
         module; these lines import something else (use it through crate::service):\n{}",
        FRONT_END_MAY_IMPORT.join(", "),
        offending.join("\n")
    );
}

#[test]
fn a_use_group_gives_each_of_its_paths_where_it_is_written() {
    let text = "use crate::{\n    service::{self, Service},\n    store::{Listed, rfc3339},\n};";
    let found = paths(text, "crate::");
    let at = |p: &[&str]| {
        found
            .iter()
            .find(|(_, q)| q.iter().map(String::as_str).eq(p.iter().copied()))
            .map(|(at, _)| text[..*at].matches('\n').count() + 1)
    };
    assert_eq!(at(&["service"]), Some(2));
    assert_eq!(at(&["store"]), Some(3));
    assert_eq!(at(&["store", "rfc3339"]), Some(3));
}
