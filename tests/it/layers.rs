//! The layout docs/architecture.md describes is the one `src/` has: every
//! `crate::` path from a module goes to a lower layer, every module has a
//! layer, and no two files of a module use each other in a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers table of docs/architecture.md: module → layer.
fn layers(doc: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, layer, modules, ..] = cells[..] else {
            continue;
        };
        let Ok(layer) = layer.parse::<u32>() else {
            continue;
        };
        for m in modules.split(',') {
            out.insert(m.trim().trim_matches('`').to_string(), layer);
        }
    }
    out
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// A file's code without comments and without its unit tests (which may
/// use what they test from anywhere).
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names that follow `prefix` in `code` (`crate::state` → `state`),
/// including those of a group (`super::{a, b}`).
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let name = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let rest = &code[at + prefix.len()..];
        let names: Vec<String> = match rest.strip_prefix('{') {
            Some(group) => group[..group.find('}').unwrap_or(group.len())]
                .split(',')
                .map(name)
                .collect(),
            None => vec![name(rest)],
        };
        out.extend(names.into_iter().filter(|n| !n.is_empty()));
    }
    out
}

/// Files no layer holds: the crate and binary roots, test-only files.
const ABOVE: [&str; 4] = ["lib.rs", "main.rs", "compat.rs", "properties.rs"];

#[test]
fn modules_use_only_lower_layers_and_files_form_no_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let layers = layers(&doc);
    assert!(layers.len() > 5, "no layers table in docs/architecture.md");
    let src = root.join("src");
    let mut broken = Vec::new();
    let mut seen = BTreeSet::new();
    // module → file → the files of the same module it uses.
    let mut within: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for path in files(&src) {
        let rel = path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if ABOVE.contains(&rel.as_str()) || rel.ends_with("/tests.rs") {
            continue;
        }
        let (module, file) = match rel.split_once('/') {
            Some((m, f)) => (m.to_string(), f.trim_end_matches(".rs").to_string()),
            None => (rel.trim_end_matches(".rs").to_string(), String::new()),
        };
        seen.insert(module.clone());
        let Some(&layer) = layers.get(&module) else {
            broken.push(format!(
                "src/{rel}: module {module} has no layer in the table"
            ));
            continue;
        };
        let code = code(&path);
        for used in names_after(&code, "crate::") {
            match layers.get(&used) {
                _ if used == module => {}
                Some(&l) if l < layer => {}
                Some(&l) => broken.push(format!(
                    "src/{rel}: {module} (layer {layer}) uses {used} (layer {l})"
                )),
                None => broken.push(format!("src/{rel}: uses {used}, which has no layer")),
            }
        }
        if !file.is_empty() && file != "mod" {
            let mut uses = names_after(&code, "super::");
            uses.extend(names_after(&code, &format!("crate::{module}::")));
            within.entry(module).or_default().insert(file, uses);
        }
    }
    for m in layers.keys() {
        if !seen.contains(m) {
            broken.push(format!("the table names {m}, which src/ does not have"));
        }
    }
    for (module, graph) in &within {
        if let Some(cycle) = find_cycle(graph) {
            broken.push(format!(
                "{module}: files use each other in a cycle: {cycle}"
            ));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// A cycle among the files of one module, as `a → b → a`.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<String> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle.join(" → "));
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if graph.contains_key(next) {
                if let Some(c) = visit(graph, next, path, done) {
                    return Some(c);
                }
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(graph, n, &mut Vec::new(), &mut done))
}

#[test]
fn the_checker_sees_a_group_and_a_cycle() {
    let used = names_after("use crate::{a, b_c};\nuse super::{x, y::Z};", "super::");
    assert_eq!(used, BTreeSet::from(["x".to_string(), "y".to_string()]));
    let graph = BTreeMap::from([
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["a".to_string()])),
    ]);
    assert_eq!(find_cycle(&graph).as_deref(), Some("a → b → a"));
    let table = "| 0 | `x`, `y` | leaves |\n| 1 | `z` | top |";
    assert_eq!(layers(table).get("y"), Some(&0));
    assert_eq!(layers(table).get("z"), Some(&1));
}
