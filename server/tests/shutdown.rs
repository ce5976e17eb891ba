//! SIGTERM on the real server with a part upload and a slow download in flight: both
//! finish, the server stops accepting, closes the database, exits 0, and the next start
//! serves every finished file.

#![allow(clippy::unwrap_used)]

mod common;
mod process;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{EncryptedFile, plaintext};
use process::{ServerProcess, download, register, send_file};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Plaintext bytes of one upload part (256 chunks of 16 KiB, less the tags).
const PART_PLAINTEXT: usize = 256 * (16 * 1024 - 16);

/// Maximum time the server may take to exit after SIGTERM, whose grace is 30 s.
const EXIT_LIMIT: Duration = Duration::from_secs(40);

/// Pieces the slow requests are cut into, and the pause between them.
const PIECES: usize = 16;
const PAUSE: Duration = Duration::from_millis(200);

/// Reads one HTTP/1.1 response with a `Content-Length`, pausing between pieces of the
/// body when `slow` is set. Returns the status and the body.
async fn read_response(stream: &mut TcpStream, slow: bool) -> (u16, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = stream.read(&mut byte).await.unwrap();
        assert_eq!(read, 1, "connection closed in the response head: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    let piece = length.div_ceil(PIECES).max(1);
    let mut filled = 0;
    while filled < length {
        let end = (filled + piece).min(length);
        stream.read_exact(&mut body[filled..end]).await.unwrap();
        filled = end;
        if slow {
            tokio::time::sleep(PAUSE).await;
        }
    }
    (status, body)
}

fn request_head(addr: SocketAddr, method: &str, path: &str, cookie: &str, length: usize) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Cookie: dtc_session={cookie}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {length}\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let log = dir.path().join("server.log");
    let mut server = ServerProcess::start(&data_dir, &log, &[]).await;
    let addr = server.addr;
    let (alice, mut alice_client) = register(addr, "alice").await;
    let (bob, mut bob_client) = register(addr, "bob").await;

    let finished = EncryptedFile::new(&plaintext(PART_PLAINTEXT * 2 + 3));
    let finished_id = send_file(&mut alice_client, &alice, &bob, &finished)
        .await
        .unwrap();
    let uploading = EncryptedFile::new(&plaintext(PART_PLAINTEXT + 99));
    let reply = alice_client
        .call("create_upload", uploading.create_request("bob"))
        .await
        .unwrap();
    reply.assert_ok();
    let uploading_id = reply.json()["file_id"].as_str().unwrap().to_owned();

    // An upload of part 0 that sends its body in pieces.
    let upload = {
        let cookie = alice_client.cookie.clone().unwrap();
        let body = uploading.parts[0].clone();
        let path = format!("/api/files/{uploading_id}/parts/0");
        tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let head = request_head(addr, "PUT", &path, &cookie, body.len());
            stream.write_all(head.as_bytes()).await.unwrap();
            for piece in body.chunks(body.len().div_ceil(PIECES)) {
                stream.write_all(piece).await.unwrap();
                tokio::time::sleep(PAUSE).await;
            }
            read_response(&mut stream, false).await
        })
    };
    // A download of part 0 of the finished file that reads its body slowly.
    let slow_download = {
        let cookie = bob_client.cookie.clone().unwrap();
        let path = format!("/api/files/{finished_id}/parts/0");
        tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let head = format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: dtc_session={cookie}\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            read_response(&mut stream, true).await
        })
    };

    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    server.terminate();

    // The listener closes while the two requests go on.
    let refused_by = Instant::now() + Duration::from_secs(2);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < refused_by,
            "the server still accepts connections 2 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !upload.is_finished() && !slow_download.is_finished(),
        "the requests ended before the test could check them in flight"
    );

    let (status, body) = upload.await.unwrap();
    assert_eq!(
        status,
        204,
        "upload in flight: {}",
        String::from_utf8_lossy(&body)
    );
    let (status, body) = slow_download.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, finished.parts[0], "slow download in flight");

    let exit = server.wait_exit(EXIT_LIMIT).await;
    assert!(exit.success(), "exit status {exit}");
    let log_text = server.log_text();
    assert!(log_text.contains("database closed"), "{log_text}");
    assert!(log_text.contains("server stopped"), "{log_text}");
    println!("server exited {:?} after SIGTERM", signalled.elapsed());

    // The next start serves the finished file and the part stored during shutdown.
    let server = ServerProcess::start(&data_dir, &log, &[]).await;
    bob_client.addr = server.addr;
    alice_client.addr = server.addr;
    let data = download(&mut bob_client, &finished_id, &finished)
        .await
        .unwrap();
    assert_eq!(data, finished.decrypt(&finished.parts));
    for (index, part) in uploading.parts.iter().enumerate().skip(1) {
        let reply = alice_client
            .put_part(&uploading_id, index as u32, part.clone())
            .await
            .unwrap();
        assert_eq!(reply.status.as_u16(), 204);
    }
    alice_client
        .call(
            "finish_upload",
            uploading.finish_request(&uploading_id, &alice, &bob),
        )
        .await
        .unwrap()
        .assert_ok();
    let data = download(&mut bob_client, &uploading_id, &uploading)
        .await
        .unwrap();
    assert_eq!(data, uploading.decrypt(&uploading.parts));
}
