//! Per-account quotas, the lifetime of finished files and the sweep that deletes
//! expired files and abandoned uploads, on a real redb file and a set clock.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{
    Client, EncryptedFile, TestServer, User, b64, create_upload, plaintext, register, send_file,
    share_link_request,
};
use dtc_app::api::{ApiError, ErrorCode};
use dtc_app::quota::human_size;
use dtc_server::config::Config;
use dtc_server::store::{Clock, EXPIRED_DELETED_PER_UPLOAD, FileId, FileRows};
use dtc_server::sweep::{UPLOAD_LIFETIME, sweep_once};
use serde_json::{Value, json};

const START_MS: i64 = 1_800_000_000_000;
const HOUR: Duration = Duration::from_secs(3600);

/// Plaintext length of one small file, which takes [`small_stored_len`] bytes.
const SMALL_LEN: usize = 1000;

/// The bytes one small file takes in the usage: its contents and its metadata.
fn small_stored_len() -> u64 {
    let file = EncryptedFile::new(&plaintext(SMALL_LEN));
    file.ciphertext_len() + file.metadata.len() as u64
}

async fn server_with(configure: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::start_with_config(Clock::manual(START_MS), configure).await
}

async fn usage(client: &mut Client) -> Value {
    let reply = client.call("usage", json!({})).await;
    reply.assert_ok();
    reply.json()
}

async fn list(client: &mut Client, name: &str) -> Vec<Value> {
    let reply = client.call(name, json!({})).await;
    reply.assert_ok();
    reply.json().as_array().unwrap().clone()
}

/// Asserts that the stored counters equal a recount of the file records.
async fn assert_counters_match(server: &TestServer) {
    let counters = server.store.usage_counters().await.unwrap();
    let recount = server.store.recount_usage().await.unwrap();
    assert_eq!(counters, recount);
}

/// Builds a `create_link` body for `file_id` with real keys and a limit of 5.
fn link_request(file_id: &str, file: &EncryptedFile, expires_in_secs: u64) -> (String, Value) {
    let (link, body) = share_link_request(file_id, file, expires_in_secs, 5);
    (link.id, body)
}

async fn send_small(client: &mut Client, sender: &User, recipient: &User) -> String {
    let file = EncryptedFile::new(&plaintext(SMALL_LEN));
    send(client, sender, recipient, &file).await
}

/// Sends `file` like [`send_file`], with the single key record of a file sent to
/// oneself, as a link-only send makes it.
async fn send(
    client: &mut Client,
    sender: &User,
    recipient: &User,
    file: &EncryptedFile,
) -> String {
    if sender.username != recipient.username {
        return send_file(client, sender, recipient, file).await;
    }
    let file_id = create_upload(client, file, &sender.username).await;
    for (index, part) in file.parts.iter().enumerate() {
        client
            .put_part(&file_id, index as u32, part.clone())
            .await
            .assert_ok();
    }
    let body = json!({ "request": {
        "file_id": file_id,
        "records": [file.key_record(&file_id, sender, sender)],
    }});
    client.call("finish_upload", body).await.assert_ok();
    file_id
}

#[tokio::test]
async fn byte_quota_rejects_upload_past_it() {
    let stored_len = small_stored_len();
    let server = server_with(|config| config.quota_bytes = 2 * stored_len + 10).await;
    let (alice, mut client) = register(&server, "alice").await;
    let first = send_small(&mut client, &alice, &alice).await;
    send_small(&mut client, &alice, &alice).await;

    let file = EncryptedFile::new(&plaintext(SMALL_LEN));
    let reply = client
        .call("create_upload", file.create_request("alice"))
        .await;
    let message = reply.assert_error(413, ErrorCode::QuotaExceeded);
    let expected = format!(
        "this upload of {} would bring your storage to {} of {}",
        human_size(stored_len),
        human_size(3 * stored_len),
        human_size(2 * stored_len + 10)
    );
    assert!(message.starts_with(&expected), "{message}");
    assert!(
        message
            .ends_with("delete files you no longer need, or ask the operator for a larger quota"),
        "{message}"
    );

    client
        .call("delete_file", json!({ "file_id": first }))
        .await
        .assert_ok();
    create_upload(&mut client, &file, "alice").await;
    assert_counters_match(&server).await;
}

#[tokio::test]
async fn byte_quota_counts_metadata() {
    let server = server_with(|config| config.quota_bytes = 1000).await;
    let (_, mut client) = register(&server, "alice").await;
    let mut file = EncryptedFile::new(&plaintext(0));
    let ciphertext_len = file.ciphertext_len();
    file.metadata = vec![7; 65536];

    let reply = client
        .call("create_upload", file.create_request("alice"))
        .await;
    let message = reply.assert_error(413, ErrorCode::QuotaExceeded);
    assert!(
        message
            .starts_with("this upload of 64.1 KiB would bring your storage to 64.1 KiB of 1000 B"),
        "{message}"
    );
    assert_eq!(usage(&mut client).await["bytes_used"], 0);

    file.metadata.truncate(200);
    create_upload(&mut client, &file, "alice").await;
    assert_eq!(usage(&mut client).await["bytes_used"], ciphertext_len + 200);
    assert_counters_match(&server).await;
}

#[tokio::test]
async fn expired_files_leave_the_quota() {
    let server = server_with(|config| {
        config.quota_files = 5;
        config.file_lifetime_secs = 4;
    })
    .await;
    let (alice, mut client) = register(&server, "alice").await;
    let (bob, _) = register(&server, "bob").await;
    for _ in 0..5 {
        send_small(&mut client, &alice, &bob).await;
    }
    let file = EncryptedFile::new(&plaintext(SMALL_LEN));
    let reply = client
        .call("create_upload", file.create_request("bob"))
        .await;
    reply.assert_error(413, ErrorCode::QuotaExceeded);

    server.clock.advance(Duration::from_secs(5));
    assert!(list(&mut client, "sent").await.is_empty());
    let used = usage(&mut client).await;
    assert_eq!(used["files_used"], 0);
    assert_eq!(used["bytes_used"], 0);
    let accounts = server.store.account_usage().await.unwrap();
    for account in &accounts {
        assert_eq!(account.files_sent, 0, "{}", account.username);
        assert_eq!(account.bytes_sent, 0, "{}", account.username);
        assert_eq!(account.files_received, 0, "{}", account.username);
    }

    // The upload deletes the expired files in its own transaction, before any sweep.
    create_upload(&mut client, &file, "bob").await;
    assert_eq!(server.store.file_count().await.unwrap(), 1);
    assert_eq!(usage(&mut client).await["files_used"], 1);
    assert_counters_match(&server).await;
}

#[tokio::test]
async fn upload_deletes_a_bounded_number_of_expired_files() {
    let count = EXPIRED_DELETED_PER_UPLOAD as u64 + 3;
    let server = server_with(|config| {
        config.quota_files = count;
        config.file_lifetime_secs = 4;
    })
    .await;
    let (alice, mut client) = register(&server, "alice").await;
    for _ in 0..count {
        send_small(&mut client, &alice, &alice).await;
    }
    server.clock.advance(Duration::from_secs(5));

    let file = EncryptedFile::new(&plaintext(SMALL_LEN));
    create_upload(&mut client, &file, "alice").await;
    assert_eq!(server.store.file_count().await.unwrap(), 4);
    let used = usage(&mut client).await;
    assert_eq!(used["files_used"], 1);
    assert_eq!(used["bytes_used"], small_stored_len());
    assert_counters_match(&server).await;

    let report = sweep_once(&server.store).await;
    assert_eq!(report.expired_files.len(), 3);
    assert_counters_match(&server).await;
}

#[tokio::test]
async fn file_quota_counts_pending_uploads() {
    let server = server_with(|config| config.quota_files = 2).await;
    let (alice, mut client) = register(&server, "alice").await;
    let (bob, _) = register(&server, "bob").await;
    send_small(&mut client, &alice, &bob).await;
    let file = EncryptedFile::new(&plaintext(SMALL_LEN));
    create_upload(&mut client, &file, "bob").await;

    let reply = client
        .call("create_upload", file.create_request("bob"))
        .await;
    let message = reply.assert_error(413, ErrorCode::QuotaExceeded);
    assert!(
        message.starts_with("you have 2 of 2 files stored"),
        "{message}"
    );
}

#[tokio::test]
async fn quota_holds_under_parallel_creates() {
    let stored_len = small_stored_len();
    let server = server_with(|config| config.quota_bytes = 5 * stored_len).await;
    let (_, client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(SMALL_LEN));
    let body = file.create_request("alice");

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let mut client = client.clone();
        let body = body.clone();
        tasks.spawn(async move { client.call("create_upload", body).await });
    }
    let mut created = 0;
    let mut rejected = 0;
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.unwrap();
        if reply.status.is_success() {
            created += 1;
        } else {
            reply.assert_error(413, ErrorCode::QuotaExceeded);
            rejected += 1;
        }
    }
    assert_eq!(created, 5);
    assert_eq!(rejected, 15);
    assert_counters_match(&server).await;
}

#[tokio::test]
async fn usage_reports_used_and_allowed() {
    let server = server_with(|config| {
        config.quota_bytes = 1 << 30;
        config.quota_files = 7;
    })
    .await;
    let (alice, mut client) = register(&server, "alice").await;
    let (bob, mut bob_client) = register(&server, "bob").await;
    send_small(&mut client, &alice, &bob).await;
    send_small(&mut client, &alice, &alice).await;

    let used = usage(&mut client).await;
    assert_eq!(used["bytes_used"], 2 * small_stored_len());
    assert_eq!(used["bytes_allowed"], 1u64 << 30);
    assert_eq!(used["files_used"], 2);
    assert_eq!(used["files_allowed"], 7);
    // Files received count for their sender only.
    assert_eq!(usage(&mut bob_client).await["files_used"], 0);
}

#[tokio::test]
async fn counters_equal_recount_after_mixed_steps() {
    let server = server_with(|config| config.file_lifetime_secs = 2 * 3600).await;
    let (alice, mut alice_client) = register(&server, "alice").await;
    let (bob, mut bob_client) = register(&server, "bob").await;

    let early = send_small(&mut alice_client, &alice, &bob).await;
    send_small(&mut bob_client, &bob, &alice).await;
    let file = EncryptedFile::new(&plaintext(SMALL_LEN));
    create_upload(&mut alice_client, &file, "bob").await;
    assert_counters_match(&server).await;

    server.clock.advance(HOUR);
    let kept = send_small(&mut alice_client, &alice, &alice).await;
    let deleted = send_small(&mut bob_client, &bob, &bob).await;
    bob_client
        .call("delete_file", json!({ "file_id": deleted }))
        .await
        .assert_ok();
    assert_counters_match(&server).await;

    // The first two files expire and the pending upload stays within its day.
    server.clock.advance(HOUR + Duration::from_secs(1));
    let report = sweep_once(&server.store).await;
    assert_eq!(report.expired_files.len(), 2);
    assert!(report.expired_files.contains(&early.parse().unwrap()));
    assert!(report.stale_uploads.is_empty());
    assert_counters_match(&server).await;

    server.clock.advance(UPLOAD_LIFETIME);
    let report = sweep_once(&server.store).await;
    assert_eq!(report.stale_uploads.len(), 1);
    assert!(report.expired_files.contains(&kept.parse().unwrap()));
    assert_counters_match(&server).await;
    assert!(server.store.usage_counters().await.unwrap().is_empty());
}

#[tokio::test]
async fn database_without_counters_is_recounted() {
    let server = server_with(|config| config.file_lifetime_secs = 3600).await;
    let (alice, mut client) = register(&server, "alice").await;
    let (bob, _) = register(&server, "bob").await;
    let finished = send_small(&mut client, &alice, &bob).await;
    let file = EncryptedFile::new(&plaintext(SMALL_LEN));
    create_upload(&mut client, &file, "bob").await;
    let before = server.store.usage_counters().await.unwrap();
    drop(client);

    // Turn the file into one of the release before the counters and the completion
    // index: the same tables without those two.
    let server = server
        .restart_after(|path| {
            let db = redb::Database::create(path).unwrap();
            let txn = db.begin_write().unwrap();
            let usage: redb::TableDefinition<[u8; 16], (u64, u64)> =
                redb::TableDefinition::new("account_usage");
            let completed: redb::TableDefinition<(i64, [u8; 16]), ()> =
                redb::TableDefinition::new("files_by_completion");
            assert!(txn.delete_table(usage).unwrap());
            assert!(txn.delete_table(completed).unwrap());
            txn.commit().unwrap();
        })
        .await;

    assert_eq!(server.store.usage_counters().await.unwrap(), before);
    assert_counters_match(&server).await;
    // The completion index came back too, so the finished file still expires.
    server.clock.advance(HOUR);
    let report = sweep_once(&server.store).await;
    assert_eq!(
        report.expired_files,
        vec![finished.parse::<FileId>().unwrap()]
    );
    assert_counters_match(&server).await;
}

#[tokio::test]
async fn expired_file_is_gone_everywhere() {
    let mut server = server_with(|config| config.file_lifetime_secs = 3600).await;
    server.listen().await;
    let (alice, mut alice_client) = register(&server, "alice").await;
    let (bob, mut bob_client) = register(&server, "bob").await;
    let file = EncryptedFile::new(&plaintext(SMALL_LEN));
    let file_id = send_file(&mut alice_client, &alice, &bob, &file).await;

    let inbox = list(&mut bob_client, "inbox").await;
    assert_eq!(inbox.len(), 1);
    let expires_at = inbox[0]["expires_at_ms"].as_i64().unwrap();
    assert_eq!(expires_at, START_MS + 3_600_000);
    assert_eq!(
        list(&mut alice_client, "sent").await[0]["expires_at_ms"],
        expires_at
    );
    let (link_id, body) = link_request(&file_id, &file, 2 * 24 * 3600);
    alice_client.call("create_link", body).await.assert_ok();

    server.clock.advance(HOUR);
    assert!(list(&mut bob_client, "inbox").await.is_empty());
    assert!(list(&mut alice_client, "sent").await.is_empty());
    for client in [&mut alice_client, &mut bob_client] {
        let reply = client.get_part(&file_id, 0).await;
        let message = reply.assert_error(404, ErrorCode::NotFound);
        assert_eq!(message, format!("file {file_id} not found"));
    }
    let reply = bob_client
        .call("open_link", json!({ "link_id": link_id }))
        .await;
    assert_eq!(reply.status.as_u16(), 404);
    assert_eq!(reply.error(), ApiError::link_not_found());

    let report = sweep_once(&server.store).await;
    assert_eq!(
        report.expired_files,
        vec![file_id.parse::<FileId>().unwrap()]
    );
    let rows = server
        .store
        .file_rows(file_id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(rows, FileRows::default());
    assert_eq!(server.store.link_rows().await.unwrap(), (0, 0));
    assert_counters_match(&server).await;
}

#[tokio::test]
async fn link_expiry_is_capped_at_file_expiry() {
    let server = server_with(|config| config.file_lifetime_secs = 24 * 3600).await;
    let (alice, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(SMALL_LEN));
    let file_id = send(&mut client, &alice, &alice, &file).await;

    server.clock.advance(HOUR);
    let (_, body) = link_request(&file_id, &file, 7 * 24 * 3600);
    let reply = client.call("create_link", body).await;
    reply.assert_ok();
    assert_eq!(reply.json()["expires_at_ms"], START_MS + 24 * 3_600_000);

    let (_, body) = link_request(&file_id, &file, 600);
    let reply = client.call("create_link", body).await;
    assert_eq!(
        reply.json()["expires_at_ms"],
        START_MS + 3_600_000 + 600_000
    );

    server.clock.advance(23 * HOUR);
    let (_, body) = link_request(&file_id, &file, 600);
    let reply = client.call("create_link", body).await;
    reply.assert_error(404, ErrorCode::NotFound);
}

#[tokio::test]
async fn shortened_lifetime_kills_older_links() {
    let server = server_with(|config| config.file_lifetime_secs = 24 * 3600).await;
    let (alice, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(SMALL_LEN));
    let file_id = send(&mut client, &alice, &alice, &file).await;
    let (link, body) = share_link_request(&file_id, &file, 2 * 24 * 3600, 5);
    client.call("create_link", body).await.assert_ok();

    drop(client);

    // The link was capped at a day; with a lifetime of an hour the file dies first.
    let mut server = server;
    server.config.file_lifetime_secs = 3600;
    let server = server.restart().await;
    server.clock.advance(HOUR);
    let mut visitor = server.client();
    let unlock = json!({ "request": {
        "link_id": link.id,
        "gate_key": b64(&link.gate_key),
        "access_key": b64(&link.access_key),
    }});
    let reply = visitor.call("unlock_link", unlock).await;
    assert_eq!(reply.status.as_u16(), 404, "body {:?}", reply.body);
    assert_eq!(reply.error(), ApiError::link_not_found());

    assert_eq!(
        sweep_once(&server.store).await.expired_files,
        vec![file_id.parse::<FileId>().unwrap()]
    );
    let reply = visitor
        .call("open_link", json!({ "link_id": link.id }))
        .await;
    assert_eq!(reply.error(), ApiError::link_not_found());
}

#[tokio::test]
async fn full_part_round_trips_in_two_pieces() {
    let server = server_with(|_| {}).await;
    let (alice, mut client) = register(&server, "alice").await;
    // Part 0 is full (4198456 bytes with the header), so the store keeps it in two
    // values; part 1 is short and stays whole.
    let file = EncryptedFile::new(&plaintext(4 * 1024 * 1024 + 10));
    let file_id = send(&mut client, &alice, &alice, &file).await;

    let mut downloaded = Vec::new();
    for index in 0..2 {
        let reply = client.get_part(&file_id, index).await;
        reply.assert_ok();
        assert_eq!(
            reply.body.len(),
            file.parts[index as usize].len(),
            "part {index}"
        );
        downloaded.push(reply.body.to_vec());
    }
    assert_eq!(downloaded, file.parts);
    assert_eq!(file.decrypt(&downloaded), plaintext(4 * 1024 * 1024 + 10));
    let id: FileId = file_id.parse().unwrap();
    assert_eq!(server.store.file_rows(id).await.unwrap().parts, 2);

    client
        .call("delete_file", json!({ "file_id": file_id }))
        .await
        .assert_ok();
    assert_eq!(
        server.store.file_rows(id).await.unwrap(),
        FileRows::default()
    );
    assert_eq!(server.store.read_part(id, 0).await.unwrap(), None);
}

#[tokio::test]
async fn whole_part_of_older_release_reads() {
    let server = server_with(|_| {}).await;
    let (alice, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(4 * 1024 * 1024 + 10));
    let file_id = send(&mut client, &alice, &alice, &file).await;
    let cookie = client.cookie.clone();
    drop(client);

    // Store part 0 whole under its index, as releases before the split did.
    let id: FileId = file_id.parse().unwrap();
    let whole = file.parts[0].clone();
    let server = server
        .restart_after(move |path| {
            let parts: redb::TableDefinition<([u8; 16], u32), &[u8]> =
                redb::TableDefinition::new("parts");
            let db = redb::Database::create(path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut table = txn.open_table(parts).unwrap();
                assert!(table.remove((id.0, 1 << 31)).unwrap().is_some());
                table.insert((id.0, 0), whole.as_slice()).unwrap();
            }
            txn.commit().unwrap();
        })
        .await;

    let mut client = server.client();
    client.cookie = cookie;
    let reply = client.get_part(&file_id, 0).await;
    reply.assert_ok();
    assert_eq!(reply.body.to_vec(), file.parts[0]);
}

#[tokio::test]
async fn stale_upload_is_deleted_with_parts() {
    let server = server_with(|_| {}).await;
    let (_, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(4 * 1024 * 1024 + 10));
    let file_id = create_upload(&mut client, &file, "alice").await;
    client
        .put_part(&file_id, 0, file.parts[0].clone())
        .await
        .assert_ok();
    let id: FileId = file_id.parse().unwrap();
    assert_eq!(server.store.file_rows(id).await.unwrap().parts, 1);

    server
        .clock
        .advance(UPLOAD_LIFETIME - Duration::from_secs(1));
    assert!(sweep_once(&server.store).await.stale_uploads.is_empty());
    server.clock.advance(Duration::from_secs(2));
    assert_eq!(sweep_once(&server.store).await.stale_uploads, vec![id]);
    assert_eq!(
        server.store.file_rows(id).await.unwrap(),
        FileRows::default()
    );
    assert_eq!(usage(&mut client).await["bytes_used"], 0);
    assert_counters_match(&server).await;
}

#[tokio::test]
async fn backlog_is_swept_in_batches() {
    let count = dtc_server::store::SWEEP_BATCH * 2 + 5;
    let server = server_with(|config| config.file_lifetime_secs = 60).await;
    let (alice, mut client) = register(&server, "alice").await;
    for _ in 0..count {
        send_small(&mut client, &alice, &alice).await;
    }
    server.clock.advance(Duration::from_secs(60));
    let report = sweep_once(&server.store).await;
    assert_eq!(report.expired_files.len(), count);
    assert_eq!(server.store.file_count().await.unwrap(), 0);
    assert_counters_match(&server).await;
}

/// Mebibytes of plaintext in each round of [`freed_pages_are_reused`].
const REUSE_MIB: usize = 32;

#[tokio::test]
async fn freed_pages_are_reused() {
    let server = server_with(|config| config.file_lifetime_secs = 3600).await;
    let (alice, mut client) = register(&server, "alice").await;
    let path = server.config.database_path();
    let file_len = || std::fs::metadata(&path).unwrap().len();
    println!("database file: empty {} B", file_len());

    // Each round uploads a file, expires it and sweeps; the rounds after the first
    // reuse the pages the first one freed.
    let mut after_upload = Vec::new();
    for round in 1..=3 {
        let file = EncryptedFile::new(&plaintext(REUSE_MIB * 1024 * 1024));
        send(&mut client, &alice, &alice, &file).await;
        after_upload.push(file_len());
        server.clock.advance(HOUR);
        assert_eq!(sweep_once(&server.store).await.expired_files.len(), 1);
        println!(
            "database file: round {round}: {} B after {REUSE_MIB} MiB, {} B after the sweep",
            after_upload[round - 1],
            file_len()
        );
    }
    let round_bytes = (REUSE_MIB * 1024 * 1024) as u64;
    assert!(after_upload[0] >= round_bytes, "{after_upload:?} B");
    for later in &after_upload[1..] {
        assert!(
            *later < after_upload[0] + round_bytes / 4,
            "a later round grew the file past the first: {after_upload:?} B"
        );
    }
}
