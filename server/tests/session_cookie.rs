//! The session cookie: `dtc_session` on plain HTTP, `__Host-dtc_session` with `Secure`
//! over HTTPS, HttpOnly and SameSite=Strict on both.

#![allow(clippy::unwrap_used)]

mod common;

use axum::http::header;
use common::{Reply, TestServer, registration};
use serde_json::json;

fn set_cookie(reply: &Reply) -> String {
    reply.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Registers alice, checks the session works, and returns the `Set-Cookie` header.
async fn register_and_check_session(server: &TestServer) -> String {
    let mut client = server.client();
    let (_, body) = registration("alice");
    let reply = client.call("register", body).await;
    reply.assert_ok();
    let session = client.call("session", json!({})).await;
    assert_eq!(session.json(), json!("alice"));
    set_cookie(&reply)
}

fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|attribute| attribute.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn http_cookie_is_dtc_session_without_secure() {
    let server = TestServer::start().await;
    let set_cookie = register_and_check_session(&server).await;

    assert!(set_cookie.starts_with("dtc_session="), "{set_cookie}");
    let attributes = attributes(&set_cookie);
    for expected in ["httponly", "samesite=strict", "path=/"] {
        assert!(attributes.iter().any(|a| a == expected), "{set_cookie}");
    }
    assert!(!attributes.iter().any(|a| a == "secure"), "{set_cookie}");
}

#[tokio::test]
async fn https_cookie_has_host_prefix_and_secure() {
    let server = TestServer::start_with_settings(|settings| settings.https = true).await;
    let set_cookie = register_and_check_session(&server).await;

    assert!(
        set_cookie.starts_with("__Host-dtc_session="),
        "{set_cookie}"
    );
    let attributes = attributes(&set_cookie);
    for expected in ["httponly", "samesite=strict", "path=/", "secure"] {
        assert!(attributes.iter().any(|a| a == expected), "{set_cookie}");
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "{set_cookie}"
    );
}
