//! `docker exec`, `docker run` and their Compose forms: commands that run
//! inside a container.
//!
//! Why it exists: the command given to a container is judged like any other
//! (a `DROP TABLE` inside `docker exec db psql` is still never allowed), and
//! `docker run` can hand a container the host (`--privileged`, a mount of `/`
//! or of the Docker socket) or the repos dir.
//! What it must not do: guess where the image or the container's command
//! starts when it meets an option it does not know.

use crate::ast::Word;
use crate::opts::{Scanned, Spec, scan};
use crate::paths::{Env, known_paths};
use crate::peel::{Peel, Runs, label, unclear};
use crate::vocab::Category;

pub(crate) const EXEC_SPEC: Spec<'static> = Spec {
    short_values: "euw",
    long_values: "env env-file user workdir detach-keys index",
    permute: false,
};

pub(crate) const EXEC_ALLOWED: &str =
    "-w --workdir --detach-keys --index -d --detach -i --interactive -t --tty -T --no-TTY --no-tty";

/// `docker exec [opts] CONTAINER CMD...`, with the options at `words[start]`.
pub(crate) fn exec_peel(words: &[Word], start: usize) -> Peel {
    let args = words.get(start..).unwrap_or(&[]);
    let s = scan(args, &EXEC_SPEC);
    if let Some(w) = s.wild {
        return unclear(format!(
            "`{}` could expand to options of `docker exec`",
            w.raw
        ));
    }
    if let Some(o) = s.first_not_in(EXEC_ALLOWED) {
        let why = if o.is("-e --env --env-file") {
            ": it sets the command's environment, which can make its shell run code"
        } else if o.is("-u --user --privileged") {
            ": it runs the command as another user or with more privileges"
        } else {
            ""
        };
        return unclear(format!(
            "`docker exec {}` is not allowed{why} (`docker exec` may use -i -t -w)",
            o.name
        ));
    }
    let Some((container, command)) = s.operands.split_first() else {
        return unclear("`docker exec` needs a container and a command");
    };
    if command.is_empty() {
        return unclear("`docker exec` needs a command to run");
    }
    let first = words.len() - command.len();
    Peel::Command {
        words: command.iter().map(|w| (*w).clone()).collect(),
        assignments: Vec::new(),
        label: label(words, first),
        into: Runs::Container(container.literal().unwrap_or_else(|| container.raw.clone())),
    }
}

pub(crate) const RUN_SPEC: Spec<'static> = Spec {
    short_values: "acehlmpuvw",
    long_values: "add-host annotation attach blkio-weight cap-add cap-drop cgroup-parent cgroupns cidfile cpu-period cpu-quota cpu-shares cpus cpuset-cpus cpuset-mems device dns dns-option dns-search domainname entrypoint env env-file expose gpus group-add health-cmd health-interval health-retries health-start-period health-timeout hostname ip ip6 ipc isolation label label-file link log-driver log-opt mac-address memory memory-reservation memory-swap mount name network net network-alias oom-score-adj pid pids-limit platform publish pull restart runtime security-opt shm-size stop-signal stop-timeout storage-opt sysctl tmpfs ulimit user userns uts volume volumes-from workdir",
    permute: false,
};

pub(crate) const RUN_FLAGS: &str = "-d --detach -i --interactive -t --tty --rm -P --publish-all --init --read-only --no-healthcheck -q --quiet --sig-proxy --disable-content-trust --no-deps --service-ports --use-aliases --build --quiet-pull --remove-orphans -T --no-TTY";

pub(crate) const RISKY_RUN: &str = "--privileged --cap-add --device --security-opt";

/// `docker run [opts] IMAGE [CMD...]`: the image and the command, or why not.
pub(crate) fn run_parts(args: &[Word]) -> Result<(Scanned<'_>, Option<&Word>, Vec<Word>), String> {
    let s = scan(args, &RUN_SPEC);
    if let Some(w) = s.wild {
        return Err(format!(
            "`{}` could expand to options of `docker run`",
            w.raw
        ));
    }
    if let Some(o) = s
        .opts
        .iter()
        .find(|o| o.value.is_none() && !o.is(RUN_FLAGS) && !o.is(RISKY_RUN))
    {
        return Err(format!(
            "`docker run {}` is not an option Claude Ops knows",
            o.name
        ));
    }
    let image = s.operands.first().copied();
    let mut command: Vec<Word> = s
        .values("--entrypoint")
        .filter_map(|v| v.word.cloned())
        .collect();
    command.extend(s.operands.iter().skip(1).map(|w| (*w).clone()));
    Ok((s, image, command))
}

pub(crate) fn run_peel(words: &[Word], start: usize) -> Peel {
    let args = words.get(start..).unwrap_or(&[]);
    match run_parts(args) {
        Err(reason) => unclear(reason),
        Ok((_, _, command)) if command.is_empty() => Peel::No,
        Ok((_, image, command)) => {
            let image = image.map(|w| w.raw.clone()).unwrap_or_default();
            Peel::AlsoInner {
                inners: vec![command],
                label: format!("docker run {image}"),
                into: Runs::Container(image),
            }
        }
    }
}

/// Options that give the container host-level power, and bind mounts of the
/// repos dir (writable), of `/` or of the Docker socket.
pub(crate) fn run_risks(s: &Scanned, env: &Env) -> Option<Category> {
    if let Some(o) = s.opts.iter().find(|o| o.is(RISKY_RUN)) {
        return Some(Category::unclear(format!(
            "`{}` gives the container host-level access",
            o.name
        )));
    }
    let host_ns = s
        .values("--pid --ipc --userns --uts")
        .any(|v| v.lit.as_deref() != Some("private"));
    if host_ns {
        return Some(Category::unclear(
            "sharing a host namespace gives the container host-level access",
        ));
    }
    for v in s.values("-v --volume --mount") {
        let text = v.lit.clone().unwrap_or_else(|| v.raw());
        let (source, read_only) =
            if text.contains("source=") || text.contains("src=") || text.contains("type=") {
                let fields: Vec<&str> = text.split(',').collect();
                let src = fields
                    .iter()
                    .find_map(|f| f.strip_prefix("source=").or_else(|| f.strip_prefix("src=")));
                (
                    src.unwrap_or("").to_owned(),
                    fields
                        .iter()
                        .any(|f| *f == "readonly" || *f == "ro" || f.starts_with("readonly=true")),
                )
            } else {
                let mut parts = text.split(':');
                let src = parts.next().unwrap_or("").to_owned();
                (
                    src,
                    parts
                        .nth(1)
                        .is_some_and(|o| o.split(',').any(|x| x == "ro")),
                )
            };
        if !(source.starts_with('/')
            || source.starts_with('.')
            || source.starts_with('~')
            || source.starts_with('$'))
        {
            continue;
        }
        let word = Word::literal_word(&source);
        let Some(paths) = v.lit.as_ref().and_then(|_| known_paths(&word, env)) else {
            return Some(Category::unclear(format!(
                "the bind mount `{text}` cannot be resolved"
            )));
        };
        for p in paths {
            if p == "/" || p.ends_with("docker.sock") {
                return Some(Category::unclear(format!(
                    "mounting `{p}` gives the container host-level access"
                )));
            }
            if env.in_repos(&p) && !read_only {
                return Some(Category::Never {
                    reason: format!("{} (a writable mount of it)", env.repos_rule()),
                });
            }
        }
    }
    None
}
