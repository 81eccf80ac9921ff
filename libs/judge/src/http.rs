//! `curl` and `wget`: Tier 1's main tools for checking services.
//!
//! Why it exists: with the wrong option an HTTP client POSTs, uploads, saves
//! files or reads `file://` URLs. Only GET and HEAD requests to http(s) URLs,
//! with output to the terminal or `/dev/null`, are read-only.
//! What it must not do: allow an option that is not on its allow-list.

use crate::ast::Word;
use crate::optcheck::{wild, write_any};
use crate::opts::{Spec, scan};
use crate::paths::Env;
use crate::vocab::Category;

pub(crate) const CURL_SPEC: Spec<'static> = Spec {
    short_values: "AbcCdDeEFHKmoPQrtTuUwxXyYz",
    long_values: "header user-agent referer max-time connect-timeout user proxy url write-out max-redirs limit-rate retry retry-delay retry-max-time cacert capath cert key cert-type key-type pass resolve connect-to interface dns-servers cookie oauth2-bearer unix-socket abstract-unix-socket range speed-time speed-limit time-cond noproxy proxy-user request-target max-filesize tls-max ciphers pinnedpubkey local-port keepalive-time proxy-header socks5 socks5-hostname preproxy url-query data data-raw data-binary data-ascii data-urlencode request output dump-header cookie-jar trace trace-ascii stderr libcurl etag-save netrc-file form form-string json upload-file config quote hsts alt-svc telnet-option ftp-port output-dir continue-at variable aws-sigv4",
    permute: true,
};

pub(crate) const CURL_ALLOWED: &str = "-s --silent -S --show-error -f --fail --fail-with-body -L --location --location-trusted -k --insecure -i --include -I --head -v --verbose -4 -6 --ipv4 --ipv6 -g --globoff -G --get -N --no-buffer -# --progress-bar --compressed --http1.0 --http1.1 --http2 --http2-prior-knowledge --http3 --raw -n --netrc --netrc-optional --no-progress-meter --no-keepalive --tcp-nodelay --path-as-is --digest --basic --anyauth --ntlm --negotiate --ssl-no-revoke --tlsv1 --tlsv1.0 --tlsv1.1 --tlsv1.2 --tlsv1.3 --fail-early -q --disable -R --remote-time --retry-connrefused --retry-all-errors --proxy-insecure --trace-time -H --header -A --user-agent -e --referer -m --max-time --connect-timeout -u --user -x --proxy --url -w --write-out --max-redirs --limit-rate --retry --retry-delay --retry-max-time --cacert --capath -E --cert --key --cert-type --key-type --pass --resolve --connect-to --interface --dns-servers -b --cookie --oauth2-bearer --unix-socket -r --range -y --speed-time -Y --speed-limit -z --time-cond --noproxy -U --proxy-user --max-filesize --tls-max --ciphers --pinnedpubkey --url-query -d --data --data-raw --data-binary --data-ascii --data-urlencode -X --request -o --output -D --dump-header -c --cookie-jar";

pub(crate) const CURL_DATA: &str =
    "-d --data --data-raw --data-binary --data-ascii --data-urlencode";

pub(crate) const CURL_OUTPUTS: &str = "-o --output -D --dump-header -c --cookie-jar";

pub(crate) fn curl(args: &[Word], env: &Env) -> Category {
    let s = scan(args, &CURL_SPEC);
    if let Some(c) = wild(&s, "curl") {
        return c;
    }
    if s.has(
        "-O --remote-name --remote-name-all -J --remote-header-name --output-dir --create-dirs",
    ) {
        return Category::write("saves the download to a file");
    }
    if s.has("-T --upload-file") {
        return Category::write("uploads a file");
    }
    if s.has("-F --form --form-string --json") || (s.has(CURL_DATA) && !s.has("-G --get")) {
        return Category::write("sends data in a POST request");
    }
    for v in s.values("-X --request") {
        match v.lit.as_deref().map(str::to_ascii_uppercase) {
            Some(m) if m == "GET" || m == "HEAD" => {}
            Some(m) => return Category::write(format!("sends a {m} request")),
            None => {
                return Category::unclear(format!(
                    "the request method `{}` is not a literal word",
                    v.raw()
                ));
            }
        }
    }
    if let Some(o) = s.first_not_exactly_in(CURL_ALLOWED) {
        let why = curl_why(&o.name);
        return Category::unclear(format!(
            "`curl {}` is not allowed{why} (`curl` may use -s -S -f -L -I -i -H -m -w -o /dev/null -u -k --max-time --connect-timeout ...)",
            o.name
        ));
    }
    let written = write_any(&s, CURL_OUTPUTS, env);
    if written != Category::ReadOnly {
        return written;
    }
    let urls = s
        .operands
        .iter()
        .copied()
        .chain(s.values("--url").filter_map(|v| v.word));
    for url in urls {
        if let Some(c) = url_scheme_problem(url) {
            return c;
        }
    }
    Category::ReadOnly
}

/// What a refused curl option would do, when it is known.
fn curl_why(name: &str) -> &'static str {
    match name {
        "--trace" | "--trace-ascii" | "--trace-config" => ": it writes a trace file",
        "--stderr" | "--libcurl" | "--etag-save" | "--alt-svc" | "--hsts" => ": it writes a file",
        "-K" | "--config" => ": it loads options from a file",
        "--variable" | "--expand-url" => ": it reads files or the environment into the request",
        "--proto-default" | "--proto" | "--proto-redir" => ": it changes which protocols run",
        _ => "",
    }
}

/// Only plain HTTP(S) URLs: `file://`, `gopher://`, `dict://` and the like can
/// read local files or send arbitrary bytes.
pub(crate) fn url_scheme_problem(url: &Word) -> Option<Category> {
    let text = url
        .literal()
        .unwrap_or_else(|| url.literal_prefix())
        .to_ascii_lowercase();
    match text.split_once("://") {
        Some((scheme, _)) if scheme == "http" || scheme == "https" => None,
        Some((scheme, _)) => Some(Category::unclear(format!(
            "the `{scheme}://` URL scheme is not allowed"
        ))),
        None if url.literal().is_some() => None,
        None => Some(Category::unclear(format!(
            "the URL `{}` could use any protocol",
            url.raw
        ))),
    }
}

pub(crate) const WGET_SPEC: Spec<'static> = Spec {
    short_values: "OoaeTtUwPQiBlDIX",
    long_values: "output-document output-file append-output execute timeout tries header user-agent user password http-user http-password method max-redirect connect-timeout read-timeout dns-timeout post-data post-file body-data body-file config directory-prefix input-file wait level",
    permute: true,
};

pub(crate) const WGET_ALLOWED: &str = "-q --quiet -nv --no-verbose -S --server-response --spider --no-check-certificate -4 -6 --inet4-only --inet6-only --no-cache --no-dns-cache -O --output-document -T --timeout -t --tries --header -U --user-agent --user --password --http-user --http-password --method --max-redirect --connect-timeout --read-timeout --dns-timeout -n -v";

pub(crate) fn wget(args: &[Word], env: &Env) -> Category {
    let s = scan(args, &WGET_SPEC);
    if let Some(c) = wild(&s, "wget") {
        return c;
    }
    if s.has("--post-data --post-file --body-data --body-file") {
        return Category::write("sends data in a POST request");
    }
    for v in s.values("--method") {
        if !v
            .lit
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("GET") || m.eq_ignore_ascii_case("HEAD"))
        {
            return Category::write(format!("sends a {} request", v.raw()));
        }
    }
    let logs = write_any(&s, "-o --output-file -a --append-output", env);
    if logs != Category::ReadOnly {
        return logs;
    }
    if let Some(o) = s.first_not_exactly_in(WGET_ALLOWED) {
        let why = match o.name.as_str() {
            "-e" | "--execute" => ": it runs a wgetrc command",
            "--config" => ": it loads a wgetrc file",
            _ => "",
        };
        return Category::unclear(format!(
            "`wget {}` is not allowed{why} (`wget` may use -q -O - --spider -S -T -t --header --user-agent ...)",
            o.name
        ));
    }
    let to_stdout = s.values("-O --output-document").any(|v| {
        v.lit
            .as_deref()
            .is_some_and(|t| t == "-" || t == "/dev/null")
    });
    let saved = write_any(&s, "-O --output-document", env);
    if saved != Category::ReadOnly {
        return saved;
    }
    if !to_stdout && !s.has("--spider") {
        return Category::write("saves the download to a file (only `-O -` or `--spider` read)");
    }
    for url in &s.operands {
        if let Some(c) = url_scheme_problem(url) {
            return c;
        }
    }
    Category::ReadOnly
}
