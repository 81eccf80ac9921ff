//! The layering written in the crate's doc holds: a module names (`crate::x`)
//! only modules before it in [`ORDER`], so the import graph stays a DAG.

/// Every module of the crate, each after the modules it may import.
const ORDER: &[(&str, &str)] = &[
    ("vocab", include_str!("../vocab.rs")),
    ("error", include_str!("../error.rs")),
    ("ast", include_str!("../ast.rs")),
    ("lex", include_str!("../lex.rs")),
    ("heredoc", include_str!("../heredoc.rs")),
    ("parse", include_str!("../parse.rs")),
    ("dollar", include_str!("../dollar.rs")),
    ("opts", include_str!("../opts.rs")),
    ("paths", include_str!("../paths.rs")),
    ("pattern", include_str!("../pattern.rs")),
    ("reach", include_str!("../reach.rs")),
    ("optcheck", include_str!("../optcheck.rs")),
    ("peel", include_str!("../peel.rs")),
    ("git", include_str!("../git.rs")),
    ("text", include_str!("../text.rs")),
    ("awk", include_str!("../awk.rs")),
    ("scripts", include_str!("../scripts.rs")),
    ("jq", include_str!("../jq.rs")),
    ("files", include_str!("../files.rs")),
    ("http", include_str!("../http.rs")),
    ("net", include_str!("../net.rs")),
    ("redis", include_str!("../redis.rs")),
    ("sql", include_str!("../sql.rs")),
    ("docker_run", include_str!("../docker_run.rs")),
    ("docker", include_str!("../docker.rs")),
    ("ops", include_str!("../ops.rs")),
    ("tools", include_str!("../tools.rs")),
    ("readers", include_str!("../readers.rs")),
    ("builtins", include_str!("../builtins.rs")),
    ("runners", include_str!("../runners.rs")),
    ("spawners", include_str!("../spawners.rs")),
    ("classify", include_str!("../classify.rs")),
    ("wrappers", include_str!("../wrappers.rs")),
    ("cwd", include_str!("../cwd.rs")),
    ("unwrap", include_str!("../unwrap.rs")),
    ("policy", include_str!("../policy.rs")),
];

/// The first segment of every `crate::` path in `src`, `crate::{a, b::c}` included.
fn crate_paths(src: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    for (at, _) in src.match_indices("crate::") {
        let rest = &src[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = group.split('}').next().unwrap_or_default();
                names.extend(group.split(',').map(ident).filter(|n| !n.is_empty()));
            }
            None => names.push(ident(rest)),
        }
    }
    names
}

#[test]
fn modules_import_only_modules_before_them() {
    let mut problems = Vec::new();
    for (i, (module, src)) in ORDER.iter().enumerate() {
        let allowed: Vec<&str> = ORDER[..i].iter().map(|(name, _)| *name).collect();
        for name in crate_paths(src) {
            if !allowed.contains(&name.as_str()) {
                problems.push(format!("`{module}` names `crate::{name}`"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_module_has_its_place() {
    let lib = include_str!("../lib.rs");
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .filter(|m| *m != "tests")
        .collect();
    let placed: Vec<&str> = ORDER.iter().map(|(name, _)| *name).collect();
    for m in &declared {
        assert!(placed.contains(m), "module `{m}` is missing from ORDER");
    }
    assert_eq!(declared.len(), placed.len(), "{declared:?} vs {placed:?}");
}
