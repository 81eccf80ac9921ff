//! Conformance cases of events: filters and pages.

use claudeops_core::Trigger;
use claudeops_store::{EventFilter, EventLevel, NewEvent, StoreError};

use crate::{Fixture, expect_err, new_session, site};

conformance!(events_filter_and_page,);

async fn events_filter_and_page(f: &Fixture) {
    let s = &f.store;
    let session = s
        .create_session(&new_session("ev-a", Trigger::Manual, 1))
        .await
        .expect("create");
    let specs = [
        ("ev-a", EventLevel::Info, None, 100),
        ("ev-a", EventLevel::Warning, Some("nginx"), 200),
        ("ev-b", EventLevel::Critical, Some("postgres"), 300),
        ("ev-a", EventLevel::Critical, Some("nginx"), 400),
        ("ev-b", EventLevel::Info, None, 400),
    ];
    let mut stored = Vec::new();
    for (i, (name, level, service, ts_ms)) in specs.into_iter().enumerate() {
        let new = NewEvent {
            ts_ms,
            site: site(name),
            session_id: (i == 1).then_some(session.id),
            level,
            service: service.map(str::to_owned),
            message: format!("event {i}"),
        };
        let event = s.insert_event(&new).await.expect("insert");
        assert_eq!(
            (event.ts_ms, &event.site, event.session_id, event.level),
            (new.ts_ms, &new.site, new.session_id, new.level)
        );
        assert_eq!(
            (&event.service, &event.message),
            (&new.service, &new.message)
        );
        stored.push(event);
    }
    let ids =
        |events: Vec<claudeops_store::Event>| events.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let id = |i: usize| stored[i].id;

    let all = s.list_events(&EventFilter::default()).await.expect("all");
    assert_eq!(all[0], stored[4], "newest first, ties by id");
    assert_eq!(ids(all), [id(4), id(3), id(2), id(1), id(0)]);

    let by_site = EventFilter {
        site: Some(site("ev-a")),
        ..EventFilter::default()
    };
    assert_eq!(
        ids(s.list_events(&by_site).await.expect("site")),
        [id(3), id(1), id(0)]
    );
    let critical = EventFilter {
        level: Some(EventLevel::Critical),
        ..EventFilter::default()
    };
    assert_eq!(
        ids(s.list_events(&critical).await.expect("level")),
        [id(3), id(2)]
    );
    let nginx_critical = EventFilter {
        service: Some("nginx".into()),
        ..critical.clone()
    };
    assert_eq!(
        ids(s.list_events(&nginx_critical).await.expect("both")),
        [id(3)]
    );
    let paged = EventFilter {
        limit: 2,
        offset: 1,
        ..EventFilter::default()
    };
    assert_eq!(
        ids(s.list_events(&paged).await.expect("page")),
        [id(3), id(2)]
    );
    let nothing = EventFilter {
        site: Some(site("ev-b")),
        service: Some("nginx".into()),
        ..EventFilter::default()
    };
    assert!(s.list_events(&nothing).await.expect("none").is_empty());

    let orphan = NewEvent {
        ts_ms: 1,
        site: site("ev-a"),
        session_id: Some(session.id + 1000),
        level: EventLevel::Info,
        service: None,
        message: "orphan".into(),
    };
    let refused = expect_err(s.insert_event(&orphan).await);
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
}
