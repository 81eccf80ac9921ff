//! Database clients: `psql`, `mysql`/`mariadb` and `redis-cli`, judged by the
//! query text they are given.
//!
//! Why it exists: Tier 1 may run read-only queries, and `DROP`, `TRUNCATE`,
//! `FLUSHALL` and password changes are never allowed, so the query itself must
//! be read, not just the client's name.
//! What it must not do: allow a client with no query on its command line (it
//! would read queries from a terminal or standard input that cannot be
//! judged), a query it cannot tokenise, or a meta-command that writes files or
//! runs a shell.

use crate::ast::Word;
use crate::optcheck::unclear_wild;
use crate::opts::listed;
use crate::opts::{Scanned, Spec, scan};
use crate::paths::{Action, Env, SECRETS, write_target};
use crate::redis::redis;
use crate::vocab::Category;

pub(crate) fn classify(prog: &str, args: &[Word], env: &Env) -> Category {
    match prog {
        "psql" => psql(args, env),
        "redis-cli" => redis(args),
        "mysqladmin" | "mariadb-admin" => mysqladmin(prog, args),
        _ => mysql(prog, args, env),
    }
}

/// psql variables a command line may set: none changes what runs.
const PSQL_VARIABLES: &str = "ON_ERROR_STOP QUIET VERBOSITY FETCH_COUNT SHOW_CONTEXT ECHO ECHO_HIDDEN HIDE_TABLEAM HIDE_TOAST_COMPRESSION";

fn outputs(s: &Scanned, names: &str, env: &Env) -> Category {
    let mut out = Category::ReadOnly;
    for v in s.values(names) {
        if let Some(c) = v
            .word
            .and_then(|w| write_target(w, env, "writes to", Action::Write))
        {
            out = out.worst(c);
        }
    }
    out
}

fn queries(s: &Scanned, names: &str, prog: &str, dialect: Dialect) -> Option<Category> {
    let mut out: Option<Category> = None;
    for v in s.values(names) {
        let category = match &v.lit {
            Some(text) => query_category(text, dialect),
            None => Category::unclear(format!(
                "the {prog} query `{}` is not a literal string",
                v.raw()
            )),
        };
        out = Some(out.map_or(category.clone(), |prev| prev.worst(category)));
    }
    out
}

fn psql(args: &[Word], env: &Env) -> Category {
    let spec = Spec {
        short_values: "cdfhLopPUvFRT",
        long_values: "command dbname file host log-file output port pset username set variable field-separator record-separator table-attr",
        permute: true,
    };
    let s = scan(args, &spec);
    if let Some(c) = unclear_wild(&s, "psql") {
        return c;
    }
    if s.has("-f --file") {
        return Category::unclear("`psql -f` runs SQL from a file that cannot be judged");
    }
    let allowed = "-c -d -h -L -o -p -P -U -v -F -R -T -l -t -A -x -X -q -w -W -e -E -a -b -H -1 -z -0 -n --command --dbname --host --log-file --output --port --pset --username --set --variable --field-separator --record-separator --table-attr --list --tuples-only --no-align --expanded --no-psqlrc --quiet --no-password --password --echo-queries --echo-hidden --echo-all --echo-errors --html --single-transaction --field-separator-zero --record-separator-zero --csv --no-readline";
    if let Some(o) = s.opts.iter().find(|o| !listed(allowed, &o.name)) {
        return Category::unclear(format!(
            "`psql {}` is not an option Claude Ops allows (`psql` may use -h -p -U -d -c -l -t -A -x -X -q -v)",
            o.name
        ));
    }
    for v in s.values("-v --set --variable") {
        let text = v.raw();
        let name = text.split(['=', ':']).next().unwrap_or_default();
        if !listed(PSQL_VARIABLES, name) {
            return Category::unclear(format!(
                "`psql -v {text}` sets a variable that can change what psql runs (allowed: {PSQL_VARIABLES})"
            ));
        }
    }
    let written = outputs(&s, "-o --output -L --log-file", env);
    if written != Category::ReadOnly {
        return written;
    }
    match queries(&s, "-c --command", "psql", Dialect::Postgres) {
        Some(c) => c,
        None if s.has("-l --list") => Category::ReadOnly,
        None => {
            Category::unclear("`psql` without `-c` reads queries from a terminal or standard input")
        }
    }
}

/// The words of a MySQL client's line without `-pSECRET`: it carries the
/// password attached, and is not a cluster of flags.
fn without_attached_password(args: &[Word]) -> Vec<Word> {
    args.iter()
        .filter(|w| {
            !w.literal()
                .is_some_and(|t| t.starts_with("-p") && !t.starts_with("--"))
        })
        .cloned()
        .collect()
}

fn mysql(prog: &str, args: &[Word], env: &Env) -> Category {
    let args = without_attached_password(args);
    let spec = Spec {
        short_values: "ehPuDSo",
        long_values: "execute host port user database socket init-command tee pager password defaults-file default-character-set protocol connect-timeout",
        permute: true,
    };
    let s = scan(&args, &spec);
    if let Some(c) = unclear_wild(&s, prog) {
        return c;
    }
    if let Some(o) = s.opts.iter().find(|o| !listed(MYSQL_ALLOWED, &o.name)) {
        let why = match o.name.as_str() {
            "--pager" => ": it runs another program",
            "--defaults-file" | "--defaults-extra-file" | "--defaults-group-suffix" => {
                ": it loads an option file"
            }
            "--plugin-dir" | "--default-auth" => ": it loads a plugin",
            "--local-infile" | "--load-data-local-dir" => ": it lets the server read local files",
            _ => "",
        };
        return Category::unclear(format!(
            "`{prog} {}` is not allowed{why} (`{prog}` may use -h -P -u -p -D -e -N -B -s -t -E)",
            o.name
        ));
    }
    let written = outputs(&s, "--tee", env);
    if written != Category::ReadOnly {
        return written;
    }
    match queries(&s, "-e --execute --init-command", prog, Dialect::MySql) {
        Some(c) => c,
        None => Category::unclear(format!(
            "`{prog}` without `-e` reads queries from a terminal or standard input"
        )),
    }
}

const MYSQL_ALLOWED: &str = "-e -h -P -u -D -S -o -N -B -s -t -E -r -v -q -n -X -H -A -C -f --execute --host --port --user --database --socket --password --skip-column-names --batch --silent --table --vertical --raw --verbose --quick --unbuffered --xml --html --no-auto-rehash --skip-ssl --ssl --ssl-mode --ssl-ca --compress --column-names --no-defaults --line-numbers --skip-line-numbers --no-beep --force --show-warnings --protocol --connect-timeout --default-character-set --init-command --tee --one-database";

/// `mysqladmin`: `ping`, `status`, `version`, `processlist`,
/// `extended-status` and `variables` read; `password` and `drop` are never
/// allowed; everything else changes the server.
fn mysqladmin(prog: &str, args: &[Word]) -> Category {
    let args = without_attached_password(args);
    let spec = Spec {
        short_values: "hPuSc",
        long_values: "host port user socket count connect-timeout password ssl-mode protocol",
        permute: true,
    };
    let s = scan(&args, &spec);
    if let Some(c) = unclear_wild(&s, prog) {
        return c;
    }
    let allowed = "-h -P -u -S -s -v -c --host --port --user --socket --silent --verbose --count --connect-timeout --password --ssl-mode --protocol --no-beep";
    if let Some(o) = s.opts.iter().find(|o| !listed(allowed, &o.name)) {
        return Category::unclear(format!(
            "`{prog} {}` is not an option Claude Ops allows (`{prog}` may use {allowed})",
            o.name
        ));
    }
    if s.operands.is_empty() {
        return Category::unclear(format!(
            "`{prog}` needs a command such as `ping` or `status`"
        ));
    }
    let mut out = Category::ReadOnly;
    for w in &s.operands {
        let Some(command) = w.literal().map(|t| t.to_ascii_lowercase()) else {
            return Category::unclear(format!(
                "the {prog} command `{}` is not a literal word",
                w.raw
            ));
        };
        let category = match command.as_str() {
            "ping" | "status" | "version" | "processlist" | "extended-status" | "variables" => {
                Category::ReadOnly
            }
            "password" | "old-password" => Category::never(SECRETS),
            "drop" => Category::never("dropping or truncating database tables"),
            c => Category::write(format!("runs `{prog} {c}`, which changes the server")),
        };
        out = out.worst(category);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Postgres,
    MySql,
}

/// Splits SQL into statements of upper-cased word tokens, skipping strings,
/// quoted identifiers and comments.
fn tokenize(sql: &str, dialect: Dialect) -> Result<Vec<Vec<String>>, &'static str> {
    let chars: Vec<char> = sql.chars().collect();
    let mut statements = vec![Vec::new()];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\'' | '"' | '`' => {
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err("has an unterminated quote"),
                        Some('\\') if dialect == Dialect::MySql => j += 2,
                        Some(q) if *q == c && chars.get(j + 1) == Some(&c) => j += 2,
                        Some(q) if *q == c => break,
                        Some(_) => j += 1,
                    }
                }
                i = j + 1;
                push(&mut statements, "'".to_owned());
            }
            '-' if next == Some('-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\\' if dialect == Dialect::MySql => {
                // The client's own commands (`\!`, `\.`, `\T`...) work
                // anywhere outside a string; `\G` and `\g` end a statement.
                match next {
                    Some('G' | 'g') => {
                        statements.push(Vec::new());
                        i += 2;
                    }
                    _ => return Err("uses a client command (a backslash outside a string)"),
                }
            }
            '#' if dialect == Dialect::MySql => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                let end = (i + 2..chars.len().saturating_sub(1))
                    .find(|&k| chars[k] == '*' && chars[k + 1] == '/');
                i = end.ok_or("has an unterminated comment")? + 2;
            }
            '$' if dialect == Dialect::Postgres
                && next.is_some_and(|n| n == '$' || n.is_alphabetic() || n == '_') =>
            {
                let tag_end = (i + 1..chars.len())
                    .find(|&k| chars[k] == '$')
                    .ok_or("has an unterminated dollar quote")?;
                let tag: String = chars[i..=tag_end].iter().collect();
                if !tag[1..tag.len() - 1]
                    .chars()
                    .all(|t| t.is_alphanumeric() || t == '_')
                {
                    return Err("has a dollar sign that is not understood");
                }
                let body: String = chars[tag_end + 1..].iter().collect();
                let close = body.find(&tag).ok_or("has an unterminated dollar quote")?;
                i = tag_end + 1 + body[..close].chars().count() + tag.chars().count();
                push(&mut statements, "'".to_owned());
            }
            ';' => {
                statements.push(Vec::new());
                i += 1;
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                push(
                    &mut statements,
                    chars[start..i]
                        .iter()
                        .collect::<String>()
                        .to_ascii_uppercase(),
                );
            }
            c => {
                if !c.is_whitespace() {
                    push(&mut statements, c.to_string());
                }
                i += 1;
            }
        }
    }
    statements.retain(|s| !s.is_empty());
    Ok(statements)
}

fn push(statements: &mut [Vec<String>], token: String) {
    if let Some(last) = statements.last_mut() {
        last.push(token);
    }
}

const READ_STARTS: &str = "SELECT SHOW EXPLAIN WITH VALUES TABLE DESCRIBE DESC USE";
const WRITE_WORDS: &str = "INSERT UPDATE DELETE MERGE CREATE EXECUTE CALL COPY DO LOAD";
const WRITE_FUNCTIONS: &str = "PG_READ_FILE PG_READ_BINARY_FILE PG_LS_ PG_STAT_FILE LOAD_FILE PG_TERMINATE PG_CANCEL SETVAL NEXTVAL LO_ PG_RELOAD PG_ROTATE PG_SWITCH PG_PROMOTE PG_CREATE PG_DROP SET_CONFIG PG_FILE_ PG_STAT_RESET DBLINK PG_REPLICATION_ORIGIN PG_WAL_REPLAY PG_LOG_BACKEND PG_ADVISORY";
const PSQL_READ_META: &str = "l l+ list d d+ dt dt+ dn dn+ du dg df df+ dv di ds dx db dp dm dE z x conninfo timing pset encoding q ? copyright echo";

fn query_category(text: &str, dialect: Dialect) -> Category {
    let trimmed = text.trim();
    if dialect == Dialect::Postgres
        && let Some(meta) = trimmed.strip_prefix('\\')
    {
        let name = meta.split_whitespace().next().unwrap_or("");
        return match name {
            "password" => Category::never(SECRETS),
            n if listed(PSQL_READ_META, n) && !meta.contains('\\') => Category::ReadOnly,
            n => Category::unclear(format!(
                "the psql meta-command `\\{n}` is not one Claude Ops allows"
            )),
        };
    }
    if dialect == Dialect::Postgres && trimmed.contains('\\') {
        return Category::unclear("its SQL mixes in psql meta-commands");
    }
    let statements = match tokenize(trimmed, dialect) {
        Ok(s) => s,
        Err(problem) => return Category::unclear(format!("its SQL {problem}")),
    };
    let mut out = Category::ReadOnly;
    for tokens in &statements {
        out = out.worst(statement_category(tokens));
    }
    out
}

fn statement_category(tokens: &[String]) -> Category {
    let has = |w: &str| tokens.iter().any(|t| t == w);
    let first = tokens
        .iter()
        .find(|t| *t != "(")
        .map(String::as_str)
        .unwrap_or("");
    if has("DROP") || has("TRUNCATE") {
        return Category::never("dropping or truncating database tables");
    }
    let password_change = (first == "ALTER" || first == "CREATE")
        && (has("USER") || has("ROLE"))
        && (has("PASSWORD") || has("IDENTIFIED"));
    if password_change || (first == "SET" && has("PASSWORD")) {
        return Category::never(SECRETS);
    }
    if !listed(READ_STARTS, first) {
        return Category::write(format!("runs `{first}`, which changes the database"));
    }
    if first == "EXPLAIN" && !has("ANALYZE") && !has("ANALYSE") {
        return Category::ReadOnly;
    }
    if let Some(w) = tokens.iter().find(|t| listed(WRITE_WORDS, t.as_str())) {
        return Category::write(format!("runs `{w}`, which changes the database"));
    }
    if has("INTO") {
        return Category::write("writes query results into a table or file (`INTO`)");
    }
    if let Some(f) = tokens
        .iter()
        .find(|t| WRITE_FUNCTIONS.split_whitespace().any(|p| t.starts_with(p)))
    {
        return Category::write(format!(
            "calls `{}`, which changes the server or reads its files",
            f.to_ascii_lowercase()
        ));
    }
    Category::ReadOnly
}
