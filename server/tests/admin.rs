//! `dtc-server admin` against the real binary and real redb files: backup while the
//! server serves, restore into a stopped data directory, the account list and account
//! deletion.

#![allow(clippy::unwrap_used)]

mod common;
mod process;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use common::{EncryptedFile, plaintext};
use dtc_server::store::{FileId, FileState, Store};
use process::{ServerProcess, admin, download, login, register, send_file};
use serde_json::{Value, json};

/// Plaintext bytes of one upload part (256 chunks of 16 KiB, less the tags).
const PART_PLAINTEXT: usize = 256 * (16 * 1024 - 16);

const STOP_LIMIT: Duration = Duration::from_secs(40);

async fn stop(server: &mut ServerProcess) {
    server.terminate();
    let status = server.wait_exit(STOP_LIMIT).await;
    assert!(status.success(), "server exited with {status}");
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_serving_restores_every_finished_file() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let log = dir.path().join("server.log");
    let mut server = ServerProcess::start(&data_dir, &log, &[]).await;
    let (alice, mut alice_client) = register(server.addr, "alice").await;
    let (bob, bob_client) = register(server.addr, "bob").await;

    let files = [
        EncryptedFile::new(&plaintext(PART_PLAINTEXT * 2 + 77)),
        EncryptedFile::new(&plaintext(3000)),
    ];
    let mut ids = Vec::new();
    for file in &files {
        ids.push(
            send_file(&mut alice_client, &alice, &bob, file)
                .await
                .unwrap(),
        );
    }

    // Uploads go on while the backup runs.
    let running = Arc::new(AtomicBool::new(true));
    let uploads = {
        let running = running.clone();
        let mut client = bob_client.clone();
        let (alice, bob) = (Arc::new(alice), Arc::new(bob));
        let (sender, recipient) = (bob.clone(), alice.clone());
        let task = tokio::spawn(async move {
            let mut sent = 0;
            while running.load(Ordering::SeqCst) {
                let file = EncryptedFile::new(&plaintext(PART_PLAINTEXT + 5 + sent));
                send_file(&mut client, &sender, &recipient, &file)
                    .await
                    .unwrap();
                sent += 1;
            }
            sent
        });
        (task, alice, bob)
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let backup = dir.path().join("backup.redb");
    let (ok, stdout, stderr) = {
        let (data_dir, backup) = (data_dir.clone(), backup.clone());
        tokio::task::spawn_blocking(move || {
            admin(&data_dir, &["backup", "--to", path_str(&backup)])
        })
        .await
        .unwrap()
    };
    assert!(ok, "backup failed: {stderr}");
    assert!(stdout.contains("backup written to"), "{stdout}");
    assert!(stdout.contains("2 accounts"), "{stdout}");
    running.store(false, Ordering::SeqCst);
    let (task, _alice, bob) = uploads;
    let sent_during = task.await.unwrap();
    assert!(sent_during > 0, "no upload ran during the backup");

    // A second backup to the same file is refused and leaves the first one alone.
    let before = std::fs::read(&backup).unwrap();
    let (ok, _, stderr) = admin(&data_dir, &["backup", "--to", path_str(&backup)]);
    assert!(!ok);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read(&backup).unwrap(), before);

    check_backup_contents(&backup, &ids, &files).await;

    stop(&mut server).await;
    assert!(
        !data_dir.join("admin.sock").exists(),
        "socket left after shutdown"
    );

    // Restore into a data directory that has no database yet, serve and download.
    let restored_dir = dir.path().join("restored");
    let (ok, stdout, stderr) = admin(&restored_dir, &["restore", "--from", path_str(&backup)]);
    assert!(ok, "restore failed: {stderr}");
    assert!(stdout.contains("restored"), "{stdout}");
    let server = ServerProcess::start(&restored_dir, &dir.path().join("restored.log"), &[]).await;
    let mut bob_client = login(server.addr, &bob).await.unwrap();
    for (id, file) in ids.iter().zip(&files) {
        let data = download(&mut bob_client, id, file).await.unwrap();
        assert_eq!(data, file_plaintext(file), "file {id} after restore");
    }
    drop(server);
}

/// Opens a copy of the backup in process: the files finished before it decrypt, and
/// every complete file in it has all its parts.
async fn check_backup_contents(backup: &Path, ids: &[String], files: &[EncryptedFile]) {
    let copy = backup.with_extension("check");
    std::fs::copy(backup, &copy).unwrap();
    let store = Store::open(&copy).await.unwrap();
    for (id, file) in ids.iter().zip(files) {
        let id: FileId = id.parse().unwrap();
        let record = store.find_file(id).await.unwrap().unwrap();
        assert_eq!(record.state, FileState::Complete);
        let mut parts = Vec::new();
        for index in 0..record.part_count {
            parts.push(store.read_part(id, index).await.unwrap().unwrap());
        }
        assert_eq!(file.decrypt(&parts), file_plaintext(file));
    }
    assert_eq!(store.account_usage().await.unwrap().len(), 2);
    store.close().await.unwrap();
}

/// Recovers the plaintext that [`EncryptedFile::new`] was made from, from its parts.
fn file_plaintext(file: &EncryptedFile) -> Vec<u8> {
    file.decrypt(&file.parts)
}

fn help_of(args: &[&str]) -> String {
    let output = std::process::Command::new(process::binary())
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?} failed");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn help_names_the_admin_commands() {
    let help = help_of(&["--help"]);
    assert!(
        help.contains("Usage: dtc-server [OPTIONS] [COMMAND]"),
        "{help}"
    );
    assert!(help.contains("\n  admin "), "{help}");
    assert!(help.contains("see `dtc-server admin --help`"), "{help}");

    let admin = help_of(&["admin", "--help"]);
    assert!(admin.contains("Usage: dtc-server admin "), "{admin}");
    for command in ["backup", "restore", "accounts", "delete-account"] {
        assert!(admin.contains(&format!("\n  {command} ")), "{admin}");
    }
    let backup = help_of(&["admin", "backup", "--help"]);
    assert!(
        backup.contains("Usage: dtc-server admin backup "),
        "{backup}"
    );
}

/// Runs `dtc-server admin ARGS --data-dir DIR` under umask 022, the usual umask of a
/// login shell, which would give a new file mode 0644.
fn admin_with_umask_022(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 022 && exec \"$0\" \"$@\"")
        .arg(process::binary())
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn file_mode(path: &Path) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions())
        & 0o7777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_file_has_mode_0600_with_and_without_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut server = ServerProcess::start(&data_dir, &dir.path().join("server.log"), &[]).await;
    register(server.addr, "alice").await;

    // Written by the running server, on behalf of the command.
    let online = dir.path().join("online.redb");
    let (ok, _, stderr) = admin_with_umask_022(&data_dir, &["backup", "--to", path_str(&online)]);
    assert!(ok, "{stderr}");
    assert_eq!(file_mode(&online), 0o600, "backup by the running server");

    // Written by the command itself, with the server stopped.
    stop(&mut server).await;
    let offline = dir.path().join("offline.redb");
    let (ok, stdout, stderr) =
        admin_with_umask_022(&data_dir, &["backup", "--to", path_str(&offline)]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("backup written to"), "{stdout}");
    assert_eq!(
        file_mode(&offline),
        0o600,
        "backup by the stopped-server command"
    );

    // --force replaces an existing file of a wider mode with a 0600 one.
    std::fs::write(&offline, b"older").unwrap();
    std::fs::set_permissions(
        &offline,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let (ok, _, stderr) = admin_with_umask_022(
        &data_dir,
        &["backup", "--force", "--to", path_str(&offline)],
    );
    assert!(ok, "{stderr}");
    assert_eq!(file_mode(&offline), 0o600, "backup written with --force");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_is_refused_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut server = ServerProcess::start(&data_dir, &dir.path().join("server.log"), &[]).await;
    register(server.addr, "alice").await;
    let backup = dir.path().join("backup.redb");
    let (ok, _, stderr) = admin(&data_dir, &["backup", "--to", path_str(&backup)]);
    assert!(ok, "{stderr}");

    let (ok, _, stderr) = admin(&data_dir, &["restore", "--from", path_str(&backup)]);
    assert!(!ok);
    assert!(stderr.contains("stop it first"), "{stderr}");
    let names: Vec<String> = std::fs::read_dir(&data_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !names.iter().any(|name| name.contains("before-restore")),
        "{names:?}"
    );

    // Once stopped, the restore moves the database aside and puts the backup in place.
    stop(&mut server).await;
    let (ok, stdout, stderr) = admin(&data_dir, &["restore", "--from", path_str(&backup)]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("previous database is kept at"), "{stdout}");
    assert!(
        stdout.contains("once the restored server works, delete it with: rm "),
        "{stdout}"
    );
    let names: Vec<String> = std::fs::read_dir(&data_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names
            .iter()
            .any(|name| name.starts_with("dtc.redb.before-restore-")),
        "{names:?}"
    );

    // A file that is not a database is refused before anything moves.
    let junk = dir.path().join("junk.redb");
    std::fs::write(&junk, b"not a database").unwrap();
    let (ok, _, stderr) = admin(&data_dir, &["restore", "--from", path_str(&junk)]);
    assert!(!ok);
    assert!(
        stderr.contains("not a readable database backup"),
        "{stderr}"
    );
    assert!(data_dir.join("dtc.redb").is_file());
}

fn accounts_json(data_dir: &Path) -> Vec<Value> {
    let (ok, stdout, stderr) = admin(data_dir, &["accounts", "--json"]);
    assert!(ok, "{stderr}");
    serde_json::from_str::<Value>(&stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn account<'a>(accounts: &'a [Value], username: &str) -> &'a Value {
    accounts
        .iter()
        .find(|account| account["username"] == username)
        .unwrap_or_else(|| panic!("no {username} in {accounts:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_lists_files_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut server = ServerProcess::start(&data_dir, &dir.path().join("server.log"), &[]).await;
    let (alice, mut alice_client) = register(server.addr, "alice").await;
    let (bob, _bob_client) = register(server.addr, "bob").await;
    let files = [
        EncryptedFile::new(&plaintext(1000)),
        EncryptedFile::new(&plaintext(2000)),
    ];
    for file in &files {
        send_file(&mut alice_client, &alice, &bob, file)
            .await
            .unwrap();
    }
    let pending = EncryptedFile::new(&plaintext(10));
    alice_client
        .call("create_upload", pending.create_request("bob"))
        .await
        .unwrap()
        .assert_ok();

    let accounts = accounts_json(&data_dir);
    assert_eq!(accounts.len(), 2);
    let alice_row = account(&accounts, "alice");
    assert_eq!(alice_row["files_sent"], 2);
    let bytes: u64 = files
        .iter()
        .map(|file| file.ciphertext_len() + file.metadata.len() as u64)
        .sum();
    assert_eq!(alice_row["bytes_sent"], bytes);
    assert_eq!(alice_row["files_received"], 0);
    assert_eq!(alice_row["pending_uploads"], 1);
    assert_eq!(alice_row["sessions"], 1);
    let bob_row = account(&accounts, "bob");
    assert_eq!(bob_row["files_received"], 2);
    assert_eq!(bob_row["files_sent"], 0);
    assert_eq!(bob_row["sessions"], 1);

    // The table form names every account; without a server the command opens the
    // database itself.
    stop(&mut server).await;
    let (ok, stdout, stderr) = admin(&data_dir, &["accounts"]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("USERNAME"), "{stdout}");
    assert!(
        stdout.contains("alice") && stdout.contains("bob"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_account_keeps_sent_files_for_recipients() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = ServerProcess::start(&data_dir, &dir.path().join("server.log"), &[]).await;
    let (alice, mut alice_client) = register(server.addr, "alice").await;
    let (bob, mut bob_client) = register(server.addr, "bob").await;
    let to_bob = EncryptedFile::new(&plaintext(PART_PLAINTEXT + 10));
    let to_bob_id = send_file(&mut alice_client, &alice, &bob, &to_bob)
        .await
        .unwrap();
    let to_alice = EncryptedFile::new(&plaintext(500));
    let to_alice_id = send_file(&mut bob_client, &bob, &alice, &to_alice)
        .await
        .unwrap();
    let pending = EncryptedFile::new(&plaintext(10));
    alice_client
        .call("create_upload", pending.create_request("bob"))
        .await
        .unwrap()
        .assert_ok();

    // Without --yes nothing changes.
    let (ok, stdout, stderr) = admin(&data_dir, &["delete-account", "Alice"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("would delete account alice"), "{stdout}");
    assert!(
        stdout.contains("1 sessions, 1 received files, 1 unfinished uploads"),
        "{stdout}"
    );
    assert!(stdout.contains("--yes"), "{stdout}");
    assert_eq!(accounts_json(&data_dir).len(), 2);
    alice_client
        .call("inbox", json!({}))
        .await
        .unwrap()
        .assert_ok();

    let (ok, stdout, stderr) = admin(&data_dir, &["delete-account", "alice", "--yes"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("deleted account alice"), "{stdout}");
    assert!(stdout.contains("1 files it sent stay readable"), "{stdout}");

    // Alice's session is gone and she cannot sign in again.
    let reply = alice_client.call("inbox", json!({})).await.unwrap();
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    assert!(login(server.addr, &alice).await.is_err());
    let accounts = accounts_json(&data_dir);
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["username"], "bob");

    // Bob still reads what alice sent him, from a sender shown as deleted.
    let reply = bob_client.call("inbox", json!({})).await.unwrap();
    reply.assert_ok();
    let inbox = reply.json();
    let entry = &inbox.as_array().unwrap()[0];
    assert_eq!(entry["file_id"], to_bob_id.as_str());
    assert_eq!(entry["sender"], "deleted account");
    let data = download(&mut bob_client, &to_bob_id, &to_bob)
        .await
        .unwrap();
    assert_eq!(data, file_plaintext(&to_bob));

    // What bob sent to alice went with her account.
    let reply = bob_client.call("sent", json!({})).await.unwrap();
    reply.assert_ok();
    assert_eq!(reply.json().as_array().unwrap().len(), 0);
    let reply = bob_client.get_part(&to_alice_id, 0).await.unwrap();
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // An unknown name is an error that names the next step.
    let (ok, _, stderr) = admin(&data_dir, &["delete-account", "alice", "--yes"]);
    assert!(!ok);
    assert!(stderr.contains("no account named \"alice\""), "{stderr}");
}
