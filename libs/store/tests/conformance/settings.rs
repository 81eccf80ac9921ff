//! Conformance cases of runtime settings: one row per scope, replaced whole, and
//! an audit trail written with each change.

use claudeops_store::{ConfigChange, RuntimeSettings};

use crate::Fixture;

conformance!(
    runtime_settings_replace_and_audit,
    users_are_added_replaced_listed_and_removed,
);

fn change(at_ms: i64, field: &str, before: Option<&str>, after: Option<&str>) -> ConfigChange {
    ConfigChange {
        id: 0,
        at_ms,
        actor: "api token".into(),
        scope: "global".into(),
        field: field.into(),
        before: before.map(str::to_owned),
        after: after.map(str::to_owned),
    }
}

async fn runtime_settings_replace_and_audit(f: &Fixture) {
    let s = &f.store;
    assert!(s.runtime_settings().await.expect("empty").is_empty());
    let global = RuntimeSettings {
        scope: "global".into(),
        overrides: r#"{"interval":1800}"#.into(),
        updated_at_ms: 100,
    };
    s.put_runtime_settings(
        &global,
        &[change(100, "interval", Some("3600"), Some("1800"))],
    )
    .await
    .expect("put global");
    let site = RuntimeSettings {
        scope: "site:home".into(),
        overrides: r#"{"dry_run":true}"#.into(),
        updated_at_ms: 150,
    };
    s.put_runtime_settings(&site, &[change(150, "dry_run", None, Some("true"))])
        .await
        .expect("put site");
    // A second write of a scope replaces its row; both changes are kept.
    let again = RuntimeSettings {
        overrides: r#"{"interval":600,"dry_run":false}"#.into(),
        updated_at_ms: 200,
        ..global.clone()
    };
    s.put_runtime_settings(
        &again,
        &[
            change(200, "interval", Some("1800"), Some("600")),
            change(200, "dry_run", Some("false"), Some("false")),
        ],
    )
    .await
    .expect("replace");
    let all = s.runtime_settings().await.expect("read");
    assert_eq!(all, vec![again, site]);
    let trail = s.config_changes(10, 0).await.expect("trail");
    let fields: Vec<(i64, &str, Option<&str>)> = trail
        .iter()
        .map(|c| (c.at_ms, c.field.as_str(), c.after.as_deref()))
        .collect();
    assert_eq!(
        fields,
        vec![
            (200, "dry_run", Some("false")),
            (200, "interval", Some("600")),
            (150, "dry_run", Some("true")),
            (100, "interval", Some("1800")),
        ]
    );
    assert!(trail.iter().all(|c| c.actor == "api token" && c.id > 0));
    let page = s.config_changes(2, 1).await.expect("page");
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].id, trail[1].id);
    // A change with no audit rows still replaces the scope.
    let quiet = RuntimeSettings {
        scope: "site:home".into(),
        overrides: "{}".into(),
        updated_at_ms: 300,
    };
    s.put_runtime_settings(&quiet, &[]).await.expect("quiet");
    assert_eq!(s.config_changes(100, 0).await.expect("trail").len(), 4);
}

async fn users_are_added_replaced_listed_and_removed(f: &Fixture) {
    use claudeops_store::UserRecord;
    let s = &f.store;
    assert!(s.list_users().await.expect("empty").is_empty());
    assert!(s.get_user("alice").await.expect("none").is_none());
    let alice = UserRecord {
        name: "alice".into(),
        role: "viewer".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_at_ms: 100,
        updated_at_ms: 100,
    };
    s.put_user(&alice).await.expect("add alice");
    s.put_user(&UserRecord {
        name: "bob".into(),
        role: "admin".into(),
        ..alice.clone()
    })
    .await
    .expect("add bob");
    // Replacing keeps when the user was created.
    s.put_user(&UserRecord {
        role: "operator".into(),
        password_hash: "$argon2id$other".into(),
        created_at_ms: 900,
        updated_at_ms: 200,
        ..alice.clone()
    })
    .await
    .expect("replace alice");
    let got = s.get_user("alice").await.expect("get").expect("alice");
    assert_eq!(
        (got.role.as_str(), got.password_hash.as_str()),
        ("operator", "$argon2id$other")
    );
    assert_eq!((got.created_at_ms, got.updated_at_ms), (100, 200));
    let names: Vec<String> = s
        .list_users()
        .await
        .expect("list")
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(s.delete_user("bob").await.expect("delete"));
    assert!(!s.delete_user("bob").await.expect("delete again"));
    assert_eq!(s.list_users().await.expect("list").len(), 1);
    // The debug form never shows the hash.
    assert!(!format!("{got:?}").contains("argon2"));
}
