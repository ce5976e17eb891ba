//! The session and device cookies: `dtc_session` and `dtc_device` on plain HTTP,
//! `__Host-dtc_session` and `__Host-dtc_device` with `Secure` over HTTPS, HttpOnly and
//! SameSite=Strict on both.

#![allow(clippy::unwrap_used)]

mod common;

use axum::http::header;
use common::{Reply, TestServer, registration};
use serde_json::json;

/// Returns the `Set-Cookie` value of the cookie `name` in `reply`.
fn set_cookie(reply: &Reply, name: &str) -> String {
    let prefix = format!("{name}=");
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap())
        .find(|value| value.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {name} cookie set"))
        .to_owned()
}

/// Registers alice, checks the session works, and returns the registration reply.
async fn register_and_check_session(server: &TestServer) -> Reply {
    let mut client = server.client();
    let (_, body) = registration("alice");
    let reply = client.call("register", body).await;
    reply.assert_ok();
    let session = client.call("session", json!({})).await;
    assert_eq!(session.json(), json!("alice"));
    reply
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
    let reply = register_and_check_session(&server).await;

    for name in ["dtc_session", "dtc_device"] {
        let set_cookie = set_cookie(&reply, name);
        let attributes = attributes(&set_cookie);
        for expected in ["httponly", "samesite=strict", "path=/"] {
            assert!(attributes.iter().any(|a| a == expected), "{set_cookie}");
        }
        assert!(!attributes.iter().any(|a| a == "secure"), "{set_cookie}");
    }
}

#[tokio::test]
async fn https_cookie_has_host_prefix_and_secure() {
    let server = TestServer::start_with_settings(|settings| settings.https = true).await;
    let reply = register_and_check_session(&server).await;

    for name in ["__Host-dtc_session", "__Host-dtc_device"] {
        let set_cookie = set_cookie(&reply, name);
        let attributes = attributes(&set_cookie);
        for expected in ["httponly", "samesite=strict", "path=/", "secure"] {
            assert!(attributes.iter().any(|a| a == expected), "{set_cookie}");
        }
        assert!(
            !attributes.iter().any(|a| a.starts_with("domain")),
            "{set_cookie}"
        );
    }
}
