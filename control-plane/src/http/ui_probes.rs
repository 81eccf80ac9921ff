//! `/api/v1/sites/{site}/probes`: a site's probes, repo-defined (read-only) and
//! added from the dashboard, and the changes to the dashboard ones: add, edit,
//! pause or resume, delete. The work is `crate::ui_probes`'s; this module reads
//! requests and writes answers.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use claudeops_core::SiteName;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::clock::now_ms;
use crate::http::api::{ApiError, ApiPath, json_body, require_auth};
use crate::http::openapi::answers;
use crate::http::openapi::schemas::ApiErrorBody;
use crate::ui_probes::{ProbeError, ProbeInput, ProbeView, UiProbes};

fn site_of(site: String) -> Result<SiteName, ApiError> {
    SiteName::new(site).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
}

fn answer(error: ProbeError) -> ApiError {
    match error {
        ProbeError::Invalid(fields) => {
            let message = ProbeError::Invalid(fields).to_string();
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
        }
        e @ ProbeError::NotFound(..) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
        ProbeError::Store(e) => ApiError::from(e),
    }
}

fn actor(state: &AppState, headers: &HeaderMap) -> String {
    state
        .auth
        .actor(headers, now_ms())
        .unwrap_or_else(|| "api token".to_owned())
}

/// A probe as written: the dashboard form's fields.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeBody {
    name: Option<String>,
    kind: String,
    target: String,
    #[serde(default)]
    interval: String,
    #[serde(default)]
    conditions: Vec<String>,
    #[serde(default)]
    service: String,
}

impl ProbeBody {
    fn input(self, name: String) -> ProbeInput {
        ProbeInput {
            name,
            kind: self.kind,
            target: self.target,
            interval: self.interval,
            conditions: self.conditions,
            service: self.service,
        }
    }
}

/// Pause (`true`) or resume (`false`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    paused: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/sites/{site}/probes",
    operation_id = "list_site_probes",
    tag = "health",
    summary = "A site's probes, from its repos and from the dashboard",
    params(("site" = String, Path, description = "The site's name: 1-63 of a-z, 0-9 and `-`, not starting with `-`.", pattern = "^[a-z0-9][a-z0-9-]{0,62}$")),
    responses(
        (status = 200, description = "`{\"site\": ..., \"probes\": [...]}`, each with its source.", body = Value),
        (status = 400, description = "Not a site's name.", body = ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiPath(site): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let site = site_of(site)?;
    let probes = UiProbes::new(&state.context)
        .list(&site)
        .await
        .map_err(answer)?;
    Ok(Json(json!({ "site": site, "probes": probes })))
}

#[utoipa::path(
    post,
    path = "/api/v1/sites/{site}/probes",
    operation_id = "add_site_probe",
    tag = "health",
    summary = "Add a probe to a site; its workers run it from now on",
    params(("site" = String, Path, description = "The site's name.", pattern = "^[a-z0-9][a-z0-9-]{0,62}$")),
    request_body(content = ProbeBody, content_type = "application/json"),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 201, description = "Added.", body = ProbeView),
        (status = 400, description = "Not a site's name, or a body that cannot be read.", body = ApiErrorBody),
        answers::NoValidToken,
        (status = 415, description = "The body is not `application/json`.", body = ApiErrorBody),
        (status = 422, description = "The probe is refused: each problem by its field (a name a repo probe has, a target or condition that does not parse).", body = ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(site): ApiPath<String>,
    body: Result<Json<ProbeBody>, JsonRejection>,
) -> Result<(StatusCode, Json<ProbeView>), ApiError> {
    require_auth(&state, &headers)?;
    let site = site_of(site)?;
    let body = json_body(body)?;
    let name = body.name.clone().unwrap_or_default();
    let view = UiProbes::new(&state.context)
        .add(&site, &body.input(name), &actor(&state, &headers))
        .await
        .map_err(answer)?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(
    put,
    path = "/api/v1/sites/{site}/probes/{name}",
    operation_id = "edit_site_probe",
    tag = "health",
    summary = "Change a probe added from the dashboard",
    params(
        ("site" = String, Path, description = "The site's name.", pattern = "^[a-z0-9][a-z0-9-]{0,62}$"),
        ("name" = String, Path, description = "The probe's name."),
    ),
    request_body(content = ProbeBody, content_type = "application/json"),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "The probe as saved.", body = ProbeView),
        (status = 400, description = "Not a site's name, or a body that cannot be read.", body = ApiErrorBody),
        answers::NoValidToken,
        (status = 404, description = "The site has no dashboard probe of that name (repo probes are read-only).", body = ApiErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ApiErrorBody),
        (status = 422, description = "The probe is refused: each problem by its field.", body = ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn edit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath((site, name)): ApiPath<(String, String)>,
    body: Result<Json<ProbeBody>, JsonRejection>,
) -> Result<Json<ProbeView>, ApiError> {
    require_auth(&state, &headers)?;
    let site = site_of(site)?;
    let body = json_body(body)?;
    if body.name.as_deref().is_some_and(|n| n != name) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name: a probe cannot be renamed; delete it and add another",
        ));
    }
    let view = UiProbes::new(&state.context)
        .edit(
            &site,
            &name,
            &body.input(name.clone()),
            &actor(&state, &headers),
        )
        .await
        .map_err(answer)?;
    Ok(Json(view))
}

#[utoipa::path(
    delete,
    path = "/api/v1/sites/{site}/probes/{name}",
    operation_id = "delete_site_probe",
    tag = "health",
    summary = "Delete a probe added from the dashboard",
    params(
        ("site" = String, Path, description = "The site's name.", pattern = "^[a-z0-9][a-z0-9-]{0,62}$"),
        ("name" = String, Path, description = "The probe's name."),
    ),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 204, description = "Deleted; the site's workers stop running it."),
        (status = 400, description = "Not a site's name.", body = ApiErrorBody),
        answers::NoValidToken,
        (status = 404, description = "The site has no dashboard probe of that name.", body = ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath((site, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require_auth(&state, &headers)?;
    let site = site_of(site)?;
    UiProbes::new(&state.context)
        .delete(&site, &name, &actor(&state, &headers))
        .await
        .map_err(answer)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put,
    path = "/api/v1/sites/{site}/probes/{name}/paused",
    operation_id = "pause_site_probe",
    tag = "health",
    summary = "Pause or resume a probe added from the dashboard",
    params(
        ("site" = String, Path, description = "The site's name.", pattern = "^[a-z0-9][a-z0-9-]{0,62}$"),
        ("name" = String, Path, description = "The probe's name."),
    ),
    request_body(content = PauseBody, content_type = "application/json"),
    security(("api_token" = []), ("dashboard_login" = [], "csrf_header" = [])),
    responses(
        (status = 200, description = "The probe as saved.", body = ProbeView),
        (status = 400, description = "Not a site's name, or a body that cannot be read.", body = ApiErrorBody),
        answers::NoValidToken,
        (status = 404, description = "The site has no dashboard probe of that name.", body = ApiErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ApiErrorBody),
        answers::DatabaseUnavailable,
    )
)]
pub async fn pause(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath((site, name)): ApiPath<(String, String)>,
    body: Result<Json<PauseBody>, JsonRejection>,
) -> Result<Json<ProbeView>, ApiError> {
    require_auth(&state, &headers)?;
    let site = site_of(site)?;
    let body = json_body(body)?;
    let view = UiProbes::new(&state.context)
        .set_paused(&site, &name, body.paused, &actor(&state, &headers))
        .await
        .map_err(answer)?;
    Ok(Json(view))
}
