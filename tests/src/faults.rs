//! A TCP proxy that fails on command, put between two of our processes (a
//! worker and its control plane, a control plane and PostgreSQL) to test what
//! they do when the network between them misbehaves.
//!
//! Three states, switched at any time from the test:
//! - open: bytes flow both ways;
//! - [`FaultProxy::freeze`]: every connection stays open but nothing is read or
//!   written either way, like a NAT that lost its mapping or a partition: each
//!   side sees silence, never an error, until its own timeouts fire;
//! - [`FaultProxy::cut`]: every connection is reset (RST) and new ones are
//!   accepted only to be reset, until [`FaultProxy::heal`].
//!
//! Pure tokio: one task accepts, one task per connection copies in both
//! directions. Dropping the proxy stops it and resets what is still open. It
//! must stay on loopback and never change the bytes it forwards.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with bytes right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Open,
    Frozen,
    Cut,
}

/// Forwards connections from its own loopback port to `target`, failing on command.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    link: watch::Sender<Link>,
    forwarded: Arc<AtomicUsize>,
    acceptor: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on `127.0.0.1:0`, forwarding each accepted connection to `target`.
    pub async fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap_or_else(|e| panic!("binding the fault proxy: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the fault proxy's address: {e}"));
        let (link, _) = watch::channel(Link::Open);
        let forwarded = Arc::new(AtomicUsize::new(0));
        let acceptor = tokio::spawn(accept(listener, target, link.clone(), forwarded.clone()));
        FaultProxy {
            addr,
            link,
            forwarded,
            acceptor,
        }
    }

    /// Where to connect instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Keeps every connection open but forwards nothing either way until healed.
    pub fn freeze(&self) {
        self.link.send_replace(Link::Frozen);
    }

    /// Resets every connection and refuses new ones (accepted, then reset)
    /// until healed.
    pub fn cut(&self) {
        self.link.send_replace(Link::Cut);
    }

    /// Forwards again: frozen connections resume where they stopped; after a
    /// cut, new connections are forwarded.
    pub fn heal(&self) {
        self.link.send_replace(Link::Open);
    }

    /// Connections forwarded to the target so far (refused ones not counted).
    pub fn connections(&self) -> usize {
        self.forwarded.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        // Connection tasks see the link cut and reset their sockets.
        self.link.send_replace(Link::Cut);
    }
}

async fn accept(
    listener: TcpListener,
    target: SocketAddr,
    link: watch::Sender<Link>,
    forwarded: Arc<AtomicUsize>,
) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        if *link.borrow() == Link::Cut {
            reset(&inbound);
            continue;
        }
        forwarded.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(forward(inbound, target, link.subscribe()));
    }
}

/// Copies both ways until both sides are done or the link is cut; a cut
/// resets both sockets.
async fn forward(mut inbound: TcpStream, target: SocketAddr, mut link: watch::Receiver<Link>) {
    let Ok(mut outbound) = TcpStream::connect(target).await else {
        reset(&inbound);
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let cut = {
        let (from_client, to_client) = inbound.split();
        let (from_target, to_target) = outbound.split();
        let both = futures_util::future::join(
            pump(from_client, to_target, link.clone()),
            pump(from_target, to_client, link.clone()),
        );
        tokio::select! {
            _ = both => false,
            _ = link.wait_for(|l| *l == Link::Cut) => true,
        }
    };
    if cut {
        reset(&inbound);
        reset(&outbound);
    }
}

/// Copies one direction. Waits while the link is frozen, before a read and
/// before the write of what was read, so bytes read just as a freeze began
/// are held too. Ends at end-of-file (passed on as a half-close), an error or a cut.
async fn pump(mut from: ReadHalf<'_>, mut to: WriteHalf<'_>, mut link: watch::Receiver<Link>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if !open(&mut link).await {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !open(&mut link).await || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
    let _ = to.shutdown().await;
}

/// Waits out a freeze; false once the link is cut or the proxy is gone.
async fn open(link: &mut watch::Receiver<Link>) -> bool {
    matches!(link.wait_for(|l| *l != Link::Frozen).await, Ok(l) if *l == Link::Open)
}

/// Closes with RST instead of FIN, as a dropped mapping or a dead peer does.
fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An echo server on loopback.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = stream.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn round_trip(stream: &mut TcpStream, text: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(text).await?;
        let mut back = vec![0u8; text.len()];
        stream.read_exact(&mut back).await?;
        Ok(back)
    }

    #[tokio::test]
    async fn forwards_freezes_cuts_and_heals() {
        let proxy = FaultProxy::start(echo().await).await;
        let mut client = TcpStream::connect(proxy.addr())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let back = round_trip(&mut client, b"hello").await;
        assert_eq!(back.ok().as_deref(), Some(&b"hello"[..]));
        assert_eq!(proxy.connections(), 1);

        // Frozen: the connection stays up but nothing comes back...
        proxy.freeze();
        client
            .write_all(b"held")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut held = [0u8; 4];
        let waited =
            tokio::time::timeout(Duration::from_millis(500), client.read_exact(&mut held)).await;
        assert!(waited.is_err(), "a frozen link forwarded {held:?}");
        // ...until healed: then what was held arrives, once.
        proxy.heal();
        tokio::time::timeout(Duration::from_secs(5), client.read_exact(&mut held))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&held, b"held");

        // Cut: the connection is reset, and so is a new one.
        proxy.cut();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            read.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
            "the cut connection was not reset"
        );
        if let Ok(mut refused) = TcpStream::connect(proxy.addr()).await {
            assert!(
                round_trip(&mut refused, b"x").await.is_err(),
                "a connection while cut was forwarded"
            );
        }
        assert_eq!(proxy.connections(), 1);

        proxy.heal();
        let mut again = TcpStream::connect(proxy.addr())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let back = round_trip(&mut again, b"again").await;
        assert_eq!(back.ok().as_deref(), Some(&b"again"[..]));
        assert_eq!(proxy.connections(), 2);
    }
}
