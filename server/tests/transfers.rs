//! Transfer ids: the optional id that groups the files of one send in the inbox, the
//! sent list and the list of pending uploads, its form check, and its storage across
//! a restart.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Client, EncryptedFile, TestServer, User, plaintext, register};
use dtc_app::api::ErrorCode;
use dtc_server::store::FileId;
use serde_json::{Value, json};

/// A well-formed transfer id.
const TRANSFER: &str = "0123456789abcdef0123456789abcdef";

/// A second well-formed transfer id.
const OTHER_TRANSFER: &str = "fedcba9876543210fedcba9876543210";

/// Builds a `create_upload` body for `file` with `transfer`, or without the field.
fn create_request(file: &EncryptedFile, recipient: &str, transfer: Option<&str>) -> Value {
    let mut body = file.create_request(recipient);
    if let Some(transfer) = transfer {
        body["request"]["transfer"] = json!(transfer);
    }
    body
}

/// Creates an upload, stores every part, finishes it and returns the file id.
async fn send_in_transfer(
    client: &mut Client,
    sender: &User,
    recipient: &User,
    transfer: Option<&str>,
) -> String {
    let file = EncryptedFile::new(&plaintext(100));
    let reply = client
        .call(
            "create_upload",
            create_request(&file, &recipient.username, transfer),
        )
        .await;
    reply.assert_ok();
    let file_id = reply.json()["file_id"].as_str().unwrap().to_owned();
    client
        .put_part(&file_id, 0, file.parts[0].clone())
        .await
        .assert_ok();
    let finished = client
        .call(
            "finish_upload",
            file.finish_request(&file_id, sender, recipient),
        )
        .await;
    finished.assert_ok();
    assert_eq!(
        finished.json()["transfer"],
        json!(transfer),
        "finish_upload of {file_id}"
    );
    file_id
}

/// Returns the transfer field of every entry of a list, by file id.
async fn transfers_in(client: &mut Client, list: &str) -> Vec<(String, Value)> {
    let reply = client.call(list, json!({})).await;
    reply.assert_ok();
    let entries = reply.json().as_array().unwrap().clone();
    let mut transfers: Vec<(String, Value)> = entries
        .iter()
        .map(|entry| {
            let file_id = entry["file_id"].as_str().unwrap().to_owned();
            (file_id, entry["transfer"].clone())
        })
        .collect();
    transfers.sort_by(|a, b| a.0.cmp(&b.0));
    transfers
}

/// Builds the expected `(file id, transfer)` pairs, in the order of [`transfers_in`].
fn expected(pairs: &[(&String, Option<&str>)]) -> Vec<(String, Value)> {
    let mut pairs: Vec<(String, Value)> = pairs
        .iter()
        .map(|(file_id, transfer)| ((*file_id).clone(), json!(transfer)))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

#[tokio::test]
async fn transfer_groups_files_in_lists() {
    let mut server = TestServer::start().await;
    server.listen().await;
    let (bob, mut bob_client) = register(&server, "bob").await;
    let (alice, mut alice_client) = register(&server, "alice").await;

    let first = send_in_transfer(&mut alice_client, &alice, &bob, Some(TRANSFER)).await;
    let second = send_in_transfer(&mut alice_client, &alice, &bob, Some(TRANSFER)).await;
    let other = send_in_transfer(&mut alice_client, &alice, &bob, Some(OTHER_TRANSFER)).await;
    let alone = send_in_transfer(&mut alice_client, &alice, &bob, None).await;

    let want = expected(&[
        (&first, Some(TRANSFER)),
        (&second, Some(TRANSFER)),
        (&other, Some(OTHER_TRANSFER)),
        (&alone, None),
    ]);
    assert_eq!(transfers_in(&mut bob_client, "inbox").await, want, "inbox");
    assert_eq!(transfers_in(&mut alice_client, "sent").await, want, "sent");
}

#[tokio::test]
async fn transfer_survives_restart() {
    let mut server = TestServer::start().await;
    server.listen().await;
    let (bob, mut bob_client) = register(&server, "bob").await;
    let (alice, mut alice_client) = register(&server, "alice").await;
    let grouped = send_in_transfer(&mut alice_client, &alice, &bob, Some(TRANSFER)).await;
    let alone = send_in_transfer(&mut alice_client, &alice, &bob, None).await;

    // Clients hold the router and with it the database, so they go before the restart.
    // Sessions survive it, so new clients keep the cookies.
    let alice_cookie = alice_client.cookie.take();
    let bob_cookie = bob_client.cookie.take();
    drop((alice_client, bob_client));

    let mut server = server.restart().await;
    server.listen().await;
    let mut alice_after = server.client();
    alice_after.cookie = alice_cookie;
    let mut bob_after = server.client();
    bob_after.cookie = bob_cookie;

    let want = expected(&[(&grouped, Some(TRANSFER)), (&alone, None)]);
    assert_eq!(transfers_in(&mut alice_after, "sent").await, want, "sent");
    assert_eq!(transfers_in(&mut bob_after, "inbox").await, want, "inbox");
    let stored = server
        .store
        .find_file(grouped.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.transfer.unwrap().to_string(), TRANSFER);
}

#[tokio::test]
async fn pending_upload_lists_transfer() {
    let mut server = TestServer::start().await;
    server.listen().await;
    register(&server, "bob").await;
    let (alice, mut client) = register(&server, "alice").await;

    let mut file_ids = Vec::new();
    for transfer in [Some(TRANSFER), None] {
        let file = EncryptedFile::new(&plaintext(100));
        let reply = client
            .call("create_upload", create_request(&file, "bob", transfer))
            .await;
        reply.assert_ok();
        let file_id = reply.json()["file_id"].as_str().unwrap().to_owned();
        let record = file.key_record(&file_id, &alice, &alice);
        let save = json!({ "request": {
            "file_id": file_id,
            "enc": record["enc"],
            "sealed_key": record["sealed_key"],
        }});
        client.call("save_upload_key", save).await.assert_ok();
        file_ids.push(file_id);
    }

    let want = expected(&[(&file_ids[0], Some(TRANSFER)), (&file_ids[1], None)]);
    assert_eq!(transfers_in(&mut client, "pending_uploads").await, want);
}

#[tokio::test]
async fn malformed_transfer_is_rejected() {
    let mut server = TestServer::start().await;
    server.listen().await;
    register(&server, "bob").await;
    let (_, mut client) = register(&server, "alice").await;
    let usage_before = client.call("usage", json!({})).await.json();
    let files_before = server.store.file_count().await.unwrap();

    let short = &TRANSFER[..31];
    let long = format!("{TRANSFER}0");
    let upper = TRANSFER.to_uppercase();
    let non_hex = format!("{}g", &TRANSFER[..31]);
    let cases: [(&str, &str, &str); 5] = [
        ("31 digits", short, "has 31 characters"),
        ("33 digits", &long, "has 33 characters"),
        ("empty", "", "has 0 characters"),
        ("uppercase", &upper, "contains 'A'"),
        ("non-hex", &non_hex, "contains 'g'"),
    ];
    for (case, transfer, problem) in cases {
        let file = EncryptedFile::new(&plaintext(100));
        let reply = client
            .call(
                "create_upload",
                create_request(&file, "bob", Some(transfer)),
            )
            .await;
        let message = reply.assert_error(400, ErrorCode::InvalidInput);
        assert!(message.contains("transfer id"), "{case}: {message}");
        assert!(
            message.contains(&format!("{transfer:?}")),
            "{case}: {message}"
        );
        assert!(message.contains(problem), "{case}: {message}");
    }

    let usage_after = client.call("usage", json!({})).await.json();
    assert_eq!(usage_after, usage_before, "usage is unchanged");
    assert_eq!(
        server.store.file_count().await.unwrap(),
        files_before,
        "no file is stored"
    );
    let pending = client.call("pending_uploads", json!({})).await.json();
    assert_eq!(pending, json!([]), "no upload is pending");
}

#[tokio::test]
async fn null_transfer_is_none() {
    let mut server = TestServer::start().await;
    server.listen().await;
    register(&server, "bob").await;
    let (_, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(100));
    let mut body = file.create_request("bob");
    body["request"]["transfer"] = Value::Null;

    let reply = client.call("create_upload", body).await;
    reply.assert_ok();
    let file_id: FileId = reply.json()["file_id"].as_str().unwrap().parse().unwrap();
    let stored = server.store.find_file(file_id).await.unwrap().unwrap();
    assert_eq!(stored.transfer, None);
}
