//! Cross-site requests to the API: a missing or foreign `Origin` and a body type that
//! an HTML form can send are rejected on server functions and on part uploads.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{Client, EncryptedFile, Origin, TestServer, create_upload, plaintext, register};
use dtc_app::api::ErrorCode;

const HOST: &str = "transfer.example:8080";

/// Builds a request with `Host` set to [`HOST`], an optional `Origin` and `Content-Type`.
fn request(
    method: Method,
    uri: &str,
    origin: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, HOST);
    if let Some(origin) = origin {
        builder = builder.header(header::ORIGIN, origin);
    }
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(Body::from(body)).unwrap()
}

const OWN: &str = "http://transfer.example:8080";

/// Origin and Content-Type pairs that a cross-site page or a form can send, with the
/// status each gets. `None` as the type stands for the route's own type.
const REJECTED: [(Option<&str>, Option<&str>, u16); 9] = [
    (Some("http://evil.example"), None, 403),
    (Some("null"), None, 403),
    (None, None, 403),
    (None, Some("text/plain"), 403),
    (None, Some("application/x-www-form-urlencoded"), 403),
    (Some(OWN), Some("application/x-www-form-urlencoded"), 415),
    (Some(OWN), Some("multipart/form-data; boundary=x"), 415),
    (Some(OWN), Some("text/plain"), 415),
    (Some(OWN), Some(""), 415),
];

async fn assert_rejected(
    client: &mut Client,
    method: Method,
    uri: &str,
    good_type: &str,
    body: &[u8],
) {
    let mut client = client.clone().with_origin(Origin::Omit);
    for (origin, content_type, status) in REJECTED {
        let content_type = content_type.unwrap_or(good_type);
        let sent = request(
            method.clone(),
            uri,
            origin,
            Some(content_type),
            body.to_vec(),
        );
        let reply = client.send(sent).await;
        let message = reply.assert_error(status, ErrorCode::InvalidInput);
        let expected = match (status, origin) {
            (415, _) => good_type,
            (_, None) => "without an Origin header",
            _ => "cross-origin request",
        };
        assert!(
            message.contains(expected),
            "{origin:?} {content_type:?}: {message}"
        );
    }
}

#[tokio::test]
async fn server_function_rejects_cross_site_requests() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let body = br#"{"username":"alice"}"#;

    assert_rejected(
        &mut client,
        Method::POST,
        "/api/login_params",
        "application/json",
        body,
    )
    .await;

    for origin in [
        Some("http://transfer.example:8080"),
        Some("http://TRANSFER.example:8080"),
    ] {
        let sent = request(
            Method::POST,
            "/api/login_params",
            origin,
            Some("application/json"),
            body.to_vec(),
        );
        let reply = client.send(sent).await;
        assert_eq!(reply.status, StatusCode::OK, "{origin:?}: {:?}", reply.body);
    }
}

#[tokio::test]
async fn part_upload_rejects_cross_site_requests() {
    let server = TestServer::start().await;
    let (_, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(1000));
    let file_id = create_upload(&mut client, &file, "alice").await;
    let uri = format!("/api/files/{file_id}/parts/0");
    let part = &file.parts[0];

    assert_rejected(
        &mut client,
        Method::PUT,
        &uri,
        "application/octet-stream",
        part,
    )
    .await;

    let origin = Some("http://transfer.example:8080");
    let sent = request(
        Method::PUT,
        &uri,
        origin,
        Some("application/octet-stream"),
        part.clone(),
    );
    let reply = client.send(sent).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
}
