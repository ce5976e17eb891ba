//! Time limits over real TCP: a client that stops sending a body or its headers, or
//! stays idle, loses its connection, and shutdown ends requests that stall.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{EncryptedFile, TestServer, create_upload, plaintext, register, send_file};
use dtc_server::transfer_slots::MAX_CONCURRENT_PART_TRANSFERS;
use dtc_server::{ServeLimits, serve_with_limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Maximum time a test waits for the server to act on a time limit of one second.
const PATIENCE: Duration = Duration::from_secs(10);

const SHORT: Duration = Duration::from_secs(1);

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn run(server: &TestServer, limits: ServeLimits) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(serve_with_limits(
        listener,
        server.app.clone(),
        shutdown,
        limits,
    ));
    Running { addr, stop, task }
}

/// Reads until the server closes the connection, or panics after [`PATIENCE`].
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received)).await;
    assert!(
        read.is_ok(),
        "connection still open after {PATIENCE:?}; received {:?}",
        String::from_utf8_lossy(&received)
    );
    String::from_utf8_lossy(&received).into_owned()
}

/// Creates a pending upload of one part and returns the head of a PUT of its whole length.
async fn part_request_head(server: &TestServer) -> String {
    let (_, mut client) = register(server, "alice").await;
    let file = EncryptedFile::new(&plaintext(100_000));
    let file_id = create_upload(&mut client, &file, "alice").await;
    let cookie = client.cookie.clone().unwrap();
    let length = file.parts[0].len();
    let head = format!(
        "PUT /api/files/{file_id}/parts/0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Origin: http://127.0.0.1\r\nCookie: dtc_session={cookie}\r\n\
         Content-Type: application/octet-stream\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    head
}

#[tokio::test]
async fn stalled_part_body_times_out() {
    let server =
        TestServer::start_with_settings(|settings| settings.part_body_timeout = SHORT).await;
    let head = part_request_head(&server).await;
    let running = run(&server, ServeLimits::default()).await;

    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[0; 100]).await.unwrap();
    let response = read_to_close(&mut stream).await;

    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("invalid_input"), "{response}");
    running.stop.send(()).unwrap();
    running.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn stalled_json_body_times_out() {
    let server =
        TestServer::start_with_settings(|settings| settings.json_body_timeout = SHORT).await;
    let running = run(&server, ServeLimits::default()).await;

    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    let head = "POST /api/login_params HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                Origin: http://127.0.0.1\r\nContent-Type: application/json\r\n\
                Content-Length: 1000\r\n\r\n{\"user";
    stream.write_all(head.as_bytes()).await.unwrap();
    let response = read_to_close(&mut stream).await;

    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    running.stop.send(()).unwrap();
    running.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn half_sent_headers_time_out() {
    let server = TestServer::start().await;
    let limits = ServeLimits {
        header_read: SHORT,
        ..ServeLimits::default()
    };
    let running = run(&server, limits).await;

    let mut half_sent = TcpStream::connect(running.addr).await.unwrap();
    half_sent
        .write_all(b"GET / HTTP/1.1\r\nHost: 127")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(running.addr).await.unwrap();
    read_to_close(&mut half_sent).await;
    read_to_close(&mut idle).await;

    running.stop.send(()).unwrap();
    running.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_ends_stalled_requests_after_grace() {
    let server = TestServer::start().await;
    let head = part_request_head(&server).await;
    let limits = ServeLimits {
        shutdown_grace: SHORT,
        ..ServeLimits::default()
    };
    let running = run(&server, limits).await;

    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[0; 100]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    running.stop.send(()).unwrap();
    running.task.await.unwrap().unwrap();

    assert!(
        started.elapsed() < PATIENCE,
        "shutdown took {:?}",
        started.elapsed()
    );
    read_to_close(&mut stream).await;
}

/// Stores a file with one full part and returns the length of that part and the head
/// of a GET of it that requests the server to close the connection after the response.
async fn full_part_request_head(server: &TestServer) -> (usize, String) {
    let (alice, mut client) = register(server, "alice").await;
    let (bob, _) = register(server, "bob").await;
    let file = EncryptedFile::new(&plaintext(4 * 1024 * 1024));
    let file_id = send_file(&mut client, &alice, &bob, &file).await;
    let cookie = client.cookie.clone().unwrap();
    let head = format!(
        "GET /api/files/{file_id}/parts/0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Cookie: dtc_session={cookie}\r\nConnection: close\r\n\r\n"
    );
    (file.parts[0].len(), head)
}

/// Sends `head` from the loopback address `127.0.0.{host}` on a connection with a
/// small receive window, so that the kernel buffers cannot take a whole part, and
/// reads nothing.
async fn stalled_reader(addr: SocketAddr, head: &str, host: u8) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
        .bind(SocketAddr::from(([127, 0, 0, host], 0)))
        .unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn client_that_stops_reading_loses_connection() {
    let server = TestServer::start().await;
    let (part_len, head) = full_part_request_head(&server).await;
    let limits = ServeLimits {
        write_stall: SHORT,
        ..ServeLimits::default()
    };
    let running = run(&server, limits).await;

    let mut stream = stalled_reader(running.addr, &head, 1).await;
    tokio::time::sleep(3 * SHORT).await;

    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "connection still open after {PATIENCE:?}");
    assert!(
        received.len() < part_len,
        "{} bytes received of a part of {part_len}",
        received.len()
    );
    running.stop.send(()).unwrap();
    running.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn stalled_readers_hold_slots_until_dropped() {
    let server = TestServer::start().await;
    let (part_len, head) = full_part_request_head(&server).await;
    let stall_limit = 3 * SHORT;
    let limits = ServeLimits {
        write_stall: stall_limit,
        ..ServeLimits::default()
    };
    let running = run(&server, limits).await;

    let started = Instant::now();
    let mut stalled = Vec::new();
    // One address each, so that no address reaches its own maximum.
    for host in 2..2 + MAX_CONCURRENT_PART_TRANSFERS as u8 {
        stalled.push(stalled_reader(running.addr, &head, host).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut reader = TcpStream::connect(running.addr).await.unwrap();
    reader.write_all(head.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, reader.read_to_end(&mut received)).await;

    assert!(read.is_ok(), "download not served within {PATIENCE:?}");
    assert!(
        received.len() > part_len,
        "{} bytes received",
        received.len()
    );
    let waited = started.elapsed();
    assert!(
        waited >= stall_limit - Duration::from_millis(500),
        "a 17th download was served after {waited:?}, beside 16 stalled ones"
    );
    drop(stalled);
    running.stop.send(()).unwrap();
    running.task.await.unwrap().unwrap();
}
