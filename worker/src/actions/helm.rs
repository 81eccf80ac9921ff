//! Redeploying a service of a Helm repo: an upgrade of its existing release with
//! the chart in the repo and the values the release already has.
//!
//! The rules:
//!
//! - **Release**: the service's name (it must be a valid release name).
//! - **Chart**: `charts/SERVICE/` or `helm/SERVICE/` (with a `Chart.yaml`), else
//!   the repo's single chart (`Chart.yaml` or `chart/Chart.yaml`) when its
//!   `name:` is the service. None: this repo does not deploy the service.
//! - **Namespace**: where the release is installed, asked of Helm
//!   (`helm list --all-namespaces`); it must be installed in exactly one, since a
//!   first install is not a redeployment.
//!
//! The run is `helm upgrade RELEASE CHART --namespace NS --reuse-values --wait
//! --timeout 600s` in the repo, with an allow-listed environment; verification is
//! `helm status` saying `deployed`. Without a `helm` binary the plan fails before
//! anything is reserved, telling the model to escalate.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use super::docker::{Checked, clip, failure};
use super::process::{self, Env};
use super::redeploy::{DEPLOY_LIMIT, LOOKUP_LIMIT, Miss, Repo, first_existing, look_up, top_level};

/// How long `helm upgrade --wait` waits for the release's resources (below the
/// process's own limit).
pub const WAIT: &str = "600s";

/// Variables of the worker's environment Helm may see (beyond
/// `process::BASE_ENV`): how to reach the cluster, and Helm's own directories.
const PASSED_ENV: &[&str] = &[
    "KUBECONFIG",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    "HELM_KUBECONTEXT",
    "HELM_CONFIG_HOME",
    "HELM_CACHE_HOME",
    "HELM_DATA_HOME",
];

/// A resolved Helm redeployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub repo: String,
    pub dir: PathBuf,
    pub release: String,
    /// The chart directory, relative to the repo (`.` for the repo itself).
    pub chart: String,
    pub namespace: String,
}

impl Plan {
    /// `upgrade RELEASE CHART --namespace NS --reuse-values --wait --timeout T`.
    pub fn args(&self) -> Vec<OsString> {
        process::args(&[
            "upgrade",
            &self.release,
            &self.chart,
            "--namespace",
            &self.namespace,
            "--reuse-values",
            "--wait",
            "--timeout",
            WAIT,
        ])
    }

    pub fn command_line(&self, program: &Path) -> String {
        process::command_line(program, &self.args())
    }

    fn status_args(&self) -> Vec<OsString> {
        process::args(&[
            "status",
            &self.release,
            "--namespace",
            &self.namespace,
            "--output",
            "json",
        ])
    }
}

/// Whether `name` is a valid Helm release name: at most 53 characters of
/// lower-case DNS labels (`a-z`, `0-9`, `-`, not at a label's ends) joined by dots.
pub fn valid_release(name: &str) -> bool {
    name.len() <= 53
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The chart directory for `service` (relative to `dir`) by the rule in the
/// module docs.
pub fn chart(dir: &Path, service: &str) -> Option<String> {
    let own = [format!("charts/{service}"), format!("helm/{service}")];
    if let Some(found) = own
        .iter()
        .find(|c| dir.join(c).join("Chart.yaml").is_file())
    {
        return Some(found.clone());
    }
    let single = first_existing(dir, &["Chart.yaml", "chart/Chart.yaml"])?;
    let text = std::fs::read_to_string(dir.join(&single)).ok()?;
    if top_level(&text, "name").as_deref() != Some(service) {
        return None;
    }
    Some(match single.strip_suffix("/Chart.yaml") {
        Some(sub) => sub.to_owned(),
        None => ".".to_owned(),
    })
}

fn environment() -> Env {
    Env::allow_listed(PASSED_ENV, &[])
}

/// Resolves the plan for `service` in `repo`; asks Helm where the release is.
pub async fn plan(helm: &Path, repo: &Repo, service: &str) -> Result<Plan, Miss> {
    let Some(chart) = chart(&repo.dir, service) else {
        return Err(Miss::NotHere(format!(
            "repo {} has no Helm chart for `{service}` (looked for charts/{service}/, helm/{service}/, and a Chart.yaml or chart/Chart.yaml named {service})",
            repo.name
        )));
    };
    if !valid_release(service) {
        return Err(Miss::Broken(format!(
            "repo {} has a chart for `{service}`, but that is not a valid Helm release name (lower-case letters, digits, `-` and `.`, at most 53 characters)",
            repo.name
        )));
    }
    let filter = format!("^{}$", service.replace('.', r"\."));
    let args = process::args(&[
        "list",
        "--all-namespaces",
        "--all",
        "--filter",
        &filter,
        "--output",
        "json",
    ]);
    let context = format!("cannot find Helm release {service}");
    let cannot = format!(
        "repo {}'s Helm release {service} cannot be redeployed",
        repo.name
    );
    let out = look_up(helm, &args, &repo.dir, &environment(), &context, &cannot).await?;
    let namespace = namespace(&out.stdout, service).map_err(Miss::Broken)?;
    Ok(Plan {
        repo: repo.name.clone(),
        dir: repo.dir.clone(),
        release: service.to_owned(),
        chart,
        namespace,
    })
}

/// The one namespace `helm list --output json` shows `release` in.
pub fn namespace(listed: &[u8], release: &str) -> Result<String, String> {
    let listed: Value = serde_json::from_slice(listed)
        .map_err(|e| format!("helm list printed something that is not JSON: {e}"))?;
    let mut namespaces: Vec<&str> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["name"].as_str() == Some(release))
        .filter_map(|r| r["namespace"].as_str())
        .collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    match namespaces.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err(format!(
            "Helm release {release} is not installed in any namespace this host can see; a first install is not a redeployment: escalate"
        )),
        several => Err(format!(
            "Helm release {release} is installed in several namespaces ({}); which one is meant is for a human to say: escalate",
            several.join(", ")
        )),
    }
}

/// Upgrades the release, then checks `helm status`.
pub async fn run(helm: &Path, plan: &Plan) -> Checked {
    let env = environment();
    let failed = |text: String| Checked { ok: false, text };
    match process::run(helm, &plan.args(), Some(&plan.dir), &env, DEPLOY_LIMIT).await {
        Ok(out) if out.status.success() => {}
        Ok(out) => return failed(failure("helm upgrade", &out)),
        Err(error) => {
            return failed(format!(
                "`{}` did not run: {error}",
                plan.command_line(helm)
            ));
        }
    }
    match process::run(
        helm,
        &plan.status_args(),
        Some(&plan.dir),
        &env,
        LOOKUP_LIMIT,
    )
    .await
    {
        Ok(out) if out.status.success() => status(&out, plan),
        Ok(out) => failed(format!(
            "the upgrade finished, but {}",
            failure("helm status", &out)
        )),
        Err(error) => failed(format!(
            "the upgrade finished, but helm status did not run: {error}"
        )),
    }
}

/// The verdict of `helm status --output json`: `deployed` is back.
fn status(out: &Output, plan: &Plan) -> Checked {
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let info = &parsed["info"];
    let state = info["status"].as_str().unwrap_or("unknown");
    let description = clip(info["description"].as_str().unwrap_or_default(), 300);
    let revision = parsed["version"]
        .as_i64()
        .map_or_else(String::new, |v| format!(", revision {v}"));
    Checked {
        ok: state == "deployed",
        text: format!(
            "helm status of release {} in namespace {}: {state}{revision} ({description})",
            plan.release, plan.namespace
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::redeploy::write_file as write;

    fn plan() -> Plan {
        Plan {
            repo: "apps".into(),
            dir: PathBuf::from("/repos/apps"),
            release: "web".into(),
            chart: "charts/web".into(),
            namespace: "shop".into(),
        }
    }

    #[test]
    fn builds_the_commands() {
        let plan = plan();
        assert_eq!(
            plan.command_line(Path::new("/usr/local/bin/helm")),
            "helm upgrade web charts/web --namespace shop --reuse-values --wait --timeout 600s"
        );
        assert_eq!(
            process::command_line(Path::new("helm"), &plan.status_args()),
            "helm status web --namespace shop --output json"
        );
    }

    #[test]
    fn release_names_follow_helm() {
        for good in ["web", "web-1", "a.b", &"a".repeat(53)] {
            assert!(valid_release(good), "{good}");
        }
        for bad in ["Web", "web_1", "-web", "web-", "a..b", &"a".repeat(54)] {
            assert!(!valid_release(bad), "{bad}");
        }
    }

    #[test]
    fn finds_the_chart() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path();
        assert_eq!(chart(root, "web"), None);
        write(
            &root.join("Chart.yaml"),
            "apiVersion: v2\nname: web\nversion: 0.1.0\n",
        );
        assert_eq!(chart(root, "web"), Some(".".into()));
        assert_eq!(chart(root, "db"), None, "the single chart is named web");
        write(&root.join("helm/db/Chart.yaml"), "name: database\n");
        assert_eq!(chart(root, "db"), Some("helm/db".into()));
        write(&root.join("charts/web/Chart.yaml"), "name: web\n");
        assert_eq!(chart(root, "web"), Some("charts/web".into()));
        let other = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write(
            &other.path().join("chart/Chart.yaml"),
            "name: 'queue' # ours\n",
        );
        assert_eq!(chart(other.path(), "queue"), Some("chart".into()));
    }

    #[test]
    fn finds_the_namespace() {
        let listed = br#"[{"name":"web","namespace":"shop","status":"deployed"},
            {"name":"web-2","namespace":"other"}]"#;
        assert_eq!(namespace(listed, "web"), Ok("shop".into()));
        assert!(namespace(b"[]", "web").is_err_and(|e| e.contains("first install")));
        let twice = br#"[{"name":"web","namespace":"a"},{"name":"web","namespace":"b"}]"#;
        assert!(namespace(twice, "web").is_err_and(|e| e.contains("several namespaces (a, b)")));
        assert!(namespace(b"oops", "web").is_err());
    }

    #[test]
    fn judges_the_status() {
        let output = |json: &str| {
            let ok = std::process::Command::new("true")
                .output()
                .unwrap_or_else(|e| panic!("{e}"));
            Output {
                stdout: json.as_bytes().to_vec(),
                ..ok
            }
        };
        let deployed = status(
            &output(
                r#"{"name":"web","info":{"status":"deployed","description":"Upgrade complete"},"version":4}"#,
            ),
            &plan(),
        );
        assert!(deployed.ok);
        assert_eq!(
            deployed.text,
            "helm status of release web in namespace shop: deployed, revision 4 (Upgrade complete)"
        );
        let failed = status(
            &output(
                r#"{"info":{"status":"failed","description":"timed out waiting"},"version":5}"#,
            ),
            &plan(),
        );
        assert!(!failed.ok);
        assert!(
            failed
                .text
                .contains("failed, revision 5 (timed out waiting)")
        );
        assert!(!status(&output("not json"), &plan()).ok);
    }

    #[tokio::test]
    async fn a_missing_helm_says_escalate() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write(&dir.path().join("charts/web/Chart.yaml"), "name: web\n");
        let repo = Repo {
            name: "apps".into(),
            dir: dir.path().to_owned(),
        };
        let missing = plan_for(&repo, "web").await;
        match missing {
            Err(Miss::Missing(text)) => {
                assert!(
                    text.starts_with("helm is not installed on this host"),
                    "{text}"
                );
                assert!(text.contains("escalate"), "{text}");
            }
            other => panic!("expected a missing helm, got {other:?}"),
        }
        assert!(matches!(plan_for(&repo, "db").await, Err(Miss::NotHere(_))));
    }

    async fn plan_for(repo: &Repo, service: &str) -> Result<Plan, Miss> {
        super::plan(Path::new("/nonexistent/bin/helm"), repo, service).await
    }
}
