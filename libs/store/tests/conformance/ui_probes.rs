//! Conformance cases of the probes added from the dashboard: one per site and
//! name, added, changed, paused, listed and deleted.

use claudeops_store::{StoreError, UiProbe};

use crate::Fixture;

conformance!(ui_probes_add_change_delete,);

fn probe(site: &str, name: &str, at_ms: i64) -> UiProbe {
    UiProbe {
        site: site.into(),
        name: name.into(),
        kind: "http".into(),
        spec: format!(r#"{{"name":"{name}","url":"http://127.0.0.1:9/"}}"#),
        interval_secs: 30,
        paused: false,
        created_by: "alice".into(),
        created_at_ms: at_ms,
        updated_by: "alice".into(),
        updated_at_ms: at_ms,
    }
}

async fn ui_probes_add_change_delete(f: &Fixture) {
    let s = &f.store;
    assert!(s.ui_probes(None).await.expect("empty").is_empty());
    let web = probe("home", "web", 100);
    let dns = probe("home", "dns", 110);
    let other = probe("lab", "web", 120);
    for p in [&web, &dns, &other] {
        s.insert_ui_probe(p).await.expect("insert");
    }
    // The same name on the same site is refused; on another site it is fine.
    let again = s.insert_ui_probe(&probe("home", "web", 130)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(
        s.ui_probes(Some("home")).await.expect("home"),
        vec![dns.clone(), web.clone()]
    );
    assert_eq!(s.ui_probes(None).await.expect("all").len(), 3);

    // A change keeps who created it and when.
    let paused = UiProbe {
        paused: true,
        interval_secs: 60,
        spec: r#"{"name":"web","url":"http://127.0.0.1:9/","interval":"1m"}"#.into(),
        created_by: "mallory".into(),
        created_at_ms: 1,
        updated_by: "bob".into(),
        updated_at_ms: 200,
        ..web.clone()
    };
    assert!(s.update_ui_probe(&paused).await.expect("update"));
    let stored = s.ui_probes(Some("home")).await.expect("home");
    let stored = stored.iter().find(|p| p.name == "web").expect("web");
    assert_eq!(
        stored,
        &UiProbe {
            created_by: "alice".into(),
            created_at_ms: 100,
            ..paused.clone()
        }
    );
    assert!(
        !s.update_ui_probe(&probe("home", "gone", 1))
            .await
            .expect("update missing")
    );

    assert!(s.delete_ui_probe("home", "web").await.expect("delete"));
    assert!(
        !s.delete_ui_probe("home", "web")
            .await
            .expect("delete again")
    );
    assert_eq!(s.ui_probes(Some("home")).await.expect("home"), vec![dns]);
    assert_eq!(s.ui_probes(Some("lab")).await.expect("lab"), vec![other]);
}
