//! Regenerates the committed protobuf code in pure Rust and fails on a difference.

use std::path::Path;

#[test]
fn committed_code_matches_the_proto() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fds = protox::compile(["claudeops/v1/worker.proto"], [root]).expect("proto compiles");
    let out = tempfile::tempdir().expect("temp dir");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(false)
        .out_dir(out.path())
        .compile_fds(fds)
        .expect("code generation");
    let generated =
        std::fs::read_to_string(out.path().join("claudeops.v1.rs")).expect("generated file");
    let committed_path = root.join("src/gen/claudeops.v1.rs");
    if std::env::var_os("CLAUDEOPS_UPDATE_PROTO").is_some() {
        std::fs::write(&committed_path, &generated).expect("write committed code");
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "src/gen/claudeops.v1.rs is stale: run `CLAUDEOPS_UPDATE_PROTO=1 cargo test -p claudeops-proto --test regenerate`"
    );
}
