//! Uploads, part routes, lists, downloads and deletion, with real keys and real
//! ciphertext from the crypto crate.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use common::{
    EncryptedFile, TestServer, b64, create_upload, plaintext, register, send_file, unb64,
};
use dtc_app::api::ErrorCode;
use dtc_crypto::exchange::{SealedFileKey, open_file_key};
use dtc_crypto::file::decrypt_metadata;
use dtc_server::store::{FileId, FileRows};
use dtc_server::transfer_slots::{MAX_CONCURRENT_PART_TRANSFERS, MAX_PART_TRANSFERS_PER_ADDRESS};
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// Plaintext of two parts: one full part and a short second one.
const TWO_PART_LEN: usize = 4 * 1024 * 1024 + 1000;

#[tokio::test]
async fn full_upload_appears_in_inbox_and_sent() {
    let server = TestServer::start().await;
    let (bob, mut bob_client) = register(&server, "bob").await;
    let (alice, mut alice_client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(TWO_PART_LEN));
    assert_eq!(file.parts.len(), 2);

    let file_id = create_upload(&mut alice_client, &file, "bob").await;
    assert_eq!(
        bob_client.call("inbox", json!({})).await.json(),
        json!([]),
        "pending is hidden"
    );
    for (index, part) in file.parts.iter().enumerate() {
        let reply = alice_client
            .put_part(&file_id, index as u32, part.clone())
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
    }
    let finished = alice_client
        .call("finish_upload", file.finish_request(&file_id, &alice, &bob))
        .await;
    finished.assert_ok();
    assert_eq!(finished.json()["record"]["recipient"], "alice");

    let inbox = bob_client.call("inbox", json!({})).await.json();
    let sent = alice_client.call("sent", json!({})).await.json();
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    assert_eq!(sent.as_array().unwrap().len(), 1);
    for (entry, viewer) in [(&inbox[0], &bob), (&sent[0], &alice)] {
        assert_eq!(entry["file_id"], file_id.as_str());
        assert_eq!(entry["sender"], "alice");
        assert_eq!(entry["recipient"], "bob");
        assert_eq!(entry["ciphertext_len"], file.ciphertext_len());
        assert_eq!(entry["part_count"], 2);
        assert_eq!(
            unb64(&entry["sender_public_key"]),
            alice.public_key.to_sec1()
        );
        assert_eq!(unb64(&entry["metadata"]), file.metadata);
        assert_eq!(entry["record"]["recipient"], viewer.username.as_str());
        assert!(entry["created_at_ms"].as_i64().unwrap() > 0);

        let sealed = SealedFileKey::from_parts(
            &unb64(&entry["record"]["enc"]),
            &unb64(&entry["record"]["sealed_key"]),
        )
        .unwrap();
        let id: FileId = file_id.parse().unwrap();
        let key = open_file_key(&viewer.identity, &alice.public_key, &id.0, &sealed).unwrap();
        assert_eq!(key.expose_secret_bytes(), file.key.expose_secret_bytes());
        let metadata = decrypt_metadata(&key, &unb64(&entry["metadata"])).unwrap();
        assert_eq!(metadata.name, "report.pdf");
    }
    assert_eq!(
        alice_client.call("inbox", json!({})).await.json(),
        json!([])
    );
    assert_eq!(bob_client.call("sent", json!({})).await.json(), json!([]));
}

#[tokio::test]
async fn recipient_downloads_and_decrypts() {
    let server = TestServer::start().await;
    let (bob, mut bob_client) = register(&server, "bob").await;
    let (alice, mut alice_client) = register(&server, "alice").await;
    let original = plaintext(TWO_PART_LEN);
    let file = EncryptedFile::new(&original);
    let file_id = send_file(&mut alice_client, &alice, &bob, &file).await;

    let mut downloaded = Vec::new();
    for index in 0..2 {
        let reply = bob_client.get_part(&file_id, index).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "application/octet-stream"
        );
        downloaded.push(reply.body.to_vec());
    }
    assert_eq!(downloaded, file.parts);
    assert_eq!(file.decrypt(&downloaded), original);

    let own_copy = alice_client.get_part(&file_id, 1).await;
    assert_eq!(
        own_copy.status,
        StatusCode::OK,
        "the sender can read what it sent"
    );
}

#[tokio::test]
async fn sending_to_oneself_needs_one_record() {
    let server = TestServer::start().await;
    let (alice, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(10));
    let file_id = create_upload(&mut client, &file, "alice").await;
    client
        .put_part(&file_id, 0, file.parts[0].clone())
        .await
        .assert_ok();

    let two = file.finish_request(&file_id, &alice, &alice);
    let message = client
        .call("finish_upload", two)
        .await
        .assert_error(400, ErrorCode::InvalidInput);
    assert!(message.contains("two key records"), "{message}");

    let one = json!({ "request": {
        "file_id": file_id,
        "records": [file.key_record(&file_id, &alice, &alice)],
    }});
    client.call("finish_upload", one).await.assert_ok();
    assert_eq!(
        client
            .call("inbox", json!({}))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        client
            .call("sent", json!({}))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn part_larger_than_declared_is_413() {
    let server = TestServer::start().await;
    let (_, mut client) = register(&server, "bob").await;
    let file = EncryptedFile::new(&plaintext(100));
    let file_id = create_upload(&mut client, &file, "bob").await;
    let expected = file.parts[0].len();
    let mut longer = file.parts[0].clone();
    longer.push(0);

    let declared = client.put_part(&file_id, 0, longer.clone()).await;
    let message = declared.assert_error(413, ErrorCode::TooLarge);
    assert!(message.contains(&expected.to_string()), "{message}");

    let undeclared = client
        .put_part_declaring(&file_id, 0, longer.clone(), None)
        .await;
    undeclared.assert_error(413, ErrorCode::TooLarge);

    let lying = client
        .put_part_declaring(&file_id, 0, longer, Some(expected as u64))
        .await;
    lying.assert_error(413, ErrorCode::TooLarge);

    let rows = server
        .store
        .file_rows(file_id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(rows.parts, 0, "nothing is stored");
}

#[tokio::test]
async fn part_smaller_than_declared_is_400() {
    let server = TestServer::start().await;
    let (_, mut client) = register(&server, "bob").await;
    let file = EncryptedFile::new(&plaintext(100));
    let file_id = create_upload(&mut client, &file, "bob").await;
    let expected = file.parts[0].len() as u64;
    let shorter = file.parts[0][..file.parts[0].len() - 1].to_vec();

    let declared = client.put_part(&file_id, 0, shorter.clone()).await;
    let message = declared.assert_error(400, ErrorCode::InvalidInput);
    assert!(message.contains(&expected.to_string()), "{message}");

    let undeclared = client
        .put_part_declaring(&file_id, 0, shorter.clone(), None)
        .await;
    undeclared.assert_error(400, ErrorCode::InvalidInput);

    let lying = client
        .put_part_declaring(&file_id, 0, shorter, Some(expected))
        .await;
    lying.assert_error(400, ErrorCode::InvalidInput);

    let rows = server
        .store
        .file_rows(file_id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(rows.parts, 0, "nothing is stored");
}

#[tokio::test]
async fn part_index_out_of_range_is_400() {
    let server = TestServer::start().await;
    let (_, mut client) = register(&server, "bob").await;
    let file = EncryptedFile::new(&plaintext(100));
    let file_id = create_upload(&mut client, &file, "bob").await;

    let reply = client.put_part(&file_id, 1, file.parts[0].clone()).await;
    let message = reply.assert_error(400, ErrorCode::InvalidInput);
    assert!(message.contains("index 1"), "{message}");
    assert!(message.contains("1 parts"), "{message}");

    let request = axum::http::Request::builder()
        .method("PUT")
        .uri(format!("/api/files/{file_id}/parts/-1"))
        .header("content-type", "application/octet-stream")
        .body(axum::body::Body::empty())
        .unwrap();
    client
        .send(request)
        .await
        .assert_error(400, ErrorCode::InvalidInput);
}

#[tokio::test]
async fn part_body_over_limit_is_413() {
    let server = TestServer::start().await;
    let (_, mut client) = register(&server, "bob").await;
    let file = EncryptedFile::new(&plaintext(100));
    let file_id = create_upload(&mut client, &file, "bob").await;

    let huge = dtc_server::parts::MAX_PART_LEN + 1;
    let reply = client
        .put_part_declaring(&file_id, 0, vec![0; 16], Some(huge))
        .await;
    let message = reply.assert_error(413, ErrorCode::TooLarge);
    assert!(
        message.contains(&dtc_server::parts::MAX_PART_LEN.to_string()),
        "{message}"
    );
}

#[tokio::test]
async fn resending_a_part_replaces_it() {
    let server = TestServer::start().await;
    let (bob, _) = register(&server, "bob").await;
    let (alice, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(100));
    let file_id = create_upload(&mut client, &file, "bob").await;

    let mut garbage = file.parts[0].clone();
    garbage[60] ^= 0xff;
    client.put_part(&file_id, 0, garbage).await.assert_ok();
    client
        .put_part(&file_id, 0, file.parts[0].clone())
        .await
        .assert_ok();
    let rows = server
        .store
        .file_rows(file_id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(rows.parts, 1);

    client
        .call("finish_upload", file.finish_request(&file_id, &alice, &bob))
        .await
        .assert_ok();
    let stored = client.get_part(&file_id, 0).await;
    assert_eq!(stored.body.to_vec(), file.parts[0]);

    let late = client.put_part(&file_id, 0, file.parts[0].clone()).await;
    late.assert_error(409, ErrorCode::Conflict);
}

#[tokio::test]
async fn finish_with_missing_part_is_conflict() {
    let server = TestServer::start().await;
    let (bob, mut bob_client) = register(&server, "bob").await;
    let (alice, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(TWO_PART_LEN));
    let file_id = create_upload(&mut client, &file, "bob").await;
    client
        .put_part(&file_id, 1, file.parts[1].clone())
        .await
        .assert_ok();

    let reply = client
        .call("finish_upload", file.finish_request(&file_id, &alice, &bob))
        .await;
    let message = reply.assert_error(409, ErrorCode::Conflict);
    assert!(message.contains("part 0"), "{message}");
    assert_eq!(bob_client.call("inbox", json!({})).await.json(), json!([]));
    let rows = server
        .store
        .file_rows(file_id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(rows.key_records, 0);

    client
        .put_part(&file_id, 0, file.parts[0].clone())
        .await
        .assert_ok();
    client
        .call("finish_upload", file.finish_request(&file_id, &alice, &bob))
        .await
        .assert_ok();
    let again = client
        .call("finish_upload", file.finish_request(&file_id, &alice, &bob))
        .await;
    again.assert_error(409, ErrorCode::Conflict);
}

#[tokio::test]
async fn finish_rejects_wrong_records() {
    let server = TestServer::start().await;
    let (bob, _) = register(&server, "bob").await;
    let (carol, _) = register(&server, "carol").await;
    let (alice, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(100));
    let file_id = create_upload(&mut client, &file, "bob").await;
    client
        .put_part(&file_id, 0, file.parts[0].clone())
        .await
        .assert_ok();

    let for_bob = file.key_record(&file_id, &alice, &bob);
    let for_alice = file.key_record(&file_id, &alice, &alice);
    let for_carol = file.key_record(&file_id, &alice, &carol);
    let mut short_enc = for_bob.clone();
    short_enc["enc"] = json!(b64(&[4; 64]));
    let mut short_key = for_bob.clone();
    short_key["sealed_key"] = json!(b64(&[0; 47]));
    let mut off_curve = for_bob.clone();
    let mut point = vec![0x04];
    point.extend([0x01; 64]);
    off_curve["enc"] = json!(b64(&point));
    let cases: [(&str, Vec<Value>); 7] = [
        ("no records", vec![]),
        ("recipient only", vec![for_bob.clone()]),
        ("sender only", vec![for_alice.clone()]),
        ("stranger", vec![for_bob.clone(), for_carol]),
        ("short enc", vec![short_enc, for_alice.clone()]),
        ("short sealed key", vec![short_key, for_alice.clone()]),
        ("enc off the curve", vec![off_curve, for_alice.clone()]),
    ];
    for (case, records) in cases {
        let body = json!({ "request": { "file_id": file_id, "records": records } });
        let reply = client.call("finish_upload", body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{case}: {:?}",
            reply.body
        );
    }
    let rows = server
        .store
        .file_rows(file_id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(rows.key_records, 0);
    assert_eq!(rows.sent, 0);
}

#[tokio::test]
async fn unknown_recipient_is_rejected_before_storing() {
    let server = TestServer::start().await;
    let (_, mut client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(100));

    let reply = client
        .call("create_upload", file.create_request("nobody"))
        .await;
    let message = reply.assert_error(404, ErrorCode::NotFound);
    assert!(message.contains("nobody"), "{message}");
    assert_eq!(server.store.file_count().await.unwrap(), 0);
}

#[tokio::test]
async fn create_upload_checks_sizes() {
    let server = TestServer::start_with_max_file_size(1000).await;
    let (_, mut client) = register(&server, "bob").await;
    let small = EncryptedFile::new(&plaintext(1000));
    create_upload(&mut client, &small, "bob").await;

    let large = EncryptedFile::new(&plaintext(1001));
    let reply = client
        .call("create_upload", large.create_request("bob"))
        .await;
    let message = reply.assert_error(413, ErrorCode::TooLarge);
    assert!(
        message.contains("1001") && message.contains("1000"),
        "{message}"
    );

    for bad_len in [0, 71, 56 + 16384 + 16, 56 + 16400 + 15] {
        let mut body = small.create_request("bob");
        body["request"]["ciphertext_len"] = json!(bad_len);
        let reply = client.call("create_upload", body).await;
        let message = reply.assert_error(400, ErrorCode::InvalidInput);
        assert!(message.contains(&bad_len.to_string()), "{message}");
    }

    let mut short_metadata = small.create_request("bob");
    short_metadata["request"]["metadata"] = json!(b64(&[0; 71]));
    client
        .call("create_upload", short_metadata)
        .await
        .assert_error(400, ErrorCode::InvalidInput);
    let mut long_metadata = small.create_request("bob");
    long_metadata["request"]["metadata"] = json!(b64(&vec![0; 65537]));
    client
        .call("create_upload", long_metadata)
        .await
        .assert_error(413, ErrorCode::TooLarge);
    let mut largest_metadata = small.create_request("bob");
    largest_metadata["request"]["metadata"] = json!(b64(&vec![0; 65536]));
    client
        .call("create_upload", largest_metadata)
        .await
        .assert_ok();

    assert_eq!(server.store.file_count().await.unwrap(), 2);
}

#[tokio::test]
async fn signed_out_client_gets_401() {
    let server = TestServer::start().await;
    let (bob, _) = register(&server, "bob").await;
    let (alice, mut alice_client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(100));
    let file_id = send_file(&mut alice_client, &alice, &bob, &file).await;
    let mut anonymous = server.client();

    anonymous
        .call("create_upload", file.create_request("bob"))
        .await
        .assert_error(401, ErrorCode::NotSignedIn);
    anonymous
        .call("inbox", json!({}))
        .await
        .assert_error(401, ErrorCode::NotSignedIn);
    anonymous
        .call("sent", json!({}))
        .await
        .assert_error(401, ErrorCode::NotSignedIn);
    anonymous
        .call("delete_file", json!({ "file_id": file_id }))
        .await
        .assert_error(401, ErrorCode::NotSignedIn);
    anonymous
        .get_part(&file_id, 0)
        .await
        .assert_error(401, ErrorCode::NotSignedIn);
    anonymous
        .put_part(&file_id, 0, file.parts[0].clone())
        .await
        .assert_error(401, ErrorCode::NotSignedIn);
}

#[tokio::test]
async fn third_account_sees_only_not_found() {
    let server = TestServer::start().await;
    let (bob, _) = register(&server, "bob").await;
    let (alice, mut alice_client) = register(&server, "alice").await;
    let (_, mut carol) = register(&server, "carol").await;
    let file = EncryptedFile::new(&plaintext(100));
    let file_id = send_file(&mut alice_client, &alice, &bob, &file).await;
    let pending = EncryptedFile::new(&plaintext(100));
    let pending_id = create_upload(&mut alice_client, &pending, "bob").await;
    let missing_id = "00".repeat(16);

    let answer = |reply: common::Reply| (reply.status, reply.error().code, reply.error().message);
    let for_missing = answer(carol.get_part(&missing_id, 0).await);
    assert_eq!(for_missing.0, StatusCode::NOT_FOUND);
    let expected_message = |id: &str| for_missing.2.replace(&missing_id, id);

    let download = answer(carol.get_part(&file_id, 0).await);
    assert_eq!(
        download,
        (for_missing.0, for_missing.1, expected_message(&file_id))
    );
    let out_of_range = answer(carol.get_part(&file_id, 7).await);
    assert_eq!(
        out_of_range,
        (for_missing.0, for_missing.1, expected_message(&file_id))
    );
    let pending_download = answer(carol.get_part(&pending_id, 0).await);
    assert_eq!(pending_download.2, expected_message(&pending_id));

    let upload = answer(
        carol
            .put_part(&pending_id, 0, pending.parts[0].clone())
            .await,
    );
    assert_eq!(
        upload,
        (for_missing.0, for_missing.1, expected_message(&pending_id))
    );
    let finish = carol
        .call(
            "finish_upload",
            pending.finish_request(&pending_id, &alice, &bob),
        )
        .await;
    assert_eq!(answer(finish).2, expected_message(&pending_id));
    let delete = carol
        .call("delete_file", json!({ "file_id": file_id }))
        .await;
    assert_eq!(answer(delete).2, expected_message(&file_id));

    assert_eq!(carol.call("inbox", json!({})).await.json(), json!([]));
    assert_eq!(carol.call("sent", json!({})).await.json(), json!([]));
}

#[tokio::test]
async fn pending_upload_is_not_downloadable_by_recipient() {
    let server = TestServer::start().await;
    let (_, mut bob_client) = register(&server, "bob").await;
    let (_, mut alice_client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(100));
    let file_id = create_upload(&mut alice_client, &file, "bob").await;
    alice_client
        .put_part(&file_id, 0, file.parts[0].clone())
        .await
        .assert_ok();

    bob_client
        .get_part(&file_id, 0)
        .await
        .assert_error(404, ErrorCode::NotFound);
    let own = alice_client.get_part(&file_id, 0).await;
    assert_eq!(
        own.status,
        StatusCode::OK,
        "the sender reads its stored part"
    );
    assert_eq!(own.body.to_vec(), file.parts[0]);
}

#[tokio::test]
async fn delete_removes_parts_and_records() {
    let server = TestServer::start().await;
    let (bob, mut bob_client) = register(&server, "bob").await;
    let (alice, mut alice_client) = register(&server, "alice").await;
    let file = EncryptedFile::new(&plaintext(TWO_PART_LEN));
    let file_id = send_file(&mut alice_client, &alice, &bob, &file).await;
    let id: FileId = file_id.parse().unwrap();
    let before = server.store.file_rows(id).await.unwrap();
    assert_eq!(
        before,
        FileRows {
            files: 1,
            parts: 2,
            upload_parts: 0,
            key_records: 2,
            inbox: 1,
            sent: 1
        }
    );

    let by_recipient = bob_client
        .call("delete_file", json!({ "file_id": file_id }))
        .await;
    by_recipient.assert_error(404, ErrorCode::NotFound);
    assert_eq!(server.store.file_rows(id).await.unwrap(), before);

    alice_client
        .call("delete_file", json!({ "file_id": file_id }))
        .await
        .assert_ok();
    assert_eq!(
        server.store.file_rows(id).await.unwrap(),
        FileRows::default()
    );
    bob_client
        .get_part(&file_id, 0)
        .await
        .assert_error(404, ErrorCode::NotFound);
    alice_client
        .get_part(&file_id, 0)
        .await
        .assert_error(404, ErrorCode::NotFound);
    assert_eq!(bob_client.call("inbox", json!({})).await.json(), json!([]));
    assert_eq!(alice_client.call("sent", json!({})).await.json(), json!([]));

    let again = alice_client
        .call("delete_file", json!({ "file_id": file_id }))
        .await;
    again.assert_error(404, ErrorCode::NotFound);
}

#[tokio::test]
async fn delete_cancels_pending_upload() {
    let server = TestServer::start().await;
    let (_, mut client) = register(&server, "bob").await;
    let file = EncryptedFile::new(&plaintext(100));
    let file_id = create_upload(&mut client, &file, "bob").await;
    client
        .put_part(&file_id, 0, file.parts[0].clone())
        .await
        .assert_ok();

    client
        .call("delete_file", json!({ "file_id": file_id }))
        .await
        .assert_ok();
    let rows = server
        .store
        .file_rows(file_id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(rows, FileRows::default());
}

#[tokio::test]
async fn malformed_file_id_is_400() {
    let server = TestServer::start().await;
    let (_, mut client) = register(&server, "bob").await;
    for bad in ["xyz", "AB".repeat(16).as_str()] {
        let reply = client.call("delete_file", json!({ "file_id": bad })).await;
        let message = reply.assert_error(400, ErrorCode::InvalidInput);
        assert!(message.contains(bad), "{message}");
        client
            .get_part(bad, 0)
            .await
            .assert_error(400, ErrorCode::InvalidInput);
    }
}

#[tokio::test]
async fn inbox_lists_newest_first() {
    let server = TestServer::start().await;
    let (bob, mut bob_client) = register(&server, "bob").await;
    let (alice, mut alice_client) = register(&server, "alice").await;
    let mut ids = Vec::new();
    for len in [10, 20, 30] {
        let file = EncryptedFile::new(&plaintext(len));
        ids.push(send_file(&mut alice_client, &alice, &bob, &file).await);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let inbox = bob_client.call("inbox", json!({})).await.json();
    let listed: Vec<&str> = inbox
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file_id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
}

#[tokio::test]
async fn stale_pending_uploads_are_deleted() {
    let server = TestServer::start().await;
    let (bob, _) = register(&server, "bob").await;
    let (alice, mut client) = register(&server, "alice").await;
    let pending = EncryptedFile::new(&plaintext(100));
    let pending_id = create_upload(&mut client, &pending, "bob").await;
    client
        .put_part(&pending_id, 0, pending.parts[0].clone())
        .await
        .assert_ok();
    let complete = EncryptedFile::new(&plaintext(100));
    let complete_id = send_file(&mut client, &alice, &bob, &complete).await;

    assert!(
        server
            .store
            .delete_stale_uploads(0)
            .await
            .unwrap()
            .is_empty(),
        "none is that old"
    );
    assert_eq!(
        server.store.delete_stale_uploads(i64::MAX).await.unwrap(),
        vec![pending_id.parse::<FileId>().unwrap()]
    );
    let pending_rows = server
        .store
        .file_rows(pending_id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(pending_rows, FileRows::default());
    let complete_rows = server
        .store
        .file_rows(complete_id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(complete_rows.parts, 1);
}

/// Returns a GET of part `index` of `file_id` from the client address `peer`.
fn part_get(file_id: &str, index: u32, peer: [u8; 4]) -> Request<Body> {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/files/{file_id}/parts/{index}"))
        .body(Body::empty())
        .unwrap();
    let peer = SocketAddr::from((peer, 40000));
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

#[tokio::test]
async fn unread_downloads_keep_their_slots() {
    let server = TestServer::start().await;
    let (alice, mut client) = register(&server, "alice").await;
    let (bob, _) = register(&server, "bob").await;
    let file = EncryptedFile::new(&plaintext(1000));
    let file_id = send_file(&mut client, &alice, &bob, &file).await;

    // Sixteen addresses, so that no address reaches its own maximum.
    let mut unread = Vec::new();
    for n in 0..MAX_CONCURRENT_PART_TRANSFERS as u8 {
        let response = client
            .send_unread(part_get(&file_id, 0, [10, 0, 0, n]))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        unread.push(response);
    }
    let mut waiting = client.clone();
    let next = tokio::spawn({
        let file_id = file_id.clone();
        async move {
            waiting
                .send_unread(part_get(&file_id, 0, [10, 0, 1, 0]))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !next.is_finished(),
        "a 17th transfer ran beside 16 unread bodies"
    );

    drop(unread.pop());
    let response = tokio::time::timeout(Duration::from_secs(10), next)
        .await
        .expect("the freed slot was not taken")
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.to_vec(), file.parts[0]);
}

#[tokio::test]
async fn one_address_gets_429_past_its_transfers() {
    let server = TestServer::start().await;
    let (alice, mut client) = register(&server, "alice").await;
    let (bob, _) = register(&server, "bob").await;
    let file = EncryptedFile::new(&plaintext(1000));
    let file_id = send_file(&mut client, &alice, &bob, &file).await;
    let address = [192, 0, 2, 1];

    let mut unread = Vec::new();
    for _ in 0..MAX_PART_TRANSFERS_PER_ADDRESS {
        let response = client.send_unread(part_get(&file_id, 0, address)).await;
        assert_eq!(response.status(), StatusCode::OK);
        unread.push(response);
    }
    let refused = client.send_unread(part_get(&file_id, 0, address)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
    let other = client
        .send_unread(part_get(&file_id, 0, [192, 0, 2, 2]))
        .await;
    assert_eq!(other.status(), StatusCode::OK);

    drop(unread.pop());
    let again = client.send_unread(part_get(&file_id, 0, address)).await;
    assert_eq!(again.status(), StatusCode::OK);
}
