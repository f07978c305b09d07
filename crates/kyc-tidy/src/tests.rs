//! The checks: crate layers from `cargo metadata`, module cycles from `crate::` paths, file sizes
//! and module docs from the sources.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The workspace's layers, lowest first. A crate may depend (normally, for tests or to build) only
/// on crates of a lower layer: nothing points up or sideways, so no crate cycle can form.
const LAYERS: &[&[&str]] = &[
    &["kyc-sim", "kyc-tidy"],
    &["kyc-domain"],
    &["kyc-crypto"],
    &["kyc-store"],
    &["kyc-core"],
    &["kyc-server"],
    &["kyc-client", "kyc-cli"],
    &["kyc-bench"],
    &["kyc-desk"],
];

/// Dependencies a crate must not have (normal or build), with the reason: the layers' absences.
const ABSENT: &[(&str, &str, &str)] = &[
    (
        "kyc-core",
        "axum",
        "the desk knows no HTTP; kyc-server is the HTTP edge",
    ),
    (
        "kyc-core",
        "tauri",
        "the desk knows no window; src-tauri is the window",
    ),
    (
        "kyc-core",
        "reqwest",
        "the desk makes no HTTP calls of its own but the webhook's, via kyc-server",
    ),
    (
        "kyc-server",
        "tauri",
        "the server runs headless (kyc-desk serve)",
    ),
    (
        "kyc-sim",
        "tokio",
        "the simulator's payloads are pure: no runtime, no I/O",
    ),
    ("kyc-domain", "tokio", "the domain is pure: no runtime"),
    (
        "kyc-domain",
        "rusqlite",
        "the domain is pure: only kyc-store runs SQL",
    ),
    ("kyc-domain", "rand", "the domain is pure: no randomness"),
    ("kyc-domain", "reqwest", "the domain is pure: no network"),
    (
        "kyc-crypto",
        "rusqlite",
        "crypto seals and opens; it stores nothing",
    ),
    (
        "kyc-crypto",
        "tokio",
        "crypto is synchronous computation: no runtime",
    ),
    (
        "kyc-crypto",
        "toml",
        "crypto knows no configuration file: callers pass settings and keys in",
    ),
    ("kyc-store", "axum", "the store knows no HTTP"),
    (
        "kyc-store",
        "image",
        "the store keeps images as sent: decoding them is the desk's",
    ),
    (
        "kyc-store",
        "toml",
        "the store knows no configuration file: the desk passes paths and keys in",
    ),
    (
        "kyc-server",
        "kyc-store",
        "the HTTP edge calls the desk, which alone opens the store",
    ),
    (
        "kyc-sim",
        "rusqlite",
        "the simulator's payloads are pure: no storage",
    ),
];

/// The database drivers: only the crates in [`SQL`] depend on one (tests aside).
const DRIVERS: &[&str] = &["rusqlite", "postgres", "tokio-postgres"];

/// The only crates that may run SQL (depend on a driver other than for their tests).
const SQL: &[&str] = &["kyc-store"];

/// Import cycles between the modules of a crate that are known and being undone: none since
/// kyc-core's last one (audit ↔ store) was undone. Each entry would be one cycle's modules
/// exactly: a new cycle, or a known one that takes in another module, fails; so does an entry
/// once its cycle is gone (delete it then).
const KNOWN_CYCLES: &[(&str, &[&str])] = &[];

/// Files longer than 800 lines (before their `#[cfg(test)]` tail) that are known and being
/// split, with the length they may not exceed.
const KNOWN_LONG: &[(&str, usize)] = &[];

const MAX_LINES: usize = 800;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn metadata() -> Value {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

fn layer(name: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&name))
}

/// (package, dependency, kind) for every dependency of every workspace package.
fn dependencies(meta: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        for d in p["dependencies"].as_array().unwrap() {
            let kind = d["kind"].as_str().unwrap_or("normal").to_string();
            out.push((
                name.to_string(),
                d["name"].as_str().unwrap().to_string(),
                kind,
            ));
        }
    }
    out
}

#[test]
fn every_crate_has_a_layer_and_depends_only_downward() {
    let meta = metadata();
    let members: Vec<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let mut wrong = Vec::new();
    for m in &members {
        if layer(m).is_none() {
            wrong.push(format!("{m} has no layer in LAYERS: place it"));
        }
    }
    for (from, to, kind) in dependencies(&meta) {
        if !members.contains(&to) {
            continue;
        }
        let (Some(a), Some(b)) = (layer(&from), layer(&to)) else {
            continue;
        };
        if b >= a {
            wrong.push(format!(
                "{from} (layer {a}) depends on {to} (layer {b}, {kind}): only lower layers"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_layers_absences_hold() {
    let deps = dependencies(&metadata());
    let mut wrong = Vec::new();
    for (from, to, kind) in &deps {
        if kind == "dev" {
            continue;
        }
        for (krate, absent, why) in ABSENT {
            if from == krate && to == absent {
                wrong.push(format!("{from} depends on {to}: {why}"));
            }
        }
        if DRIVERS.contains(&to.as_str()) && !SQL.contains(&from.as_str()) {
            wrong.push(format!(
                "{from} depends on {to}: only {SQL:?} run SQL (a dev-dependency for tests is fine)"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every crate's `src` folder (the Tauri app's is `src-tauri`).
fn source_roots(meta: &Value) -> Vec<(String, PathBuf)> {
    let mut roots = Vec::new();
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap().to_string();
        let mut dirs = BTreeSet::new();
        for t in p["targets"].as_array().unwrap() {
            let kinds: Vec<&str> = t["kind"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .collect();
            if kinds.iter().any(|k| matches!(*k, "lib" | "bin")) {
                let src = PathBuf::from(t["src_path"].as_str().unwrap());
                dirs.insert(src.parent().unwrap().to_path_buf());
            }
        }
        for d in dirs {
            roots.push((name.clone(), d));
        }
    }
    roots
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The lines of a source file before its `#[cfg(test)] mod …` tail (test modules come last).
fn code_lines(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.trim() == "#[cfg(test)]"
            && lines[i + 1..]
                .iter()
                .find(|n| !n.trim().is_empty())
                .is_some_and(|n| {
                    let n = n.trim_start();
                    ["mod ", "pub(crate) mod ", "pub mod "]
                        .iter()
                        .any(|m| n.starts_with(m))
                })
            && !l.starts_with(' ')
        {
            return lines[..i].to_vec();
        }
    }
    lines
}

/// The top-level modules a piece of code names through `crate::` paths, including grouped
/// imports (`use crate::{a, b::c}`). Comments are skipped; so are the test tails.
fn referenced_modules(code: &[&str]) -> BTreeSet<String> {
    let text: String = code
        .iter()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `kyc_core::…`, not `crate::…`
        }
        let after = rest.trim_start();
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 1 => {
                        item_start = false;
                        let m = ident(&group[j..]);
                        if !m.is_empty() && m != "self" {
                            out.insert(m);
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let m = ident(after);
            if !m.is_empty() {
                out.insert(m);
            }
        }
    }
    out
}

/// The module of a crate a file belongs to: its top-level module (`store` for `store.rs` and
/// `store/query.rs`), or None for the crate root.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.trim_end_matches(".rs").to_string();
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

/// Strongly connected components of size > 1 (Tarjan), each sorted.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.g.contains_key(w) {
                continue;
            }
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                scc.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out.sort();
    t.out
}

#[test]
fn the_cycle_finder_finds_cycles_and_grouped_imports() {
    let code = [
        "use crate::{a::X, b, self};",
        "// crate::ignored",
        "fn f() { crate::c::g(); kyc_core::d::h(); }",
    ];
    let found: Vec<String> = referenced_modules(&code).into_iter().collect();
    assert_eq!(found, ["a", "b", "c"]);
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
        ("e", vec!["e"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
}

#[test]
fn no_new_import_cycle_between_the_modules_of_a_crate() {
    let meta = metadata();
    let mut found = Vec::new();
    for (krate, src) in source_roots(&meta) {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in &files {
            let Some(m) = module_of(&src, f) else {
                continue;
            };
            let text = std::fs::read_to_string(f).unwrap();
            let refs = referenced_modules(&code_lines(&text));
            let e = graph.entry(m.clone()).or_default();
            e.extend(refs.into_iter().filter(|r| *r != m));
        }
        for c in cycles(&graph) {
            found.push((krate.clone(), c));
        }
    }
    let known: Vec<(String, Vec<String>)> = KNOWN_CYCLES
        .iter()
        .map(|(k, c)| (k.to_string(), c.iter().map(|m| m.to_string()).collect()))
        .collect();
    let new: Vec<String> = found
        .iter()
        .filter(|f| !known.contains(f))
        .map(|(k, c)| format!("{k}: {}", c.join(" ↔ ")))
        .collect();
    let gone: Vec<String> = known
        .iter()
        .filter(|k| !found.contains(k))
        .map(|(k, c)| format!("{k}: {}", c.join(" ↔ ")))
        .collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "import cycles not in KNOWN_CYCLES:\n{}\nKNOWN_CYCLES entries no longer found (delete them):\n{}",
        new.join("\n"),
        gone.join("\n")
    );
}

#[test]
fn no_rust_file_over_800_lines_and_every_one_opens_with_its_purpose() {
    let meta = metadata();
    let root = root().canonicalize().unwrap();
    let mut files = Vec::new();
    for p in meta["packages"].as_array().unwrap() {
        let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap());
        let dir = manifest.parent().unwrap();
        for sub in ["src", "src-tauri", "tests", "benches"] {
            if dir.join(sub).is_dir() {
                rust_files(&dir.join(sub), &mut files);
            }
        }
    }
    files.sort();
    files.dedup();
    let mut wrong = Vec::new();
    let mut long = BTreeMap::new();
    for f in &files {
        let rel = f
            .canonicalize()
            .unwrap()
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(f).unwrap();
        if !text
            .lines()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| l.starts_with("//!"))
        {
            wrong.push(format!(
                "{rel}: does not open with a `//!` line saying what it is"
            ));
        }
        let n = code_lines(&text).len();
        if n > MAX_LINES {
            long.insert(rel, n);
        }
    }
    for (rel, n) in &long {
        match KNOWN_LONG.iter().find(|(k, _)| k == rel) {
            None => wrong.push(format!("{rel}: {n} lines (over {MAX_LINES}): split it")),
            Some((_, max)) if n > max => wrong.push(format!(
                "{rel}: {n} lines, more than the {max} it is allowed while being split"
            )),
            Some(_) => {}
        }
    }
    for (rel, _) in KNOWN_LONG {
        if !long.contains_key(*rel) {
            wrong.push(format!(
                "{rel}: now {MAX_LINES} lines or fewer: delete it from KNOWN_LONG"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// What the pure crates' code (tests aside) never names: I/O, the clock, the environment,
/// threads, randomness, a runtime or SQL.
const IMPURE: &[&str] = &[
    // Every public item of the domain is documented (`#![deny(missing_docs)]`, no way around it).
    "allow(missing_docs)",
    "std::fs",
    "std::net",
    "std::env",
    "std::process",
    "std::thread",
    "SystemTime",
    "Instant::now",
    "now_utc",
    "now_local",
    "tokio",
    "rusqlite",
    "rand::",
];

#[test]
fn the_domain_crate_has_no_io_clock_or_environment() {
    let words: Vec<(&str, &str)> = IMPURE.iter().map(|w| (*w, *w)).collect();
    let wrong = lines_naming("crates/kyc-domain/src", &words);
    assert!(
        wrong.is_empty(),
        "kyc-domain is pure:\n{}",
        wrong.join("\n")
    );
}

/// What the HTTP edge may not name: it asks the desk (which takes the acting user and checks the
/// one permission table), never the store or the permissions themselves.
const EDGE_ABSENT: &[(&str, &str)] = &[
    (".store()", "the store behind the desk"),
    ("kyc_store", "the store (the desk opens it: Desk::open)"),
    (
        "open_store",
        "opening the store (the desk opens it: Desk::open)",
    ),
    (
        "Permission::",
        "a permission check (the desk makes every one)",
    ),
    ("blocking(", "blocking store work (the desk runs it)"),
    (
        "timefmt::now",
        "the wall clock (the edge reads the desk's: Desk::now_ms)",
    ),
];

/// Whether `code` names `word` as a whole name (`blocking(`, not `spawn_blocking(`).
fn names(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Every line of the code under `dir` (comments and test tails aside) that names one of
/// `words` as a whole name, as `file:line: what` (each word comes with what it stands for).
fn lines_naming(dir: &str, words: &[(&str, &str)]) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&root().join(dir), &mut files);
    let mut wrong = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in code_lines(&text).iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for (word, what) in words {
                if names(code, word) {
                    wrong.push(format!("{}:{}: {what}", f.display(), i + 1));
                }
            }
        }
    }
    wrong
}

#[test]
fn the_http_edge_calls_the_desk_only() {
    assert!(names("let x = blocking(f)", "blocking(") && !names("spawn_blocking(f)", "blocking("));
    let wrong = lines_naming("crates/kyc-server/src", EDGE_ABSENT);
    assert!(
        wrong.is_empty(),
        "kyc-server's handlers and workers delegate to kyc_core::desk::Desk:\n{}",
        wrong.join("\n")
    );
}

/// The store is synchronous (the desk runs it on blocking threads): of its code only the
/// PostgreSQL connection (`pg/conn.rs`) names tokio, for the current-thread runtime that drives
/// one connection on its caller's thread (as the `postgres` crate does inside).
#[test]
fn the_store_names_a_runtime_only_to_drive_a_connection() {
    let conn = format!("pg{}conn.rs:", std::path::MAIN_SEPARATOR);
    let wrong: Vec<String> = lines_naming("crates/kyc-store/src", &[("tokio::", "a runtime")])
        .into_iter()
        .filter(|line| !line.contains(&conn))
        .collect();
    assert!(
        wrong.is_empty(),
        "kyc-store's API is synchronous:\n{}",
        wrong.join("\n")
    );
}

/// A store that syncs nothing is for loading a benchmark's cases: no crate that serves, receives
/// or runs a command opens one.
#[test]
fn only_the_benchmark_opens_a_store_that_syncs_nothing() {
    let word = [("open_unsynced", "opens a store that syncs nothing")];
    let wrong: Vec<String> = [
        "crates/kyc-core/src",
        "crates/kyc-server/src",
        "crates/kyc-cli/src",
        "crates/kyc-client/src",
        "src-tauri",
    ]
    .iter()
    .flat_map(|dir| lines_naming(dir, &word))
    .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        !lines_naming("crates/kyc-bench/src", &word).is_empty(),
        "the benchmark's seeding is where it is used"
    );
}

/// Each backend of kyc-store: the word its driver's paths start with, and the only files whose
/// code (tests aside) names it. Everything else in the store runs its SQL through
/// `db::Connection`.
const BACKEND_FILES: &[(&str, &str, &[&str])] = &[
    (
        "rusqlite",
        "SQLite",
        &["sqlite.rs", "migrate.rs", "backup.rs"],
    ),
    (
        "postgres::",
        "PostgreSQL",
        &["pg/mod.rs", "pg/tls.rs", "pg/scratch.rs", "pg/tx.rs"],
    ),
];

#[test]
fn the_store_reaches_each_engine_through_its_backend_only() {
    let mut wrong = Vec::new();
    for (word, engine, files) in BACKEND_FILES {
        let why = format!("names the {engine} driver outside {files:?}");
        wrong.extend(
            lines_naming("crates/kyc-store/src", &[(word, why.as_str())])
                .into_iter()
                .filter(|w| {
                    let file = w.split(':').next().unwrap_or("");
                    !files.iter().any(|b| file.ends_with(&format!("/{b}")))
                }),
        );
    }
    assert!(
        wrong.is_empty(),
        "kyc-store's rules and SQL run on db::Connection:\n{}",
        wrong.join("\n")
    );
}

/// The crates whose whole public API is documented (issue 17): each says so in its `lib.rs`, and
/// no item of theirs opts out.
const DOCUMENTED: &[&str] = &["kyc-domain", "kyc-store"];

#[test]
fn the_documented_crates_stay_documented() {
    let mut wrong = Vec::new();
    for krate in DOCUMENTED {
        let lib =
            std::fs::read_to_string(root().join(format!("crates/{krate}/src/lib.rs"))).unwrap();
        if !lib.lines().any(|l| l.trim() == "#![deny(missing_docs)]") {
            wrong.push(format!("{krate}: lib.rs lacks #![deny(missing_docs)]"));
        }
        wrong.extend(lines_naming(
            &format!("crates/{krate}/src"),
            &[("allow(missing_docs)", "opts out of documenting")],
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
