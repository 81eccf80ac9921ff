//! `redis-cli`: judged by the Redis command it is given.
//!
//! Why it exists: reads (`INFO`, `GET`, `SCAN`...) are Tier 1, `FLUSHALL`,
//! `FLUSHDB` and password changes are never allowed, and everything else
//! changes data.
//! What it must not do: allow `redis-cli` without a command (it would read
//! commands from a terminal or standard input) or a mode that writes files or
//! runs scripts.

use crate::ast::Word;
use crate::optcheck::unclear_wild;
use crate::opts::{Spec, listed, scan};
use crate::paths::SECRETS;
use crate::vocab::Category;

pub(crate) const REDIS_READS: &str = "INFO PING GET MGET EXISTS TTL PTTL TYPE SCAN SSCAN HSCAN ZSCAN KEYS DBSIZE STRLEN LLEN LRANGE LINDEX HGET HGETALL HMGET HKEYS HVALS HLEN HEXISTS HSTRLEN SMEMBERS SCARD SISMEMBER SMISMEMBER ZRANGE ZRANGEBYSCORE ZREVRANGE ZREVRANGEBYSCORE ZCARD ZSCORE ZCOUNT ZRANK XLEN XRANGE XREVRANGE ROLE LASTSAVE TIME ECHO GETRANGE BITCOUNT PFCOUNT";

pub(crate) const REDIS_READ_PAIRS: &[(&str, &str)] = &[
    ("CLIENT", "LIST INFO GETNAME ID"),
    ("MEMORY", "USAGE STATS DOCTOR"),
    ("CONFIG", "GET"),
    ("SLOWLOG", "GET LEN"),
    ("CLUSTER", "INFO NODES SLOTS SHARDS MYID"),
    ("LATENCY", "LATEST HISTORY DOCTOR"),
    ("MODULE", "LIST"),
    ("ACL", "LIST WHOAMI USERS CAT"),
    ("PUBSUB", "CHANNELS NUMSUB NUMPAT"),
    ("XINFO", "STREAM GROUPS CONSUMERS"),
    ("OBJECT", "ENCODING FREQ IDLETIME REFCOUNT"),
    ("COMMAND", "COUNT INFO DOCS LIST"),
];

pub(crate) fn redis(args: &[Word]) -> Category {
    let spec = Spec {
        short_values: "hpsaunridD",
        long_values: "user pass pattern count intrinsic-latency rdb functions-rdb pipe-timeout eval cacert cacertdir cert key sni tls-ciphers tls-ciphersuites memkeys-samples quoted-pattern cluster",
        permute: false,
    };
    let s = scan(args, &spec);
    if let Some(c) = unclear_wild(&s, "redis-cli") {
        return c;
    }
    if let Some(o) = s.opts.iter().find(|o| {
        o.is("--rdb --functions-rdb --pipe --eval --ldb --ldb-sync-mode --replica --cluster")
    }) {
        return Category::unclear(format!("`redis-cli {}` does more than read", o.name));
    }
    let Some(command) = s.operands.first() else {
        let modes = "--scan --bigkeys --memkeys --hotkeys --stat --latency --latency-history --latency-dist --intrinsic-latency";
        return if s.has(modes) {
            Category::ReadOnly
        } else {
            Category::unclear(
                "`redis-cli` without a command reads commands from a terminal or standard input",
            )
        };
    };
    let Some(name) = command.literal().map(|t| t.to_ascii_uppercase()) else {
        return Category::unclear(format!(
            "the redis command `{}` is not a literal word",
            command.raw
        ));
    };
    let second = s
        .operands
        .get(1)
        .and_then(|w| w.literal())
        .unwrap_or_default()
        .to_ascii_uppercase();
    let third = s
        .operands
        .get(2)
        .and_then(|w| w.literal())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match name.as_str() {
        "FLUSHALL" | "FLUSHDB" => Category::never("flushing Redis data"),
        "CONFIG" if second == "SET" && (third == "requirepass" || third == "masterauth") => {
            Category::never(SECRETS)
        }
        "ACL" if second == "SETUSER" => Category::never(SECRETS),
        n if listed(REDIS_READS, n) => Category::ReadOnly,
        n if REDIS_READ_PAIRS
            .iter()
            .any(|(first, seconds)| *first == n && listed(seconds, &second)) =>
        {
            Category::ReadOnly
        }
        n => Category::write(format!(
            "runs the Redis command `{n}`, which changes data or the server"
        )),
    }
}
