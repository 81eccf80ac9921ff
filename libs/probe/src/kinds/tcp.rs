//! `tcp://host:port`: a TCP connect, nothing more.

use std::net::SocketAddr;

use tokio::net::TcpStream;

use super::host_port;
use crate::observation::Observation;
use crate::probe::{Ctx, SpecError};

#[derive(Debug)]
pub(crate) struct TcpTarget {
    pub host: String,
    pub port: u16,
}

pub(crate) fn compile(ctx: &mut Ctx<'_>, url: &str) -> Result<TcpTarget, SpecError> {
    let (host, port, _) = host_port(ctx, url, None)?;
    Ok(TcpTarget { host, port })
}

/// Connects to `host:port`; the caller bounds the time.
pub(crate) async fn connect(host: &str, port: u16) -> Result<(TcpStream, SocketAddr), String> {
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let peer = stream
        .peer_addr()
        .map_err(|e| format!("connected to {host}:{port} but lost it: {e}"))?;
    Ok((stream, peer))
}

pub(crate) async fn observe(t: &TcpTarget) -> Observation {
    match connect(&t.host, t.port).await {
        Ok((_stream, peer)) => Observation {
            connected: true,
            ip: Some(peer.ip().to_string()),
            summary: format!("connected to {}:{} ({})", t.host, t.port, peer.ip()),
            ..Observation::default()
        },
        Err(e) => Observation::failed(e),
    }
}
