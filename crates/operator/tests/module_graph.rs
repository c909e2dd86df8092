//! No two sibling modules may use each other, directly or through others: a circle makes every
//! module in it a prerequisite of the others, so none can be read, tested or moved alone.
//!
//! The graph is read from the sources: within a parent module, child `a` depends on sibling `b`
//! when `a` (or anything under it) names `super::b`, `crate::<parent path>::b`, or, at the crate
//! root, `crate::b`. Crates listed in `CRATES` are checked; extend it as each is cleaned.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Crates (source directories relative to the workspace root) that must stay circle-free.
const CRATES: &[&str] = &[
    "crates/operator/src",
    "crates/agent/src",
    "crates/agent-ebpf/src",
    "crates/pipeline/src",
    "crates/flp-config/src",
    "crates/logging/src",
    "crates/cli/src",
    "crates/local/src",
];

/// Module path (`["render", "agent"]`) of a source file under `src`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs").to_string();
        if stem != "mod" && stem != "lib" && stem != "main" {
            parts.push(stem);
        }
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("main.rs") {
            out.push(path);
        }
    }
}

/// Identifiers that follow `prefix` in `text` (`super::agent::X` gives `agent`; a `{a, b}` group
/// gives both).
fn names_after(text: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in text.match_indices(prefix) {
        let rest = &text[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            out.extend(
                group[..end]
                    .split(',')
                    .map(|p| ident(p.trim()))
                    .filter(|s| !s.is_empty()),
            );
        } else {
            out.push(ident(rest));
        }
    }
    out
}

/// Edges `(parent, child) -> siblings it uses`.
fn graph(src: &Path) -> BTreeMap<(Vec<String>, String), BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut edges: BTreeMap<(Vec<String>, String), BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let path = module_path(src, &file);
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let text: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        // `super::x` from module m (file of m) names sibling x of m.
        if let Some((me, parent)) = path.split_last() {
            for name in names_after(&text, "super::") {
                if name != *me && !name.is_empty() {
                    edges
                        .entry((parent.to_vec(), me.clone()))
                        .or_default()
                        .insert(name);
                }
            }
        }
        // `crate::a::b::x` names x as a child of a::b: the edge is from our ancestor under a::b.
        for full in text.match_indices("crate::").map(|(i, _)| &text[i + 7..]) {
            // Segments up to a `{` group, whose names are alternatives for the next segment.
            let mut segs: Vec<String> = Vec::new();
            let mut rest = full;
            let mut group = Vec::new();
            loop {
                if let Some(inner) = rest.strip_prefix('{') {
                    let end = inner.find('}').unwrap_or(inner.len());
                    group = inner[..end]
                        .split(',')
                        .map(|p| {
                            p.trim()
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect::<String>()
                        })
                        .filter(|n| !n.is_empty())
                        .collect();
                    break;
                }
                let seg: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if seg.is_empty() {
                    break;
                }
                rest = &rest[seg.len()..];
                segs.push(seg);
                match rest.strip_prefix("::") {
                    Some(r) => rest = r,
                    None => break,
                }
            }
            let mut targets: Vec<Vec<String>> = vec![segs.clone()];
            targets.extend(group.into_iter().map(|g| {
                let mut t = segs.clone();
                t.push(g);
                t
            }));
            for segs in targets {
                for depth in 0..segs.len() {
                    let parent = &segs[..depth];
                    let target = &segs[depth];
                    if path.len() > depth && path[..depth] == *parent && path[depth] != *target {
                        edges
                            .entry((parent.to_vec(), path[depth].clone()))
                            .or_default()
                            .insert(target.clone());
                    }
                }
            }
        }
    }
    edges
}

/// Circles among siblings, each as `parent: a -> b -> a`.
fn circles(src: &Path) -> Vec<String> {
    let edges = graph(src);
    let mut by_parent: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for ((parent, child), deps) in edges {
        by_parent.entry(parent).or_default().insert(child, deps);
    }
    let mut out = Vec::new();
    for (parent, g) in by_parent {
        for start in g.keys() {
            // Depth-first search for a path back to `start`.
            let mut stack = vec![(start.clone(), vec![start.clone()])];
            let mut seen = BTreeSet::new();
            while let Some((node, trail)) = stack.pop() {
                for next in g.get(&node).into_iter().flatten() {
                    if next == start {
                        let mut circle = trail.clone();
                        circle.push(start.clone());
                        let text = format!("{}: {}", parent.join("::"), circle.join(" -> "));
                        // Report each circle once, from its smallest member.
                        if trail.iter().all(|m| m >= start) && !out.contains(&text) {
                            out.push(text);
                        }
                    } else if g.contains_key(next) && seen.insert(next.clone()) {
                        let mut t = trail.clone();
                        t.push(next.clone());
                        stack.push((next.clone(), t));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn no_module_import_circles() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut found = Vec::new();
    for krate in CRATES {
        for c in circles(&root.join(krate)) {
            found.push(format!("{krate}: {c}"));
        }
    }
    assert!(
        found.is_empty(),
        "module import circles:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checker_finds_a_circle() {
    let dir = std::env::temp_dir().join(format!("module-graph-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("render")).expect("dir");
    std::fs::write(dir.join("lib.rs"), "pub mod render;").expect("lib");
    std::fs::write(
        dir.join("render/mod.rs"),
        "pub mod a; pub mod b; pub mod c;",
    )
    .expect("mod");
    std::fs::write(dir.join("render/a.rs"), "use super::b::X;").expect("a");
    std::fs::write(dir.join("render/b.rs"), "use crate::render::{c, d};").expect("b");
    std::fs::write(dir.join("render/c.rs"), "fn f() { super::a::g() }").expect("c");
    let found = circles(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(found, vec!["render: a -> b -> c -> a".to_string()]);
}
