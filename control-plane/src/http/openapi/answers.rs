//! Answers many operations share, as `IntoResponses` types their
//! `#[utoipa::path]` `responses(...)` name next to the operation's own
//! entries, so a status that means the same everywhere is described once.
//! Schema-only, like `schemas`: never constructed; the handlers build their
//! answers as before.
//!
//! What it must not do: hold an answer only one operation gives (it stays in
//! that operation's annotation), or describe a status differently from what
//! every handler naming it answers.

use utoipa::IntoResponses;

use super::schemas::ApiErrorBody;

/// A dashboard page, rendered.
#[derive(IntoResponses)]
#[response(status = 200, description = "The page.", content_type = "text/html")]
pub struct Page(pub String);

/// Axum's plain-text rejections of a dashboard form's body.
#[derive(IntoResponses)]
pub enum FormRejections {
    #[response(
        status = 415,
        description = "The body is not `application/x-www-form-urlencoded`.",
        content_type = "text/plain"
    )]
    NotAForm(String),
    #[response(
        status = 422,
        description = "The form cannot be read.",
        content_type = "text/plain"
    )]
    Unreadable(String),
}

/// A form post without a login or with a wrong CSRF token.
#[derive(IntoResponses)]
#[response(
    status = 303,
    description = "No login, or a wrong CSRF token: to `/login`.",
    headers(("location" = String, description = "Where to go."))
)]
pub struct ToLogin;

/// A memory form, done or refused for its login.
#[derive(IntoResponses)]
#[response(
    status = 303,
    description = "Done: back to the search it came from; no login or a wrong CSRF token: to `/login`.",
    headers(("location" = String, description = "Where to go."))
)]
pub struct BackToSearch;

/// A page's or form's id in the path that is not a number (axum's rejection).
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "The id is not a number.",
    content_type = "text/plain"
)]
pub struct IdNotANumber(pub String);

/// A page's query that cannot be read (axum's rejection).
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "A parameter cannot be read.",
    content_type = "text/plain"
)]
pub struct PageParameterRejected(pub String);

/// A memory form naming a memory that does not exist.
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "No such memory: the page with the reason.",
    content_type = "text/html"
)]
pub struct NoSuchMemoryPage(pub String);

/// The database is unavailable, in the API's error shape.
#[derive(IntoResponses)]
#[response(status = 503, description = "The database is unavailable.")]
pub struct DatabaseUnavailable(pub ApiErrorBody);

/// An API read's failures: its parameters, or the database.
#[derive(IntoResponses)]
pub enum ApiReadErrors {
    #[response(status = 400, description = "A parameter cannot be read.")]
    BadParameter(ApiErrorBody),
    #[response(status = 503, description = "The database is unavailable.")]
    Unavailable(ApiErrorBody),
}

/// An API change without a valid token.
#[derive(IntoResponses)]
#[response(status = 401, description = "No valid token.")]
pub struct NoValidToken(pub ApiErrorBody);

/// A chat endpoint's or the webhook's call without the chat key.
#[derive(IntoResponses)]
#[response(status = 401, description = "No valid key.")]
pub struct NoValidKey(pub ApiErrorBody);

/// A JSON body over the 1 MiB limit.
#[derive(IntoResponses)]
#[response(status = 413, description = "The body is larger than 1 MiB.")]
pub struct BodyTooLarge(pub ApiErrorBody);

/// The chat endpoints without `CLAUDEOPS_CHAT_API_KEY`.
#[derive(IntoResponses)]
#[response(
    status = 503,
    description = "The chat endpoints are off (`CLAUDEOPS_CHAT_API_KEY` is unset)."
)]
pub struct ChatOff(pub ApiErrorBody);

/// An Ollama-dialect question refused, or with no one to answer it.
#[derive(IntoResponses)]
pub enum ChatRefused {
    #[response(
        status = 403,
        description = "The tier is above the maximum, dry run refuses it, or the daily cost cap is reached."
    )]
    TierRefused(ApiErrorBody),
    #[response(status = 404, description = "Unknown model.")]
    UnknownModel(ApiErrorBody),
    #[response(
        status = 503,
        description = "The chat endpoints are off, no worker of the site is connected, the model tiers are off, the control plane is shutting down, or the database is unavailable."
    )]
    Unavailable(ApiErrorBody),
}
