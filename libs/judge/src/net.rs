//! Network programs: HTTP clients, probes and network configuration tools.
//!
//! Why it exists: `curl` and `wget` are Tier 1's main tools for checking
//! services, but with the wrong option they POST, upload or save files; `ip`,
//! `iptables` and friends read state with one verb and change the network
//! with the next.
//! What it must not do: allow a request method, upload option or output file
//! it has not been told about (options are an allow-list), or any change to
//! network configuration.

use crate::ast::Word;
use crate::http::{curl, wget};
use crate::optcheck::{wild, write_any};
use crate::opts::{Spec, listed, scan};
use crate::paths::{Env, NETWORK};
use crate::vocab::Category;

pub(crate) fn classify(prog: &str, args: &[Word], env: &Env) -> Category {
    match prog {
        "curl" => curl(args, env),
        "wget" => wget(args, env),
        "ping" => ping(args),
        "nc" | "ncat" | "netcat" => nc(args),
        "openssl" => openssl(args),
        "ip" => ip(args),
        "ifconfig" | "route" => {
            let read = args.iter().all(|w| {
                w.literal()
                    .is_some_and(|t| matches!(t.as_str(), "-a" | "-n" | "-e" | "-v" | "-s"))
            }) || (prog == "ifconfig"
                && args.len() == 1
                && args[0].literal().is_some_and(|t| !t.starts_with('-')));
            if read {
                Category::ReadOnly
            } else {
                Category::never(NETWORK)
            }
        }
        "iptables" | "ip6tables" => iptables(args),
        "iptables-save" | "ip6tables-save" => {
            let s = scan(
                args,
                &Spec {
                    short_values: "Mtf",
                    long_values: "modprobe table file",
                    permute: true,
                },
            );
            write_any(&s, "-f --file", env)
        }
        "nft" => nft(args),
        "ufw" => first_operand_in(args, "", "status show version"),
        "netplan" => first_operand_in(args, "", "get status info"),
        "resolvectl" => first_operand_in(args, "", "status query statistics"),
        "firewall-cmd" => {
            let read = !args.is_empty()
                && args.iter().all(|w| {
                    w.literal().is_some_and(|t| {
                        ["--list", "--get", "--query", "--state", "--info", "--zone="]
                            .iter()
                            .any(|p| t.starts_with(p))
                    })
                });
            if read {
                Category::ReadOnly
            } else {
                Category::never(NETWORK)
            }
        }
        _ => Category::never(NETWORK),
    }
}

fn ping(args: &[Word]) -> Category {
    let s = scan(
        args,
        &Spec {
            short_values: "cIiWwlmMpQsStT",
            long_values: "",
            permute: true,
        },
    );
    if let Some(c) = wild(&s, "ping") {
        return c;
    }
    if s.has("-f") {
        return Category::unclear("`ping -f` floods the network");
    }
    if s.has("-c -w") {
        Category::ReadOnly
    } else {
        Category::unclear("`ping` without `-c` never ends")
    }
}

fn nc(args: &[Word]) -> Category {
    let s = scan(
        args,
        &Spec {
            short_values: "eciIOpqsTwXxPW",
            long_values: "exec sh-exec lua-exec wait",
            permute: true,
        },
    );
    if let Some(c) = wild(&s, "nc") {
        return c;
    }
    if s.has("-e -c --exec --sh-exec --lua-exec") {
        return Category::unclear("`nc -e` runs a command");
    }
    if s.has("-l --listen") {
        return Category::unclear("`nc -l` listens for connections");
    }
    if s.has("-z") {
        Category::ReadOnly
    } else {
        Category::unclear("`nc` without `-z` sends data")
    }
}

/// `openssl s_client` options: connecting and showing what the server sends.
const S_CLIENT_FLAGS: &str = "-showcerts -brief -prexit -quiet -no_ign_eof -ign_eof -crlf -nbio -status -msg -debug -state -verify_return_error -tls1 -tls1_1 -tls1_2 -tls1_3 -no_tls1 -no_tls1_1 -no_tls1_2 -no_tls1_3 -dtls -dtls1 -dtls1_2 -4 -6 -noservername -no-CAfile -no-CApath -no-CAstore -no_ticket -reconnect -tlsextdebug -legacy_server_connect -no_legacy_server_connect -partial_chain -x509_strict -ct -noct -enable_pha -trace -security_debug -security_debug_verbose -nocommands -verify_quiet -strict -ignore_critical -serverinfo_ext -no_check_time";
const S_CLIENT_VALUES: &str = "-connect -host -port -servername -verify -verify_hostname -verify_ip -verify_email -verify_depth -CAfile -CApath -CAstore -cert -key -certform -keyform -pass -starttls -xmpphost -name -proxy -proxy_user -proxy_pass -alpn -nextprotoneg -cipher -ciphersuites -curves -groups -sigalgs -client_sigalgs -timeout -bind -unix -sess_in -psk_identity -psk -psk_session -servername_ext -purpose -verify_name -attime -chainCAfile -chainCApath -CRL -CRLform -mtu -maxfraglen -max_send_frag -split_send_frag -max_pipelines -read_buf";
/// `openssl x509 -noout` options: printing what is in a certificate.
const X509_FLAGS: &str = "-noout -text -subject -issuer -dates -enddate -startdate -serial -fingerprint -sha1 -sha256 -sha384 -sha512 -md5 -pubkey -modulus -email -hash -issuer_hash -subject_hash -subject_hash_old -issuer_hash_old -ocsp_uri -ocspid -purpose -alias -nocert";
const X509_VALUES: &str =
    "-in -inform -nameopt -certopt -ext -checkend -checkhost -checkemail -checkip -dateopt";

fn openssl(args: &[Word]) -> Category {
    let lits: Vec<String> = args.iter().filter_map(Word::literal).collect();
    if lits.len() != args.len() {
        return Category::unclear("`openssl` arguments must be literal words");
    }
    let (flags, values) = match lits.first().map(String::as_str) {
        Some("version") => ("-a -v -b -o -f -p -d -e -c -r", ""),
        Some("s_client") => (S_CLIENT_FLAGS, S_CLIENT_VALUES),
        Some("x509") if lits.iter().any(|a| a == "-noout") => (X509_FLAGS, X509_VALUES),
        Some(sub) => {
            return Category::unclear(format!(
                "`openssl {sub}` is not used read-only (only `s_client`, `x509 -noout` and `version` are)"
            ));
        }
        None => return Category::unclear("`openssl` without a subcommand is interactive"),
    };
    let sub = lits[0].as_str();
    let mut i = 1;
    while let Some(a) = lits.get(i) {
        i += 1;
        if listed(values, a) {
            i += 1;
            continue;
        }
        if listed(flags, a) || !a.starts_with('-') {
            continue;
        }
        let why = match a.as_str() {
            "-engine" | "-provider" | "-provider-path" | "-propquery" => ": it loads code",
            "-sess_out" | "-keylogfile" | "-msgfile" | "-writerand" | "-out" => {
                ": it writes a file"
            }
            "-config" | "-ssl_config" => ": it loads a configuration file",
            _ => "",
        };
        return Category::unclear(format!(
            "`openssl {sub} {a}` is not allowed{why} (`openssl {sub}` may use {})",
            short_list(flags, values)
        ));
    }
    Category::ReadOnly
}

/// The first options of two lists, for a reason.
fn short_list(flags: &str, values: &str) -> String {
    let mut all: Vec<&str> = values.split_whitespace().take(6).collect();
    all.extend(flags.split_whitespace().take(6));
    format!("{} ...", all.join(" "))
}

/// `nft`: listing rules is read-only; `-f` loads a file of rules and every
/// other command changes them.
fn nft(args: &[Word]) -> Category {
    let s = scan(
        args,
        &Spec {
            short_values: "IDf",
            long_values: "includepath define file",
            permute: false,
        },
    );
    if let Some(c) = wild(&s, "nft") {
        return c;
    }
    if s.has("-f --file -i --interactive") {
        return Category::never(NETWORK);
    }
    let allowed = "-a -n -s -j -N -e -y -t -T -S -u -c -o -I -D --handle --numeric --stateless --json --echo --terse --numeric-time --numeric-protocol --numeric-priority --service --guid --check --optimize --includepath --define";
    if let Some(o) = s.first_not_exactly_in(allowed) {
        return Category::unclear(format!(
            "`nft {}` is not an option Claude Ops knows (`nft` may use -a -n -s -j -t -c)",
            o.name
        ));
    }
    match s.operands.first().and_then(|w| w.literal()) {
        Some(first) if listed("list describe", &first) => Category::ReadOnly,
        _ => Category::never(NETWORK),
    }
}

fn ip(args: &[Word]) -> Category {
    const FLAGS: &str = "-4 -6 -0 -s -stats -statistics -d -details -j -json -p -pretty -br -brief -c -color -o -oneline -r -resolve -h -human -a -all -t -timestamp -N -numeric";
    const VALUES: &str = "-n -netns -f -family -l -loops -rc -rcvbuf";
    let mut i = 0;
    while let Some(word) = args.get(i) {
        let Some(text) = word.literal() else {
            return Category::unclear(format!("`{}` could expand to options of `ip`", word.raw));
        };
        if !text.starts_with('-') {
            break;
        }
        let name = text.split('=').next().unwrap_or_default();
        if VALUES.split(' ').any(|v| v == name) {
            i += 2;
        } else if FLAGS.split(' ').any(|f| f == name) {
            i += 1;
        } else {
            return Category::unclear(format!("`ip {text}` is not an option Claude Ops knows"));
        }
    }
    let Some(ops) = args
        .get(i..)
        .unwrap_or(&[])
        .iter()
        .map(Word::literal)
        .collect::<Option<Vec<_>>>()
    else {
        return Category::unclear("`ip` arguments must be literal words");
    };
    let read_verbs = "show sho sh s list lis li l lst ls get monitor";
    match ops.as_slice() {
        [] | [_] => Category::ReadOnly,
        [object, verb, ..] if object == "netns" && verb == "exec" => {
            Category::unclear("`ip netns exec` runs a command in another network namespace")
        }
        [object, verb, ..] if listed(read_verbs, verb) || object == "monitor" => Category::ReadOnly,
        _ => Category::never(NETWORK),
    }
}

fn iptables(args: &[Word]) -> Category {
    let s = scan(
        args,
        &Spec {
            short_values: "tW",
            long_values: "table",
            permute: true,
        },
    );
    if let Some(c) = wild(&s, "iptables") {
        return c;
    }
    let allowed = "-L --list -S --list-rules -n --numeric -v --verbose -x --exact -t --table --line-numbers -w --wait -W -C --check";
    let reads = s.has("-L --list -S --list-rules -C --check");
    if reads && s.first_not_in(allowed).is_none() {
        Category::ReadOnly
    } else {
        Category::never(NETWORK)
    }
}

/// Read-only when the first operand is one of `reads`; any other use changes
/// the network.
fn first_operand_in(args: &[Word], short_values: &str, reads: &str) -> Category {
    let s = scan(
        args,
        &Spec {
            short_values,
            long_values: "",
            permute: false,
        },
    );
    if s.has("-f --file") {
        return Category::never(NETWORK);
    }
    match s.operands.first().and_then(|w| w.literal()) {
        Some(first) if listed(reads, &first) => Category::ReadOnly,
        None if s.operands.is_empty() && listed(reads, "status") => Category::ReadOnly,
        _ => Category::never(NETWORK),
    }
}
