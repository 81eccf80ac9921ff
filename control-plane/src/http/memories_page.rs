//! The memories page: `GET /memories` (search by text, service, category, site and
//! state) and its forms: add, edit, deactivate or activate, delete. Each form is a
//! POST checked against the login's CSRF token; a change redirects back to the
//! search it came from with a flash (`done=...&id=N`), a refused one shows the page
//! again with the reason and the values as sent.

use axum::Form;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use claudeops_core::SiteName;
use claudeops_core::memory::{self, DecayRule, Memory, MemoryId, NewMemory};
use claudeops_store::MemorySearch;
use claudeops_web_ui::model as ui;
use serde::Deserialize;

use crate::app::AppState;
use crate::clock::now_ms;
use crate::http::api::{ApiError, site_param};
use crate::http::memories::{
    active_param, checked_confidence, checked_key, checked_observation, edit, known_sites,
    memory_site,
};
use crate::http::openapi::answers;
use crate::http::pages::{html, layout};

const PAGE: u32 = 50;

/// The search, then what the last change did (`done`, `id`) for its flash.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    q: Option<String>,
    service: Option<String>,
    category: Option<String>,
    site: Option<String>,
    active: Option<String>,
    offset: Option<u32>,
    done: Option<String>,
    #[param(value_type = Option<i64>)]
    id: Option<MemoryId>,
}

/// What a page shows besides its memories: a flash, the add form, a refused edit.
#[derive(Default)]
struct Shown {
    flash: Option<(ui::FlashLevel, String)>,
    form: ui::MemoryForm,
    editing: Option<ui::MemoryEdit>,
}

#[utoipa::path(
    get,
    path = "/memories",
    operation_id = "memories_page",
    tag = "dashboard",
    summary = "The memories page: search, add, edit",
    description = "A query that cannot be read shows every memory.",
    params(PageQuery),
    responses(answers::Page, answers::DatabaseUnavailable,)
)]
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let Query(q) = query.unwrap_or_default();
    let shown = Shown {
        flash: q.done.as_deref().and_then(|done| done_flash(done, q.id)),
        ..Shown::default()
    };
    let filter = ui::MemoryFilterView {
        q: q.q,
        service: q.service,
        category: q.category,
        site: q.site,
        active: q.active,
    };
    let offset = q.offset.unwrap_or(0);
    render(&state, &headers, &filter, offset, shown, StatusCode::OK).await
}

/// The flash after a change; `None` for a word this page does not send.
fn done_flash(done: &str, id: Option<MemoryId>) -> Option<(ui::FlashLevel, String)> {
    let what = match id {
        Some(id) => format!("Memory #{id}"),
        None => "The memory".to_owned(),
    };
    let text = match done {
        "added" => "added",
        "saved" => "saved",
        "deactivated" => "deactivated: it is no longer injected into sessions",
        "activated" => "activated",
        "deleted" => "deleted",
        _ => return None,
    };
    Some((ui::FlashLevel::Success, format!("{what} {text}.")))
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    filter: &ui::MemoryFilterView,
    offset: u32,
    shown: Shown,
    status: StatusCode,
) -> Response {
    let mut layout = layout(state, headers, ui::Nav::Memories);
    if let Some((level, message)) = shown.flash {
        layout = layout.with_flash(level, message);
    }
    let active = match active_param(filter.active.as_deref()) {
        Ok(active) => active,
        Err(reason) => {
            layout = layout.with_flash(ui::FlashLevel::Warning, format!("Not a state: {reason}."));
            None
        }
    };
    let site = match site_param(filter.site.clone()) {
        Ok(site) => site,
        Err(e) => {
            layout = layout.with_flash(ui::FlashLevel::Warning, e.message());
            None
        }
    };
    let search = MemorySearch {
        site,
        service: filter.service.clone(),
        category: filter.category.clone(),
        text: filter.q.clone(),
        active,
        limit: PAGE + 1,
        offset,
    };
    let mut listed = match state.queries.search_memories(&search).await {
        Ok(listed) => listed,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let has_more = listed.len() > PAGE as usize;
    listed.truncate(PAGE as usize);
    let page = ui::MemoriesPage {
        layout,
        memories: listed.iter().map(|l| view(&l.memory, l.tier)).collect(),
        filter: filter.clone(),
        sites: known_sites(state)
            .await
            .iter()
            .map(ToString::to_string)
            .collect(),
        form: shown.form,
        editing: shown.editing,
        paging: ui::Paging {
            offset: u64::from(offset),
            limit: u64::from(PAGE),
            total: None,
            has_more,
        },
        decay: state
            .context
            .config
            .memory_decay()
            .map(|rule| decay_text(&rule)),
    };
    let mut response = html(state.ui.memories(&page));
    *response.status_mut() = status;
    response
}

fn view(m: &Memory, tier: Option<claudeops_core::Tier>) -> ui::MemoryView {
    ui::MemoryView {
        id: m.id,
        site: m.site.to_string(),
        service: m.service().map(str::to_owned),
        category: m.category().to_owned(),
        observation: m.value.clone(),
        confidence: m.confidence,
        active: m.active,
        tier: tier.map_or(0, claudeops_core::Tier::number),
        session_id: m.session_id,
        created_at_ms: m.created_at_ms,
        updated_at_ms: m.updated_at_ms,
    }
}

/// The decay rule in a sentence for the page.
fn decay_text(rule: &DecayRule) -> String {
    let days = |ms: i64| {
        let days = ms as f64 / 86_400_000.0;
        if (days - days.round()).abs() < 1e-9 {
            format!("{days:.0} days")
        } else {
            humantime::format_duration(std::time::Duration::from_millis(ms.unsigned_abs()))
                .to_string()
        }
    };
    format!(
        "A memory neither confirmed nor edited for {} loses 0.1 for each further {}.",
        days(rule.grace_ms),
        match rule.every_ms {
            memory::DECAY_STEP_EVERY_MS => "week".to_owned(),
            every => days(every),
        }
    )
}

/// The search a form came from, as sent in its `back` field: read and written
/// again, so the redirect holds nothing but the search.
fn back_to(back: &str) -> ui::MemoryFilterView {
    format!("/memories?{back}")
        .parse::<Uri>()
        .ok()
        .and_then(|uri| Query::<ui::MemoryFilterView>::try_from_uri(&uri).ok())
        .map(|Query(filter)| filter)
        .unwrap_or_default()
}

fn done(filter: &ui::MemoryFilterView, done: &str, id: MemoryId) -> Response {
    let query = claudeops_web_ui::memories_query(filter);
    Redirect::to(&format!("/memories?{query}done={done}&id={id}")).into_response()
}

fn login_redirect() -> Response {
    Redirect::to("/login").into_response()
}

/// A refused form: the page again, with the reason.
async fn refused(
    state: &AppState,
    headers: &HeaderMap,
    filter: &ui::MemoryFilterView,
    status: StatusCode,
    message: String,
    form: ui::MemoryForm,
    editing: Option<ui::MemoryEdit>,
) -> Response {
    let shown = Shown {
        flash: Some((ui::FlashLevel::Error, message)),
        form,
        editing,
    };
    render(state, headers, filter, 0, shown, status).await
}

/// A confidence as typed in the form.
fn form_confidence(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| {
            format!(
                "confidence must be a number from 0 to 1, not {:?}",
                text.trim()
            )
        })
        .and_then(checked_confidence)
}

/// The add form: the memory and the search to go back to.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    observation: String,
    #[serde(default)]
    confidence: String,
    /// Sent only when checked.
    active: Option<String>,
}

#[utoipa::path(
    post,
    path = "/memories",
    operation_id = "add_memory_form",
    tag = "forms",
    summary = "Add a memory",
    request_body(content = AddForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        answers::BackToSearch,
        (status = 400, description = "A value is refused: the page with the reason.", content_type = "text/html", body = String),
        (status = 409, description = "The site already has a memory with this key: the page with the reason.", content_type = "text/html", body = String),
        (status = 503, description = "No worker has enrolled yet, or the database is unavailable.", content(
            (String = "text/html"), (crate::http::openapi::schemas::ApiErrorBody = "application/json"),
        )),
        answers::FormRejections,
    )
)]
pub async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<AddForm>,
) -> Response {
    if !state.auth.form_ok(&headers, &f.csrf, now_ms()) {
        return login_redirect();
    }
    let filter = back_to(&f.back);
    let form = ui::MemoryForm {
        site: f.site.clone(),
        service: f.service.clone(),
        category: f.category.clone(),
        observation: f.observation.clone(),
        confidence: f.confidence.clone(),
        active: f.active.is_some(),
    };
    let checked = (|| {
        let key = checked_key(None, Some(f.service.clone()), Some(f.category.clone()))?;
        let value = checked_observation(&f.observation)?;
        let confidence = form_confidence(&f.confidence)?;
        Ok::<_, String>((key, value, confidence))
    })();
    let (key, value, confidence) = match checked {
        Ok(checked) => checked,
        Err(reason) => {
            let message = format!("Memory not added: {reason}.");
            return refused(
                &state,
                &headers,
                &filter,
                StatusCode::BAD_REQUEST,
                message,
                form,
                None,
            )
            .await;
        }
    };
    let site: SiteName = match memory_site(&state, Some(f.site.clone())).await {
        Ok(site) => site,
        Err(e) => {
            let message = format!("Memory not added: {}.", e.message());
            return refused(&state, &headers, &filter, e.status(), message, form, None).await;
        }
    };
    let new = NewMemory {
        confidence,
        active: f.active.is_some(),
        ..NewMemory::new(site, key, value, now_ms())
    };
    match state.queries.insert_memory(&new).await {
        Ok(created) => done(&filter, "added", created.id),
        Err(claudeops_store::StoreError::Conflict(reason)) => {
            let message = format!("Memory not added: {reason}; edit that one instead.");
            refused(
                &state,
                &headers,
                &filter,
                StatusCode::CONFLICT,
                message,
                form,
                None,
            )
            .await
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The edit form.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    observation: String,
    #[serde(default)]
    confidence: String,
    /// Sent only when checked.
    active: Option<String>,
}

#[utoipa::path(
    post,
    path = "/memories/{id}/update",
    operation_id = "update_memory_form",
    tag = "forms",
    summary = "Edit a memory",
    params(("id" = i64, Path, description = "The memory's id.")),
    request_body(content = EditForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        answers::BackToSearch,
        (status = 400, description = "A bad id (`text/plain`), or a value refused: the page with the reason.", content(
            (String = "text/html"), (String = "text/plain"),
        )),
        answers::NoSuchMemoryPage,
        answers::DatabaseUnavailable,
        answers::FormRejections,
    )
)]
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<MemoryId>,
    Form(f): Form<EditForm>,
) -> Response {
    if !state.auth.form_ok(&headers, &f.csrf, now_ms()) {
        return login_redirect();
    }
    let filter = back_to(&f.back);
    let current = match current(&state, &headers, &filter, id).await {
        Ok(current) => current,
        Err(response) => return response,
    };
    let checked = checked_observation(&f.observation)
        .and_then(|value| form_confidence(&f.confidence).map(|c| (value, c)));
    let (value, confidence) = match checked {
        Ok(checked) => checked,
        Err(reason) => {
            let editing = ui::MemoryEdit {
                id,
                observation: f.observation,
                confidence: f.confidence,
                active: f.active.is_some(),
            };
            let message = format!("Memory #{id} not saved: {reason}.");
            return refused(
                &state,
                &headers,
                &filter,
                StatusCode::BAD_REQUEST,
                message,
                ui::MemoryForm::default(),
                Some(editing),
            )
            .await;
        }
    };
    match edit(&state, &current, &value, confidence, f.active.is_some()).await {
        Ok(saved) => done(&filter, "saved", saved.id),
        Err(e) => missing(&state, &headers, &filter, id, e).await,
    }
}

/// The memory a form names, or the page with "no such memory".
async fn current(
    state: &AppState,
    headers: &HeaderMap,
    filter: &ui::MemoryFilterView,
    id: MemoryId,
) -> Result<Memory, Response> {
    match state.queries.memory(id).await {
        Ok(Some(memory)) => Ok(memory),
        Ok(None) => Err(missing(
            state,
            headers,
            filter,
            id,
            ApiError::new(StatusCode::NOT_FOUND, "not found"),
        )
        .await),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

async fn missing(
    state: &AppState,
    headers: &HeaderMap,
    filter: &ui::MemoryFilterView,
    id: MemoryId,
    error: ApiError,
) -> Response {
    let message = match error.status() {
        StatusCode::NOT_FOUND => format!("There is no memory #{id}: it may have been deleted."),
        _ => format!("Memory #{id} not changed: {}.", error.message()),
    };
    let status = error.status();
    refused(
        state,
        headers,
        filter,
        status,
        message,
        ui::MemoryForm::default(),
        None,
    )
    .await
}

/// A form with the login's CSRF token and the search to go back to.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: String,
}

#[utoipa::path(
    post,
    path = "/memories/{id}/deactivate",
    operation_id = "deactivate_memory_form",
    tag = "forms",
    summary = "Deactivate a memory: it is no longer given to sessions",
    params(("id" = i64, Path, description = "The memory's id.")),
    request_body(content = ChangeForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        answers::BackToSearch,
        answers::IdNotANumber,
        answers::NoSuchMemoryPage,
        answers::DatabaseUnavailable,
        answers::FormRejections,
    )
)]
pub async fn deactivate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<MemoryId>,
    Form(f): Form<ChangeForm>,
) -> Response {
    switch(state, headers, id, f, false).await
}

#[utoipa::path(
    post,
    path = "/memories/{id}/activate",
    operation_id = "activate_memory_form",
    tag = "forms",
    summary = "Activate a memory",
    params(("id" = i64, Path, description = "The memory's id.")),
    request_body(content = ChangeForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        answers::BackToSearch,
        answers::IdNotANumber,
        answers::NoSuchMemoryPage,
        answers::DatabaseUnavailable,
        answers::FormRejections,
    )
)]
pub async fn activate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<MemoryId>,
    Form(f): Form<ChangeForm>,
) -> Response {
    switch(state, headers, id, f, true).await
}

async fn switch(
    state: AppState,
    headers: HeaderMap,
    id: MemoryId,
    f: ChangeForm,
    on: bool,
) -> Response {
    if !state.auth.form_ok(&headers, &f.csrf, now_ms()) {
        return login_redirect();
    }
    let filter = back_to(&f.back);
    let current = match current(&state, &headers, &filter, id).await {
        Ok(current) => current,
        Err(response) => return response,
    };
    match edit(&state, &current, &current.value, current.confidence, on).await {
        Ok(_) => done(&filter, if on { "activated" } else { "deactivated" }, id),
        Err(e) => missing(&state, &headers, &filter, id, e).await,
    }
}

#[utoipa::path(
    post,
    path = "/memories/{id}/delete",
    operation_id = "delete_memory_form",
    tag = "forms",
    summary = "Delete a memory",
    params(("id" = i64, Path, description = "The memory's id.")),
    request_body(content = ChangeForm, content_type = "application/x-www-form-urlencoded"),
    security(("dashboard_login" = [])),
    responses(
        answers::BackToSearch,
        answers::IdNotANumber,
        answers::NoSuchMemoryPage,
        answers::DatabaseUnavailable,
        answers::FormRejections,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<MemoryId>,
    Form(f): Form<ChangeForm>,
) -> Response {
    if !state.auth.form_ok(&headers, &f.csrf, now_ms()) {
        return login_redirect();
    }
    let filter = back_to(&f.back);
    match state.queries.delete_memory(id).await {
        Ok(true) => done(&filter, "deleted", id),
        Ok(false) => {
            let error = ApiError::new(StatusCode::NOT_FOUND, "not found");
            missing(&state, &headers, &filter, id, error).await
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_keeps_only_the_search() {
        let filter = back_to("q=disk%20full&site=home&active=inactive&evil=%0d%0a&");
        assert_eq!(filter.q.as_deref(), Some("disk full"));
        assert_eq!(filter.site.as_deref(), Some("home"));
        assert_eq!(
            claudeops_web_ui::memories_query(&filter),
            "q=disk%20full&site=home&active=inactive&"
        );
        assert!(back_to("\r\nLocation: x").q.is_none());
        assert!(back_to("").q.is_none());
    }

    #[test]
    fn flashes_name_what_happened() {
        assert_eq!(
            done_flash("added", Some(4)).map(|f| f.1),
            Some("Memory #4 added.".to_owned())
        );
        assert!(done_flash("<b>", Some(4)).is_none());
        assert!(form_confidence("1.5").is_err());
        assert!(form_confidence("high").is_err());
        assert_eq!(form_confidence(" 0.25 "), Ok(0.25));
    }

    #[test]
    fn decay_in_words() {
        let rule = DecayRule::after(30 * 86_400_000).unwrap_or_else(|| panic!("rule"));
        assert_eq!(
            decay_text(&rule),
            "A memory neither confirmed nor edited for 30 days loses 0.1 for each further week."
        );
    }
}
