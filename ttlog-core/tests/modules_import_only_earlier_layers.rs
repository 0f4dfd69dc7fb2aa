//! ttlog-core's modules follow the event path: no module imports one from a later layer
//! (docs/architecture.md, "Layers"). Reads the sources and checks every `crate::` path
//! outside test code.

use std::collections::BTreeMap;
use std::path::Path;

/// The layers, in event-path order; a module may use its own layer and earlier ones.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "vocabulary: callsite, value, encode",
        &[
            "diag", "guard", "sync", "level", "filter", "clock", "thread", "trace", "callsite",
            "value", "encode", "record", "redactor",
        ],
    ),
    (
        "ring and producer",
        &["ring", "runtime", "producer", "scope", "span", "context"],
    ),
    ("consumer", &["event", "consumer", "redact"]),
    ("sinks and recorder", &["sink", "recorder"]),
    ("snapshot files", &["snapshot"]),
    (
        "assembly: triggers, handle, builder",
        &["trigger", "fork", "stats", "handle", "builder", "lib"],
    ),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&module))
}

/// The top-level module a source file belongs to (`sink/json.rs` is `sink`).
fn module_of(path: &Path, src: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// The source without its test modules.
fn non_test_code(text: &str) -> &str {
    [
        "#[cfg(test)]\nmod tests",
        "#[cfg(all(test, not(loom)))]",
        "#[cfg(all(test, loom))]",
    ]
    .iter()
    .filter_map(|marker| text.find(marker))
    .min()
    .map_or(text, |at| &text[..at])
}

/// The modules named by `crate::name` paths and by `use crate::{a, b}` groups.
fn imported(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.push(name);
            }
        } else {
            found.push(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    found
}

#[test]
fn modules_import_only_earlier_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut violations = BTreeMap::new();
    for path in &files {
        let module = module_of(path, &src);
        let layer = layer_of(&module)
            .unwrap_or_else(|| panic!("module `{module}` is in no layer: add it to LAYERS"));
        let text = std::fs::read_to_string(path).unwrap();
        for dep in imported(non_test_code(&text)) {
            // Macro support items re-exported at the root, `crate::` in doc text, etc.
            let Some(dep_layer) = layer_of(&dep) else {
                continue;
            };
            if dep_layer > layer {
                violations
                    .entry(path.strip_prefix(&src).unwrap().display().to_string())
                    .or_insert_with(Vec::new)
                    .push(format!("{dep} ({})", LAYERS[dep_layer].0));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports from later layers: {violations:#?}"
    );
    assert!(files.len() > 20, "read {} source files", files.len());
}
