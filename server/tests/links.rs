//! Share links over TCP on 127.0.0.1: the download limit under concurrency,
//! reservations, expiry on a set clock, the password throttle, identical dead-link
//! responses and the checks of link options. Links are made with the real crypto crate.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{
    Client, EncryptedFile, Reply, TestServer, b64, kdf_json, plaintext, register, send_file,
};
use dtc_app::api::{ApiError, ErrorCode, LINK_TICKET_HEADER};
use dtc_crypto::link::{LinkKeys, LinkPassword, LinkSecret, seal_link_secret, wrap_file_key};
use dtc_crypto::password::KdfParams;
use dtc_server::security_headers::PART_CONTENT_SECURITY_POLICY;
use dtc_server::store::{Clock, FileId};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Plaintext of two parts: one full part and a short second one.
const TWO_PART_LEN: usize = 4 * 1024 * 1024 + 1000;
/// Plaintext of two parts whose last part is nearly full, so it is sent in many pieces.
const LONG_LAST_PART_LEN: usize = 8 * 1024 * 1024 - 1000;
const LINK_PASSWORD: &str = "open sesame, please";
const SALT: [u8; 16] = [7; 16];

/// A file sent by alice to bob, on a server listening on 127.0.0.1 with a set clock.
struct Fixture {
    server: TestServer,
    alice: Client,
    file_id: String,
    file: EncryptedFile,
}

async fn fixture(plaintext_len: usize) -> Fixture {
    // The concurrency tests download from one address, many at once.
    let mut server =
        TestServer::start_with_clock_and_settings(Clock::manual(1_800_000_000_000), |settings| {
            settings.part_transfers_per_address = usize::MAX
        })
        .await;
    server.listen().await;
    let (bob, _) = register(&server, "bob").await;
    let (alice_user, mut alice) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(plaintext_len));
    let file_id = send_file(&mut alice, &alice_user, &bob, &file).await;
    Fixture {
        server,
        alice,
        file_id,
        file,
    }
}

/// A link with the secrets its maker's browser keeps.
struct TestLink {
    id: String,
    gate_key: Vec<u8>,
    access_key: Vec<u8>,
}

fn kdf() -> KdfParams {
    common::TEST_KDF
}

/// Builds a `create_link` body with real keys; `password` adds a password.
fn link_request(
    fixture: &Fixture,
    expires_in_secs: u64,
    download_limit: u32,
    password: Option<&str>,
) -> (TestLink, Value) {
    link_request_with_id(
        fixture,
        rand_bytes(),
        expires_in_secs,
        download_limit,
        password,
    )
}

/// Builds a `create_link` body like [`link_request`] for the link id `id_bytes`.
fn link_request_with_id(
    fixture: &Fixture,
    id_bytes: [u8; 16],
    expires_in_secs: u64,
    download_limit: u32,
    password: Option<&str>,
) -> (TestLink, Value) {
    let id = hex(&id_bytes);
    let secret = LinkSecret::generate();
    let link_password = password.map(|password| LinkPassword {
        password,
        salt: &SALT,
        params: kdf(),
    });
    let keys = LinkKeys::derive(&secret, &id_bytes, link_password).unwrap();
    let file_id: FileId = fixture.file_id.parse().unwrap();
    let wrapped = wrap_file_key(&keys, &id_bytes, &file_id.0, &fixture.file.key);
    let sealed = seal_link_secret(&fixture.file.key, &id_bytes, &secret);
    let password_json = password.map(|_| json!({ "salt": b64(&SALT), "kdf": kdf_json(kdf()) }));
    let body = json!({ "request": {
        "file_id": fixture.file_id,
        "link_id": id,
        "options": {
            "expires_in_secs": expires_in_secs,
            "download_limit": download_limit,
            "password": password_json,
        },
        "gate_key": b64(keys.gate.expose_secret_bytes()),
        "access_key": b64(keys.access.expose_secret_bytes()),
        "wrapped_key": b64(&wrapped),
        "sealed_secret": b64(&sealed),
    }});
    let link = TestLink {
        id,
        gate_key: keys.gate.expose_secret_bytes().to_vec(),
        access_key: keys.access.expose_secret_bytes().to_vec(),
    };
    (link, body)
}

async fn make_link(fixture: &mut Fixture, download_limit: u32, password: Option<&str>) -> TestLink {
    let (link, body) = link_request(fixture, 3600, download_limit, password);
    fixture.alice.call("create_link", body).await.assert_ok();
    link
}

fn rand_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

async fn unlock(client: &mut Client, link_id: &str, gate_key: &[u8], access_key: &[u8]) -> Reply {
    let body = json!({ "request": {
        "link_id": link_id,
        "gate_key": b64(gate_key),
        "access_key": b64(access_key),
    }});
    client.call("unlock_link", body).await
}

fn part_request(link_id: &str, index: u32, ticket: &str) -> Request<Body> {
    Request::builder()
        .method(Method::GET)
        .uri(format!("/api/links/{link_id}/parts/{index}"))
        .header(LINK_TICKET_HEADER, ticket)
        .body(Body::empty())
        .unwrap()
}

async fn get_part(client: &mut Client, link_id: &str, index: u32, ticket: &str) -> Reply {
    client.send(part_request(link_id, index, ticket)).await
}

async fn confirm(client: &mut Client, ticket: &str) -> Reply {
    client
        .call("confirm_download", json!({ "ticket": ticket }))
        .await
}

/// Unlocks a link and fetches every part; returns the ticket, or the first failure.
async fn download(client: &mut Client, link: &TestLink, parts: u32) -> Result<String, Reply> {
    let reply = unlock(client, &link.id, &link.gate_key, &link.access_key).await;
    if !reply.status.is_success() {
        return Err(reply);
    }
    let ticket = reply.json()["ticket"].as_str().unwrap().to_owned();
    for index in 0..parts {
        let reply = get_part(client, &link.id, index, &ticket).await;
        if !reply.status.is_success() {
            return Err(reply);
        }
    }
    Ok(ticket)
}

async fn links(client: &mut Client) -> Vec<Value> {
    let reply = client.call("links", json!({})).await;
    reply.assert_ok();
    reply.json().as_array().unwrap().clone()
}

fn assert_dead(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "body {:?}", reply.body);
    assert_eq!(reply.error(), ApiError::link_not_found());
}

async fn concurrent_downloads(limit: u32) {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, limit, None).await;
    let link = std::sync::Arc::new(link);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let mut client = fixture.server.client();
        let link = link.clone();
        tasks.push(tokio::spawn(async move {
            let ticket = download(&mut client, &link, 2).await?;
            let reply = confirm(&mut client, &ticket).await;
            if reply.status.is_success() {
                Ok(())
            } else {
                Err(reply)
            }
        }));
    }
    let mut succeeded = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => succeeded += 1,
            Err(reply) => assert_dead(&reply),
        }
    }
    assert_eq!(succeeded, limit);

    let entries = links(&mut fixture.alice).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["downloads_used"], limit);
    assert_eq!(entries[0]["downloads_in_progress"], 0);
    assert_eq!(entries[0]["state"], "used_up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_downloads_with_limit_one() {
    concurrent_downloads(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_downloads_with_limit_five() {
    concurrent_downloads(5).await;
}

/// Waits until the link's counts settle at `used` and `in_progress`.
async fn wait_for_counts(client: &mut Client, used: u32, in_progress: u32) {
    for _ in 0..100 {
        let entries = links(client).await;
        if entries[0]["downloads_used"] == used
            && entries[0]["downloads_in_progress"] == in_progress
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let entries = links(client).await;
    panic!("counts never became used {used}, in progress {in_progress}: {entries:?}");
}

#[tokio::test]
async fn abandoned_download_uses_nothing() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 1, None).await;
    let mut client = fixture.server.client();
    download(&mut client, &link, 1).await.unwrap();

    let entries = links(&mut fixture.alice).await;
    assert_eq!(entries[0]["downloads_used"], 0);
    assert_eq!(entries[0]["downloads_in_progress"], 0);
    assert_eq!(entries[0]["state"], "active");
    download(&mut client, &link, 2).await.unwrap();
}

#[tokio::test]
async fn dropped_last_part_is_released() {
    let mut fixture = fixture(LONG_LAST_PART_LEN).await;
    let link = make_link(&mut fixture, 1, None).await;
    let mut client = fixture.server.client();
    let ticket = download(&mut client, &link, 1).await.unwrap();

    let body = start_last_part(&fixture, &link, &ticket).await;
    wait_for_counts(&mut fixture.alice, 0, 1).await;
    drop(body);
    wait_for_counts(&mut fixture.alice, 0, 0).await;

    let mut other = fixture.server.client();
    let ticket = download(&mut other, &link, 2).await.unwrap();
    confirm(&mut other, &ticket).await.assert_ok();
    wait_for_counts(&mut fixture.alice, 1, 0).await;
}

#[tokio::test]
async fn unconfirmed_download_counts_after_expiry() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 2, None).await;
    let mut client = fixture.server.client();
    download(&mut client, &link, 2).await.unwrap();
    wait_for_counts(&mut fixture.alice, 0, 1).await;

    fixture.server.clock.advance(Duration::from_secs(9 * 60));
    wait_for_counts(&mut fixture.alice, 0, 1).await;
    fixture.server.clock.advance(Duration::from_secs(61));
    wait_for_counts(&mut fixture.alice, 1, 0).await;
    let swept = fixture.server.store.sweep_links().await.unwrap();
    assert_eq!(swept.reservations, 1);
    wait_for_counts(&mut fixture.alice, 1, 0).await;
}

#[tokio::test]
async fn confirm_is_idempotent_per_ticket() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 2, None).await;
    let mut client = fixture.server.client();
    let ticket = download(&mut client, &link, 2).await.unwrap();
    confirm(&mut client, &ticket).await.assert_ok();
    confirm(&mut client, &ticket).await.assert_ok();
    wait_for_counts(&mut fixture.alice, 1, 0).await;

    let unfinished = download(&mut client, &link, 1).await.unwrap();
    let message = confirm(&mut client, &unfinished)
        .await
        .assert_error(409, ErrorCode::Conflict);
    assert!(message.contains("last part"), "{message}");
}

#[tokio::test]
async fn link_dies_at_expiry() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let (link, body) = link_request(&fixture, 600, 5, None);
    fixture.alice.call("create_link", body).await.assert_ok();
    let expires_at = links(&mut fixture.alice).await[0]["expires_at_ms"]
        .as_i64()
        .unwrap();
    assert_eq!(expires_at, fixture.server.clock.now_ms() + 600_000);

    let mut client = fixture.server.client();
    fixture.server.clock.set_ms(expires_at - 1000);
    let open = client
        .call("open_link", json!({ "link_id": link.id }))
        .await;
    assert_eq!(open.json(), json!({ "password": null }));
    let ticket = download(&mut client, &link, 2).await.unwrap();
    confirm(&mut client, &ticket).await.assert_ok();
    let late_ticket = download(&mut client, &link, 2).await.unwrap();

    fixture.server.clock.set_ms(expires_at + 1000);
    assert_dead(
        &client
            .call("open_link", json!({ "link_id": link.id }))
            .await,
    );
    assert_dead(&unlock(&mut client, &link.id, &link.gate_key, &link.access_key).await);
    assert_dead(&get_part(&mut client, &link.id, 0, &ticket).await);
    assert_dead(&confirm(&mut client, &late_ticket).await);
    assert_eq!(links(&mut fixture.alice).await[0]["state"], "expired");
}

#[tokio::test]
async fn wrong_password_is_throttled() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 5, Some(LINK_PASSWORD)).await;
    let mut client = fixture.server.client();
    let open = client
        .call("open_link", json!({ "link_id": link.id }))
        .await;
    // Before the password, the gate holds the Argon2id salt and cost and nothing of
    // the file.
    let gate = open.json();
    let fields: Vec<&String> = gate.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["password"]);
    let params: Vec<&String> = gate["password"].as_object().unwrap().keys().collect();
    assert_eq!(params, ["kdf", "salt"]);
    assert_eq!(gate["password"]["salt"], b64(&SALT));
    let wrong = [9u8; 32];

    for attempt in 1..=5 {
        let reply = unlock(&mut client, &link.id, &link.gate_key, &wrong).await;
        let message = reply.assert_error(401, ErrorCode::InvalidCredentials);
        assert!(
            message.contains("wrong password for this link"),
            "{attempt}: {message}"
        );
    }
    // After the fifth failure the next attempt waits 2 s, even with the right key.
    let refused = unlock(&mut client, &link.id, &link.gate_key, &link.access_key).await;
    refused.assert_error(429, ErrorCode::TooManyRequests);
    assert_eq!(refused.error().retry_after_secs, Some(2));
    assert_eq!(refused.headers[header::RETRY_AFTER], "2");

    let mut expected = 2;
    for failures in 6..=14u32 {
        fixture.server.clock.advance(Duration::from_secs(expected));
        let reply = unlock(&mut client, &link.id, &link.gate_key, &wrong).await;
        reply.assert_error(401, ErrorCode::InvalidCredentials);
        expected = (1u64 << (failures - 4)).min(300);
        let refused = unlock(&mut client, &link.id, &link.gate_key, &wrong).await;
        refused.assert_error(429, ErrorCode::TooManyRequests);
        assert_eq!(
            refused.error().retry_after_secs,
            Some(expected),
            "after {failures}"
        );
        assert_eq!(
            refused.headers[header::RETRY_AFTER],
            expected.to_string().as_str()
        );
    }
    assert_eq!(expected, 300, "the delay stops at the cap");

    fixture.server.clock.advance(Duration::from_secs(300));
    unlock(&mut client, &link.id, &link.gate_key, &link.access_key)
        .await
        .assert_ok();
    for _ in 1..=4 {
        let reply = unlock(&mut client, &link.id, &link.gate_key, &wrong).await;
        reply.assert_error(401, ErrorCode::InvalidCredentials);
    }
    unlock(&mut client, &link.id, &link.gate_key, &link.access_key)
        .await
        .assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_follow_schedule() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 5, Some(LINK_PASSWORD)).await;
    let mut tasks = Vec::new();
    for guess in 0..30u8 {
        let mut client = fixture.server.client();
        let id = link.id.clone();
        let gate = link.gate_key.clone();
        tasks.push(tokio::spawn(async move {
            unlock(&mut client, &id, &gate, &[guess; 32]).await
        }));
    }
    let mut wrong = 0;
    let mut throttled = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status.as_u16() {
            401 => wrong += 1,
            429 => throttled += 1,
            other => panic!("status {other}: {:?}", reply.body),
        }
    }
    // With the clock standing still, five keys are checked and every other attempt
    // waits.
    assert_eq!(wrong, 5);
    assert_eq!(throttled, 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_without_password_write_nothing() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 5, None).await;
    let db_path = fixture.server.store.path().to_path_buf();
    let before = std::fs::read(&db_path).unwrap();

    let mut tasks = Vec::new();
    for guess in 0..30u8 {
        let mut client = fixture.server.client();
        let id = link.id.clone();
        let gate = link.gate_key.clone();
        tasks.push(tokio::spawn(async move {
            unlock(&mut client, &id, &gate, &[guess; 32]).await
        }));
    }
    for task in tasks {
        assert_dead(&task.await.unwrap());
    }
    let after = std::fs::read(&db_path).unwrap();
    assert!(before == after, "a wrong key changed the database file");

    // No throttle: the right key works at once, with the clock standing still.
    let mut client = fixture.server.client();
    unlock(&mut client, &link.id, &link.gate_key, &link.access_key)
        .await
        .assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_gate_keys_never_throttle_password_link() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 5, Some(LINK_PASSWORD)).await;
    let db_path = fixture.server.store.path().to_path_buf();
    let before = std::fs::read(&db_path).unwrap();

    let mut tasks = Vec::new();
    for guess in 0..50u8 {
        let mut client = fixture.server.client();
        let id = link.id.clone();
        tasks.push(tokio::spawn(async move {
            unlock(&mut client, &id, &[guess; 32], &[guess; 32]).await
        }));
    }
    for task in tasks {
        assert_dead(&task.await.unwrap());
    }
    let after = std::fs::read(&db_path).unwrap();
    assert!(
        before == after,
        "a wrong gate key changed the database file"
    );

    // The clock does not move, yet the right password works at once.
    let mut client = fixture.server.client();
    unlock(&mut client, &link.id, &link.gate_key, &link.access_key)
        .await
        .assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_gets_in_while_link_id_is_hammered() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 5, Some(LINK_PASSWORD)).await;
    let mut hammers = Vec::new();
    for worker in 0..4u8 {
        let mut client = fixture.server.client();
        let id = link.id.clone();
        hammers.push(tokio::spawn(async move {
            for guess in 0..25u8 {
                let key = [worker.wrapping_mul(31).wrapping_add(guess); 32];
                assert_dead(&unlock(&mut client, &id, &key, &key).await);
            }
        }));
    }
    let mut client = fixture.server.client();
    for _ in 0..10 {
        unlock(&mut client, &link.id, &link.gate_key, &link.access_key)
            .await
            .assert_ok();
    }
    for hammer in hammers {
        hammer.await.unwrap();
    }
    // A wrong password behind the right gate key still counts as a failure.
    let wrong = [9u8; 32];
    unlock(&mut client, &link.id, &link.gate_key, &wrong)
        .await
        .assert_error(401, ErrorCode::InvalidCredentials);
    unlock(&mut client, &link.id, &link.gate_key, &link.access_key)
        .await
        .assert_ok();
}

/// The parts of a response that must match across dead-link cases.
fn shape(reply: &Reply) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| *name != header::DATE && name.as_str() != "x-request-id")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (reply.status.as_u16(), headers, reply.body.to_vec())
}

#[tokio::test]
async fn dead_links_look_identical() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let mut client = fixture.server.client();

    let (expired, body) = link_request(&fixture, 300, 5, None);
    fixture.alice.call("create_link", body).await.assert_ok();
    let used_up = make_link(&mut fixture, 1, None).await;
    let revoked = make_link(&mut fixture, 5, None).await;
    let (never, _) = link_request(&fixture, 300, 5, None);

    let expired_ticket = download(&mut client, &expired, 2).await.unwrap();
    let used_ticket = download(&mut client, &used_up, 0).await.unwrap();
    let first_ticket = download(&mut client, &used_up, 2).await.unwrap();
    confirm(&mut client, &first_ticket).await.assert_ok();
    let revoked_ticket = download(&mut client, &revoked, 2).await.unwrap();
    let revoke = json!({ "link_id": revoked.id });
    fixture.alice.call("revoke_link", revoke).await.assert_ok();
    fixture.server.clock.advance(Duration::from_secs(301));
    let forged = b64(&[1u8; 32]);

    let cases = [
        (&expired, expired_ticket),
        (&used_up, used_ticket),
        (&revoked, revoked_ticket),
        (&never, forged),
    ];
    let mut shapes = Vec::new();
    for (link, ticket) in &cases {
        let open = client
            .call("open_link", json!({ "link_id": link.id }))
            .await;
        let unlocked = unlock(&mut client, &link.id, &link.gate_key, &link.access_key).await;
        let part = get_part(&mut client, &link.id, 1, ticket).await;
        let confirmed = confirm(&mut client, ticket).await;
        for reply in [&open, &unlocked, &part, &confirmed] {
            assert_dead(reply);
        }
        shapes.push([
            shape(&open),
            shape(&unlocked),
            shape(&part),
            shape(&confirmed),
        ]);
    }
    for (case, other) in shapes.iter().enumerate().skip(1) {
        assert_eq!(
            other, &shapes[0],
            "case {case} differs from the expired link"
        );
    }

    let mut states: Vec<String> = links(&mut fixture.alice)
        .await
        .iter()
        .map(|entry| entry["state"].as_str().unwrap().to_owned())
        .collect();
    states.sort();
    assert_eq!(states, ["expired", "revoked", "used_up"]);
}

#[tokio::test]
async fn ticket_of_other_link_is_dead() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let (first, body) = link_request(&fixture, 2 * 24 * 3600, 5, None);
    fixture.alice.call("create_link", body).await.assert_ok();
    let second = make_link(&mut fixture, 5, None).await;
    let mut client = fixture.server.client();
    let ticket = download(&mut client, &first, 1).await.unwrap();
    assert_dead(&get_part(&mut client, &second.id, 0, &ticket).await);

    // Used every 20 minutes, the ticket lives 6 hours from its unlock.
    for _ in 0..17 {
        fixture.server.clock.advance(Duration::from_secs(20 * 60));
        get_part(&mut client, &first.id, 0, &ticket)
            .await
            .assert_ok();
    }
    fixture
        .server
        .clock
        .advance(Duration::from_secs(20 * 60 - 1));
    get_part(&mut client, &first.id, 0, &ticket)
        .await
        .assert_ok();
    fixture.server.clock.advance(Duration::from_secs(1));
    assert_dead(&get_part(&mut client, &first.id, 0, &ticket).await);
    download(&mut client, &first, 1).await.unwrap();
}

#[tokio::test]
async fn idle_ticket_expires() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 5, None).await;
    let mut client = fixture.server.client();
    let ticket = download(&mut client, &link, 1).await.unwrap();
    fixture
        .server
        .clock
        .advance(Duration::from_secs(30 * 60 - 1));
    get_part(&mut client, &link.id, 0, &ticket)
        .await
        .assert_ok();
    fixture.server.clock.advance(Duration::from_secs(30 * 60));
    assert_dead(&get_part(&mut client, &link.id, 0, &ticket).await);
    assert_dead(&confirm(&mut client, &ticket).await);
}

#[tokio::test]
async fn part_response_headers() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 5, None).await;
    let mut client = fixture.server.client();
    let ticket = download(&mut client, &link, 0).await.unwrap();
    for index in 0..2 {
        let reply = get_part(&mut client, &link.id, index, &ticket).await;
        reply.assert_ok();
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "application/octet-stream"
        );
        assert_eq!(reply.headers[header::CONTENT_DISPOSITION], "attachment");
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
        let policies: Vec<_> = reply
            .headers
            .get_all(header::CONTENT_SECURITY_POLICY)
            .iter()
            .collect();
        assert_eq!(policies[0], PART_CONTENT_SECURITY_POLICY);
        assert_eq!(
            reply.body.as_ref(),
            fixture.file.parts[index as usize].as_slice()
        );
    }
    let out_of_range = get_part(&mut client, &link.id, 2, &ticket).await;
    out_of_range.assert_error(400, ErrorCode::InvalidInput);
}

#[tokio::test]
async fn unlock_returns_download_details() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 3, None).await;
    let mut client = fixture.server.client();
    let reply = unlock(&mut client, &link.id, &link.gate_key, &link.access_key).await;
    reply.assert_ok();
    let download = reply.json();
    assert_eq!(download["file_id"], fixture.file_id.as_str());
    assert_eq!(download["sender"], "alice");
    assert_eq!(download["ciphertext_len"], fixture.file.ciphertext_len());
    assert_eq!(download["part_count"], 2);
    assert_eq!(download["downloads_left"], 3);
    assert_eq!(download["ticket"].as_str().unwrap().len(), 43);
    assert_eq!(common::unb64(&download["metadata"]), fixture.file.metadata);
}

/// Sends `body` to `create_link` and expects a 4xx whose message contains `expected`.
async fn assert_rejected(fixture: &mut Fixture, body: Value, status: u16, expected: &str) {
    let reply = fixture.alice.call("create_link", body).await;
    assert_eq!(
        reply.status.as_u16(),
        status,
        "{expected}: {:?}",
        reply.body
    );
    let message = reply.error().message;
    assert!(message.contains(expected), "{message:?} lacks {expected:?}");
}

#[tokio::test]
async fn bad_link_options_are_rejected() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let set = |body: &mut Value, pointer: &str, value: Value| {
        *body.pointer_mut(pointer).unwrap() = value;
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/request/options/expires_in_secs",
            json!(299),
            "shorter than the minimum of 300 s",
        ),
        (
            "/request/options/expires_in_secs",
            json!(2_592_001),
            "exceeds this server's maximum",
        ),
        (
            "/request/options/download_limit",
            json!(0),
            "download limit 0 is out of range",
        ),
        (
            "/request/options/download_limit",
            json!(101),
            "download limit 101 is out of range",
        ),
        (
            "/request/gate_key",
            json!(b64(&[1; 33])),
            "gate key has 33 bytes; expected 32",
        ),
        (
            "/request/access_key",
            json!(b64(&[1; 31])),
            "access key has 31 bytes; expected 32",
        ),
        (
            "/request/wrapped_key",
            json!(b64(&[1; 60])),
            "wrapped file key has 60 bytes",
        ),
        (
            "/request/sealed_secret",
            json!(b64(&[1; 62])),
            "sealed link secret has 62 bytes",
        ),
        ("/request/link_id", json!("ABC"), "invalid link id \"ABC\""),
        ("/request/file_id", json!("xyz"), "invalid file id"),
    ];
    for (pointer, value, expected) in cases {
        let (_, mut body) = link_request(&fixture, 3600, 1, None);
        set(&mut body, pointer, value);
        assert_rejected(&mut fixture, body, 400, expected).await;
    }

    let (_, mut body) = link_request(&fixture, 3600, 1, Some(LINK_PASSWORD));
    set(
        &mut body,
        "/request/options/password/kdf/iterations",
        json!(1),
    );
    assert_rejected(&mut fixture, body, 400, "iterations").await;
    let (_, mut body) = link_request(&fixture, 3600, 1, Some(LINK_PASSWORD));
    set(
        &mut body,
        "/request/options/password/salt",
        json!(b64(&[1; 8])),
    );
    assert_rejected(&mut fixture, body, 400, "link password salt has 8 bytes").await;

    let (_, body) = link_request(&fixture, 3600, 1, None);
    fixture
        .alice
        .call("create_link", body.clone())
        .await
        .assert_ok();
    assert_rejected(&mut fixture, body, 409, "is taken").await;
    assert_eq!(fixture.server.store.link_rows().await.unwrap(), (1, 0));
}

#[tokio::test]
async fn links_need_owner_and_complete_file() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let (_, mut carol) = register(&fixture.server, "carol").await;
    let (_, body) = link_request(&fixture, 3600, 1, None);
    let reply = carol.call("create_link", body).await;
    let message = reply.assert_error(404, ErrorCode::NotFound);
    assert_eq!(message, format!("file {} not found", fixture.file_id));

    let pending = EncryptedFile::new(&plaintext(1000));
    let pending_id = common::create_upload(&mut fixture.alice, &pending, "bob").await;
    let (_, mut body) = link_request(&fixture, 3600, 1, None);
    *body.pointer_mut("/request/file_id").unwrap() = json!(pending_id);
    let reply = fixture.alice.call("create_link", body).await;
    let message = reply.assert_error(409, ErrorCode::Conflict);
    assert!(message.contains("still uploading"), "{message}");
    assert_eq!(fixture.server.store.link_rows().await.unwrap(), (0, 0));

    let link = make_link(&mut fixture, 1, None).await;
    assert!(links(&mut carol).await.is_empty());
    let reply = carol
        .call("revoke_link", json!({ "link_id": link.id }))
        .await;
    let message = reply.assert_error(404, ErrorCode::NotFound);
    assert_eq!(message, format!("link {} not found", link.id));
}

#[tokio::test]
async fn bad_link_options_store_no_upload() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let before = fixture.server.store.file_count().await.unwrap();
    let file = EncryptedFile::new(&plaintext(1000));
    let mut body = file.create_request("bob");
    body["request"]["link"] = json!({
        "expires_in_secs": 60,
        "download_limit": 1,
        "password": null,
    });
    let reply = fixture.alice.call("create_upload", body.clone()).await;
    let message = reply.assert_error(400, ErrorCode::InvalidInput);
    assert!(message.contains("link lifetime of 60 s"), "{message}");
    assert_eq!(fixture.server.store.file_count().await.unwrap(), before);

    body["request"]["link"]["expires_in_secs"] = json!(600);
    fixture.alice.call("create_upload", body).await.assert_ok();
}

#[tokio::test]
async fn deleting_file_ends_its_links() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 5, None).await;
    let mut client = fixture.server.client();
    let ticket = download(&mut client, &link, 1).await.unwrap();
    let body = json!({ "file_id": fixture.file_id });
    fixture.alice.call("delete_file", body).await.assert_ok();

    assert_eq!(fixture.server.store.link_rows().await.unwrap(), (0, 0));
    assert!(links(&mut fixture.alice).await.is_empty());
    assert_dead(&get_part(&mut client, &link.id, 0, &ticket).await);
    assert_dead(
        &client
            .call("open_link", json!({ "link_id": link.id }))
            .await,
    );
}

#[tokio::test]
async fn sweep_deletes_long_dead_links() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let revoked = make_link(&mut fixture, 5, None).await;
    let (_, longest) = link_request(&fixture, 30 * 24 * 3600, 5, None);
    fixture.alice.call("create_link", longest).await.assert_ok();
    let body = json!({ "link_id": revoked.id });
    fixture.alice.call("revoke_link", body).await.assert_ok();

    fixture
        .server
        .clock
        .advance(Duration::from_secs(30 * 24 * 3600));
    assert_eq!(fixture.server.store.sweep_links().await.unwrap().links, 0);
    fixture.server.clock.advance(Duration::from_secs(3600 + 1));
    assert_eq!(fixture.server.store.sweep_links().await.unwrap().links, 1);
    // Alice's session ended with the month that passed, so the store is asked directly.
    let store = &fixture.server.store;
    let alice = store.find_account("alice".into()).await.unwrap().unwrap();
    assert_eq!(store.list_links(alice.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn share_page_counts_nothing() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let site = fixture.server.config.site_dir.clone();
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "<html>app</html>").unwrap();
    let link = make_link(&mut fixture, 1, None).await;

    let mut client = fixture.server.client();
    for _ in 0..3 {
        let request = Request::builder()
            .uri(format!("/s/{}", link.id))
            .body(Body::empty())
            .unwrap();
        let reply = client.send(request).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body.as_ref(), b"<html>app</html>");
    }
    let entries = links(&mut fixture.alice).await;
    assert_eq!(entries[0]["downloads_used"], 0);
    assert_eq!(entries[0]["state"], "active");
}

#[tokio::test]
async fn last_part_starts_are_capped() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 5, None).await;
    let mut client = fixture.server.client();
    let ticket = download(&mut client, &link, 2).await.unwrap();
    for retry in 2..=3 {
        let reply = get_part(&mut client, &link.id, 1, &ticket).await;
        assert_eq!(reply.status, StatusCode::OK, "start {retry}");
    }
    let message = get_part(&mut client, &link.id, 1, &ticket)
        .await
        .assert_error(409, ErrorCode::Conflict);
    assert_eq!(
        message,
        "the last part of this download was already sent 3 times; open the link again to \
         start a new download"
    );
    wait_for_counts(&mut fixture.alice, 0, 1).await;

    // After the confirm the same ticket needs a new reservation, which counts again.
    confirm(&mut client, &ticket).await.assert_ok();
    wait_for_counts(&mut fixture.alice, 1, 0).await;
    get_part(&mut client, &link.id, 1, &ticket)
        .await
        .assert_ok();
    wait_for_counts(&mut fixture.alice, 1, 1).await;
}

/// Starts a last-part response of `ticket` in process and reads its first piece.
/// Gives a request sent in process the peer address that a TCP connection would.
fn with_peer(mut request: Request<Body>) -> Request<Body> {
    let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 40000));
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    request
}

async fn start_last_part(fixture: &Fixture, link: &TestLink, ticket: &str) -> Body {
    let response = fixture
        .server
        .app
        .clone()
        .oneshot(with_peer(part_request(&link.id, 1, ticket)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(first.len() < fixture.file.parts[1].len());
    body
}

#[tokio::test]
async fn dropped_twin_response_keeps_delivery() {
    let mut fixture = fixture(LONG_LAST_PART_LEN).await;
    let link = make_link(&mut fixture, 2, None).await;
    let mut client = fixture.server.client();
    let ticket = download(&mut client, &link, 1).await.unwrap();

    let dropped = start_last_part(&fixture, &link, &ticket).await;
    let finished = start_last_part(&fixture, &link, &ticket).await;
    drop(dropped);
    finished.collect().await.unwrap();
    wait_for_counts(&mut fixture.alice, 0, 1).await;

    fixture
        .server
        .clock
        .advance(Duration::from_secs(10 * 60 + 1));
    wait_for_counts(&mut fixture.alice, 1, 0).await;
}

#[tokio::test]
async fn slow_last_part_is_cut_at_expiry() {
    let mut fixture = fixture(LONG_LAST_PART_LEN).await;
    let link = make_link(&mut fixture, 1, None).await;
    let mut client = fixture.server.client();
    let ticket = download(&mut client, &link, 1).await.unwrap();

    let stalled = start_last_part(&fixture, &link, &ticket).await;
    fixture
        .server
        .clock
        .advance(Duration::from_secs(10 * 60 + 1));
    fixture.server.store.sweep_links().await.unwrap();
    // The slot stays taken while the response is in flight.
    wait_for_counts(&mut fixture.alice, 0, 1).await;
    let mut other = fixture.server.client();
    assert_dead(&download(&mut other, &link, 2).await.unwrap_err());

    assert!(
        stalled.collect().await.is_err(),
        "the stalled body completed"
    );
    wait_for_counts(&mut fixture.alice, 0, 0).await;
    let ticket = download(&mut other, &link, 2).await.unwrap();
    confirm(&mut other, &ticket).await.assert_ok();
    wait_for_counts(&mut fixture.alice, 1, 0).await;
}

#[tokio::test]
async fn stalled_last_part_frees_slot_after_grace() {
    let mut fixture = fixture(LONG_LAST_PART_LEN).await;
    let link = make_link(&mut fixture, 1, None).await;
    let mut client = fixture.server.client();
    let ticket = download(&mut client, &link, 1).await.unwrap();
    let expires_at = fixture.server.clock.now_ms() + 10 * 60 * 1000;

    // This body is never polled again until the end of the test.
    let stalled = start_last_part(&fixture, &link, &ticket).await;
    fixture.server.clock.set_ms(expires_at + 59_000);
    fixture.server.store.sweep_links().await.unwrap();
    wait_for_counts(&mut fixture.alice, 0, 1).await;
    let mut other = fixture.server.client();
    assert_dead(&download(&mut other, &link, 2).await.unwrap_err());

    fixture.server.clock.set_ms(expires_at + 60_000);
    wait_for_counts(&mut fixture.alice, 0, 0).await;
    let other_ticket = download(&mut other, &link, 2).await.unwrap();
    wait_for_counts(&mut fixture.alice, 0, 1).await;

    // The stalled body hands out nothing more, and its end leaves the new
    // reservation alone.
    assert!(
        stalled.collect().await.is_err(),
        "the stalled body completed"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    wait_for_counts(&mut fixture.alice, 0, 1).await;
    confirm(&mut other, &other_ticket).await.assert_ok();
    wait_for_counts(&mut fixture.alice, 1, 0).await;
    assert_dead(&download(&mut client, &link, 2).await.unwrap_err());
}

#[tokio::test]
async fn old_generation_drop_keeps_new_reservation() {
    let mut fixture = fixture(LONG_LAST_PART_LEN).await;
    let link = make_link(&mut fixture, 5, None).await;
    let mut client = fixture.server.client();
    let ticket = download(&mut client, &link, 1).await.unwrap();

    let first = start_last_part(&fixture, &link, &ticket).await;
    confirm(&mut client, &ticket).await.assert_ok();
    let second = start_last_part(&fixture, &link, &ticket).await;
    wait_for_counts(&mut fixture.alice, 1, 1).await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    wait_for_counts(&mut fixture.alice, 1, 1).await;

    second.collect().await.unwrap();
    wait_for_counts(&mut fixture.alice, 1, 1).await;
    confirm(&mut client, &ticket).await.assert_ok();
    wait_for_counts(&mut fixture.alice, 2, 0).await;
}

/// Counts a last-part reply that carries the whole part.
fn is_full(reply: &Reply, fixture: &Fixture) -> bool {
    reply.status == StatusCode::OK && reply.body.len() == fixture.file.parts[1].len()
}

#[tokio::test]
async fn held_responses_never_exceed_three_copies_per_use() {
    let mut fixture = fixture(LONG_LAST_PART_LEN).await;
    let link = make_link(&mut fixture, 2, None).await;
    let mut client = fixture.server.client();
    let mut full = 0;
    let first = download(&mut client, &link, 1).await.unwrap();
    for _ in 0..3 {
        let reply = get_part(&mut client, &link.id, 1, &first).await;
        full += usize::from(is_full(&reply, &fixture));
    }
    confirm(&mut client, &first).await.assert_ok();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(start_last_part(&fixture, &link, &first).await);
    }
    fixture.server.clock.advance(Duration::from_secs(620));

    let mut other = fixture.server.client();
    assert_dead(&download(&mut other, &link, 2).await.unwrap_err());
    for body in held {
        let copy = body.collect().await;
        full += usize::from(copy.is_ok_and(|copy| !copy.to_bytes().is_empty()));
    }
    wait_for_counts(&mut fixture.alice, 1, 0).await;
    let second = download(&mut other, &link, 1).await.unwrap();
    for _ in 0..3 {
        let reply = get_part(&mut other, &link.id, 1, &second).await;
        full += usize::from(is_full(&reply, &fixture));
    }
    confirm(&mut other, &second).await.assert_ok();
    assert!(full <= 6, "{full} full copies on a limit-2 link");
    wait_for_counts(&mut fixture.alice, 2, 0).await;
    assert_dead(&unlock(&mut other, &link.id, &link.gate_key, &link.access_key).await);
}

#[tokio::test]
async fn database_stores_no_raw_ticket() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let link = make_link(&mut fixture, 5, None).await;
    let mut client = fixture.server.client();
    let ticket = download(&mut client, &link, 2).await.unwrap();

    let raw =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &ticket).unwrap();
    let file = std::fs::read(fixture.server.store.path()).unwrap();
    let found = file
        .windows(raw.len())
        .any(|window| window == raw.as_slice());
    assert!(!found, "the database file contains the raw ticket");
    get_part(&mut client, &link.id, 0, &ticket)
        .await
        .assert_ok();
}

#[tokio::test]
async fn old_ticket_misses_reused_link_id() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let id_bytes: [u8; 16] = rand_bytes();
    let (link, body) = link_request_with_id(&fixture, id_bytes, 3600, 5, None);
    fixture.alice.call("create_link", body).await.assert_ok();
    let mut client = fixture.server.client();
    let ticket = download(&mut client, &link, 1).await.unwrap();
    let body = json!({ "file_id": fixture.file_id });
    fixture.alice.call("delete_file", body).await.assert_ok();

    // Another sender makes a link with the same id on another file.
    let (dave, _) = register(&fixture.server, "dave").await;
    let (carol_user, mut carol) = register(&fixture.server, "carol").await;
    fixture.file_id = send_file(&mut carol, &carol_user, &dave, &fixture.file).await;
    let (_, body) = link_request_with_id(&fixture, id_bytes, 3600, 5, None);
    carol.call("create_link", body).await.assert_ok();

    assert_dead(&get_part(&mut client, &link.id, 0, &ticket).await);
    assert_dead(&get_part(&mut client, &link.id, 1, &ticket).await);
    assert_dead(&confirm(&mut client, &ticket).await);
}

#[tokio::test]
async fn live_tickets_per_link_are_capped() {
    let mut fixture = fixture(TWO_PART_LEN).await;
    let (link, body) = link_request(&fixture, 2 * 24 * 3600, 5, None);
    fixture.alice.call("create_link", body).await.assert_ok();
    let mut client = fixture.server.client();
    let mut first = None;
    for attempt in 0..200 {
        let reply = unlock(&mut client, &link.id, &link.gate_key, &link.access_key).await;
        assert!(
            reply.status.is_success(),
            "unlock {attempt}: {:?}",
            reply.body
        );
        first.get_or_insert_with(|| reply.json()["ticket"].as_str().unwrap().to_owned());
    }
    let refused = unlock(&mut client, &link.id, &link.gate_key, &link.access_key).await;
    let message = refused.assert_error(429, ErrorCode::TooManyRequests);
    assert_eq!(
        message,
        "this link has 200 downloads open; try again in about 30 minutes"
    );
    assert_eq!(refused.error().retry_after_secs, Some(30 * 60));
    assert_eq!(refused.headers[header::RETRY_AFTER], "1800");

    // A ticket in use stays; the idle ones expire and free the cap.
    let first = first.unwrap();
    fixture.server.clock.advance(Duration::from_secs(20 * 60));
    get_part(&mut client, &link.id, 0, &first).await.assert_ok();
    fixture.server.clock.advance(Duration::from_secs(10 * 60));
    unlock(&mut client, &link.id, &link.gate_key, &link.access_key)
        .await
        .assert_ok();
    get_part(&mut client, &link.id, 0, &first).await.assert_ok();
}
