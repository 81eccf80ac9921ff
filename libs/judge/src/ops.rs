//! Orchestration tools: `systemctl`, `kubectl`, `helm`, `ansible*` and `git`.
//!
//! Why it exists: each has read verbs (Tier 1), a restart or redeploy verb
//! (Tier 2 or 3) and verbs that are never allowed (`git push`, a playbook
//! without `--limit`, deleting persistent volume claims).
//! What it must not do: treat an unknown verb or a verb it cannot read as
//! anything but a refusal.

use crate::ast::Word;
use crate::git::git;
use crate::opts::{Scanned, Spec, scan};
use crate::paths::{SECRETS, VOLUMES};
use crate::peel::{Peel, Runs, label, unclear};
use crate::reach::printing_environment;
use crate::vocab::Category;

pub(crate) fn classify(prog: &str, args: &[Word]) -> Category {
    match prog {
        "systemctl" => systemctl(args),
        "kubectl" => kubectl(args),
        "helm" => helm(args),
        "ansible" => ansible(args),
        "ansible-playbook" => playbook(args),
        "ansible-inventory" => {
            let s = scan(
                args,
                &Spec {
                    short_values: "iy",
                    long_values: "inventory output vars playbook-dir vault-password-file",
                    permute: true,
                },
            );
            if s.has("--output") {
                return Category::write("writes the inventory to a file");
            }
            if s.has("--list --graph --host") {
                Category::ReadOnly
            } else {
                Category::unclear("`ansible-inventory` needs `--list`, `--graph` or `--host`")
            }
        }
        "git" => git(args),
        _ => Category::Unknown {
            program: prog.to_owned(),
        },
    }
}

/// The verb (first operand) and the scan; refuses words before the verb that
/// could expand to options.
fn verb<'w>(
    args: &'w [Word],
    spec: &Spec,
    prog: &str,
) -> Result<(Option<String>, Scanned<'w>), Category> {
    let s = scan(args, spec);
    let Some(first) = s.operands.first() else {
        return Ok((None, s));
    };
    let before_verb = args.iter().take_while(|w| !std::ptr::eq(*w, *first));
    if let Some(w) = before_verb
        .clone()
        .find(|w| w.literal().is_none() && w.may_be_option())
    {
        return Err(Category::unclear(format!(
            "`{}` could expand to options of `{prog}`",
            w.raw
        )));
    }
    match first.literal() {
        Some(v) => Ok((Some(v), s)),
        None => Err(Category::unclear(format!(
            "the {prog} verb `{}` is not a literal word",
            first.raw
        ))),
    }
}

fn rest_targets(s: &Scanned, skip: usize) -> String {
    s.operands
        .iter()
        .skip(skip)
        .map(|w| w.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn systemctl(args: &[Word]) -> Category {
    let spec = Spec {
        short_values: "tpsHMno",
        long_values: "type property signal host machine lines output state kill-whom root job-mode what timestamp",
        permute: true,
    };
    let (v, s) = match verb(args, &spec, "systemctl") {
        Ok(found) => found,
        Err(c) => return c,
    };
    let Some(v) = v else {
        return Category::ReadOnly;
    };
    match v.as_str() {
        "status" | "show" | "cat" | "is-active" | "is-enabled" | "is-failed" | "list-units"
        | "list-timers" | "list-unit-files" | "list-dependencies" | "list-sockets"
        | "list-jobs" | "list-machines" | "list-paths" | "list-automounts" | "get-default"
        | "is-system-running" | "help" => Category::ReadOnly,
        "show-environment" => printing_environment("systemctl show-environment"),
        "restart"
        | "start"
        | "stop"
        | "reload"
        | "try-restart"
        | "reload-or-restart"
        | "try-reload-or-restart" => {
            let target = rest_targets(&s, 1);
            if target.is_empty() {
                Category::unclear(format!("`systemctl {v}` needs a unit"))
            } else {
                Category::Restart { target }
            }
        }
        "poweroff"
        | "reboot"
        | "halt"
        | "kexec"
        | "suspend"
        | "hibernate"
        | "hybrid-sleep"
        | "suspend-then-hibernate"
        | "emergency"
        | "rescue"
        | "default"
        | "soft-reboot"
        | "isolate" => Category::never("shutting down or rebooting a host"),
        other => Category::write(format!("changes services with `systemctl {other}`")),
    }
}

const KUBECTL_SPEC: Spec<'static> = Spec {
    short_values: "nsflcoL",
    long_values: "namespace context cluster user server kubeconfig token as as-group request-timeout filename selector container output tail since type replicas",
    permute: true,
};

/// A kubeconfig names credential plugins that kubectl and helm run; the
/// cache directories are written to.
fn kubeconfig(s: &Scanned, prog: &str) -> Option<Category> {
    if s.has("--kubeconfig") {
        return Some(Category::unclear(format!(
            "`{prog} --kubeconfig` loads a configuration that can run credential programs"
        )));
    }
    s.opts
        .iter()
        .find(|o| o.is("--cache-dir --repository-cache --repository-config --registry-config"))
        .map(|o| {
            Category::write(format!(
                "writes to the directory given to `{prog} {}`",
                o.name
            ))
        })
}

fn kubectl(args: &[Word]) -> Category {
    let (v, s) = match verb(args, &KUBECTL_SPEC, "kubectl") {
        Ok(found) => found,
        Err(c) => return c,
    };
    if let Some(c) = kubeconfig(&s, "kubectl") {
        return c;
    }
    let Some(v) = v else {
        return Category::unclear("`kubectl` needs a verb");
    };
    let object = s
        .operands
        .get(1)
        .and_then(|w| w.literal())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let target = rest_targets(&s, 1);
    match v.as_str() {
        "get" | "describe" | "logs" | "top" | "version" | "cluster-info" | "api-resources"
        | "api-versions" | "explain" | "events" | "auth" => Category::ReadOnly,
        "config"
            if matches!(
                object.as_str(),
                "view" | "get-contexts" | "current-context" | "get-clusters"
            ) =>
        {
            Category::ReadOnly
        }
        "rollout" if matches!(object.as_str(), "status" | "history") => Category::ReadOnly,
        "rollout" if matches!(object.as_str(), "restart" | "undo") => Category::Redeploy {
            target: rest_targets(&s, 2),
        },
        "apply" if s.has("--prune") => {
            Category::unclear("`kubectl apply --prune` deletes resources")
        }
        _ if object.starts_with("secret") => Category::never(SECRETS),
        "apply" | "scale" => Category::Redeploy { target },
        "delete"
            if object.starts_with("pvc")
                || object.starts_with("pv")
                || object.starts_with("persistentvolume") =>
        {
            Category::never(VOLUMES)
        }
        "exec" => Category::unclear("`kubectl exec` needs `--` and a command"),
        "delete" | "port-forward" | "proxy" | "attach" | "cp" | "debug" | "run" | "create"
        | "edit" | "patch" | "replace" | "annotate" | "label" | "cordon" | "uncordon" | "drain"
        | "taint" | "expose" | "autoscale" | "set" | "rollout" | "config" | "certificate" => {
            Category::write(format!("changes the cluster with `kubectl {v}`"))
        }
        other => Category::Unknown {
            program: format!("kubectl {other}"),
        },
    }
}

/// `kubectl exec [opts] POD -- CMD...`: the command runs inside the pod.
pub(crate) fn peel_kubectl(words: &[Word]) -> Peel {
    let args = &words[1..];
    let Ok((Some(v), _)) = verb(args, &KUBECTL_SPEC, "kubectl") else {
        return Peel::No;
    };
    if v != "exec" {
        return Peel::No;
    }
    let Some(dashes) = words
        .iter()
        .position(|w| w.literal().is_some_and(|t| t == "--"))
    else {
        return unclear(
            "`kubectl exec` without `--` before the command cannot be read with confidence",
        );
    };
    let s = scan(&words[1..dashes], &KUBECTL_SPEC);
    let pod = s
        .operands
        .get(1)
        .map(|w| w.raw.clone())
        .unwrap_or_else(|| "pod".to_owned());
    if dashes + 1 >= words.len() {
        return unclear("`kubectl exec` needs a command after `--`");
    }
    Peel::Command {
        words: words[dashes + 1..].to_vec(),
        assignments: Vec::new(),
        label: label(words, dashes + 1),
        into: Runs::Container(pod),
    }
}

fn helm(args: &[Word]) -> Category {
    let spec = Spec {
        short_values: "nfo",
        long_values: "namespace kube-context kubeconfig values set set-string set-file version output output-dir repo timeout post-renderer revision",
        permute: true,
    };
    let (v, s) = match verb(args, &spec, "helm") {
        Ok(found) => found,
        Err(c) => return c,
    };
    let Some(v) = v else {
        return Category::unclear("`helm` needs a verb");
    };
    let object = s
        .operands
        .get(1)
        .and_then(|w| w.literal())
        .unwrap_or_default();
    if s.has("--post-renderer") {
        return Category::unclear("`helm --post-renderer` runs a local program");
    }
    if let Some(c) = kubeconfig(&s, "helm") {
        return c;
    }
    match v.as_str() {
        "template" if s.has("--output-dir") => {
            Category::write("writes rendered templates to a directory")
        }
        "list" | "ls" | "status" | "get" | "history" | "hist" | "show" | "inspect" | "search"
        | "version" | "env" | "template" | "lint" | "verify" => Category::ReadOnly,
        "upgrade" | "install" | "rollback" => Category::Redeploy { target: object },
        "repo" | "dependency" | "dep" | "plugin" if object == "list" || object == "ls" => {
            Category::ReadOnly
        }
        "uninstall" | "delete" | "del" | "un" | "repo" | "dependency" | "dep" | "plugin"
        | "push" | "package" | "pull" => {
            Category::write(format!("changes Helm state with `helm {v}`"))
        }
        other => Category::Unknown {
            program: format!("helm {other}"),
        },
    }
}

const ANSIBLE_VALUES: &str = "inventory limit user extra-vars module-name args forks become-user become-method private-key vault-password-file vault-id tags skip-tags connection timeout start-at-task module-path";

fn ansible(args: &[Word]) -> Category {
    let s = scan(
        args,
        &Spec {
            short_values: "aBcefilMmPTtu",
            long_values: ANSIBLE_VALUES,
            permute: true,
        },
    );
    if let Some(w) = s.wild {
        return Category::unclear(format!("`{}` could expand to options of `ansible`", w.raw));
    }
    if s.has("--list-hosts") {
        return Category::ReadOnly;
    }
    let module = s
        .get("-m --module-name")
        .and_then(|o| o.lit())
        .unwrap_or("command");
    if module == "ping" || module == "ansible.builtin.ping" {
        return Category::ReadOnly;
    }
    Category::write(format!("runs the Ansible module `{module}` on hosts"))
}

fn playbook(args: &[Word]) -> Category {
    let s = scan(
        args,
        &Spec {
            short_values: "cefilMTtu",
            long_values: ANSIBLE_VALUES,
            permute: true,
        },
    );
    if let Some(w) = s.wild {
        return Category::unclear(format!(
            "`{}` could expand to options of `ansible-playbook`",
            w.raw
        ));
    }
    if s.has("--syntax-check --list-hosts --list-tasks --list-tags") {
        return Category::ReadOnly;
    }
    let limits: Vec<String> = s
        .values("-l --limit")
        .filter_map(|v| v.lit.clone())
        .filter(|l| !l.trim().is_empty())
        .collect();
    if limits.is_empty() {
        return Category::never("running an Ansible playbook without `--limit`");
    }
    if limits.iter().any(|l| l == "all" || l == "*") {
        return Category::never("running an Ansible playbook on all hosts");
    }
    Category::Redeploy {
        target: format!("{} on {}", rest_targets(&s, 0), limits.join(",")),
    }
}
