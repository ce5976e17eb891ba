//! Cross-site requests to the API. Every server function named in app/src/api.rs, the
//! part upload and the share-link part route get the requests that another site can
//! make a signed-in browser send: HTML form posts, `text/plain` bodies, a foreign or
//! missing `Origin`. Each is rejected before its handler runs, so nothing in the store
//! changes.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{
    Client, EncryptedFile, Origin, TestServer, User, b64, create_upload, plaintext, register,
    registration, send_file,
};
use dtc_app::api::{ApiError, ErrorCode, LINK_TICKET_HEADER};
use dtc_crypto::link::{LinkKeys, LinkSecret, seal_link_secret, wrap_file_key};
use dtc_server::store::FileId;
use serde_json::{Value, json};

/// The source of the server functions, read for their endpoint names.
const API_SOURCE: &str = include_str!("../../app/src/api.rs");

const HOST: &str = "transfer.example:8080";
const OWN: &str = "http://transfer.example:8080";
const FOREIGN: &str = "https://evil.example";

/// An `Origin`, a `Content-Type` and the status each gets. `None` as the origin sends
/// no `Origin` header, and `None` as the type stands for the route's own type.
type Attempt = (Option<&'static str>, Option<&'static str>, u16);

/// What another site can make a browser send, and what it gets.
const ATTEMPTS: [Attempt; 10] = [
    (
        Some(FOREIGN),
        Some("application/x-www-form-urlencoded"),
        403,
    ),
    (Some(FOREIGN), Some("multipart/form-data; boundary=x"), 403),
    (Some(FOREIGN), Some("text/plain"), 403),
    (Some(FOREIGN), None, 403),
    (Some("null"), None, 403),
    (None, Some("text/plain"), 403),
    (None, Some("application/x-www-form-urlencoded"), 403),
    (None, None, 403),
    (Some(OWN), Some("text/plain"), 415),
    (Some(OWN), Some("multipart/form-data; boundary=x"), 415),
];

/// Returns the endpoint of every `#[server]` function in app/src/api.rs.
fn server_function_endpoints() -> Vec<&'static str> {
    API_SOURCE
        .split("endpoint = \"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect()
}

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

/// Sends every attempt with `body` and checks each rejection and its message.
async fn assert_rejected(client: &Client, method: Method, uri: &str, own_type: &str, body: &[u8]) {
    let mut client = client.clone().with_origin(Origin::Omit);
    for (origin, content_type, status) in ATTEMPTS {
        let content_type = content_type.unwrap_or(own_type);
        let sent = request(
            method.clone(),
            uri,
            origin,
            Some(content_type),
            body.to_vec(),
        );
        let reply = client.send(sent).await;
        let label = format!("{method} {uri} from {origin:?} as {content_type}");
        let message = reply.assert_error(status, ErrorCode::InvalidInput);
        let expected = match (status, origin) {
            (415, _) => own_type,
            (_, None) => "without an Origin header",
            _ => "cross-origin request",
        };
        assert!(message.contains(expected), "{label}: {message}");
    }
}

/// Two accounts with a sent file, a pending upload, a live share link and its ticket.
struct Fixture {
    server: TestServer,
    alice: Client,
    bob: User,
    alice_user: User,
    file_id: String,
    pending_id: String,
    pending: EncryptedFile,
    link_id: String,
    ticket: String,
    gate_key: Vec<u8>,
    access_key: Vec<u8>,
}

async fn fixture() -> Fixture {
    let server = TestServer::start().await;
    let (bob, _) = register(&server, "bob").await;
    let (alice_user, mut alice) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(1000));
    let file_id = send_file(&mut alice, &alice_user, &bob, &file).await;
    let pending = EncryptedFile::new(&plaintext(2000));
    let pending_id = create_upload(&mut alice, &pending, "bob").await;

    let mut id_bytes = [0u8; 16];
    getrandom::fill(&mut id_bytes).unwrap();
    let link_id: String = id_bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    let secret = LinkSecret::generate();
    let keys = LinkKeys::derive(&secret, &id_bytes, None).unwrap();
    let id: FileId = file_id.parse().unwrap();
    let body = json!({ "request": {
        "file_id": file_id,
        "link_id": link_id,
        "options": { "expires_in_secs": 3600, "download_limit": 3, "password": null },
        "gate_key": b64(keys.gate.expose_secret_bytes()),
        "access_key": b64(keys.access.expose_secret_bytes()),
        "wrapped_key": b64(&wrap_file_key(&keys, &id_bytes, &id.0, &file.key)),
        "sealed_secret": b64(&seal_link_secret(&file.key, &id_bytes, &secret)),
    }});
    alice.call("create_link", body).await.assert_ok();
    let gate_key = keys.gate.expose_secret_bytes().to_vec();
    let access_key = keys.access.expose_secret_bytes().to_vec();
    let unlock = json!({ "request": {
        "link_id": link_id, "gate_key": b64(&gate_key), "access_key": b64(&access_key),
    }});
    let unlocked = server.client().call("unlock_link", unlock).await;
    unlocked.assert_ok();
    let ticket = unlocked.json()["ticket"].as_str().unwrap().to_owned();

    Fixture {
        server,
        alice,
        bob,
        alice_user,
        file_id,
        pending_id,
        pending,
        link_id,
        ticket,
        gate_key,
        access_key,
    }
}

impl Fixture {
    /// Returns a body for the server function `endpoint` as alice's page would send it,
    /// so that a rejection comes from the origin and type check, not from the body.
    fn body_for(&self, endpoint: &str) -> Value {
        match endpoint {
            "register" => registration("mallory").1,
            "login_params" => json!({ "username": "alice" }),
            "lookup_recipient" => json!({ "username": "bob" }),
            "create_upload" => self.pending.create_request("bob"),
            "finish_upload" => {
                self.pending
                    .finish_request(&self.pending_id, &self.alice_user, &self.bob)
            }
            "delete_file" => json!({ "file_id": self.file_id }),
            "upload_status" => json!({ "file_id": self.pending_id }),
            "save_upload_key" => {
                let record =
                    self.pending
                        .key_record(&self.pending_id, &self.alice_user, &self.alice_user);
                json!({ "request": {
                    "file_id": self.pending_id,
                    "enc": record["enc"],
                    "sealed_key": record["sealed_key"],
                }})
            }
            "revoke_link" | "open_link" => json!({ "link_id": self.link_id }),
            "unlock_link" => json!({ "request": {
                "link_id": self.link_id,
                "gate_key": b64(&self.gate_key),
                "access_key": b64(&self.access_key),
            }}),
            "confirm_download" => json!({ "ticket": self.ticket }),
            _ => json!({}),
        }
    }

    /// Everything a cross-site request could change: accounts, files, parts, links,
    /// reservations, and what alice's session lists.
    async fn state(&mut self) -> String {
        let store = &self.server.store;
        let accounts = store.account_usage().await.unwrap();
        let files = store.file_count().await.unwrap();
        let links = store.link_rows().await.unwrap();
        let sent = store
            .file_rows(self.file_id.parse().unwrap())
            .await
            .unwrap();
        let pending = store
            .file_rows(self.pending_id.parse().unwrap())
            .await
            .unwrap();
        let pending_record = store
            .find_file(self.pending_id.parse().unwrap())
            .await
            .unwrap();
        let mut lists = Vec::new();
        for endpoint in ["session", "sent", "links"] {
            let reply = self.alice.call(endpoint, json!({})).await;
            lists.push(reply.json());
        }
        format!("{accounts:?} {files} {links:?} {sent:?} {pending:?} {pending_record:?} {lists:?}")
    }
}

#[tokio::test]
async fn api_names_its_server_functions() {
    let endpoints = server_function_endpoints();
    for expected in [
        "register",
        "login",
        "create_upload",
        "create_link",
        "session",
    ] {
        assert!(endpoints.contains(&expected), "{endpoints:?}");
    }
    let server = TestServer::start().await;
    let mut client = server.client();
    for endpoint in endpoints {
        let reply = client.call(endpoint, json!({})).await;
        let missing = format!("no API endpoint at /api/{endpoint}");
        let error: Option<ApiError> = serde_json::from_slice(&reply.body).ok();
        let message = error.map(|error| error.message).unwrap_or_default();
        assert_ne!(message, missing, "{endpoint} is not a route");
    }
}

#[tokio::test]
async fn server_functions_reject_cross_site_requests() {
    let mut fixture = fixture().await;
    let before = fixture.state().await;

    for endpoint in server_function_endpoints() {
        let body = fixture.body_for(endpoint).to_string();
        let uri = format!("/api/{endpoint}");
        assert_rejected(
            &fixture.alice,
            Method::POST,
            &uri,
            "application/json",
            body.as_bytes(),
        )
        .await;
    }

    assert_eq!(fixture.state().await, before);
}

#[tokio::test]
async fn part_upload_rejects_cross_site_requests() {
    let mut fixture = fixture().await;
    let before = fixture.state().await;
    let uri = format!("/api/files/{}/parts/0", fixture.pending_id);
    let part = fixture.pending.parts[0].clone();

    assert_rejected(
        &fixture.alice,
        Method::PUT,
        &uri,
        "application/octet-stream",
        &part,
    )
    .await;
    assert_eq!(fixture.state().await, before);

    let sent = request(
        Method::PUT,
        &uri,
        Some(OWN),
        Some("application/octet-stream"),
        part,
    );
    let reply = fixture.alice.send(sent).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
}

#[tokio::test]
async fn link_part_rejects_cross_site_requests() {
    let mut fixture = fixture().await;
    let before = fixture.state().await;
    let uri = format!("/api/links/{}/parts/0", fixture.link_id);

    // A form, an image or a script of another site sends a GET without the ticket
    // header: adding it needs a CORS preflight, which this server never allows.
    let mut foreign = fixture
        .alice
        .clone()
        .with_origin(Origin::Other(FOREIGN.into()));
    let get = request(Method::GET, &uri, None, None, Vec::new());
    let reply = foreign.send(get).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), ApiError::link_not_found());
    assert_rejected(
        &fixture.alice,
        Method::POST,
        &uri,
        "application/octet-stream",
        b"",
    )
    .await;
    assert_eq!(fixture.state().await, before);

    let mut visitor = fixture.server.client();
    let mut with_ticket = request(Method::GET, &uri, None, None, Vec::new());
    let ticket = fixture.ticket.parse().unwrap();
    with_ticket.headers_mut().insert(LINK_TICKET_HEADER, ticket);
    visitor.send(with_ticket).await.assert_ok();
}

#[tokio::test]
async fn own_origin_in_any_case_is_accepted() {
    let server = TestServer::start().await;
    let mut client = server.client();
    for origin in [OWN, "http://TRANSFER.example:8080"] {
        let body = br#"{"username":"alice"}"#.to_vec();
        let sent = request(
            Method::POST,
            "/api/login_params",
            Some(origin),
            Some("application/json"),
            body,
        );
        let reply = client.send(sent).await;
        assert_eq!(reply.status, StatusCode::OK, "{origin}: {:?}", reply.body);
    }
}

#[tokio::test]
async fn https_site_rejects_http_origin() {
    let server = TestServer::start_with_settings(|settings| settings.https = true).await;
    let mut client = server.client();
    let body = br#"{"username":"alice"}"#.to_vec();
    let plain = request(
        Method::POST,
        "/api/login_params",
        Some(OWN),
        Some("application/json"),
        body.clone(),
    );
    let message = client
        .send(plain)
        .await
        .assert_error(403, ErrorCode::InvalidInput);
    assert!(message.contains("cross-origin request"), "{message}");

    let secure = request(
        Method::POST,
        "/api/login_params",
        Some("https://transfer.example:8080"),
        Some("application/json"),
        body,
    );
    let reply = client.send(secure).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
}
