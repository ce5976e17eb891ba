//! Resumable uploads: the sender's resume key, the list of pending uploads with their
//! stored parts, the status of one upload, and the download of a pending upload's parts
//! by its sender. One test kills the real server binary with SIGKILL in the middle of an
//! upload and resumes the upload on the restarted server.

#![allow(clippy::unwrap_used)]

mod common;
mod process;

use std::time::Duration;

use axum::http::StatusCode;
use common::{
    Client, EncryptedFile, TestServer, User, b64, create_upload, plaintext, register, unb64,
};
use dtc_app::api::ErrorCode;
use dtc_crypto::exchange::{SealedFileKey, open_file_key};
use dtc_server::store::{Clock, FileId, FileRows};
use dtc_server::sweep::{UPLOAD_LIFETIME, sweep_once};
use process::{RemoteClient, ServerProcess};
use serde_json::{Value, json};

/// Plaintext bytes of one full upload part: 256 chunks of 16 KiB.
const PART_PLAINTEXT: usize = 256 * 16 * 1024;

/// Plaintext of five parts: four full ones and a short fifth.
const FIVE_PART_LEN: usize = 4 * PART_PLAINTEXT + 1000;

/// The parts stored before the interruption in most tests: runs `0..2` and `3..4`.
const FIRST_PARTS: [u32; 3] = [0, 1, 3];

/// Builds a `save_upload_key` body with the file key sealed to `owner` itself.
fn save_key_request(file: &EncryptedFile, file_id: &str, owner: &User) -> Value {
    let record = file.key_record(file_id, owner, owner);
    json!({ "request": {
        "file_id": file_id,
        "enc": record["enc"],
        "sealed_key": record["sealed_key"],
    }})
}

/// Saves the resume key of `file_id` sealed to `owner`, the account of `client`.
async fn save_key(client: &mut Client, file: &EncryptedFile, file_id: &str, owner: &User) {
    let reply = client
        .call("save_upload_key", save_key_request(file, file_id, owner))
        .await;
    reply.assert_ok();
}

fn runs(pairs: &[(u32, u32)]) -> Value {
    let runs: Vec<Value> = pairs
        .iter()
        .map(|(start, end)| json!({ "start": start, "end": end }))
        .collect();
    Value::Array(runs)
}

/// Opens the resume key of a listed upload with the owner's identity.
fn open_resume_key(entry: &Value, owner: &User) -> [u8; 32] {
    let sealed =
        SealedFileKey::from_parts(&unb64(&entry["enc"]), &unb64(&entry["sealed_key"])).unwrap();
    let id: FileId = entry["file_id"].as_str().unwrap().parse().unwrap();
    let key = open_file_key(&owner.identity, &owner.public_key, &id.0, &sealed).unwrap();
    *key.expose_secret_bytes()
}

async fn put_parts(client: &mut Client, file: &EncryptedFile, file_id: &str, indexes: &[u32]) {
    for &index in indexes {
        let part = file.parts[index as usize].clone();
        let reply = client.put_part(file_id, index, part).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "part {index}");
    }
}

async fn pending_list(client: &mut Client) -> Vec<Value> {
    let reply = client.call("pending_uploads", json!({})).await;
    reply.assert_ok();
    reply.json().as_array().unwrap().clone()
}

/// A server over TCP on 127.0.0.1 with alice and bob registered, and an upload of five
/// parts from alice to bob with [`FIRST_PARTS`] stored.
struct Interrupted {
    server: TestServer,
    alice: User,
    alice_client: Client,
    bob: User,
    bob_client: Client,
    file: EncryptedFile,
    file_id: String,
}

async fn interrupted_upload() -> Interrupted {
    let mut server = TestServer::start().await;
    server.listen().await;
    let (bob, bob_client) = register(&server, "bob").await;
    let (alice, mut alice_client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(FIVE_PART_LEN));
    assert_eq!(file.parts.len(), 5);
    let file_id = create_upload(&mut alice_client, &file, "bob").await;
    put_parts(&mut alice_client, &file, &file_id, &FIRST_PARTS).await;
    Interrupted {
        server,
        alice,
        alice_client,
        bob,
        bob_client,
        file,
        file_id,
    }
}

#[tokio::test]
async fn pending_upload_lists_stored_runs() {
    let Interrupted {
        alice,
        alice_client: mut client,
        file,
        file_id,
        ..
    } = interrupted_upload().await;
    let without_key = EncryptedFile::new(&plaintext(100));
    create_upload(&mut client, &without_key, "bob").await;
    assert_eq!(pending_list(&mut client).await, Vec::<Value>::new());

    save_key(&mut client, &file, &file_id, &alice).await;
    let listed = pending_list(&mut client).await;
    assert_eq!(listed.len(), 1, "only the upload with a key: {listed:?}");
    let entry = &listed[0];
    assert_eq!(entry["file_id"], file_id.as_str());
    assert_eq!(entry["recipient"], "bob");
    assert_eq!(entry["ciphertext_len"], file.ciphertext_len());
    assert_eq!(entry["part_count"], 5);
    assert_eq!(unb64(&entry["metadata"]), file.metadata);
    assert_eq!(entry["stored_parts"], runs(&[(0, 2), (3, 4)]));
    let created = entry["created_at_ms"].as_i64().unwrap();
    assert!(created > 0, "{entry}");
    let lifetime_ms = UPLOAD_LIFETIME.as_millis() as i64;
    assert_eq!(
        entry["expires_at_ms"].as_i64().unwrap(),
        created + lifetime_ms
    );
    assert_eq!(
        &open_resume_key(entry, &alice),
        file.key.expose_secret_bytes()
    );

    let status = client
        .call("upload_status", json!({ "file_id": file_id }))
        .await;
    status.assert_ok();
    assert_eq!(
        status.json(),
        json!({ "part_count": 5, "stored_parts": runs(&[(0, 2), (3, 4)]) })
    );
}

#[tokio::test]
async fn saving_key_again_replaces_it() {
    let Interrupted {
        alice,
        alice_client: mut client,
        file,
        file_id,
        ..
    } = interrupted_upload().await;
    let first = save_key_request(&file, &file_id, &alice);
    let second = save_key_request(&file, &file_id, &alice);
    assert_ne!(first["request"]["enc"], second["request"]["enc"]);

    client.call("save_upload_key", first).await.assert_ok();
    client
        .call("save_upload_key", second.clone())
        .await
        .assert_ok();
    let listed = pending_list(&mut client).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["enc"], second["request"]["enc"]);
    assert_eq!(listed[0]["sealed_key"], second["request"]["sealed_key"]);
}

#[tokio::test]
async fn pending_list_is_newest_first() {
    let mut server = TestServer::start().await;
    server.listen().await;
    register(&server, "bob").await;
    let (alice, mut client) = register(&server, "alice").await;
    let mut ids = Vec::new();
    for len in [10, 20, 30] {
        let file = EncryptedFile::new(&plaintext(len));
        let file_id = create_upload(&mut client, &file, "bob").await;
        save_key(&mut client, &file, &file_id, &alice).await;
        ids.push(file_id);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let listed: Vec<String> = pending_list(&mut client)
        .await
        .iter()
        .map(|entry| entry["file_id"].as_str().unwrap().to_owned())
        .collect();
    let newest_first: Vec<String> = ids.into_iter().rev().collect();
    assert_eq!(listed, newest_first);
}

#[tokio::test]
async fn pending_part_served_to_owner_only() {
    let Interrupted {
        server,
        mut alice_client,
        mut bob_client,
        file,
        file_id,
        ..
    } = interrupted_upload().await;
    let (_, mut carol) = register(&server, "carol").await;

    let own = alice_client.get_part(&file_id, 0).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.body.to_vec(), file.parts[0]);
    let third = alice_client.get_part(&file_id, 3).await;
    assert_eq!(third.body.to_vec(), file.parts[3]);

    let missing_id = "00".repeat(16);
    let for_missing = carol.get_part(&missing_id, 0).await;
    let missing_message = for_missing.assert_error(404, ErrorCode::NotFound);
    let expected = missing_message.replace(&missing_id, &file_id);
    for (who, client) in [("recipient", &mut bob_client), ("stranger", &mut carol)] {
        let reply = client.get_part(&file_id, 0).await;
        let message = reply.assert_error(404, ErrorCode::NotFound);
        assert_eq!(message, expected, "{who}");
    }

    let not_sent = alice_client.get_part(&file_id, 2).await;
    let message = not_sent.assert_error(404, ErrorCode::NotFound);
    assert!(message.contains("part 2"), "{message}");
    assert!(message.contains("not stored"), "{message}");
    let out_of_range = alice_client.get_part(&file_id, 5).await;
    out_of_range.assert_error(400, ErrorCode::InvalidInput);
}

#[tokio::test]
async fn finish_removes_resume_key() {
    let Interrupted {
        server,
        alice,
        alice_client: mut client,
        bob,
        mut bob_client,
        file,
        file_id,
    } = interrupted_upload().await;
    save_key(&mut client, &file, &file_id, &alice).await;
    put_parts(&mut client, &file, &file_id, &[2, 4]).await;
    client
        .call("finish_upload", file.finish_request(&file_id, &alice, &bob))
        .await
        .assert_ok();

    assert_eq!(pending_list(&mut client).await, Vec::<Value>::new());
    let id: FileId = file_id.parse().unwrap();
    let stored = server.store.find_file(id).await.unwrap().unwrap();
    assert_eq!(stored.resume_key, None);
    let rows = server.store.file_rows(id).await.unwrap();
    assert_eq!(rows.upload_parts, 0);
    assert_eq!(rows.parts, 5);

    let status = client
        .call("upload_status", json!({ "file_id": file_id }))
        .await;
    status.assert_error(409, ErrorCode::Conflict);
    let save = client
        .call("save_upload_key", save_key_request(&file, &file_id, &alice))
        .await;
    save.assert_error(409, ErrorCode::Conflict);
    let downloaded = bob_client.get_part(&file_id, 4).await;
    assert_eq!(downloaded.body.to_vec(), file.parts[4]);
}

#[tokio::test]
async fn resume_key_lengths_are_checked() {
    let server = TestServer::start().await;
    register(&server, "bob").await;
    let (alice, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(100));
    let file_id = create_upload(&mut client, &file, "bob").await;
    let valid = save_key_request(&file, &file_id, &alice);
    let mut off_curve = vec![0x04];
    off_curve.extend([0x01; 64]);

    let cases: [(&str, &str, Vec<u8>, &str); 5] = [
        ("short enc", "enc", vec![4; 64], "expected 65"),
        ("long enc", "enc", vec![4; 66], "expected 65"),
        ("empty enc", "enc", vec![], "expected 65"),
        ("short sealed key", "sealed_key", vec![0; 47], "expected 48"),
        ("long sealed key", "sealed_key", vec![0; 49], "expected 48"),
    ];
    for (case, field, value, expected) in cases {
        let mut body = valid.clone();
        body["request"][field] = json!(b64(&value));
        let reply = client.call("save_upload_key", body).await;
        let message = reply.assert_error(400, ErrorCode::InvalidInput);
        assert!(message.starts_with(field), "{case}: {message}");
        assert!(message.contains(expected), "{case}: {message}");
    }
    let mut body = valid.clone();
    body["request"]["enc"] = json!(b64(&off_curve));
    let reply = client.call("save_upload_key", body).await;
    let message = reply.assert_error(400, ErrorCode::InvalidInput);
    assert!(message.contains("enc"), "{message}");

    let mut missing_field = valid.clone();
    missing_field["request"]
        .as_object_mut()
        .unwrap()
        .remove("sealed_key");
    let reply = client.call("save_upload_key", missing_field).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    let mut not_base64 = valid.clone();
    not_base64["request"]["enc"] = json!("***");
    let reply = client.call("save_upload_key", not_base64).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    for bad_id in ["xyz", "AB".repeat(16).as_str()] {
        let mut body = valid.clone();
        body["request"]["file_id"] = json!(bad_id);
        let reply = client.call("save_upload_key", body).await;
        let message = reply.assert_error(400, ErrorCode::InvalidInput);
        assert!(message.contains(bad_id), "{message}");
        let status = client
            .call("upload_status", json!({ "file_id": bad_id }))
            .await;
        status.assert_error(400, ErrorCode::InvalidInput);
    }

    let id: FileId = file_id.parse().unwrap();
    let stored = server.store.find_file(id).await.unwrap().unwrap();
    assert_eq!(stored.resume_key, None, "no rejected key is stored");
    client.call("save_upload_key", valid).await.assert_ok();
}

#[tokio::test]
async fn other_accounts_cannot_use_upload() {
    let Interrupted {
        server,
        alice,
        mut alice_client,
        bob,
        mut bob_client,
        file,
        file_id,
    } = interrupted_upload().await;
    let (carol, mut carol_client) = register(&server, "carol").await;
    save_key(&mut alice_client, &file, &file_id, &alice).await;

    let missing_id = "00".repeat(16);
    let for_missing = carol_client
        .call("upload_status", json!({ "file_id": missing_id }))
        .await
        .assert_error(404, ErrorCode::NotFound);
    let expected = for_missing.replace(&missing_id, &file_id);
    for (who, client, user) in [
        ("recipient", &mut bob_client, &bob),
        ("stranger", &mut carol_client, &carol),
    ] {
        let save = client
            .call("save_upload_key", save_key_request(&file, &file_id, user))
            .await;
        assert_eq!(
            save.assert_error(404, ErrorCode::NotFound),
            expected,
            "{who}"
        );
        let status = client
            .call("upload_status", json!({ "file_id": file_id }))
            .await;
        assert_eq!(
            status.assert_error(404, ErrorCode::NotFound),
            expected,
            "{who}"
        );
        assert_eq!(pending_list(client).await, Vec::<Value>::new(), "{who}");
    }

    let listed = pending_list(&mut alice_client).await;
    assert_eq!(
        &open_resume_key(&listed[0], &alice),
        file.key.expose_secret_bytes(),
        "the owner's key is unchanged"
    );

    let mut anonymous = server.client();
    for (name, body) in [
        ("pending_uploads", json!({})),
        ("upload_status", json!({ "file_id": file_id })),
        ("save_upload_key", save_key_request(&file, &file_id, &alice)),
    ] {
        let reply = anonymous.call(name, body).await;
        reply.assert_error(401, ErrorCode::NotSignedIn);
    }
}

#[tokio::test]
async fn deleting_pending_upload_frees_quota() {
    let Interrupted {
        server,
        alice,
        alice_client: mut client,
        file,
        file_id,
        ..
    } = interrupted_upload().await;
    save_key(&mut client, &file, &file_id, &alice).await;
    let before = client.call("usage", json!({})).await.json();
    assert_eq!(before["files_used"], 1);
    assert_eq!(
        before["bytes_used"],
        file.ciphertext_len() + file.metadata.len() as u64
    );

    client
        .call("delete_file", json!({ "file_id": file_id }))
        .await
        .assert_ok();
    let after = client.call("usage", json!({})).await.json();
    assert_eq!(after["files_used"], 0);
    assert_eq!(after["bytes_used"], 0);
    assert_eq!(pending_list(&mut client).await, Vec::<Value>::new());
    let rows = server.store.file_rows(file_id.parse().unwrap()).await;
    assert_eq!(rows.unwrap(), FileRows::default());
    let status = client
        .call("upload_status", json!({ "file_id": file_id }))
        .await;
    status.assert_error(404, ErrorCode::NotFound);
}

#[tokio::test]
async fn stale_pending_upload_is_hidden_then_swept() {
    let server = TestServer::start_with_clock(Clock::manual(1_800_000_000_000)).await;
    register(&server, "bob").await;
    let (alice, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(100));
    let file_id = create_upload(&mut client, &file, "bob").await;
    put_parts(&mut client, &file, &file_id, &[0]).await;
    save_key(&mut client, &file, &file_id, &alice).await;

    server.clock.advance(UPLOAD_LIFETIME);
    assert_eq!(pending_list(&mut client).await.len(), 1, "not past expiry");
    server.clock.advance(Duration::from_millis(1));
    assert_eq!(pending_list(&mut client).await, Vec::<Value>::new());

    let report = sweep_once(&server.store).await;
    assert_eq!(
        report.stale_uploads,
        vec![file_id.parse::<FileId>().unwrap()]
    );
    let rows = server.store.file_rows(file_id.parse().unwrap()).await;
    assert_eq!(rows.unwrap(), FileRows::default());
}

#[tokio::test]
async fn database_without_part_index_is_indexed() {
    let server = TestServer::start().await;
    register(&server, "bob").await;
    let (alice, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(FIVE_PART_LEN));
    let file_id = create_upload(&mut client, &file, "bob").await;
    put_parts(&mut client, &file, &file_id, &FIRST_PARTS).await;
    save_key(&mut client, &file, &file_id, &alice).await;
    drop(client);

    // A database of the release before the index has every other table.
    let server = server
        .restart_after(|path| {
            let db = redb::Database::create(path).unwrap();
            let txn = db.begin_write().unwrap();
            let index: redb::TableDefinition<([u8; 16], u32), ()> =
                redb::TableDefinition::new("upload_parts");
            assert!(txn.delete_table(index).unwrap());
            txn.commit().unwrap();
        })
        .await;

    let mut client = server.client();
    let login = json!({ "request": {
        "username": "alice",
        "login_key": b64(&alice.login_key),
    }});
    client.call("login", login).await.assert_ok();
    let status = client
        .call("upload_status", json!({ "file_id": file_id }))
        .await;
    status.assert_ok();
    assert_eq!(status.json()["stored_parts"], runs(&[(0, 2), (3, 4)]));
}

// The sigkill test talks to a server in another process, so it has its own helpers on
// `RemoteClient`.

async fn remote_ok(client: &mut RemoteClient, name: &str, body: Value) -> Value {
    let reply = client.call(name, body).await.unwrap();
    reply.assert_ok();
    if reply.body.is_empty() {
        Value::Null
    } else {
        reply.json()
    }
}

async fn remote_put(client: &mut RemoteClient, file: &EncryptedFile, file_id: &str, index: u32) {
    let part = file.parts[index as usize].clone();
    let reply = client.put_part(file_id, index, part).await.unwrap();
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "part {index}");
}

/// Returns the part indexes of `part_count` that the runs of `stored` leave out.
fn missing_parts(stored: &Value, part_count: u32) -> Vec<u32> {
    let stored: Vec<(u32, u32)> = stored
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            let start = run["start"].as_u64().unwrap() as u32;
            let end = run["end"].as_u64().unwrap() as u32;
            (start, end)
        })
        .collect();
    (0..part_count)
        .filter(|index| {
            !stored
                .iter()
                .any(|(start, end)| start <= index && index < end)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_resumes_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let log = dir.path().join("server.log");
    let mut server = ServerProcess::start(&data_dir, &log, &[]).await;
    let (alice, mut alice_client) = process::register(server.addr, "alice").await;
    let (bob, mut bob_client) = process::register(server.addr, "bob").await;
    let original = plaintext(FIVE_PART_LEN);
    let file = EncryptedFile::new(&original);
    let created = remote_ok(
        &mut alice_client,
        "create_upload",
        file.create_request("bob"),
    )
    .await;
    let file_id = created["file_id"].as_str().unwrap().to_owned();
    for index in FIRST_PARTS {
        remote_put(&mut alice_client, &file, &file_id, index).await;
    }
    let key_request = save_key_request(&file, &file_id, &alice);
    remote_ok(&mut alice_client, "save_upload_key", key_request.clone()).await;

    // Part 2 is on its way when the process dies, so it may or may not be stored.
    let mut in_flight_client = alice_client.clone();
    let in_flight_part = file.parts[2].clone();
    let in_flight_id = file_id.clone();
    let in_flight = tokio::spawn(async move {
        in_flight_client
            .put_part(&in_flight_id, 2, in_flight_part)
            .await
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    server.kill();
    let _ = in_flight.await.unwrap();

    let server = ServerProcess::start(&data_dir, &log, &[]).await;
    alice_client.addr = server.addr;
    bob_client.addr = server.addr;
    let listed = remote_ok(&mut alice_client, "pending_uploads", json!({})).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let entry = &listed[0];
    assert_eq!(entry["file_id"], file_id.as_str());
    assert_eq!(entry["recipient"], "bob");
    assert_eq!(entry["part_count"], 5);
    assert_eq!(entry["enc"], key_request["request"]["enc"]);
    assert_eq!(entry["sealed_key"], key_request["request"]["sealed_key"]);
    assert_eq!(
        &open_resume_key(entry, &alice),
        file.key.expose_secret_bytes()
    );
    let stored = &entry["stored_parts"];
    let before_kill = runs(&[(0, 2), (3, 4)]);
    let with_in_flight = runs(&[(0, 4)]);
    assert!(
        *stored == before_kill || *stored == with_in_flight,
        "stored parts {stored}"
    );
    let status = remote_ok(
        &mut alice_client,
        "upload_status",
        json!({ "file_id": file_id }),
    )
    .await;
    assert_eq!(status["stored_parts"], *stored);

    // The page checks the file picked again against the stored part 0.
    let first = alice_client.get_part(&file_id, 0).await.unwrap();
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body.to_vec(), file.parts[0]);

    for index in missing_parts(stored, 5) {
        remote_put(&mut alice_client, &file, &file_id, index).await;
    }
    let finish = file.finish_request(&file_id, &alice, &bob);
    remote_ok(&mut alice_client, "finish_upload", finish).await;
    let listed = remote_ok(&mut alice_client, "pending_uploads", json!({})).await;
    assert_eq!(listed, json!([]));

    let mut downloaded = Vec::new();
    for (index, expected) in file.parts.iter().enumerate() {
        let reply = bob_client.get_part(&file_id, index as u32).await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "part {index}");
        assert_eq!(&reply.body.to_vec(), expected, "part {index}");
        downloaded.push(reply.body.to_vec());
    }
    assert_eq!(file.decrypt(&downloaded), original);
}
