//! The real server killed with SIGKILL in the middle of uploads and downloads, then
//! started again on the same data directory, many times over. Every upload whose
//! `finish_upload` succeeded must still download byte for byte, every share link made
//! must still download, and every upload that was cut off must resume or be gone.
//!
//! The kill times and file sizes come from a seeded generator; the seed is printed, and
//! `CRASH_SEED=<seed>` repeats a run.

#![allow(clippy::unwrap_used)]

mod common;
mod process;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{EncryptedFile, ShareLink, User, b64, plaintext, share_link_request};
use dtc_app::api::LINK_TICKET_HEADER;
use process::{RemoteClient, ServerProcess, admin, download, register};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Kills and restarts in one run.
const ROUNDS: usize = 20;

/// Upper bound of the files of more than one part, so that checking every file after
/// each restart stays quick.
const MAX_MULTI_PART_FILES: usize = 8;

/// Upper bound of the share links made, each downloaded after every restart.
const MAX_LINKS: usize = 6;

/// Download limit of those links, the highest the server accepts. Downloads in the test
/// are never confirmed, so they do not count against it.
const MAX_LINK_DOWNLOADS: u32 = 100;

/// Plaintext bytes of one upload part (256 chunks of 16 KiB, less the tags).
const PART_PLAINTEXT: usize = 256 * (16 * 1024 - 16);

/// A small generator (SplitMix64), enough to pick times and sizes from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// One file a worker started to send, and what the client learned about it.
struct Sent {
    file: Arc<EncryptedFile>,
    digest: [u8; 32],
    /// Which side sent it: 0 is alice to bob, 1 is bob to alice.
    direction: usize,
    /// Parts whose PUT returned 204.
    parts_stored: Vec<bool>,
    /// `finish_upload` returned success.
    finished: bool,
    /// `finish_upload` was sent, whether or not its response arrived.
    finish_sent: bool,
}

#[derive(Default)]
struct Ledger {
    files: BTreeMap<String, Sent>,
    multi_part: usize,
    /// Share links whose `create_link` succeeded.
    links: Vec<ShareLink>,
}

type SharedLedger = Arc<Mutex<Ledger>>;

struct People {
    users: [Arc<User>; 2],
    clients: [RemoteClient; 2],
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_finished_upload() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("crash test seed {seed} (set CRASH_SEED={seed} to repeat)");
    let started = Instant::now();
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let log = dir.path().join("server.log");
    let mut server = ServerProcess::start(&data_dir, &log, &[]).await;
    let (alice, alice_client) = register(server.addr, "alice").await;
    let (bob, bob_client) = register(server.addr, "bob").await;
    let mut people = People {
        users: [Arc::new(alice), Arc::new(bob)],
        clients: [alice_client, bob_client],
    };
    let ledger = SharedLedger::default();
    let mut totals = Totals::default();

    for round in 0..ROUNDS {
        let workers = [
            tokio::spawn(upload_loop(
                people_view(&people, 0),
                ledger.clone(),
                rng.next(),
            )),
            tokio::spawn(upload_loop(
                people_view(&people, 1),
                ledger.clone(),
                rng.next(),
            )),
            tokio::spawn(download_loop(
                people_view(&people, 0),
                ledger.clone(),
                rng.next(),
            )),
        ];
        let wait = Duration::from_millis(100 + rng.below(900));
        tokio::time::sleep(wait).await;
        server.kill();
        for worker in workers {
            worker.await.unwrap();
        }
        if round == 0 {
            check_admin_after_kill(&data_dir);
        }

        server = ServerProcess::start(&data_dir, &log, &[]).await;
        for client in &mut people.clients {
            client.addr = server.addr;
        }
        let checked = check_after_restart(&mut people, &ledger).await;
        totals.add(&checked);
        println!(
            "round {round}: killed after {wait:?}; {} finished files and {} links verified, \
             {} resumed, {} finished during the kill",
            checked.verified, checked.links, checked.resumed, checked.finished_unseen
        );
    }

    server.kill();
    assert!(
        server.log_text().contains("replaced a stale admin socket"),
        "a start after SIGKILL did not replace the admin socket"
    );
    println!(
        "{ROUNDS} kills in {:?}: {} files in the end, {} uploads resumed, {} finishes whose \
         response was lost",
        started.elapsed(),
        ledger.lock().unwrap().files.len(),
        totals.resumed,
        totals.finished_unseen
    );
    assert!(
        ledger
            .lock()
            .unwrap()
            .files
            .values()
            .any(|sent| sent.file.parts.len() > 1),
        "no file of more than one part was sent; the run tested too little"
    );
}

/// Checks that an admin command works on the data directory of a killed server: the
/// socket file left behind answers nobody, so the command opens the database itself.
fn check_admin_after_kill(data_dir: &std::path::Path) {
    assert!(
        data_dir.join("admin.sock").exists(),
        "SIGKILL removed the socket"
    );
    let (ok, stdout, stderr) = admin(data_dir, &["accounts", "--json"]);
    assert!(ok, "accounts after SIGKILL: {stderr}");
    let accounts: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(accounts.as_array().unwrap().len(), 2, "{stdout}");
}

/// What a worker needs: the sending user, the other user and a client of the sender.
struct View {
    sender: Arc<User>,
    recipient: Arc<User>,
    client: RemoteClient,
    direction: usize,
}

fn people_view(people: &People, direction: usize) -> View {
    let other = 1 - direction;
    View {
        sender: Arc::clone(&people.users[direction]),
        recipient: Arc::clone(&people.users[other]),
        client: people.clients[direction].clone(),
        direction,
    }
}

/// Sends files until a request fails, recording each step in the ledger.
async fn upload_loop(mut view: View, ledger: SharedLedger, seed: u64) {
    let mut rng = Rng(seed);
    loop {
        let multi = {
            let ledger = ledger.lock().unwrap();
            ledger.multi_part < MAX_MULTI_PART_FILES && rng.below(3) == 0
        };
        let len = if multi {
            PART_PLAINTEXT + 1 + rng.below(PART_PLAINTEXT as u64 * 3 / 2) as usize
        } else {
            1 + rng.below(64 * 1024) as usize
        };
        let mut data = plaintext(len);
        data[0] = rng.next() as u8;
        if send_one(&mut view, &ledger, data, multi).await.is_err() {
            return;
        }
    }
}

async fn send_one(
    view: &mut View,
    ledger: &SharedLedger,
    data: Vec<u8>,
    multi: bool,
) -> Result<(), String> {
    let file = Arc::new(EncryptedFile::new(&data));
    let digest: [u8; 32] = Sha256::digest(&data).into();
    let reply = view
        .client
        .call(
            "create_upload",
            file.create_request(&view.recipient.username),
        )
        .await?;
    reply.assert_ok();
    let file_id = reply.json()["file_id"].as_str().unwrap().to_owned();
    let part_count = file.parts.len();
    let finish = file.finish_request(&file_id, &view.sender, &view.recipient);
    let parts = file.parts.clone();
    {
        let mut ledger = ledger.lock().unwrap();
        ledger.multi_part += usize::from(multi);
        ledger.files.insert(
            file_id.clone(),
            Sent {
                file,
                digest,
                direction: view.direction,
                parts_stored: vec![false; part_count],
                finished: false,
                finish_sent: false,
            },
        );
    }
    for (index, part) in parts.into_iter().enumerate() {
        let reply = view.client.put_part(&file_id, index as u32, part).await?;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
        ledger
            .lock()
            .unwrap()
            .files
            .get_mut(&file_id)
            .unwrap()
            .parts_stored[index] = true;
    }
    ledger
        .lock()
        .unwrap()
        .files
        .get_mut(&file_id)
        .unwrap()
        .finish_sent = true;
    let reply = view.client.call("finish_upload", finish).await?;
    reply.assert_ok();
    ledger
        .lock()
        .unwrap()
        .files
        .get_mut(&file_id)
        .unwrap()
        .finished = true;
    Ok(())
}

/// Downloads finished files as alice until a request fails. A file whose parts all
/// arrive must decrypt, whatever happens to the server afterwards.
async fn download_loop(view: View, ledger: SharedLedger, seed: u64) {
    let mut rng = Rng(seed);
    let mut client = view.client;
    loop {
        let pick = {
            let ledger = ledger.lock().unwrap();
            let finished: Vec<(String, usize)> = ledger
                .files
                .iter()
                .filter(|(_, sent)| sent.finished)
                .map(|(id, sent)| (id.clone(), sent.direction))
                .collect();
            if finished.is_empty() {
                None
            } else {
                Some(finished[rng.below(finished.len() as u64) as usize].clone())
            }
        };
        let Some((file_id, direction)) = pick else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if client.call("server_info", json!({})).await.is_err() {
                return;
            }
            continue;
        };
        let (file, digest) = {
            let ledger = ledger.lock().unwrap();
            let sent = &ledger.files[&file_id];
            (Arc::clone(&sent.file), sent.digest)
        };
        let make_link =
            direction == 0 && ledger.lock().unwrap().links.len() < MAX_LINKS && rng.below(4) == 0;
        if make_link {
            if share_and_download(&mut client, &ledger, &file_id, &file, digest)
                .await
                .is_err()
            {
                return;
            }
            continue;
        }
        // Alice may read what she sent and what she received alike.
        match download(&mut client, &file_id, &file).await {
            Ok(data) => assert_eq!(
                <[u8; 32]>::from(Sha256::digest(&data)),
                digest,
                "file {file_id} decrypted to other bytes"
            ),
            Err(_) => return,
        }
    }
}

/// Makes a share link on a file alice sent and downloads the file through it.
async fn share_and_download(
    client: &mut RemoteClient,
    ledger: &SharedLedger,
    file_id: &str,
    file: &EncryptedFile,
    digest: [u8; 32],
) -> Result<(), String> {
    let (link, body) = share_link_request(file_id, file, 86_400, MAX_LINK_DOWNLOADS);
    let reply = client.call("create_link", body).await?;
    reply.assert_ok();
    ledger.lock().unwrap().links.push(link.clone());
    let mut visitor = RemoteClient::new(client.addr);
    let data = download_link(&mut visitor, &link, file).await?;
    assert_eq!(
        <[u8; 32]>::from(Sha256::digest(&data)),
        digest,
        "file {file_id} decrypted to other bytes through link {}",
        link.id
    );
    Ok(())
}

/// Unlocks a link and fetches every part with the ticket, then decrypts. The download
/// is not confirmed, so it does not count against the limit.
async fn download_link(
    visitor: &mut RemoteClient,
    link: &ShareLink,
    file: &EncryptedFile,
) -> Result<Vec<u8>, String> {
    let body = json!({ "request": {
        "link_id": link.id,
        "gate_key": b64(&link.gate_key),
        "access_key": b64(&link.access_key),
    }});
    let reply = visitor.call("unlock_link", body).await?;
    reply.assert_ok();
    let ticket = reply.json()["ticket"].as_str().unwrap().to_owned();
    let mut parts = Vec::new();
    for index in 0..file.layout.part_count() {
        let request = Request::builder()
            .method(Method::GET)
            .uri(format!("/api/links/{}/parts/{index}", link.id))
            .header(LINK_TICKET_HEADER, &ticket)
            .body(Body::empty())
            .unwrap();
        let reply = visitor.send(request).await?;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "link {} part {index}",
            link.id
        );
        parts.push(reply.body.to_vec());
    }
    Ok(file.decrypt(&parts))
}

#[derive(Default)]
struct Totals {
    resumed: usize,
    finished_unseen: usize,
}

impl Totals {
    fn add(&mut self, checked: &Checked) {
        self.resumed += checked.resumed;
        self.finished_unseen += checked.finished_unseen;
    }
}

struct Checked {
    verified: usize,
    links: usize,
    resumed: usize,
    finished_unseen: usize,
}

/// Checks the state the restarted server serves against the ledger, and resumes the
/// uploads that were cut off.
async fn check_after_restart(people: &mut People, ledger: &SharedLedger) -> Checked {
    let mut checked = Checked {
        verified: 0,
        links: 0,
        resumed: 0,
        finished_unseen: 0,
    };
    // Files in a list are finished on the server; each must be in the ledger and
    // download whole.
    for (direction, client) in people.clients.iter_mut().enumerate() {
        let reply = client.call("inbox", json!({})).await.unwrap();
        reply.assert_ok();
        for entry in reply.json().as_array().unwrap() {
            let file_id = entry["file_id"].as_str().unwrap();
            let mut ledger = ledger.lock().unwrap();
            let sent = ledger
                .files
                .get_mut(file_id)
                .unwrap_or_else(|| panic!("inbox of {direction} lists unknown file {file_id}"));
            assert!(
                sent.finish_sent,
                "file {file_id} is listed but finish_upload was never sent"
            );
            if !sent.finished {
                sent.finished = true;
                checked.finished_unseen += 1;
            }
        }
    }

    let ids: Vec<String> = ledger.lock().unwrap().files.keys().cloned().collect();
    for file_id in ids {
        let (file, digest, direction, finished, stored) = {
            let ledger = ledger.lock().unwrap();
            let sent = &ledger.files[&file_id];
            (
                Arc::clone(&sent.file),
                sent.digest,
                sent.direction,
                sent.finished,
                sent.parts_stored.clone(),
            )
        };
        let sender = direction;
        let recipient = 1 - direction;
        if !finished {
            resume(people, &file_id, &file, sender, &stored).await;
            let mut ledger = ledger.lock().unwrap();
            let sent = ledger.files.get_mut(&file_id).unwrap();
            sent.finish_sent = true;
            sent.finished = true;
            drop(ledger);
            checked.resumed += 1;
        }
        let data = download(&mut people.clients[recipient], &file_id, &file)
            .await
            .unwrap_or_else(|err| panic!("finished file {file_id} does not download: {err}"));
        assert_eq!(
            <[u8; 32]>::from(Sha256::digest(&data)),
            digest,
            "finished file {file_id} decrypts to other bytes"
        );
        checked.verified += 1;
    }
    assert_lists_match(people, ledger).await;
    let links = ledger.lock().unwrap().links.clone();
    for link in &links {
        let (file, digest) = {
            let ledger = ledger.lock().unwrap();
            let sent = &ledger.files[&link.file_id];
            (Arc::clone(&sent.file), sent.digest)
        };
        let mut visitor = RemoteClient::new(people.clients[0].addr);
        let data = download_link(&mut visitor, link, &file)
            .await
            .unwrap_or_else(|err| panic!("link {} does not download: {err}", link.id));
        assert_eq!(<[u8; 32]>::from(Sha256::digest(&data)), digest);
    }
    checked.links = links.len();
    checked
}

/// Uploads the parts the client did not see stored, then finishes.
async fn resume(
    people: &mut People,
    file_id: &str,
    file: &EncryptedFile,
    sender: usize,
    stored: &[bool],
) {
    let client = &mut people.clients[sender];
    for (index, part) in file.parts.iter().enumerate() {
        if !stored[index] {
            let reply = client
                .put_part(file_id, index as u32, part.clone())
                .await
                .unwrap();
            assert_eq!(
                reply.status,
                StatusCode::NO_CONTENT,
                "resuming part {index} of {file_id}: {:?}",
                reply.body
            );
        }
    }
    let finish = file.finish_request(file_id, &people.users[sender], &people.users[1 - sender]);
    let reply = client.call("finish_upload", finish).await.unwrap();
    reply.assert_ok();
}

/// Checks that every finished file is in its recipient's inbox and its sender's sent
/// list, and that nothing else is.
async fn assert_lists_match(people: &mut People, ledger: &SharedLedger) {
    for (account, client) in people.clients.iter_mut().enumerate() {
        for (list, direction) in [("inbox", 1 - account), ("sent", account)] {
            let reply = client.call(list, json!({})).await.unwrap();
            reply.assert_ok();
            let mut listed: Vec<String> = reply
                .json()
                .as_array()
                .unwrap()
                .iter()
                .map(|entry| entry["file_id"].as_str().unwrap().to_owned())
                .collect();
            listed.sort();
            let expected: Vec<String> = ledger
                .lock()
                .unwrap()
                .files
                .iter()
                .filter(|(_, sent)| sent.direction == direction)
                .map(|(id, _)| id.clone())
                .collect();
            assert_eq!(listed, expected, "{list} of account {account}");
        }
    }
}
