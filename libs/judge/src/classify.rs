//! The category of one program invocation, found after unwrapping.
//!
//! Why it exists: the tier rules are about kinds of action (read, restart,
//! redeploy...), so each program, subcommand and option set maps to one
//! [`Category`]. Programs with subcommands or risky options have their own
//! functions in sibling modules; this module holds the dispatch and the simple
//! lists.
//! What it must not do: allow a program that is not listed, or a listed one
//! with an argument that could expand to an option it does not expect.

use crate::ast::{SimpleCommand, Word, program_name};
use crate::opts::listed;
use crate::paths::{Env, NETWORK, SECRETS, VOLUMES};
use crate::vocab::Category;
use crate::{builtins, docker, files, net, ops, readers, sql, text};

/// Programs that only read whatever their arguments: `echo` takes no
/// options but `-n`, `-e` and `-E`, and prints any other word.
const READ_ONLY: &str = "echo true false :";

/// Shell syntax and builtins that only affect the shell itself.
const SHELL_NOOPS: &str = "cd pushd popd for select wait exit return break continue shift";

/// Programs whose classifier reads every option itself, including words that
/// could expand to options. All others refuse such words up front (the
/// programs with a closed option list in `tools` are checked by `readers`).
const SELF_CHECKING: &str = "docker docker-compose systemctl apprise tee sleep curl wget ping nc ncat netcat \
    openssl ip ifconfig route iptables ip6tables firewall-cmd psql mysql mariadb redis-cli ansible ansible-playbook \
    set unset read export declare typeset local readonly printf test [ printenv awk gawk mawk nawk jq yq";

pub(crate) fn classify(cmd: &SimpleCommand, env: &Env) -> Category {
    let Some(first) = cmd.words.first() else {
        return Category::ReadOnly;
    };
    let Some(text) = first.literal() else {
        return Category::Unknown {
            program: first.raw.clone(),
        };
    };
    let prog = program_name(&text);
    let args = &cmd.words[1..];
    let wild_ok = listed(READ_ONLY, prog)
        || listed(SHELL_NOOPS, prog)
        || listed(SELF_CHECKING, prog)
        || crate::tools::tool(prog).is_some();
    if !wild_ok
        && let Some(w) = args
            .iter()
            .find(|w| w.literal().is_none() && w.may_be_option() && !env.is_safe_word(w))
    {
        return Category::unclear(format!("`{}` could expand to options of `{prog}`", w.raw));
    }
    if listed(READ_ONLY, prog) || listed(SHELL_NOOPS, prog) {
        return Category::ReadOnly;
    }
    by_program(prog, args, env)
}

fn by_program(prog: &str, args: &[Word], env: &Env) -> Category {
    if let Some(category) = builtins::classify(prog, args) {
        return category;
    }
    if let Some(category) = readers::classify(prog, args, env) {
        return category;
    }
    match prog {
        "apprise" => Category::Notify,
        "sed" => crate::scripts::sed(args, env),
        "awk" | "gawk" | "mawk" | "nawk" => crate::awk::awk(prog, args),
        "jq" => crate::jq::jq(args),
        "yq" => crate::jq::yq(args, env),
        "sleep" | "hostname" => text::misc(prog, args, env),
        "rm" | "rmdir" | "unlink" | "shred" | "cp" | "mv" | "ln" | "install" | "touch"
        | "mkdir" | "truncate" | "tee" | "dd" | "chmod" | "chown" | "chgrp" | "find" => {
            files::classify(prog, args, env)
        }
        "curl" | "wget" | "ping" | "nc" | "ncat" | "netcat" | "openssl" | "ip" | "ifconfig"
        | "iptables" | "ip6tables" | "iptables-save" | "ip6tables-save" | "iptables-restore"
        | "ip6tables-restore" | "nft" | "ufw" | "firewall-cmd" | "route" | "netplan" | "ifup"
        | "ifdown" | "resolvectl" => net::classify(prog, args, env),
        "docker" | "docker-compose" => docker::classify(prog, args, env),
        "systemctl" | "kubectl" | "helm" | "ansible" | "ansible-playbook" | "ansible-inventory"
        | "git" => ops::classify(prog, args),
        "psql" | "mysql" | "mariadb" | "redis-cli" | "mysqladmin" | "mariadb-admin" => {
            sql::classify(prog, args, env)
        }
        _ => system(prog, args),
    }
}

const PACKAGE_MANAGERS: &str =
    "apt apt-get aptitude dpkg pip pip3 npm yarn pnpm gem yum dnf apk pacman snap flatpak zypper";

/// Host-level programs: power, disks, users, processes, packages, cron.
fn system(prog: &str, args: &[Word]) -> Category {
    let lits: Vec<String> = args.iter().filter_map(Word::literal).collect();
    let has = |names: &str| lits.iter().any(|a| listed(names, a));
    let first = lits.first().map(String::as_str).unwrap_or("");
    match prog {
        p if p.starts_with("mkfs") => Category::never("formatting or partitioning disks"),
        "mke2fs" | "mkswap" | "wipefs" | "fdisk" | "sfdisk" | "cfdisk" | "parted" | "sgdisk"
        | "gdisk" => Category::never("formatting or partitioning disks"),
        "shutdown" | "reboot" | "halt" | "poweroff" | "init" | "telinit" | "kexec" => {
            Category::never("shutting down or rebooting a host")
        }
        "passwd" | "chpasswd" | "chage" | "htpasswd" | "smbpasswd" | "gpasswd" => {
            Category::never(SECRETS)
        }
        "usermod" | "useradd"
            if has("-p --password") || lits.iter().any(|a| a.starts_with("--password=")) =>
        {
            Category::never(SECRETS)
        }
        "usermod" | "useradd" | "userdel" | "groupadd" | "groupdel" | "groupmod" => {
            Category::write("changes users or groups")
        }
        "kill" => kill(&lits),
        "pkill" | "killall" => Category::write("kills processes"),
        "crontab" if has("-r -e -ri -ir") => Category::never("removing or editing crontabs"),
        "crontab" if has("-l") => Category::ReadOnly,
        "crontab" => Category::write("installs a crontab"),
        "apt" if matches!(first, "list" | "show" | "policy" | "search") => Category::ReadOnly,
        "apt-cache" | "dpkg-query" => Category::ReadOnly,
        "dpkg"
            if !lits.is_empty()
                && lits.iter().take(1).all(|a| {
                    matches!(
                        a.as_str(),
                        "-l" | "-L"
                            | "-s"
                            | "-S"
                            | "--list"
                            | "--listfiles"
                            | "--status"
                            | "--search"
                    )
                }) =>
        {
            Category::ReadOnly
        }
        "pip" | "pip3" if matches!(first, "list" | "show" | "freeze") => Category::ReadOnly,
        p if listed(PACKAGE_MANAGERS, p) => {
            Category::write(format!("changes installed packages with `{p}`"))
        }
        "hostnamectl" | "timedatectl" | "loginctl"
            if matches!(first, "" | "status" | "show" | "list-sessions") =>
        {
            Category::ReadOnly
        }
        "hostnamectl" | "timedatectl" => {
            Category::write(format!("changes host settings with `{prog}`"))
        }
        "nmcli" | "networkctl"
            if args.is_empty() || matches!(first, "general" | "status" | "list") =>
        {
            Category::ReadOnly
        }
        "nmcli" | "networkctl" => Category::never(NETWORK),
        "mount" | "swapon" if args.is_empty() => Category::ReadOnly,
        "smartctl" => smartctl(&lits, args.len()),
        "zpool" | "zfs" if matches!(first, "destroy" | "labelclear") => Category::never(VOLUMES),
        "zpool" if matches!(first, "status" | "list" | "iostat" | "history" | "get") => {
            Category::ReadOnly
        }
        "zfs" if matches!(first, "list" | "get") => Category::ReadOnly,
        "zpool" | "zfs" => Category::write(format!("changes storage with `{prog} {first}`")),
        "mount" | "umount" | "swapon" | "swapoff" => Category::write("changes mounts"),
        _ => Category::Unknown {
            program: prog.to_owned(),
        },
    }
}

/// `smartctl`: reading health and attributes; self-tests and settings change
/// the disk.
fn smartctl(lits: &[String], args: usize) -> Category {
    let reads = "-a -A -H -i -x -c -l --all --attributes --health --info --xall --capabilities --log -d --device -j --json";
    let mut expect_value = false;
    for a in lits {
        if expect_value || !a.starts_with('-') {
            expect_value = false;
            continue;
        }
        let name = a.split('=').next().unwrap_or_default();
        if !listed(reads, name) {
            return Category::write(format!("changes the disk with `smartctl {a}`"));
        }
        expect_value = !a.contains('=') && matches!(name, "-l" | "--log" | "-d" | "--device");
    }
    if lits.len() == args {
        Category::ReadOnly
    } else {
        Category::unclear("`smartctl` arguments must be literal words")
    }
}

/// `kill`: killing PID 1 or every process is never allowed; others are writes.
fn kill(args: &[String]) -> Category {
    let mut targets: Vec<&str> = Vec::new();
    let mut signal_seen = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        match a {
            "--" => {
                targets.extend(args[i..].iter().map(String::as_str));
                break;
            }
            "-l" | "-L" | "--list" | "--table" => return Category::ReadOnly,
            "-s" | "-n" => {
                signal_seen = true;
                i += 1;
            }
            _ if a.starts_with('-') && !signal_seen => signal_seen = true,
            _ => targets.push(a),
        }
    }
    if targets.iter().any(|t| *t == "1" || *t == "-1") {
        return Category::never("killing init or every process");
    }
    Category::write("kills processes")
}
