//! `dns://server:port` with `dns: { query-name, query-type }`: one query (A, AAAA
//! or CNAME) straight to that server over UDP, retried over TCP when the answer
//! is truncated. A small hand-written client (RFC 1035): the probe needs one
//! question and the answer section, not a resolver.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::host_port;
use crate::observation::Observation;
use crate::probe::{Ctx, SpecError};
use crate::spec::ProbeSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryType {
    A,
    Aaaa,
    Cname,
}

impl QueryType {
    fn code(self) -> u16 {
        match self {
            QueryType::A => 1,
            QueryType::Cname => 5,
            QueryType::Aaaa => 28,
        }
    }

    fn name(self) -> &'static str {
        match self {
            QueryType::A => "A",
            QueryType::Cname => "CNAME",
            QueryType::Aaaa => "AAAA",
        }
    }
}

#[derive(Debug)]
pub(crate) struct DnsTarget {
    pub server: SocketAddr,
    pub name: String,
    pub qtype: QueryType,
}

pub(crate) fn compile(
    ctx: &mut Ctx<'_>,
    spec: &ProbeSpec,
    url: &str,
) -> Result<DnsTarget, SpecError> {
    let (host, port, _) = host_port(ctx, url, Some(53))?;
    let ip: IpAddr = host.parse().map_err(|_| {
        ctx.error(
            "url",
            format!("`{host}` is not an IP address; a dns:// probe asks one server, e.g. `dns://10.0.0.2:53`"),
        )
    })?;
    let Some(query) = &spec.dns else {
        return Err(ctx.error(
            "dns",
            "is missing; add `dns: { query-name: host.lan, query-type: A }`",
        ));
    };
    let qtype = match query.query_type.trim().to_ascii_uppercase().as_str() {
        "A" => QueryType::A,
        "AAAA" => QueryType::Aaaa,
        "CNAME" => QueryType::Cname,
        other => {
            return Err(ctx.error(
                "dns.query-type",
                format!("`{other}` is not supported; use A, AAAA or CNAME"),
            ));
        }
    };
    let name = query.query_name.trim().trim_end_matches('.').to_owned();
    encode_name(&name).map_err(|e| ctx.error("dns.query-name", e))?;
    Ok(DnsTarget {
        server: SocketAddr::new(ip, port),
        name,
        qtype,
    })
}

fn encode_name(name: &str) -> Result<Vec<u8>, String> {
    if name.is_empty() {
        return Err("is empty; name the host to look up".to_owned());
    }
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!(
                "`{name}` has an empty or over-long (63 bytes) label"
            ));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    if out.len() > 255 {
        return Err(format!("`{name}` is longer than 255 bytes"));
    }
    Ok(out)
}

/// A query with recursion desired.
pub(crate) fn build_query(id: u16, name: &str, qtype: QueryType) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(&encode_name(name)?);
    q.extend_from_slice(&qtype.code().to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    Ok(q)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub name: String,
    pub rtype: u16,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub id: u16,
    pub rcode: u8,
    pub truncated: bool,
    pub answers: Vec<Record>,
}

pub(crate) fn rcode_name(code: u8) -> String {
    match code {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        6 => "YXDOMAIN".into(),
        7 => "YXRRSET".into(),
        8 => "NXRRSET".into(),
        9 => "NOTAUTH".into(),
        10 => "NOTZONE".into(),
        other => format!("RCODE{other}"),
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, String> {
        let b = *self.buf.get(self.pos).ok_or("truncated message")?;
        self.pos += 1;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from(self.u8()?) << 8 | u16::from(self.u8()?))
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).ok_or("truncated message")?;
        let slice = self.buf.get(self.pos..end).ok_or("truncated message")?;
        self.pos = end;
        Ok(slice)
    }

    /// A possibly compressed name starting at the current position.
    fn name(&mut self) -> Result<String, String> {
        let (name, end) = read_name(self.buf, self.pos)?;
        self.pos = end;
        Ok(name)
    }
}

/// Reads a name at `start`; returns it and the position after it (not after a pointer's target).
fn read_name(buf: &[u8], start: usize) -> Result<(String, usize), String> {
    let mut labels: Vec<String> = Vec::new();
    let mut pos = start;
    let mut end = None;
    for _ in 0..128 {
        let len = *buf.get(pos).ok_or("truncated name")?;
        match len & 0xC0 {
            0xC0 => {
                let low = *buf.get(pos + 1).ok_or("truncated name")?;
                end.get_or_insert(pos + 2);
                pos = usize::from(len & 0x3F) << 8 | usize::from(low);
            }
            0 if len == 0 => {
                let name = labels.join(".");
                return Ok((name, end.unwrap_or(pos + 1)));
            }
            0 => {
                let label = buf
                    .get(pos + 1..pos + 1 + usize::from(len))
                    .ok_or("truncated label")?;
                labels.push(String::from_utf8_lossy(label).into_owned());
                pos += 1 + usize::from(len);
            }
            _ => return Err("unsupported label type".to_owned()),
        }
    }
    Err("name compression loop".to_owned())
}

pub(crate) fn parse_response(buf: &[u8]) -> Result<Response, String> {
    let mut r = Reader { buf, pos: 0 };
    let id = r.u16()?;
    let flags = r.u16()?;
    if flags & 0x8000 == 0 {
        return Err("not a response".to_owned());
    }
    let qd = r.u16()?;
    let an = r.u16()?;
    r.u16()?;
    r.u16()?;
    for _ in 0..qd {
        r.name()?;
        r.bytes(4)?;
    }
    let mut answers = Vec::new();
    for _ in 0..an {
        let name = r.name()?;
        let rtype = r.u16()?;
        r.u16()?;
        r.bytes(4)?;
        let len = usize::from(r.u16()?);
        let start = r.pos;
        let rdata = r.bytes(len)?;
        let data = match (rtype, len) {
            (1, 4) => Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]).to_string(),
            (28, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rdata);
                Ipv6Addr::from(b).to_string()
            }
            (5, _) => read_name(buf, start)?.0,
            _ => continue,
        };
        answers.push(Record { name, rtype, data });
    }
    Ok(Response {
        id,
        rcode: (flags & 0x000F) as u8,
        truncated: flags & 0x0200 != 0,
        answers,
    })
}

async fn over_udp(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Response, String> {
    let bind: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("cannot open a udp socket: {e}"))?;
    socket
        .connect(server)
        .await
        .map_err(|e| format!("cannot reach {server}: {e}"))?;
    // Resend a lost datagram a few times within the probe's timeout.
    let resend = (timeout / 3).max(Duration::from_millis(300));
    let mut buf = vec![0u8; 4096];
    loop {
        socket
            .send(query)
            .await
            .map_err(|e| format!("cannot send to {server}: {e}"))?;
        let deadline = tokio::time::Instant::now() + resend;
        loop {
            match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(format!("no answer from {server}: {e}")),
                Ok(Ok(n)) => {
                    if let Ok(response) = parse_response(&buf[..n])
                        && response.id == id
                    {
                        return Ok(response);
                    }
                }
            }
        }
    }
}

async fn over_tcp(server: SocketAddr, query: &[u8]) -> Result<Response, String> {
    let mut stream = TcpStream::connect(server)
        .await
        .map_err(|e| format!("cannot connect to {server} over tcp: {e}"))?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream
        .write_all(&framed)
        .await
        .map_err(|e| format!("cannot send to {server}: {e}"))?;
    let len = stream
        .read_u16()
        .await
        .map_err(|e| format!("no answer from {server}: {e}"))?;
    let mut buf = vec![0u8; usize::from(len)];
    stream
        .read_exact(&mut buf)
        .await
        .map_err(|e| format!("short answer from {server}: {e}"))?;
    parse_response(&buf)
}

pub(crate) async fn observe(t: &DnsTarget, timeout: Duration) -> Observation {
    let id: u16 = rand::random();
    let query = match build_query(id, &t.name, t.qtype) {
        Ok(q) => q,
        Err(e) => return Observation::failed(e),
    };
    let mut result = over_udp(t.server, &query, id, timeout).await;
    if matches!(&result, Ok(r) if r.truncated) {
        result = over_tcp(t.server, &query).await;
    }
    let response = match result {
        Ok(r) => r,
        Err(e) => return Observation::failed(e),
    };
    let rcode = rcode_name(response.rcode);
    let wanted: Vec<&Record> = response
        .answers
        .iter()
        .filter(|a| a.rtype == t.qtype.code())
        .collect();
    let values: Vec<&str> = wanted.iter().map(|a| a.data.as_str()).collect();
    let ip = response
        .answers
        .iter()
        .find(|a| a.rtype == 1 || a.rtype == 28)
        .map(|a| a.data.clone());
    let evidence: String = response
        .answers
        .iter()
        .map(|a| {
            let kind = match a.rtype {
                1 => "A",
                5 => "CNAME",
                _ => "AAAA",
            };
            format!("{} {kind} {}\n", a.name, a.data)
        })
        .collect();
    let shown = if values.is_empty() {
        "no answer".to_owned()
    } else {
        values.join(", ")
    };
    Observation {
        connected: true,
        dns_rcode: Some(rcode.clone()),
        body: Some(values.join(",")),
        ip,
        summary: format!(
            "{rcode}: {} {} -> {shown} (from {})",
            t.name,
            t.qtype.name(),
            t.server
        ),
        evidence: format!("status: {rcode}\n{evidence}"),
        ..Observation::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_query() {
        let q = build_query(0xBEEF, "app.test", QueryType::A).expect("valid");
        assert_eq!(
            q,
            [
                0xBE, 0xEF, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'a', b'p', b'p', 4, b't', b'e', b's',
                b't', 0, 0, 1, 0, 1
            ]
        );
        assert!(build_query(1, "a..b", QueryType::A).is_err());
        assert!(build_query(1, &"x".repeat(64), QueryType::A).is_err());
    }

    #[test]
    fn parses_compressed_answers() {
        // Response to `www.test CNAME? / A?`: www.test CNAME app.test, app.test A 10.1.2.3
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(&[
            3, b'w', b'w', b'w', 4, b't', b'e', b's', b't', 0, 0, 1, 0, 1,
        ]);
        // answer 1: name -> pointer to 12, CNAME, rdata "app" + pointer to "test" at 16
        m.extend_from_slice(&[0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6]);
        m.extend_from_slice(&[3, b'a', b'p', b'p', 0xC0, 16]);
        let app_at = m.len() - 6;
        // answer 2: name -> pointer to the "app" in the first rdata, A
        m.extend_from_slice(&[
            0xC0,
            app_at as u8,
            0,
            1,
            0,
            1,
            0,
            0,
            0,
            60,
            0,
            4,
            10,
            1,
            2,
            3,
        ]);
        let r = parse_response(&m).expect("parses");
        assert_eq!(r.id, 0x1234);
        assert_eq!(r.rcode, 0);
        assert!(!r.truncated);
        assert_eq!(
            r.answers,
            vec![
                Record {
                    name: "www.test".into(),
                    rtype: 5,
                    data: "app.test".into()
                },
                Record {
                    name: "app.test".into(),
                    rtype: 1,
                    data: "10.1.2.3".into()
                },
            ]
        );
    }

    #[test]
    fn rejects_broken_messages() {
        assert!(parse_response(&[0, 1, 0x81]).is_err());
        // a query, not a response
        assert!(parse_response(&[0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        // a pointer loop
        let m = [
            0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1,
        ];
        assert!(parse_response(&m).is_err());
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(rcode_name(15), "RCODE15");
    }
}
