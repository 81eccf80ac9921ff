//! Who is refused, and that both sides say why: no certificate, a certificate
//! from another CA, a used or expired enrollment token, a revoked worker.

use std::sync::Arc;
use std::time::Duration;

use claudeops_pki::{Ca, WorkerIdentity, WorkerKey, make_csr, tls};
use claudeops_tests::system::{ControlPlane, Worker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

#[tokio::test]
async fn a_client_without_a_certificate_completes_no_exchange() {
    tls::install_crypto_provider();
    let cp = ControlPlane::start(&[]).await;
    // Trust the server properly, but present no client certificate.
    let ca_pem =
        std::fs::read_to_string(cp.state.path().join("ca.pem")).unwrap_or_else(|e| panic!("{e}"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in tls::certs_from_pem(&ca_pem).unwrap_or_else(|e| panic!("{e}")) {
        roots.add(cert).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut config = rustls::ClientConfig::builder_with_provider(tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let config = Arc::new(config);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", cp.grpc_port))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let connector = tokio_rustls::TlsConnector::from(config);
    let outcome = async {
        let mut stream = connector
            .connect(tls::control_plane_server_name(), tcp)
            .await?;
        stream
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await?;
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await?;
        Ok::<usize, std::io::Error>(n)
    }
    .await;
    match outcome {
        Err(error) => assert!(
            error.to_string().to_lowercase().contains("certificate"),
            "client side names the missing certificate: {error}"
        ),
        Ok(n) => panic!("the server answered {n} bytes to a client without a certificate"),
    }
    let line = cp.proc.wait_for("refused a TLS connection", WAIT).await;
    assert!(line.contains("listener=\"grpc\""), "{line}");
    assert!(line.to_lowercase().contains("no certificates"), "{line}");

    // A worker with neither a certificate nor a token says what to do and exits.
    let mut worker = Worker::start(&cp, "home", None, &[]);
    let status = worker.proc.wait_exit(WAIT).await;
    assert!(!status.success());
    assert!(
        worker.proc.has_logged("CLAUDEOPS_ENROLL_TOKEN"),
        "{}",
        worker.proc.log()
    );
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    tls::install_crypto_provider();
    let cp = ControlPlane::start(&[]).await;
    // A complete worker identity, signed by a CA the control plane never saw.
    let foreign = Ca::generate().unwrap_or_else(|e| panic!("{e}"));
    let key = WorkerKey::generate().unwrap_or_else(|e| panic!("{e}"));
    let csr = make_csr(&key, "intruder").unwrap_or_else(|e| panic!("{e}"));
    let cert = foreign
        .sign_worker_csr(
            &csr,
            &WorkerIdentity::new("home", "w-intruder"),
            Duration::from_secs(3600),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let real_ca =
        std::fs::read_to_string(cp.state.path().join("ca.pem")).unwrap_or_else(|e| panic!("{e}"));
    for (name, contents) in [
        ("worker.key", key.as_str()),
        ("worker.pem", cert.cert_pem.as_str()),
        ("ca.pem", real_ca.as_str()),
        (
            "identity.json",
            r#"{"site":"home","worker_id":"w-intruder"}"#,
        ),
    ] {
        std::fs::write(state.path().join(name), contents).unwrap_or_else(|e| panic!("{e}"));
    }
    let worker = Worker::start_in(&cp, "home", None, &[], state);
    let refused = cp.proc.wait_for("refused a TLS connection", WAIT).await;
    assert!(
        refused.contains("UnknownIssuer"),
        "control plane names the reason: {refused}"
    );
    let line = worker
        .proc
        .wait_for("cannot connect to the control plane", WAIT)
        .await;
    assert!(
        line.to_lowercase().contains("unknown"),
        "worker names the reason: {line}"
    );
    let (_, workers) = cp.http().get("/api/v1/workers").await;
    assert_eq!(workers.as_array().map(Vec::len), Some(0), "{workers}");
}

#[tokio::test]
async fn used_and_expired_enrollment_tokens_are_refused() {
    let cp = ControlPlane::start(&[]).await;
    let token = cp.enroll_token("home").await;
    let first = Worker::start(&cp, "home", Some(&token), &[]);
    first.wait_connected().await;

    let mut again = Worker::start(&cp, "home", Some(&token), &[]);
    assert!(!again.proc.wait_exit(WAIT).await.success());
    assert!(
        again.proc.has_logged("already used"),
        "{}",
        again.proc.log()
    );
    cp.proc.wait_for("refused enrollment", WAIT).await;

    let short = cp.enroll_token_with("home", &["--ttl", "1s"]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut late = Worker::start(&cp, "home", Some(&short), &[]);
    assert!(!late.proc.wait_exit(WAIT).await.success());
    assert!(late.proc.has_logged("expired"), "{}", late.proc.log());

    let other_site = cp.enroll_token("cabin").await;
    let mut wrong = Worker::start(&cp, "home", Some(&other_site), &[]);
    assert!(!wrong.proc.wait_exit(WAIT).await.success());
    assert!(
        wrong.proc.has_logged("for site cabin"),
        "{}",
        wrong.proc.log()
    );

    let mut garbage = Worker::start(&cp, "home", Some("cot1.not-a-token"), &[]);
    assert!(!garbage.proc.wait_exit(WAIT).await.success());
    assert!(
        garbage.proc.has_logged("CLAUDEOPS_ENROLL_TOKEN"),
        "{}",
        garbage.proc.log()
    );

    // The first worker was not disturbed by any of it, and reuses its certificate.
    let (_, workers) = cp.http().get("/api/v1/workers").await;
    assert_eq!(workers.as_array().map(Vec::len), Some(1), "{workers}");
    assert_eq!(workers[0]["connected"], true);
}

#[tokio::test]
async fn a_restarted_worker_reuses_its_certificate() {
    let cp = ControlPlane::start(&[]).await;
    let token = cp.enroll_token("home").await;
    let mut first = Worker::start(&cp, "home", Some(&token), &[]);
    first.wait_connected().await;
    first.proc.kill().await;
    let state = first.state;
    let again = Worker::start_in(&cp, "home", None, &[], state);
    again.wait_connected().await;
    let (_, workers) = cp.http().get("/api/v1/workers").await;
    assert_eq!(workers.as_array().map(Vec::len), Some(1), "{workers}");
}

#[tokio::test]
async fn a_revoked_worker_is_cut_off() {
    let cp = ControlPlane::start(&[]).await;
    let worker = enrolled_worker(&cp, "home", &[]).await;
    let (ok, stdout, stderr) = cp.command(&["revoke", "--site", "home"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("revoked w-"), "{stdout}");
    cp.proc.wait_for("revoked worker cut off", WAIT).await;
    worker.proc.wait_for("lost the control plane", WAIT).await;
    let line = worker
        .proc
        .wait_for("cannot connect to the control plane", WAIT)
        .await;
    assert!(line.to_lowercase().contains("revoked"), "{line}");
    let (_, workers) = cp.http().get("/api/v1/workers").await;
    assert_eq!(workers[0]["revoked"], true, "{workers}");
    assert_eq!(workers[0]["connected"], false, "{workers}");
    let (ok, _, stderr) = cp.command(&["revoke", "--site", "home"]).await;
    assert!(!ok && stderr.contains("no unrevoked worker"), "{stderr}");
}

#[tokio::test]
async fn a_revoked_worker_stops_what_it_runs() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let script = "#!/bin/sh\necho '{\"type\":\"system\",\"subtype\":\"init\"}'\nsleep 7775\n";
    let (cp, worker) = with_fake_cli(dir.path(), "home", script).await;
    let id = trigger_until_first_line(&cp.http(), "home").await;
    let (ok, _, stderr) = cp.command(&["revoke", "--site", "home"]).await;
    assert!(ok, "{stderr}");
    // The control plane ends the session at once; the worker, refused,
    // stops its processes.
    let session = cp.http().wait_session_end(id, WAIT).await;
    assert_eq!(session["status"], "failed", "{session}");
    worker
        .proc
        .wait_for("stopping a session: this worker was cut off", WAIT)
        .await;
    wait_gone("7775", WAIT, "a revoked worker's session went on running").await;
}
