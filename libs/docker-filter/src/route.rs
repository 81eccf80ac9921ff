//! Which Docker Engine API requests the filter forwards: a pure function of
//! the method and the request target.
//!
//! Why an allow-list of reads: the Engine API has hundreds of endpoints and
//! grows every release; a filter that lists what to refuse lets through the
//! next endpoint that writes. This one forwards the reads a session's observer
//! commands use (`docker ps`, `inspect`, `logs`, `stats`, `top`, `events`,
//! `version`, `info`, `images`, `network ls`, `volume ls`, `system df`,
//! `docker-compose ps`) and refuses everything else, saying which typed
//! action does the job instead.
//!
//! What it must not do: decode percent-escapes or resolve `..` (a target that
//! needs either is refused, never normalised into something allowed), allow
//! reading files out of a container (`archive`, `export`: containers hold
//! secrets too, and `GET archive` would hand them out), or allow attaching to
//! a container's main process.

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Forward unchanged.
    Read,
    /// `GET /containers/{id}/json`: forward, with the values of the
    /// container's environment (`Config.Env`, where services keep their
    /// passwords) hidden; the names stay.
    Inspect,
    /// `POST /containers/{id}/exec`: forward only if the exec policy allows
    /// the command.
    ExecCreate,
    /// `/exec/{id}/start`, `/json`, `/resize`: forward only for an exec this
    /// filter created.
    Exec { id: String },
    /// Answer 403 with this message.
    Refuse(String),
    /// Answer 404 with this message: for an inspect the generic
    /// `docker inspect NAME` tries on its way through every object kind, so
    /// that the refused kind reads as "not found" and the command still ends
    /// with the Engine's own answer.
    Hidden(String),
}

/// The prefix every refusal starts with, so the model knows who refused.
pub const REFUSED_BY: &str = "refused by Claude Ops' read-only Docker filter";

const READ_ONLY: &str = "this socket is read-only: Claude Ops changes containers only through its typed actions (mcp__claudeops__restart_container at tier 2 and up, mcp__claudeops__redeploy_service at tier 3 and up)";
const RESTART: &str = "to restart a container, call the restart_container action (mcp__claudeops__restart_container, tier 2 and up): it checks the cooldown ledger and verifies the container afterwards; to recreate or redeploy a compose service, call the redeploy_service action (mcp__claudeops__redeploy_service, tier 3 and up)";
const REDEPLOY: &str = "to create, recreate, pull or remove containers, call the redeploy_service action (mcp__claudeops__redeploy_service, tier 3 and up): it checks the cooldown ledger and redeploys the way the service's repo says";
const FILES: &str = "reading or writing files of a container is not allowed at any tier: containers hold secrets too; read its logs or inspect it instead";
const ATTACH: &str = "attaching to a container's main process (its input and output) is not allowed at any tier; read its logs instead (docker logs, with -f to follow)";

fn refuse(why: &str) -> Route {
    Route::Refuse(format!("{REFUSED_BY}: {why}"))
}

/// Decides what to do with `method target` (`target` as it came on the
/// request line: path and query).
pub fn route(method: &str, target: &str) -> Route {
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    if !path.starts_with('/')
        || path.contains("..")
        || path.contains("//")
        || path.contains('%')
        || path.contains('#')
        || path.contains('\\')
        || path.bytes().any(|b| b.is_ascii_control() || b == b' ')
    {
        return refuse("the request target is not a plain API path");
    }
    let mut segments: Vec<&str> = path[1..].split('/').collect();
    if segments.last() == Some(&"") {
        segments.pop();
    }
    // An optional version prefix: `/v1.47/...`.
    if segments.first().is_some_and(|s| {
        s.len() > 1 && s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit() || b == b'.')
    }) {
        segments.remove(0);
    }
    if segments.iter().any(|s| s.is_empty() || *s == ".") {
        return refuse("the request target is not a plain API path");
    }
    let read = matches!(method, "GET" | "HEAD");
    match (method, segments.as_slice()) {
        (_, ["_ping"] | ["version"] | ["info"] | ["system", "df"] | ["events"]) if read => {
            Route::Read
        }
        (_, ["containers", "json"]) if read => Route::Read,
        ("GET", ["containers", _, "json"]) => Route::Inspect,
        (
            _,
            [
                "containers",
                _,
                "json" | "logs" | "stats" | "top" | "changes",
            ],
        ) if read => Route::Read,
        (_, ["images", "json"]) if read => Route::Read,
        (_, ["images", name @ .., "json" | "history"]) if read && !name.is_empty() => Route::Read,
        (_, ["networks"] | ["networks", _] | ["volumes"] | ["volumes", _]) if read => Route::Read,
        ("POST", ["containers", _, "exec"]) => Route::ExecCreate,
        ("POST", ["exec", id, "start" | "resize"]) | ("GET", ["exec", id, "json"]) => Route::Exec {
            id: (*id).to_owned(),
        },
        ("GET", ["plugins", _, "json"]) => Route::Hidden(format!(
            "{REFUSED_BY}: plugins are not shown through this socket (their settings can hold credentials)"
        )),
        (_, ["containers", _, "archive" | "export" | "copy"]) => refuse(FILES),
        (_, ["containers", _, "attach"] | ["containers", _, "attach", _]) => refuse(ATTACH),
        (
            "POST",
            [
                "containers",
                _,
                "restart" | "start" | "stop" | "kill" | "pause" | "unpause",
            ],
        ) => refuse(RESTART),
        ("POST", ["containers", "create"])
        | ("DELETE", ["containers", _])
        | ("POST", ["containers", _, "update" | "rename"])
        | ("POST", ["images", "create"])
        | ("POST", ["build"])
        | ("POST", ["networks" | "volumes", "create"])
        | ("DELETE", ["networks" | "volumes", _])
        | ("POST", ["containers" | "networks" | "volumes", "prune"]) => refuse(REDEPLOY),
        _ => refuse(READ_ONLY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_through_with_or_without_a_version() {
        for (method, target) in [
            ("HEAD", "/_ping"),
            ("GET", "/_ping"),
            ("GET", "/v1.47/version"),
            ("GET", "/v1.41/info"),
            ("GET", "/v1.47/containers/json?all=1&filters=%7B%7D"),
            ("GET", "/v1.47/containers/web/logs?stdout=1&follow=1"),
            ("GET", "/v1.47/containers/web/stats?stream=0"),
            ("GET", "/v1.47/containers/web/top"),
            ("GET", "/v1.47/events?since=1&until=2"),
            ("GET", "/v1.47/images/json"),
            ("GET", "/v1.47/images/library/nginx:1.27/json"),
            ("GET", "/v1.47/images/sha256:abc/history"),
            ("GET", "/v1.47/networks"),
            ("GET", "/v1.47/networks/bridge"),
            ("GET", "/v1.47/volumes"),
            ("GET", "/v1.47/volumes/data"),
            ("GET", "/v1.47/system/df"),
        ] {
            assert_eq!(route(method, target), Route::Read, "{method} {target}");
        }
    }

    #[test]
    fn writes_are_refused_with_the_action_to_use() {
        let refused = |m: &str, t: &str| match route(m, t) {
            Route::Refuse(message) => message,
            other => panic!("{m} {t}: {other:?}"),
        };
        assert!(refused("POST", "/v1.47/containers/web/restart").contains("restart_container"));
        assert!(refused("POST", "/v1.47/containers/web/stop").contains("restart_container"));
        assert!(refused("POST", "/v1.47/containers/create?name=x").contains("redeploy_service"));
        assert!(refused("DELETE", "/v1.47/containers/web?force=1").contains("redeploy_service"));
        assert!(refused("POST", "/v1.47/images/create?fromImage=x").contains("redeploy_service"));
        assert!(refused("GET", "/v1.47/containers/web/archive?path=/etc").contains("secrets"));
        assert!(refused("GET", "/v1.47/containers/web/export").contains("secrets"));
        assert!(refused("POST", "/v1.47/containers/web/attach?stream=1").contains("docker logs"));
        for (m, t) in [
            ("DELETE", "/v1.47/volumes/data"),
            ("POST", "/v1.47/volumes/create"),
            ("POST", "/v1.47/networks/create"),
            ("POST", "/v1.47/commit?container=web"),
            ("POST", "/v1.47/swarm/init"),
            ("GET", "/v1.47/secrets"),
            ("GET", "/v1.47/configs"),
            ("POST", "/session"),
            ("POST", "/grpc"),
            ("GET", "/v1.47/distribution/x/json"),
            ("POST", "/v1.47/auth"),
            ("GET", "/v1.47/plugins"),
            ("POST", "/v1.47/system/prune"),
            ("PUT", "/v1.47/containers/web/archive?path=/"),
            ("POST", "/v1.47/containers/json"),
        ] {
            assert!(refused(m, t).starts_with(REFUSED_BY), "{m} {t}");
        }
    }

    #[test]
    fn path_tricks_are_refused_not_normalised() {
        for target in [
            "/v1.41/containers/../containers/x/restart",
            "/v1.41/containers/x/..%2frestart",
            "/v1.41/containers/%2e%2e/json",
            "//containers/json",
            "/containers//json",
            "/containers/./json",
            "http://localhost/containers/json",
            "containers/json",
            "/containers/x\\json",
        ] {
            assert!(matches!(route("GET", target), Route::Refuse(_)), "{target}");
        }
    }

    #[test]
    fn exec_routes() {
        assert_eq!(
            route("POST", "/v1.47/containers/web/exec"),
            Route::ExecCreate
        );
        assert_eq!(
            route("POST", "/v1.47/exec/abc/start"),
            Route::Exec { id: "abc".into() }
        );
        assert_eq!(
            route("GET", "/v1.47/exec/abc/json"),
            Route::Exec { id: "abc".into() }
        );
    }

    proptest::proptest! {
        #[test]
        fn only_get_and_head_read(method in "[A-Z]{1,8}", target in "/[a-z0-9./_%:?=&-]{0,60}") {
            if route(&method, &target) == Route::Read {
                proptest::prop_assert!(method == "GET" || method == "HEAD");
            }
        }

        #[test]
        fn a_tricky_target_is_never_forwarded(
            before in "/[a-z0-9/]{0,20}",
            trick in proptest::sample::select(vec!["..", "%2e", "%2f", "//", "#", "\\", " ", "/./"]),
            after in "[a-z0-9/]{0,20}",
            method in proptest::sample::select(vec!["GET", "HEAD", "POST", "DELETE", "PUT"]),
        ) {
            let target = format!("{before}{trick}{after}");
            let forwarded = !matches!(route(method, &target), Route::Refuse(_) | Route::Hidden(_));
            proptest::prop_assert!(!forwarded, "{} {}", method, target);
        }

        #[test]
        fn reads_end_in_a_read_endpoint(
            version in proptest::sample::select(vec!["", "/v1.41", "/v1.47"]),
            segments in proptest::collection::vec("[a-z_]{1,10}", 1..5),
        ) {
            let target = format!("{version}/{}", segments.join("/"));
            if route("GET", &target) == Route::Read {
                let last = segments.last().map_or("", String::as_str);
                let top = segments.first().map_or("", String::as_str);
                let known = if ["networks", "volumes"].contains(&top) {
                    segments.len() <= 2
                } else {
                    ["_ping", "version", "info", "df", "events", "json", "logs", "stats", "top",
                        "changes", "history"].contains(&last)
                };
                proptest::prop_assert!(known, "{}", target);
            }
        }
    }
}
