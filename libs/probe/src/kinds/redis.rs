//! `redis://[user:password@]host:port[/db]`: AUTH when the url has a password,
//! PING, and a few INFO fields. A small RESP client over a fresh TCP connection.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{host_port, percent_decode, tcp};
use crate::observation::Observation;
use crate::probe::{Ctx, SpecError};

/// Replies larger than this are refused (INFO is a few KB).
const REPLY_LIMIT: usize = 1 << 20;

#[derive(Debug)]
pub(crate) struct RedisTarget {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: Option<u32>,
}

pub(crate) fn compile(ctx: &mut Ctx<'_>, url: &str) -> Result<RedisTarget, SpecError> {
    let (host, port, parsed) = host_port(ctx, url, Some(6379))?;
    let user = Some(percent_decode(parsed.username())).filter(|u| !u.is_empty());
    let password = parsed.password().map(percent_decode);
    let db = match parsed.path().trim_matches('/') {
        "" => None,
        n => Some(n.parse::<u32>().map_err(|_| {
            ctx.error(
                "url",
                format!("`/{n}` is not a database number; write e.g. `redis://host:6379/0`"),
            )
        })?),
    };
    Ok(RedisTarget {
        host,
        port,
        user,
        password,
        db,
    })
}

/// A RESP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

pub(crate) fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Result<String, String> {
    let mut line = Vec::new();
    let n = r
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| format!("reading the reply failed: {e}"))?;
    if n == 0 {
        return Err("the server closed the connection".to_owned());
    }
    Ok(String::from_utf8_lossy(&line)
        .trim_end_matches(['\r', '\n'])
        .to_owned())
}

pub(crate) async fn read_reply<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Result<Reply, String> {
    let mut stack: Vec<(usize, Vec<Reply>)> = Vec::new();
    loop {
        let line = read_line(r).await?;
        // `get` rather than slicing: the reply is outside input and may not be ASCII.
        let (kind, rest) = (line.get(..1).unwrap_or(""), line.get(1..).unwrap_or(""));
        let number = || {
            rest.parse::<i64>()
                .map_err(|_| format!("bad reply line `{line}`"))
        };
        let mut reply = match kind {
            "+" => Reply::Simple(rest.to_owned()),
            "-" => Reply::Error(rest.to_owned()),
            ":" => Reply::Integer(number()?),
            "$" => {
                let len = number()?;
                if len < 0 {
                    Reply::Bulk(None)
                } else {
                    let len = usize::try_from(len).unwrap_or(usize::MAX);
                    if len > REPLY_LIMIT {
                        return Err(format!("reply of {len} bytes is too large"));
                    }
                    let mut data = vec![0u8; len + 2];
                    r.read_exact(&mut data)
                        .await
                        .map_err(|e| format!("reading the reply failed: {e}"))?;
                    data.truncate(len);
                    Reply::Bulk(Some(data))
                }
            }
            "*" => {
                let n = number()?;
                if n <= 0 {
                    Reply::Array((n == 0).then(Vec::new))
                } else {
                    let n = usize::try_from(n).unwrap_or(usize::MAX).min(REPLY_LIMIT);
                    stack.push((n, Vec::with_capacity(n.min(64))));
                    continue;
                }
            }
            _ => {
                return Err(format!(
                    "not a redis reply: `{}`",
                    crate::attempt::one_line(&line, 60)
                ));
            }
        };
        loop {
            let Some((want, items)) = stack.last_mut() else {
                return Ok(reply);
            };
            items.push(reply);
            if items.len() < *want {
                break;
            }
            let Some((_, done)) = stack.pop() else {
                return Err("reply nesting broke".to_owned());
            };
            reply = Reply::Array(Some(done));
        }
    }
}

async fn command(stream: &mut BufReader<TcpStream>, args: &[&[u8]]) -> Result<Reply, String> {
    stream
        .get_mut()
        .write_all(&encode(args))
        .await
        .map_err(|e| format!("sending failed: {e}"))?;
    read_reply(stream).await
}

/// `field:value` lines of INFO.
pub(crate) fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|l| {
        l.strip_prefix(field)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}

pub(crate) async fn observe(t: &RedisTarget) -> Observation {
    let (stream, peer) = match tcp::connect(&t.host, t.port).await {
        Ok(s) => s,
        Err(e) => return Observation::failed(e),
    };
    let mut stream = BufReader::new(stream);
    let fail = |what: &str, why: String| Observation {
        ip: Some(peer.ip().to_string()),
        ..Observation::failed(format!("{what}: {why}"))
    };
    if let Some(password) = &t.password {
        let reply = match &t.user {
            Some(user) => {
                command(
                    &mut stream,
                    &[b"AUTH", user.as_bytes(), password.as_bytes()],
                )
                .await
            }
            None => command(&mut stream, &[b"AUTH", password.as_bytes()]).await,
        };
        match reply {
            Ok(Reply::Simple(_)) => {}
            Ok(Reply::Error(e)) => return fail("AUTH refused", e),
            Ok(other) => return fail("AUTH", format!("unexpected reply {other:?}")),
            Err(e) => return fail("AUTH", e),
        }
    }
    if let Some(db) = t.db {
        match command(&mut stream, &[b"SELECT", db.to_string().as_bytes()]).await {
            Ok(Reply::Simple(_)) => {}
            Ok(Reply::Error(e)) => return fail("SELECT refused", e),
            Ok(other) => return fail("SELECT", format!("unexpected reply {other:?}")),
            Err(e) => return fail("SELECT", e),
        }
    }
    match command(&mut stream, &[b"PING"]).await {
        Ok(Reply::Simple(s)) if s == "PONG" => {}
        Ok(Reply::Error(e)) => return fail("PING refused", e),
        Ok(other) => return fail("PING", format!("unexpected reply {other:?}")),
        Err(e) => return fail("PING", e),
    }
    let info = match command(&mut stream, &[b"INFO"]).await {
        Ok(Reply::Bulk(Some(b))) => String::from_utf8_lossy(&b).into_owned(),
        _ => String::new(),
    };
    let field = |f: &str| info_field(&info, f).unwrap_or("?");
    let summary = format!(
        "PONG; Redis {}, role {}, {} clients (max {}), memory {}",
        field("redis_version"),
        field("role"),
        field("connected_clients"),
        field("maxclients"),
        field("used_memory_human"),
    );
    let evidence = [
        "redis_version",
        "role",
        "uptime_in_seconds",
        "connected_clients",
        "maxclients",
        "blocked_clients",
        "used_memory_human",
        "maxmemory_human",
        "rdb_last_bgsave_status",
        "aof_last_write_status",
    ]
    .iter()
    .filter_map(|f| info_field(&info, f).map(|v| format!("{f}: {v}\n")))
    .collect();
    Observation {
        connected: true,
        ip: Some(peer.ip().to_string()),
        body: Some(info),
        summary,
        evidence,
        ..Observation::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<Reply, String> {
        let mut r = BufReader::new(bytes);
        read_reply(&mut r).await
    }

    #[tokio::test]
    async fn reads_resp_replies() {
        assert_eq!(parse(b"+PONG\r\n").await, Ok(Reply::Simple("PONG".into())));
        assert_eq!(
            parse(b"-NOAUTH x\r\n").await,
            Ok(Reply::Error("NOAUTH x".into()))
        );
        assert_eq!(parse(b":42\r\n").await, Ok(Reply::Integer(42)));
        assert_eq!(parse(b"$-1\r\n").await, Ok(Reply::Bulk(None)));
        assert_eq!(
            parse(b"$3\r\na\r\n\r\n").await,
            Ok(Reply::Bulk(Some(b"a\r\n".to_vec())))
        );
        assert_eq!(
            parse(b"*2\r\n*1\r\n:1\r\n$1\r\nx\r\n").await,
            Ok(Reply::Array(Some(vec![
                Reply::Array(Some(vec![Reply::Integer(1)])),
                Reply::Bulk(Some(b"x".to_vec())),
            ])))
        );
        assert_eq!(parse(b"*0\r\n").await, Ok(Reply::Array(Some(vec![]))));
        assert!(parse(b"?x\r\n").await.is_err());
        assert!(parse("\u{e9}x\r\n".as_bytes()).await.is_err());
        assert!(parse(b"$5\r\nab").await.is_err());
    }

    #[test]
    fn encodes_commands_and_reads_info() {
        assert_eq!(encode(&[b"PING"]), b"*1\r\n$4\r\nPING\r\n");
        let info = "# Server\r\nredis_version:7.0.15\r\nrole:master\r\n";
        assert_eq!(info_field(info, "redis_version"), Some("7.0.15"));
        assert_eq!(info_field(info, "role"), Some("master"));
        assert_eq!(info_field(info, "redis"), None);
    }
}
