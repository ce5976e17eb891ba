//! Security headers: every kind of response carries the page policy and the other
//! security headers, part downloads also carry the sandbox policy, and HSTS is sent
//! only when the site is reached over HTTPS.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use common::{EncryptedFile, Reply, TestServer, plaintext, register, send_file};
use dtc_app::api::ErrorCode;
use dtc_server::security_headers::{
    CONTENT_SECURITY_POLICY, PART_CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY,
    STRICT_TRANSPORT_SECURITY,
};
use serde_json::json;

/// Writes a small site like Trunk's output into the server's site directory.
fn write_site(server: &TestServer) {
    let site = &server.config.site_dir;
    std::fs::create_dir_all(site).unwrap();
    std::fs::write(site.join("index.html"), "<!DOCTYPE html><title>t</title>").unwrap();
    std::fs::write(site.join("worker.js"), "self.onmessage = () => {};").unwrap();
    std::fs::write(site.join("dtc-frontend_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
}

async fn get(server: &TestServer, uri: &str) -> Reply {
    let request = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    server.client().send(request).await
}

fn policies(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(header::CONTENT_SECURITY_POLICY)
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect()
}

/// Asserts every header that each response carries, and HSTS exactly when `https`.
fn assert_security_headers(label: &str, reply: &Reply, https: bool) {
    let headers = &reply.headers;
    assert!(
        policies(headers).contains(&CONTENT_SECURITY_POLICY),
        "{label}: {headers:?}"
    );
    assert_eq!(
        headers[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff",
        "{label}"
    );
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{label}");
    assert_eq!(
        headers["cross-origin-opener-policy"], "same-origin",
        "{label}"
    );
    assert_eq!(headers["permissions-policy"], PERMISSIONS_POLICY, "{label}");
    let hsts = headers.get(header::STRICT_TRANSPORT_SECURITY);
    if https {
        assert_eq!(hsts.unwrap(), STRICT_TRANSPORT_SECURITY, "{label}");
    } else {
        assert!(hsts.is_none(), "{label}: {hsts:?}");
    }
}

/// Fetches one response of every kind and checks its headers.
async fn assert_every_response(server: &TestServer, https: bool) {
    write_site(server);
    for (uri, media_type) in [
        ("/", "text/html"),
        ("/send", "text/html"),
        ("/worker.js", "text/javascript"),
        ("/dtc-frontend_bg.wasm", "application/wasm"),
    ] {
        let reply = get(server, uri).await;
        reply.assert_ok();
        let content_type = reply.headers[header::CONTENT_TYPE].to_str().unwrap();
        assert!(
            content_type.starts_with(media_type),
            "{uri}: {content_type}"
        );
        assert_eq!(policies(&reply.headers), [CONTENT_SECURITY_POLICY], "{uri}");
        assert_security_headers(uri, &reply, https);
    }

    let mut client = server.client();
    let success = client.call("session", json!({})).await;
    success.assert_ok();
    assert_security_headers("API success", &success, https);

    let failure = client.call("register", json!({})).await;
    failure.assert_error(400, ErrorCode::InvalidInput);
    assert_security_headers("API error", &failure, https);

    let missing = get(server, "/api/no_such_function").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_security_headers("API 404", &missing, https);

    let foreign = client
        .clone()
        .with_origin(common::Origin::Other("http://evil.example".into()))
        .call("session", json!({}))
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert_security_headers("CSRF rejection", &foreign, https);
}

#[tokio::test]
async fn every_response_has_security_headers() {
    let server = TestServer::start().await;
    assert_every_response(&server, false).await;
}

#[tokio::test]
async fn https_responses_add_hsts() {
    let server = TestServer::start_with_settings(|settings| settings.https = true).await;
    assert_every_response(&server, true).await;
}

#[tokio::test]
async fn part_download_is_sandboxed_attachment() {
    let server = TestServer::start().await;
    let (bob, _) = register(&server, "bob").await;
    let (alice, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(1000));
    let file_id = send_file(&mut client, &alice, &bob, &file).await;

    let reply = client.get_part(&file_id, 0).await;
    reply.assert_ok();
    assert_eq!(reply.body.as_ref(), file.parts[0].as_slice());
    assert_security_headers("part download", &reply, false);
    assert_eq!(
        policies(&reply.headers),
        [PART_CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY]
    );
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    assert_eq!(reply.headers[header::CONTENT_DISPOSITION], "attachment");
}

#[tokio::test]
async fn link_part_response_is_sandboxed() {
    let server = TestServer::start().await;
    let uri = format!("/api/links/{}/parts/0", "ab".repeat(16));

    let reply = get(&server, &uri).await;
    reply.assert_error(404, ErrorCode::NotFound);
    assert_security_headers("link part", &reply, false);
    assert_eq!(
        policies(&reply.headers),
        [PART_CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY]
    );
}

#[tokio::test]
async fn pages_revalidate_and_api_responses_are_not_stored() {
    let server = TestServer::start().await;
    write_site(&server);
    let site = &server.config.site_dir;
    std::fs::write(site.join("dtc-frontend.js"), "export default 1;").unwrap();
    std::fs::write(site.join("style.css"), "body {}").unwrap();
    for uri in [
        "/",
        "/send",
        "/worker.js",
        "/dtc-frontend_bg.wasm",
        "/dtc-frontend.js",
        "/style.css",
    ] {
        let reply = get(&server, uri).await;
        reply.assert_ok();
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-cache", "{uri}");
        assert!(
            reply.headers.contains_key(header::LAST_MODIFIED),
            "{uri}: {:?}",
            reply.headers
        );
    }
    let first = get(&server, "/worker.js").await;
    let revalidate = Request::builder()
        .uri("/worker.js")
        .header(
            header::IF_MODIFIED_SINCE,
            &first.headers[header::LAST_MODIFIED],
        )
        .body(Body::empty())
        .unwrap();
    let unchanged = server.client().send(revalidate).await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);

    let (bob, _) = register(&server, "bob").await;
    let (alice, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(1000));
    let file_id = send_file(&mut client, &alice, &bob, &file).await;
    let foreign = client
        .clone()
        .with_origin(common::Origin::Other("http://evil.example".into()))
        .call("session", json!({}))
        .await;
    let link_part = format!("/api/links/{}/parts/0", "ab".repeat(16));
    for (label, reply) in [
        ("API success", client.call("session", json!({})).await),
        ("API error", client.call("register", json!({})).await),
        ("API 404", get(&server, "/api/no_such_function").await),
        ("CSRF rejection", foreign),
        ("link part", get(&server, &link_part).await),
    ] {
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store", "{label}");
    }
    let part = client.get_part(&file_id, 0).await;
    assert_eq!(part.headers[header::CACHE_CONTROL], "private, no-store");
}
