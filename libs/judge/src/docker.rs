//! `docker` and `docker compose`: the commands most remediation goes through.
//!
//! Why it exists: one program spans every category, from `docker ps` (read)
//! through `docker restart` (Tier 2) and `docker compose up` (Tier 3) to
//! `docker volume rm` (never). `docker exec` and `docker run` also run a
//! command inside a container, which is judged too.
//! What it must not do: let an option it does not know hide where the image
//! or the container's command starts, or let a data-volume deletion, a prune
//! or a network change through at any tier.

use crate::ast::Word;
use crate::docker_run::{exec_peel, run_parts, run_peel, run_risks};
use crate::optcheck::write_any;
use crate::opts::{Scanned, Spec, listed, scan};
use crate::paths::{Env, NETWORK, VOLUMES};
use crate::peel::Peel;
use crate::vocab::Category;

const PRUNE: &str = "pruning Docker data";

const DOCKER_GLOBAL: Spec<'static> = Spec {
    short_values: "Hcl",
    long_values: "host context config log-level tlscacert tlscert tlskey",
    permute: false,
};
const COMPOSE_GLOBAL: Spec<'static> = Spec {
    short_values: "fp",
    long_values: "file project-name project-directory env-file profile ansi progress parallel",
    permute: false,
};

/// Index (in `args`) of the subcommand after global options.
fn subcommand(args: &[Word], spec: &Spec) -> Option<usize> {
    let scanned = scan(args, spec);
    if scanned.wild.is_some() || scanned.operands.is_empty() {
        return None;
    }
    Some(args.len() - scanned.operands.len())
}

fn sub_name(args: &[Word], i: usize) -> Option<String> {
    args.get(i).and_then(Word::literal)
}

/// Words that might expand to options (`docker rm $C` could be `-v x`).
fn wild(args: &[Word], what: &str) -> Option<Category> {
    args.iter()
        .find(|w| w.literal().is_none() && w.may_be_option())
        .map(|w| Category::unclear(format!("`{}` could expand to options of `{what}`", w.raw)))
}

fn targets(s: &Scanned, fallback: &str) -> String {
    if s.operands.is_empty() {
        return fallback.to_owned();
    }
    s.operands
        .iter()
        .map(|w| w.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn peel(prog: &str, words: &[Word]) -> Peel {
    if prog == "docker-compose" {
        return compose_peel(words, 1);
    }
    let args = &words[1..];
    let Some(i) = subcommand(args, &DOCKER_GLOBAL) else {
        return Peel::No;
    };
    match (
        sub_name(args, i).as_deref(),
        sub_name(args, i + 1).as_deref(),
    ) {
        (Some("exec"), _) => exec_peel(words, i + 2),
        (Some("container"), Some("exec")) => exec_peel(words, i + 3),
        (Some("run" | "create"), _) => run_peel(words, i + 2),
        (Some("container"), Some("run" | "create")) => run_peel(words, i + 3),
        (Some("compose"), _) => compose_peel(words, i + 2),
        _ => Peel::No,
    }
}

pub(crate) fn classify(prog: &str, args: &[Word], env: &Env) -> Category {
    if prog == "docker-compose" {
        return compose(args, env);
    }
    let globals = scan(args, &DOCKER_GLOBAL);
    if globals.opts.iter().any(|o| o.is("--config")) {
        return Category::unclear(
            "`docker --config` loads a client configuration, which can name programs to run",
        );
    }
    let Some(i) = subcommand(args, &DOCKER_GLOBAL) else {
        let versions = args
            .iter()
            .all(|w| w.literal().is_some_and(|t| t == "-v" || t == "--version"));
        return if versions {
            Category::ReadOnly
        } else {
            Category::unclear("the docker subcommand could not be found")
        };
    };
    let Some(sub) = sub_name(args, i) else {
        return Category::Unknown {
            program: format!("docker {}", args[i].raw),
        };
    };
    let rest = &args[i + 1..];
    match sub.as_str() {
        "compose" => compose(rest, env),
        "container" | "image" | "network" | "volume" | "system" => {
            let Some(object_sub) = rest.first().and_then(Word::literal) else {
                return Category::unclear(format!("`docker {sub}` needs a literal subcommand"));
            };
            grouped(&sub, &object_sub, &rest[1..], env)
        }
        _ => top_level(&sub, rest, env),
    }
}

fn top_level(sub: &str, rest: &[Word], env: &Env) -> Category {
    let restart_spec = Spec {
        short_values: "ts",
        long_values: "time signal detach-keys",
        permute: true,
    };
    match sub {
        "ps" | "inspect" | "logs" | "images" | "version" | "info" | "top" | "port" | "history"
        | "diff" | "search" => Category::ReadOnly,
        "stats" if has_literal(rest, "--no-stream") => Category::ReadOnly,
        "events"
            if rest
                .iter()
                .any(|w| w.literal().is_some_and(|t| t.starts_with("--until"))) =>
        {
            Category::ReadOnly
        }
        "stats" | "events" => Category::unclear(format!(
            "`docker {sub}` without `--no-stream`/`--until` never ends"
        )),
        "restart" | "start" | "stop" => {
            let s = scan(rest, &restart_spec);
            if s.operands.is_empty() {
                return Category::unclear(format!("`docker {sub}` needs a container"));
            }
            Category::Restart {
                target: targets(&s, ""),
            }
        }
        "rm" | "run" | "create" | "pull" => grouped("container", sub, rest, env),
        "rmi" => Category::write("removes images"),
        "secret" => Category::never(crate::paths::SECRETS),
        "exec" => Category::unclear("`docker exec` needs a container and a command"),
        "kill" | "pause" | "unpause" | "update" | "rename" | "cp" | "commit" | "export"
        | "save" | "load" | "import" | "tag" | "push" | "build" | "login" | "logout" | "attach"
        | "plugin" | "swarm" | "node" | "service" | "stack" | "config" | "context" | "buildx"
        | "builder" | "trust" | "manifest" | "wait" => {
            Category::write(format!("changes Docker state with `docker {sub}`"))
        }
        _ => Category::Unknown {
            program: format!("docker {sub}"),
        },
    }
}

fn has_literal(args: &[Word], flag: &str) -> bool {
    args.iter().any(|w| w.literal().is_some_and(|t| t == flag))
}

/// `docker container|image|network|volume|system SUB ...`.
fn grouped(object: &str, sub: &str, rest: &[Word], env: &Env) -> Category {
    let category = grouped_category(object, sub, rest, env);
    let read = matches!(sub, "ls" | "list" | "inspect");
    if read || matches!(category, Category::Never { .. }) {
        return category;
    }
    wild(rest, &format!("docker {object} {sub}")).unwrap_or(category)
}

fn grouped_category(object: &str, sub: &str, rest: &[Word], env: &Env) -> Category {
    let flags = scan(
        rest,
        &Spec {
            short_values: "",
            long_values: "filter format platform",
            permute: true,
        },
    );
    match (object, sub) {
        (_, "ls" | "list" | "inspect") => Category::ReadOnly,
        ("container", "ps" | "logs" | "top" | "port" | "diff") => Category::ReadOnly,
        ("container", "stats" | "restart" | "start" | "stop") => top_level(sub, rest, env),
        ("container", "rm") if flags.has("-v --volumes") => Category::never(VOLUMES),
        ("container", "rm") => Category::Recreate {
            target: targets(&flags, ""),
        },
        ("container" | "image" | "network" | "volume" | "system", "prune") => match object {
            "image" if !flags.has("-a --all") => Category::write("removes dangling images"),
            "network" => Category::never(NETWORK),
            "volume" => Category::never(VOLUMES),
            _ => Category::never(PRUNE),
        },
        ("container", "run" | "create") => match run_parts(rest) {
            Err(reason) => Category::unclear(reason),
            Ok((s, image, _)) => run_risks(&s, env).unwrap_or_else(|| Category::Recreate {
                target: image.map(|w| w.raw.clone()).unwrap_or_default(),
            }),
        },
        ("container" | "image", "pull") => Category::Recreate {
            target: targets(&flags, ""),
        },
        ("image", "history") => Category::ReadOnly,
        ("network", _) => Category::never(NETWORK),
        ("volume", "rm" | "remove") => Category::never(VOLUMES),
        ("system", "df" | "info") => Category::ReadOnly,
        ("system", "events") => top_level("events", rest, env),
        _ => Category::write(format!("changes Docker state with `docker {object} {sub}`")),
    }
}

fn compose_peel(words: &[Word], start: usize) -> Peel {
    let args = words.get(start..).unwrap_or(&[]);
    let Some(i) = subcommand(args, &COMPOSE_GLOBAL) else {
        return Peel::No;
    };
    match sub_name(args, i).as_deref() {
        Some("exec") => exec_peel(words, start + i + 1),
        Some("run") => run_peel(words, start + i + 1),
        _ => Peel::No,
    }
}

fn compose(args: &[Word], env: &Env) -> Category {
    let Some(i) = subcommand(args, &COMPOSE_GLOBAL) else {
        return Category::unclear("the compose subcommand could not be found");
    };
    let Some(sub) = sub_name(args, i) else {
        return Category::Unknown {
            program: format!("docker compose {}", args[i].raw),
        };
    };
    let rest = &args[i + 1..];
    let reads = "ps logs config ls top images version port convert";
    if !listed(reads, &sub)
        && !matches!(sub.as_str(), "restart" | "start" | "stop")
        && let Some(c) = wild(rest, &format!("docker compose {sub}"))
    {
        return c;
    }
    let s = scan(
        rest,
        &Spec {
            short_values: "t",
            long_values: "timeout scale pull rmi wait-timeout exit-code-from attach no-attach",
            permute: true,
        },
    );
    let target = targets(&s, "all services");
    if sub == "config" {
        let out = scan(
            rest,
            &Spec {
                short_values: "o",
                long_values: "output format hash images profiles services volumes",
                permute: true,
            },
        );
        return write_any(&out, "-o --output", env);
    }
    match sub.as_str() {
        s if listed(reads, s) => Category::ReadOnly,
        "restart" | "start" | "stop" => Category::Restart { target },
        "down" | "rm" if s.has("-v --volumes") => Category::never(VOLUMES),
        "up" if s.has("--force-recreate") => Category::Recreate { target },
        "up" | "down" | "pull" | "scale" => Category::Redeploy { target },
        "rm" | "create" => Category::Recreate { target },
        "run" => match run_parts(rest) {
            Err(reason) => Category::unclear(reason),
            Ok((s, _, _)) => run_risks(&s, env).unwrap_or(Category::Recreate { target }),
        },
        "exec" => Category::unclear("`docker compose exec` needs a service and a command"),
        "kill" | "pause" | "unpause" | "cp" | "build" | "push" => {
            Category::write(format!("changes Docker state with `docker compose {sub}`"))
        }
        other => Category::Unknown {
            program: format!("docker compose {other}"),
        },
    }
}
