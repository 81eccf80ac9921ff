//! Real TLS handshakes over loopback TCP with every configuration of
//! `claudeops_pki::tls`, asserting what each side observes.

#![allow(clippy::unwrap_used)]

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use claudeops_pki::tls::{
    self, ALPN_H2, control_plane_server_name, enroll_server_config, grpc_client_config,
    grpc_server_config, pinned_client_config,
};
use claudeops_pki::{
    Ca, EnrollToken, IssuedCert, IssuedPair, PeerIdentity, PkiError, RevocationSet, WorkerIdentity,
    WorkerKey, hash_secret, make_csr, verify_secret,
};
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError, ClientConfig, ProtocolVersion, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_rustls::{TlsAcceptor, TlsConnector};

const TIMEOUT: Duration = Duration::from_secs(10);
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

/// A CA as the control plane has it after a restart (created, then loaded
/// from disk), its server certificate and one enrolled worker.
struct Fixture {
    _dir: tempfile::TempDir,
    ca: Ca,
    server: IssuedPair,
    identity: WorkerIdentity,
    worker_key: String,
    worker_cert: IssuedCert,
}

fn fixture() -> Fixture {
    tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let created = Ca::load_or_create(dir.path()).unwrap();
    let ca = Ca::load_or_create(dir.path()).unwrap();
    assert_eq!(created.fingerprint(), ca.fingerprint());
    let server = ca.issue_server(&["localhost".to_owned()]).unwrap();
    let identity = WorkerIdentity::new("lab-1", "worker-7");
    let worker_key = WorkerKey::generate().unwrap();
    let csr = make_csr(&worker_key, "worker-7.lab").unwrap();
    let worker_cert = ca.sign_worker_csr(&csr, &identity, WEEK).unwrap();
    Fixture {
        _dir: dir,
        ca,
        server,
        identity,
        worker_key,
        worker_cert,
    }
}

impl Fixture {
    fn worker_client(&self) -> Arc<ClientConfig> {
        grpc_client_config(
            self.ca.cert_pem(),
            &self.worker_cert.cert_pem,
            &self.worker_key,
        )
        .unwrap()
    }
}

#[derive(Debug)]
struct ServerSaw {
    identity: Option<PeerIdentity>,
    alpn: Option<Vec<u8>>,
    version: Option<ProtocolVersion>,
}

#[derive(Debug)]
struct ClientSaw {
    alpn: Option<Vec<u8>>,
}

/// One connection: handshake, "ping" from the client, "pong" back. On a
/// failed handshake each side half-closes and drains the raw socket so the
/// peer reads the alert instead of a reset.
async fn exchange(
    server_config: Arc<ServerConfig>,
    client_config: Arc<ClientConfig>,
    name: ServerName<'static>,
) -> (io::Result<ServerSaw>, io::Result<ClientSaw>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        match TlsAcceptor::from(server_config)
            .accept(tcp)
            .into_fallible()
            .await
        {
            Ok(mut tls) => {
                let mut buf = [0u8; 4];
                tls.read_exact(&mut buf).await?;
                assert_eq!(&buf, b"ping");
                tls.write_all(b"pong").await?;
                tls.flush().await?;
                let conn = tls.get_ref().1;
                let identity = tls::peer_identity(conn.peer_certificates()).ok();
                Ok(ServerSaw {
                    identity,
                    alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
                    version: conn.protocol_version(),
                })
            }
            Err((err, tcp)) => {
                drain(tcp).await;
                Err(err)
            }
        }
    });
    let client = async move {
        let tcp = TcpStream::connect(addr).await?;
        match TlsConnector::from(client_config)
            .connect(name, tcp)
            .into_fallible()
            .await
        {
            Ok(mut tls) => {
                tls.write_all(b"ping").await?;
                tls.flush().await?;
                let mut buf = [0u8; 4];
                tls.read_exact(&mut buf).await?;
                assert_eq!(&buf, b"pong");
                Ok(ClientSaw {
                    alpn: tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec),
                })
            }
            Err((err, tcp)) => {
                drain(tcp).await;
                Err(err)
            }
        }
    };
    let client = timeout(TIMEOUT, client).await.expect("client timed out");
    let server = timeout(TIMEOUT, server)
        .await
        .expect("server timed out")
        .expect("server task panicked");
    (server, client)
}

async fn drain(mut tcp: TcpStream) {
    let _ = tcp.shutdown().await;
    let mut sink = Vec::new();
    let _ = timeout(Duration::from_secs(2), tcp.read_to_end(&mut sink)).await;
}

fn rustls_error(result: &io::Result<impl std::fmt::Debug>) -> &rustls::Error {
    let err = result.as_ref().expect_err("expected a tls failure");
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a rustls error: {err:?}"))
}

fn control_plane() -> ServerName<'static> {
    control_plane_server_name()
}

#[tokio::test]
async fn worker_with_ca_issued_certificate_connects() {
    let f = fixture();
    let server = grpc_server_config(f.ca.cert_pem(), &f.server, Arc::default()).unwrap();
    let (server_saw, client_saw) = exchange(server, f.worker_client(), control_plane()).await;
    let server_saw = server_saw.unwrap();
    let client_saw = client_saw.unwrap();

    let identity = server_saw
        .identity
        .expect("server read the worker identity");
    assert_eq!(identity.site, f.identity.site);
    assert_eq!(identity.worker_id, f.identity.worker_id);
    assert_eq!(identity.serial_hex, f.worker_cert.serial_hex);
    assert_eq!(identity.fingerprint, f.worker_cert.fingerprint);
    assert_eq!(server_saw.alpn.as_deref(), Some(ALPN_H2));
    assert_eq!(client_saw.alpn.as_deref(), Some(ALPN_H2));
    assert_eq!(server_saw.version, Some(ProtocolVersion::TLSv1_3));
}

#[tokio::test]
async fn worker_verifies_the_role_name_not_the_dialed_address() {
    let f = fixture();
    let server = grpc_server_config(f.ca.cert_pem(), &f.server, Arc::default()).unwrap();
    // Dialing by an IP the certificate does not name still works: the
    // verifier checks CONTROL_PLANE_NAME.
    let by_ip = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::new(10, 9, 8, 7)).into());
    let (server_saw, client_saw) = exchange(server, f.worker_client(), by_ip).await;
    server_saw.unwrap();
    client_saw.unwrap();
}

#[tokio::test]
async fn client_without_certificate_is_rejected() {
    let f = fixture();
    let server = grpc_server_config(f.ca.cert_pem(), &f.server, Arc::default()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(f.ca.cert_der().clone()).unwrap();
    let anonymous = ClientConfig::builder_with_provider(tls::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(claudeops_pki::CONTROL_PLANE_NAME).unwrap();
    let (server_saw, client_saw) = exchange(server, Arc::new(anonymous), name).await;

    assert_eq!(
        rustls_error(&server_saw),
        &rustls::Error::NoCertificatesPresented
    );
    assert_eq!(
        rustls_error(&client_saw),
        &rustls::Error::AlertReceived(AlertDescription::CertificateRequired)
    );
}

#[tokio::test]
async fn client_with_certificate_from_another_ca_is_rejected() {
    let f = fixture();
    let other_ca = Ca::generate().unwrap();
    let key = WorkerKey::generate().unwrap();
    let csr = make_csr(&key, "intruder").unwrap();
    // Same identity, wrong CA.
    let foreign = other_ca.sign_worker_csr(&csr, &f.identity, WEEK).unwrap();
    // The intruder trusts our CA (it is public), so only client auth fails.
    let client = grpc_client_config(f.ca.cert_pem(), &foreign.cert_pem, &key).unwrap();
    let server = grpc_server_config(f.ca.cert_pem(), &f.server, Arc::default()).unwrap();
    let (server_saw, client_saw) = exchange(server, client, control_plane()).await;

    assert_eq!(
        rustls_error(&server_saw),
        &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    );
    assert_eq!(
        rustls_error(&client_saw),
        &rustls::Error::AlertReceived(AlertDescription::UnknownCA)
    );
}

#[tokio::test]
async fn revocation_after_the_config_was_built_applies_to_the_next_handshake() {
    let f = fixture();
    let revocations = Arc::new(RevocationSet::new());
    let server = grpc_server_config(f.ca.cert_pem(), &f.server, revocations.clone()).unwrap();
    // One client config across connections: it would resume a session if
    // the server allowed it, skipping the client verifier.
    let client = f.worker_client();

    let (server_saw, client_saw) = exchange(server.clone(), client.clone(), control_plane()).await;
    server_saw.unwrap();
    client_saw.unwrap();

    assert!(revocations.revoke(&f.worker_cert.serial_hex));
    let (server_saw, client_saw) = exchange(server.clone(), client.clone(), control_plane()).await;
    assert_eq!(
        rustls_error(&server_saw),
        &rustls::Error::InvalidCertificate(CertificateError::Revoked)
    );
    assert_eq!(
        rustls_error(&client_saw),
        &rustls::Error::AlertReceived(AlertDescription::CertificateRevoked)
    );

    // Revoking by fingerprint works the same; lifting both lets it back in.
    assert!(revocations.unrevoke(&f.worker_cert.serial_hex));
    assert!(revocations.revoke(&f.worker_cert.fingerprint));
    let (server_saw, _) = exchange(server.clone(), client.clone(), control_plane()).await;
    assert_eq!(
        rustls_error(&server_saw),
        &rustls::Error::InvalidCertificate(CertificateError::Revoked)
    );
    assert!(revocations.unrevoke(&f.worker_cert.fingerprint));
    let (server_saw, client_saw) = exchange(server, client, control_plane()).await;
    server_saw.unwrap();
    client_saw.unwrap();
}

#[tokio::test]
async fn worker_rejects_a_worker_certificate_posing_as_the_control_plane() {
    let f = fixture();
    // Another enrolled worker (same CA) tries to serve as the control plane.
    let rogue_key = WorkerKey::generate().unwrap();
    let rogue_cert =
        f.ca.sign_worker_csr(
            &make_csr(&rogue_key, "rogue").unwrap(),
            &WorkerIdentity::new("lab-1", "rogue"),
            WEEK,
        )
        .unwrap();
    let rogue_pair = IssuedPair {
        cert_pem: rogue_cert.cert_pem,
        key_pem: rogue_key,
        ca_pem: f.ca.cert_pem().to_owned(),
        serial_hex: rogue_cert.serial_hex,
        not_after: rogue_cert.not_after,
    };
    let server = grpc_server_config(f.ca.cert_pem(), &rogue_pair, Arc::default()).unwrap();
    let (server_saw, client_saw) = exchange(server, f.worker_client(), control_plane()).await;

    let client_err = rustls_error(&client_saw);
    assert!(
        matches!(client_err, rustls::Error::InvalidCertificate(_)),
        "{client_err:?}"
    );
    assert!(
        matches!(rustls_error(&server_saw), rustls::Error::AlertReceived(_)),
        "{server_saw:?}"
    );
}

#[tokio::test]
async fn pinned_enrollment_client_accepts_the_right_server() {
    let f = fixture();
    let token = EnrollToken::generate(&f.ca.fingerprint(), 8443).unwrap();
    let stored_hash = hash_secret(&token.secret);
    // The worker only has the pasted string.
    let parsed = EnrollToken::parse(&token.encode()).unwrap();
    assert!(verify_secret(&parsed.secret, &stored_hash));

    let server = enroll_server_config(&f.server).unwrap();
    let client = pinned_client_config(&parsed.ca_fingerprint).unwrap();
    let (server_saw, client_saw) = exchange(server, client, control_plane()).await;
    let server_saw = server_saw.unwrap();
    assert_eq!(
        server_saw.identity, None,
        "enrollment has no client certificate"
    );
    assert_eq!(server_saw.version, Some(ProtocolVersion::TLSv1_3));
    assert_eq!(client_saw.unwrap().alpn.as_deref(), Some(ALPN_H2));
}

#[tokio::test]
async fn pinned_enrollment_client_rejects_a_server_of_another_ca() {
    let f = fixture();
    let other_ca = Ca::generate().unwrap();
    let other_server = other_ca.issue_server(&[]).unwrap();
    let server = enroll_server_config(&other_server).unwrap();
    let client = pinned_client_config(&f.ca.fingerprint()).unwrap();
    let (server_saw, client_saw) = exchange(server, client, control_plane()).await;

    match rustls_error(&client_saw) {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            let pki = other
                .0
                .downcast_ref::<PkiError>()
                .expect("a PkiError inside");
            assert!(matches!(pki, PkiError::PinMismatch { .. }), "{pki:?}");
            let msg = pki.to_string();
            assert!(msg.contains(&f.ca.fingerprint()), "{msg}");
            assert!(msg.contains(&other_ca.fingerprint()), "{msg}");
            assert!(msg.contains("check the enrollment token"), "{msg}");
        }
        other => panic!("unexpected client error {other:?}"),
    }
    assert_eq!(
        rustls_error(&server_saw),
        &rustls::Error::AlertReceived(AlertDescription::CertificateUnknown)
    );
}

#[tokio::test]
async fn pinned_enrollment_client_rejects_a_forged_leaf_next_to_the_real_ca() {
    let f = fixture();
    // The attacker sends our (public) CA certificate after a leaf from its
    // own CA: the pin matches, the signature must not.
    let other_ca = Ca::generate().unwrap();
    let forged = other_ca.issue_server(&[]).unwrap();
    let forged = IssuedPair {
        ca_pem: f.ca.cert_pem().to_owned(),
        ..forged
    };
    let server = enroll_server_config(&forged).unwrap();
    let client = pinned_client_config(&f.ca.fingerprint()).unwrap();
    let (server_saw, client_saw) = exchange(server, client, control_plane()).await;

    let client_err = rustls_error(&client_saw);
    assert!(
        matches!(
            client_err,
            rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer | CertificateError::BadSignature
            )
        ),
        "{client_err:?}"
    );
    assert!(server_saw.is_err());
}

#[tokio::test]
async fn pinned_enrollment_client_needs_the_ca_in_the_chain() {
    let f = fixture();
    // The gRPC listener sends only its leaf.
    let server = grpc_server_config(f.ca.cert_pem(), &f.server, Arc::default()).unwrap();
    let client = pinned_client_config(&f.ca.fingerprint()).unwrap();
    let (_, client_saw) = exchange(server, client, control_plane()).await;
    match rustls_error(&client_saw) {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            let msg = other.0.to_string();
            assert!(msg.contains("it sent no ca certificate"), "{msg}");
        }
        other => panic!("unexpected client error {other:?}"),
    }
}

#[tokio::test]
async fn full_enrollment_then_mtls() {
    let f = fixture();
    let token = EnrollToken::generate(&f.ca.fingerprint(), 8443).unwrap();

    // Worker: parse the token, make a key and CSR, dial the enrollment port
    // pinned to the CA.
    let parsed = EnrollToken::parse(&token.encode()).unwrap();
    let key = WorkerKey::generate().unwrap();
    let csr = make_csr(&key, "forged-hostname-ignored").unwrap();
    let (server_saw, client_saw) = exchange(
        enroll_server_config(&f.server).unwrap(),
        pinned_client_config(&parsed.ca_fingerprint).unwrap(),
        control_plane(),
    )
    .await;
    server_saw.unwrap();
    client_saw.unwrap();

    // Control plane: check the secret, sign with the identity it decides.
    assert!(verify_secret(&parsed.secret, &hash_secret(&token.secret)));
    let identity = WorkerIdentity::new("fra", "w-new");
    let cert = f.ca.sign_worker_csr(&csr, &identity, WEEK).unwrap();

    // Worker: from now on, mutual TLS with the CA it received.
    let client = grpc_client_config(f.ca.cert_pem(), &cert.cert_pem, &key).unwrap();
    let server = grpc_server_config(f.ca.cert_pem(), &f.server, Arc::default()).unwrap();
    let (server_saw, client_saw) = exchange(server, client, control_plane()).await;
    client_saw.unwrap();
    let seen = server_saw.unwrap().identity.unwrap();
    assert_eq!(
        (seen.site.as_str(), seen.worker_id.as_str()),
        ("fra", "w-new")
    );
}
