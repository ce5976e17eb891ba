//! Login throttling over real TCP on a real database: client addresses come from the
//! `X-Real-IP` header as behind nginx, and the store's clock is moved instead of
//! waiting.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, Method, Request, header};
use common::{Client, Reply, TestServer, User, b64, registration};
use dtc_app::api::ErrorCode;
use dtc_server::Settings;
use dtc_server::store::{ACCOUNT_LIMIT, ADDRESS_LIMIT, Clock, PAIR_LIMIT};
use serde_json::{Value, json};

const HOME: &str = "198.51.100.10";
const ELSEWHERE: &str = "203.0.113.20";
const STRANGER: &str = "192.0.2.66";

fn behind_proxy(settings: &mut Settings) {
    settings.client_address_header = Some(HeaderName::from_static("x-real-ip"));
}

async fn start() -> TestServer {
    let mut server = start_in_process().await;
    server.listen().await;
    server
}

/// Starts a server that clients reach in process, so that it can be restarted.
async fn start_in_process() -> TestServer {
    let clock = Clock::manual(Clock::system().now_ms());
    TestServer::start_with_clock_and_settings(clock, behind_proxy).await
}

async fn call_from(client: &mut Client, ip: &str, name: &str, body: Value) -> Reply {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/{name}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-real-ip", ip)
        .body(Body::from(body.to_string()))
        .unwrap();
    client.send(request).await
}

async fn register_from(server: &TestServer, ip: &str, username: &str) -> User {
    let (user, body) = registration(username);
    call_from(&mut server.client(), ip, "register", body)
        .await
        .assert_ok();
    user
}

async fn login(server: &TestServer, ip: &str, username: &str, login_key: &[u8]) -> Reply {
    let body = json!({ "request": { "username": username, "login_key": b64(login_key) } });
    call_from(&mut server.client(), ip, "login", body).await
}

fn wrong_key() -> [u8; 32] {
    [0x42; 32]
}

/// Asserts a 429 with matching `Retry-After` and body, and returns the wait in seconds.
fn assert_throttled(reply: &Reply) -> u64 {
    let message = reply.assert_error(429, ErrorCode::TooManyRequests);
    let header = reply.headers.get(header::RETRY_AFTER).expect("Retry-After");
    let secs: u64 = header.to_str().unwrap().parse().unwrap();
    assert_eq!(reply.error().retry_after_secs, Some(secs));
    assert!(message.contains(&format!("{secs} s")), "{message}");
    secs
}

fn assert_compared_and_wrong(reply: &Reply) {
    reply.assert_error(401, ErrorCode::InvalidCredentials);
}

#[tokio::test]
async fn wrong_keys_follow_schedule() {
    let server = start().await;
    let alice = register_from(&server, HOME, "alice").await;

    for _ in 0..PAIR_LIMIT.free_attempts {
        assert_compared_and_wrong(&login(&server, STRANGER, "alice", &wrong_key()).await);
    }
    let mut expected = 1;
    for _ in 0..4 {
        let reply = login(&server, STRANGER, "alice", &wrong_key()).await;
        assert_eq!(assert_throttled(&reply), expected);
        server.clock.advance(Duration::from_secs(expected));
        assert_compared_and_wrong(&login(&server, STRANGER, "alice", &wrong_key()).await);
        expected *= 2;
    }

    let during_wait = login(&server, STRANGER, "alice", &alice.login_key).await;
    assert_eq!(assert_throttled(&during_wait), expected);
    server.clock.advance(Duration::from_secs(expected));
    login(&server, STRANGER, "alice", &alice.login_key)
        .await
        .assert_ok();

    for _ in 0..PAIR_LIMIT.free_attempts {
        let reply = login(&server, STRANGER, "alice", &wrong_key()).await;
        assert_compared_and_wrong(&reply);
    }
}

#[tokio::test]
async fn delay_is_capped() {
    let server = start().await;
    register_from(&server, HOME, "alice").await;
    let mut waits = Vec::new();
    for _ in 0..16 {
        let reply = login(&server, STRANGER, "alice", &wrong_key()).await;
        if reply.status == 429 {
            let secs = assert_throttled(&reply);
            waits.push(secs);
            server.clock.advance(Duration::from_secs(secs));
            assert_compared_and_wrong(&login(&server, STRANGER, "alice", &wrong_key()).await);
        }
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
}

#[tokio::test]
async fn address_limit_spans_usernames() {
    let server = start().await;
    for n in 0..ADDRESS_LIMIT.free_attempts {
        let reply = login(&server, STRANGER, &format!("user{n}"), &wrong_key()).await;
        assert_compared_and_wrong(&reply);
    }
    let reply = login(&server, STRANGER, "another", &wrong_key()).await;
    assert_eq!(assert_throttled(&reply), 1);
    let reply = login(&server, ELSEWHERE, "another", &wrong_key()).await;
    assert_compared_and_wrong(&reply);
}

#[tokio::test]
async fn other_address_is_unaffected() {
    let server = start().await;
    let alice = register_from(&server, HOME, "alice").await;
    for _ in 0..PAIR_LIMIT.free_attempts {
        login(&server, STRANGER, "alice", &wrong_key()).await;
    }
    assert_throttled(&login(&server, STRANGER, "alice", &wrong_key()).await);

    assert_compared_and_wrong(&login(&server, ELSEWHERE, "alice", &wrong_key()).await);
    login(&server, ELSEWHERE, "alice", &alice.login_key)
        .await
        .assert_ok();
}

/// Sends wrong keys for `username` from many addresses, each below its own limits,
/// until the account count is past its cap, and checks that a new address waits the
/// cap.
async fn push_account_past_cap(server: &TestServer, username: &str) {
    let mut failures = 0;
    for n in 0..40u32 {
        let stranger = format!("192.0.2.{}", n / 4 + 100);
        let reply = login(server, &stranger, username, &wrong_key()).await;
        if reply.status == 429 {
            server
                .clock
                .advance(Duration::from_secs(assert_throttled(&reply)));
        } else {
            assert_compared_and_wrong(&reply);
            failures += 1;
        }
    }
    assert!(
        failures > ACCOUNT_LIMIT.free_attempts + 6,
        "{failures} failures"
    );
    let reply = login(server, "192.0.2.250", username, &wrong_key()).await;
    assert_eq!(assert_throttled(&reply), ACCOUNT_LIMIT.max_delay_secs);
}

#[tokio::test]
async fn stranger_cannot_keep_owner_out() {
    let server = start().await;
    let alice = register_from(&server, HOME, "alice").await;
    push_account_past_cap(&server, "alice").await;

    login(&server, HOME, "alice", &alice.login_key)
        .await
        .assert_ok();

    let reply = login(&server, ELSEWHERE, "alice", &alice.login_key).await;
    let wait = assert_throttled(&reply);
    assert!(wait <= ACCOUNT_LIMIT.max_delay_secs, "{wait} s");
    server.clock.advance(Duration::from_secs(wait));
    login(&server, ELSEWHERE, "alice", &alice.login_key)
        .await
        .assert_ok();
    let reply = login(&server, ELSEWHERE, "alice", &alice.login_key).await;
    reply.assert_ok();
}

#[tokio::test]
async fn unknown_names_are_throttled_alike() {
    let server = start().await;
    register_from(&server, HOME, "alice").await;
    for attempt in 0..=PAIR_LIMIT.free_attempts + 1 {
        let known = login(&server, STRANGER, "alice", &wrong_key()).await;
        let unknown = login(&server, ELSEWHERE, "mallory", &wrong_key()).await;
        assert_eq!(known.status, unknown.status, "attempt {attempt}");
        assert_eq!(known.body, unknown.body, "attempt {attempt}");
        assert_eq!(
            known.headers.get(header::RETRY_AFTER),
            unknown.headers.get(header::RETRY_AFTER),
            "attempt {attempt}"
        );
    }

    let body = json!({ "username": "alice" });
    let params = call_from(&mut server.client(), STRANGER, "login_params", body).await;
    params.assert_ok();
    let keys: Vec<String> = params.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["kdf", "salt"]);
}

#[tokio::test]
async fn parallel_guesses_are_counted_exactly() {
    let server = start().await;
    let alice = register_from(&server, HOME, "alice").await;
    let guesses = (0..12).map(|_| {
        let server_client = server.client();
        async move {
            let mut client = server_client;
            let body =
                json!({ "request": { "username": "alice", "login_key": b64(&wrong_key()) } });
            call_from(&mut client, STRANGER, "login", body).await
        }
    });
    let replies = futures_join_all(guesses).await;
    let compared = replies.iter().filter(|reply| reply.status == 401).count();
    let refused = replies.iter().filter(|reply| reply.status == 429).count();
    assert_eq!(compared, PAIR_LIMIT.free_attempts as usize);
    assert_eq!(refused, 12 - compared);

    let reply = login(&server, STRANGER, "alice", &alice.login_key).await;
    assert_throttled(&reply);
}

/// Runs the futures at once on the runtime and returns their outputs in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

#[tokio::test]
async fn restart_keeps_counts() {
    let server = start_in_process().await;
    let alice = register_from(&server, HOME, "alice").await;
    for _ in 0..PAIR_LIMIT.free_attempts {
        login(&server, STRANGER, "alice", &wrong_key()).await;
    }
    let server = server.restart().await;

    let reply = login(&server, STRANGER, "alice", &alice.login_key).await;
    assert_eq!(assert_throttled(&reply), 1);
}

#[tokio::test]
async fn missing_address_header_is_400() {
    let server = start().await;
    let body = json!({ "request": { "username": "alice", "login_key": b64(&wrong_key()) } });
    let message = server
        .client()
        .call("login", body)
        .await
        .assert_error(400, ErrorCode::InvalidInput);
    assert!(message.contains("x-real-ip"), "{message}");
}

/// Logs in from `ip` with the cookies of `browser`, which keeps the cookies the reply
/// sets.
async fn login_in(browser: &mut Client, ip: &str, username: &str, login_key: &[u8]) -> Reply {
    let body = json!({ "request": { "username": username, "login_key": b64(login_key) } });
    call_from(browser, ip, "login", body).await
}

/// Registers `username` from `ip` and returns the browser, which keeps the session and
/// device cookies.
async fn register_in_browser(server: &TestServer, ip: &str, username: &str) -> (User, Client) {
    let mut browser = server.client();
    let (user, body) = registration(username);
    call_from(&mut browser, ip, "register", body)
        .await
        .assert_ok();
    (user, browser)
}

#[tokio::test]
async fn device_cookie_skips_account_wait() {
    let server = start().await;
    let (alice, mut home) = register_in_browser(&server, HOME, "alice").await;
    let first_cookie = home.device_cookie.clone().expect("a device cookie");
    push_account_past_cap(&server, "alice").await;

    let travelling = "203.0.113.99";
    let without = login(&server, travelling, "alice", &alice.login_key).await;
    assert_eq!(assert_throttled(&without), ACCOUNT_LIMIT.max_delay_secs);
    login_in(&mut home, travelling, "alice", &alice.login_key)
        .await
        .assert_ok();
    let second_cookie = home.device_cookie.clone().expect("a device cookie");
    assert_ne!(first_cookie, second_cookie, "sign-in replaces the cookie");

    let mut stale = server.client();
    stale.device_cookie = Some(first_cookie);
    let reply = login_in(&mut stale, "203.0.113.98", "alice", &alice.login_key).await;
    assert_throttled(&reply);
}

#[tokio::test]
async fn device_cookie_of_other_account_counts_as_none() {
    let server = start().await;
    let alice = register_from(&server, HOME, "alice").await;
    let (_, bobs_browser) = register_in_browser(&server, ELSEWHERE, "bob").await;
    push_account_past_cap(&server, "alice").await;

    let mut borrowed = server.client();
    borrowed.device_cookie = bobs_browser.device_cookie.clone();
    let reply = login_in(&mut borrowed, "203.0.113.99", "alice", &alice.login_key).await;
    assert_eq!(assert_throttled(&reply), ACCOUNT_LIMIT.max_delay_secs);
}

#[tokio::test]
async fn device_failures_follow_pair_schedule() {
    let server = start().await;
    let (alice, mut home) = register_in_browser(&server, HOME, "alice").await;

    for _ in 0..PAIR_LIMIT.free_attempts {
        let reply = login_in(&mut home, STRANGER, "alice", &wrong_key()).await;
        assert_compared_and_wrong(&reply);
    }
    let reply = login_in(&mut home, STRANGER, "alice", &alice.login_key).await;
    assert_eq!(assert_throttled(&reply), 1);

    // The device's failures were not counted for the address.
    login(&server, STRANGER, "alice", &alice.login_key)
        .await
        .assert_ok();
    server.clock.advance(Duration::from_secs(1));
    login_in(&mut home, STRANGER, "alice", &alice.login_key)
        .await
        .assert_ok();
}
