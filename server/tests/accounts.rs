//! Registration, login, sessions and the error responses of server functions, through
//! the real router on a real database.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{TestServer, b64, kdf_json, register, registration, unb64};
use dtc_app::api::ErrorCode;
use serde_json::{Value, json};

fn login_body(username: &str, login_key: &[u8]) -> Value {
    json!({ "request": { "username": username, "login_key": b64(login_key) } })
}

#[tokio::test]
async fn register_returns_account_and_signs_in() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let (user, body) = registration("Alice");

    let reply = client.call("register", body).await;
    reply.assert_ok();
    let account = reply.json();
    assert_eq!(account["username"], "alice");
    assert_eq!(unb64(&account["public_key"]), user.public_key.to_sec1());
    assert_eq!(unb64(&account["wrapped_identity"]).len(), 61);

    let set_cookie = reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap())
        .find(|value| value.starts_with("dtc_session="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=604800"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} missing in {set_cookie}"
        );
    }
    let session = client.call("session", json!({})).await;
    assert_eq!(session.json(), json!("alice"));
}

#[tokio::test]
async fn duplicate_username_is_conflict() {
    let server = TestServer::start().await;
    register(&server, "alice").await;

    let (_, body) = registration("ALICE ");
    let message = server
        .client()
        .call("register", body)
        .await
        .assert_error(409, ErrorCode::UsernameTaken);
    assert!(message.contains("\"alice\""), "{message}");
}

#[tokio::test]
async fn bad_username_is_rejected() {
    let server = TestServer::start().await;
    for bad in ["ab", "-alice", "al ice", "ålice"] {
        let (_, body) = registration(bad);
        let reply = server.client().call("register", body).await;
        reply.assert_error(400, ErrorCode::InvalidInput);
    }
}

#[tokio::test]
async fn invalid_public_key_is_rejected() {
    let server = TestServer::start().await;
    let mut off_curve = vec![0x04];
    off_curve.extend([0x01; 64]);
    let cases = [
        ("off curve", off_curve),
        ("short", vec![0x04; 33]),
        ("empty", vec![]),
    ];
    for (case, key) in cases {
        let (_, mut body) = registration("alice");
        body["request"]["public_key"] = json!(b64(&key));
        let reply = server.client().call("register", body).await;
        let message = reply.assert_error(400, ErrorCode::InvalidInput);
        assert!(message.contains("public key"), "{case}: {message}");
    }
    assert!(
        server
            .store
            .find_account("alice".into())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn wrong_length_fields_are_rejected() {
    let server = TestServer::start().await;
    for (field, len) in [("salt", 15), ("login_key", 31), ("wrapped_identity", 60)] {
        let (_, mut body) = registration("alice");
        body["request"][field] = json!(b64(&vec![7; len]));
        let message = server
            .client()
            .call("register", body)
            .await
            .assert_error(400, ErrorCode::InvalidInput);
        assert!(message.contains(&len.to_string()), "{field}: {message}");
    }
}

#[tokio::test]
async fn kdf_out_of_range_is_rejected() {
    let server = TestServer::start().await;
    let cases = [
        json!({ "memory_kib": 19455, "iterations": 3, "parallelism": 1 }),
        json!({ "memory_kib": 1_048_577, "iterations": 3, "parallelism": 1 }),
        json!({ "memory_kib": 65536, "iterations": 1, "parallelism": 1 }),
        json!({ "memory_kib": 65536, "iterations": 17, "parallelism": 1 }),
        json!({ "memory_kib": 65536, "iterations": 3, "parallelism": 0 }),
        json!({ "memory_kib": 65536, "iterations": 3, "parallelism": 5 }),
    ];
    for kdf in cases {
        let (_, mut body) = registration("alice");
        body["request"]["kdf"] = kdf.clone();
        let reply = server.client().call("register", body).await;
        reply.assert_error(400, ErrorCode::InvalidInput);
    }
}

#[tokio::test]
async fn login_succeeds_with_right_key() {
    let server = TestServer::start().await;
    let (user, _) = register(&server, "alice").await;
    let mut client = server.client();

    let params = client
        .call("login_params", json!({ "username": "Alice" }))
        .await;
    params.assert_ok();
    assert_eq!(params.json()["kdf"], kdf_json(common::TEST_KDF));
    assert_eq!(unb64(&params.json()["salt"]).len(), 16);

    let reply = client
        .call("login", login_body("alice", &user.login_key))
        .await;
    reply.assert_ok();
    assert_eq!(reply.json()["username"], "alice");
    assert_eq!(
        unb64(&reply.json()["public_key"]),
        user.public_key.to_sec1()
    );
    assert_eq!(
        client.call("session", json!({})).await.json(),
        json!("alice")
    );
}

#[tokio::test]
async fn login_cycles_session_id() {
    let server = TestServer::start().await;
    let (user, mut client) = register(&server, "alice").await;
    let before = client.cookie.clone().unwrap();

    client
        .call("login", login_body("alice", &user.login_key))
        .await
        .assert_ok();
    let after = client.cookie.clone().unwrap();
    assert_ne!(before, after);

    let mut stale = server.client();
    stale.cookie = Some(before);
    assert_eq!(stale.call("session", json!({})).await.json(), Value::Null);
}

#[tokio::test]
async fn wrong_password_and_unknown_name_look_the_same() {
    let server = TestServer::start().await;
    let (user, _) = register(&server, "alice").await;
    let mut wrong_key = user.login_key;
    wrong_key[0] ^= 1;

    let wrong = server
        .client()
        .call("login", login_body("alice", &wrong_key))
        .await;
    let unknown = server
        .client()
        .call("login", login_body("mallory", &user.login_key))
        .await;
    wrong.assert_error(401, ErrorCode::InvalidCredentials);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.body, unknown.body);
    assert!(wrong.headers.get(header::SET_COOKIE).is_none());
    assert!(unknown.headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn login_params_for_unknown_name_are_stable() {
    let server = TestServer::start().await;
    register(&server, "alice").await;
    let mut client = server.client();

    let first = client
        .call("login_params", json!({ "username": "nobody" }))
        .await
        .json();
    let second = client
        .call("login_params", json!({ "username": "NoBody" }))
        .await
        .json();
    let other = client
        .call("login_params", json!({ "username": "someone" }))
        .await
        .json();
    let real = client
        .call("login_params", json!({ "username": "alice" }))
        .await
        .json();
    assert_eq!(first, second);
    assert_ne!(first["salt"], other["salt"]);
    assert_eq!(unb64(&first["salt"]).len(), 16);
    assert_eq!(
        first["kdf"],
        json!({ "memory_kib": 65536, "iterations": 3, "parallelism": 1 })
    );
    let keys = |value: &Value| {
        value
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&first), keys(&real));
    drop(client);

    let server = server.restart().await;
    let after_restart = server
        .client()
        .call("login_params", json!({ "username": "nobody" }))
        .await;
    assert_eq!(after_restart.json(), first);
}

#[tokio::test]
async fn logout_deletes_session_on_server() {
    let server = TestServer::start().await;
    let (_, mut client) = register(&server, "alice").await;
    let cookie = client.cookie.clone().unwrap();

    let reply = client.call("logout", json!({})).await;
    reply.assert_ok();
    assert_eq!(client.cookie, None, "the response removes the cookie");

    let mut replay = server.client();
    replay.cookie = Some(cookie);
    assert_eq!(replay.call("session", json!({})).await.json(), Value::Null);
    replay
        .call("inbox", json!({}))
        .await
        .assert_error(401, ErrorCode::NotSignedIn);
}

#[tokio::test]
async fn session_without_cookie_is_none() {
    let server = TestServer::start().await;
    let reply = server.client().call("session", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), Value::Null);
}

#[tokio::test]
async fn lookup_recipient_needs_sign_in_and_existing_name() {
    let server = TestServer::start().await;
    let (bob, _) = register(&server, "bob").await;
    let (_, mut alice) = register(&server, "alice").await;

    let found = alice
        .call("lookup_recipient", json!({ "username": "BOB" }))
        .await;
    found.assert_ok();
    assert_eq!(found.json()["username"], "bob");
    assert_eq!(unb64(&found.json()["public_key"]), bob.public_key.to_sec1());

    let message = alice
        .call("lookup_recipient", json!({ "username": "carol" }))
        .await
        .assert_error(404, ErrorCode::NotFound);
    assert!(message.contains("carol"), "{message}");

    let anonymous = server
        .client()
        .call("lookup_recipient", json!({ "username": "bob" }))
        .await;
    anonymous.assert_error(401, ErrorCode::NotSignedIn);
}

#[tokio::test]
async fn server_info_reports_limits() {
    let server = TestServer::start_with_max_file_size(1000).await;
    let reply = server.client().call("server_info", json!({})).await;
    assert_eq!(
        reply.json(),
        json!({
            "max_file_size": 1000,
            "max_metadata_size": 65536,
            "min_link_expiry_secs": 300,
            "max_link_expiry_secs": 2_592_000,
            "default_link_expiry_secs": 604_800,
            "max_link_downloads": 100,
            "file_lifetime_secs": 2_592_000,
        })
    );
}

#[tokio::test]
async fn bad_json_is_400() {
    let server = TestServer::start().await;
    let cases = [
        "{not json",
        r#"{"request": {"username": "alice"}}"#,
        r#"{"request": {"username": "alice", "login_key": "***"}}"#,
        "",
    ];
    for body in cases {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let reply = server.client().send(request).await;
        let message = reply.assert_error(400, ErrorCode::InvalidInput);
        assert!(
            message.starts_with("invalid request body"),
            "{body:?}: {message}"
        );
    }
}

#[tokio::test]
async fn body_over_limit_is_413() {
    let server = TestServer::start().await;
    let padding = "x".repeat(1024 * 1024);
    let body = json!({ "username": padding }).to_string();

    let declared = Request::builder()
        .method(Method::POST)
        .uri("/api/login_params")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body.clone()))
        .unwrap();
    let reply = server.client().send(declared).await;
    reply.assert_error(413, ErrorCode::TooLarge);

    let undeclared = Request::builder()
        .method(Method::POST)
        .uri("/api/login_params")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    server
        .client()
        .send(undeclared)
        .await
        .assert_error(413, ErrorCode::TooLarge);
}

#[tokio::test]
async fn unknown_api_path_is_json_404() {
    let server = TestServer::start().await;
    let reply = server.client().call("no_such_function", json!({})).await;
    reply.assert_error(404, ErrorCode::NotFound);

    let get = Request::builder()
        .uri("/api/register")
        .body(Body::empty())
        .unwrap();
    server
        .client()
        .send(get)
        .await
        .assert_error(404, ErrorCode::NotFound);
}

#[tokio::test]
async fn page_routes_fall_back_to_index() {
    let server = TestServer::start().await;
    let site = &server.config.site_dir;
    std::fs::create_dir_all(site).unwrap();
    std::fs::write(site.join("index.html"), "<html>app</html>").unwrap();
    std::fs::write(site.join("app.js"), "console.log(1)").unwrap();

    for path in ["/", "/inbox", "/files/abc"] {
        let request = Request::builder().uri(path).body(Body::empty()).unwrap();
        let reply = server.client().send(request).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(&reply.body[..], b"<html>app</html>", "{path}");
    }
    let request = Request::builder()
        .uri("/app.js")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        &server.client().send(request).await.body[..],
        b"console.log(1)"
    );
}

#[tokio::test]
async fn every_response_has_request_id() {
    let server = TestServer::start().await;
    let reply = server.client().call("session", json!({})).await;
    assert!(reply.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn expired_session_is_not_loaded() {
    let server = TestServer::start().await;
    let (_, mut client) = register(&server, "alice").await;
    let cookie = client.cookie.clone().unwrap();
    let id: tower_sessions::session::Id = cookie.parse().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let week = 7 * 24 * 3600;

    let stored = server.store.load_session(id.0, now).await.unwrap().unwrap();
    assert!(
        stored.expires_at > now + week - 60,
        "expiry is a week after the last request"
    );
    let load_at_expiry = server.store.load_session(id.0, stored.expires_at).await;
    assert!(load_at_expiry.unwrap().is_none());
    let load_after = server.store.load_session(id.0, now).await;
    assert!(
        load_after.unwrap().is_none(),
        "loading the expired session deleted it"
    );

    let (_, mut bob) = register(&server, "bob").await;
    assert_eq!(server.store.delete_expired_sessions(now).await.unwrap(), 0);
    assert_eq!(
        server
            .store
            .delete_expired_sessions(now + week + 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(client.call("session", json!({})).await.json(), Value::Null);
    assert_eq!(bob.call("session", json!({})).await.json(), Value::Null);
}

#[tokio::test]
async fn long_echoed_input_is_400_not_500() {
    let server = TestServer::start().await;
    let long = "x".repeat(70_000);
    let cases = [
        ("login_params", json!({ "username": long })),
        ("register", json!({ "request": long })),
    ];
    for (name, body) in cases {
        let reply = server.client().call(name, body).await;
        let message = reply.assert_error(400, ErrorCode::InvalidInput);
        assert!(
            message.len() < 1024,
            "{name}: message of {} bytes",
            message.len()
        );
    }
}
