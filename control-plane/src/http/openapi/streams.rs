//! The schemas of the two event streams (`text/event-stream`): each event as
//! a reader of the stream sees it (`event`, `id`, `data`), with the JSON in
//! `data` named by `contentMediaType` and `contentSchema` (JSON Schema
//! 2020-12, the dialect of OpenAPI 3.1). utoipa's builders have no
//! `contentSchema`, so it goes in as one more keyword of the object.

use std::borrow::Cow;

use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{Object, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use super::chat::ChatCompletionChunk;
use super::schemas::{StreamChange, StreamLine, StreamStatus};

/// A string holding JSON that `component` describes.
fn json_text<T: ToSchema>(description: &str) -> Object {
    let mut data = ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/json")
        .description(Some(description))
        .build();
    data.extensions = Some(Extensions::from_iter([(
        "contentSchema",
        json!({ "$ref": format!("#/components/schemas/{}", T::name()) }),
    )]));
    data
}

/// One of these strings.
fn one_of_words(words: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(words.iter().copied()))
        .build()
}

/// An event named `kind` (any name when `None`) carrying `data`.
fn event(kind: Option<&str>, data: Object, id: Option<&str>) -> ObjectBuilder {
    let mut event = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("data", data)
        .required("data")
        .property(
            "id",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(id),
        );
    if let Some(kind) = kind {
        event = event
            .property("event", one_of_words(&[kind]))
            .required("event");
    }
    if id.is_some() {
        event = event.required("id");
    }
    event
}

/// One event of `GET /sessions/{id}/stream`.
pub struct SessionStreamEvent;

impl PartialSchema for SessionStreamEvent {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some(
                "One event: `line` (a line of output; `id` is its number, for `Last-Event-ID`), `status` (the end; the stream closes after it) or `reload` (the viewer fell behind: load the page again).",
            ))
            .item(event(
                Some("line"),
                json_text::<StreamLine>("A `StreamLine` as JSON."),
                Some("The line's number."),
            ))
            .item(event(
                Some("status"),
                json_text::<StreamStatus>("A `StreamStatus` as JSON."),
                None,
            ))
            .item(event(Some("reload"), one_of_words(&["behind"]), None))
            .into()
    }
}

impl ToSchema for SessionStreamEvent {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SessionStreamEvent")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((StreamLine::name().into_owned(), StreamLine::schema()));
        StreamLine::schemas(schemas);
        schemas.push((StreamStatus::name().into_owned(), StreamStatus::schema()));
        StreamStatus::schemas(schemas);
    }
}

/// One event of `GET /api/v1/changes`.
pub struct ChangeStreamEvent;

impl PartialSchema for ChangeStreamEvent {
    fn schema() -> RefOr<Schema> {
        event(
            Some("change"),
            json_text::<StreamChange>("A `StreamChange` as JSON."),
            Some("The notice's number."),
        )
        .description(Some(
            "Something a dashboard page shows changed: fetch the page again.",
        ))
        .into()
    }
}

impl ToSchema for ChangeStreamEvent {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ChangeStreamEvent")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((StreamChange::name().into_owned(), StreamChange::schema()));
        StreamChange::schemas(schemas);
    }
}

/// One event of a streamed `POST /v1/chat/completions`.
pub struct ChatCompletionEvent;

impl PartialSchema for ChatCompletionEvent {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some(
                "One event: a `chat.completion.chunk` as JSON, then `[DONE]` at the end.",
            ))
            .item(event(
                None,
                json_text::<ChatCompletionChunk>("A `ChatCompletionChunk` as JSON."),
                None,
            ))
            .item(event(None, one_of_words(&["[DONE]"]), None))
            .into()
    }
}

impl ToSchema for ChatCompletionEvent {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ChatCompletionEvent")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            ChatCompletionChunk::name().into_owned(),
            ChatCompletionChunk::schema(),
        ));
        ChatCompletionChunk::schemas(schemas);
    }
}
