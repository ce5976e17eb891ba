//! Session lifetimes and logging out, through the real router on a real database, with
//! the store's clock moved instead of waiting.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Client, TestServer, b64, register, registration};
use dtc_app::api::ErrorCode;
use dtc_server::Settings;
use dtc_server::store::Clock;
use serde_json::{Value, json};

const IDLE: Duration = Duration::from_secs(60);
const MAX_AGE: Duration = Duration::from_secs(300);

fn short_sessions(settings: &mut Settings) {
    settings.session_idle = IDLE;
    settings.session_max_age = MAX_AGE;
}

async fn start() -> TestServer {
    let clock = Clock::manual(Clock::system().now_ms());
    TestServer::start_with_clock_and_settings(clock, short_sessions).await
}

async fn signed_in_as(client: &mut Client) -> Value {
    client.call("session", json!({})).await.json()
}

fn session_id(client: &Client) -> i128 {
    let cookie = client.cookie.clone().unwrap();
    cookie.parse::<tower_sessions::session::Id>().unwrap().0
}

#[tokio::test]
async fn idle_session_ends() {
    let server = start().await;
    let (_, mut client) = register(&server, "alice").await;
    let id = session_id(&client);

    server.clock.advance(IDLE - Duration::from_secs(1));
    assert_eq!(signed_in_as(&mut client).await, json!("alice"));
    server.clock.advance(IDLE - Duration::from_secs(1));
    assert_eq!(
        signed_in_as(&mut client).await,
        json!("alice"),
        "each request renews it"
    );

    server.clock.advance(IDLE + Duration::from_secs(1));
    assert_eq!(signed_in_as(&mut client).await, Value::Null);
    let now = server.clock.now_ms() / 1000;
    assert_eq!(
        server.store.load_session(id, now - 3600).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn active_session_ends_at_max_age() {
    let server = start().await;
    let (_, mut client) = register(&server, "alice").await;
    let id = session_id(&client);

    let step = Duration::from_secs(50);
    for _ in 0..5 {
        server.clock.advance(step);
        assert_eq!(signed_in_as(&mut client).await, json!("alice"));
    }
    server.clock.advance(step);
    assert_eq!(signed_in_as(&mut client).await, Value::Null);
    client
        .call("inbox", json!({}))
        .await
        .assert_error(401, ErrorCode::NotSignedIn);
    let now = server.clock.now_ms() / 1000;
    assert_eq!(
        server.store.load_session(id, now - 3600).await.unwrap(),
        None,
        "the record is deleted"
    );
}

#[tokio::test]
async fn registration_replaces_session_id() {
    let server = start().await;
    let (_, mut client) = register(&server, "bob").await;
    let before = client.cookie.clone().unwrap();

    let (_, body) = registration("alice");
    client.call("register", body).await.assert_ok();
    let after = client.cookie.clone().unwrap();
    assert_ne!(before, after);
    assert_eq!(signed_in_as(&mut client).await, json!("alice"));

    let mut stale = server.client();
    stale.cookie = Some(before);
    assert_eq!(signed_in_as(&mut stale).await, Value::Null);
}

async fn sign_in(server: &TestServer, username: &str, login_key: &[u8]) -> Client {
    let mut client = server.client();
    let body = json!({ "request": { "username": username, "login_key": b64(login_key) } });
    client.call("login", body).await.assert_ok();
    client
}

#[tokio::test]
async fn logout_everywhere_ends_every_session() {
    let server = start().await;
    let (alice, mut phone) = register(&server, "alice").await;
    let mut laptop = sign_in(&server, "alice", &alice.login_key).await;
    let mut tablet = sign_in(&server, "alice", &alice.login_key).await;
    let (_, mut bob) = register(&server, "bob").await;
    let laptop_cookie = laptop.cookie.clone();

    phone.call("logout_everywhere", json!({})).await.assert_ok();
    assert_eq!(phone.cookie, None, "the response removes the cookie");
    assert_eq!(signed_in_as(&mut phone).await, Value::Null);
    assert_eq!(signed_in_as(&mut laptop).await, Value::Null);
    tablet
        .call("inbox", json!({}))
        .await
        .assert_error(401, ErrorCode::NotSignedIn);
    let mut replay = server.client();
    replay.cookie = laptop_cookie;
    assert_eq!(signed_in_as(&mut replay).await, Value::Null);
    assert_eq!(signed_in_as(&mut bob).await, json!("bob"));

    let account = server.store.find_account("alice".into()).await.unwrap();
    let id = account.unwrap().id;
    assert_eq!(server.store.delete_account_sessions(id).await.unwrap(), 0);
}

#[tokio::test]
async fn logout_everywhere_needs_sign_in() {
    let server = start().await;
    server
        .client()
        .call("logout_everywhere", json!({}))
        .await
        .assert_error(401, ErrorCode::NotSignedIn);
}

#[tokio::test]
async fn logout_everywhere_after_restart() {
    let server = start().await;
    let (alice, mut phone) = register(&server, "alice").await;
    let laptop = sign_in(&server, "alice", &alice.login_key).await;
    let (phone_cookie, laptop_cookie) = (phone.cookie.take(), laptop.cookie.clone());
    drop((phone, laptop));

    let server = server.restart().await;
    let mut phone = server.client();
    phone.cookie = phone_cookie;
    let mut laptop = server.client();
    laptop.cookie = laptop_cookie;
    assert_eq!(signed_in_as(&mut laptop).await, json!("alice"));
    phone.call("logout_everywhere", json!({})).await.assert_ok();
    assert_eq!(signed_in_as(&mut laptop).await, Value::Null);
}
