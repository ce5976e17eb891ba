//! Operations: the health check, the metrics listener, request ids, and the JSON log
//! lines of the real binary.

#![allow(clippy::unwrap_used)]

mod common;
mod process;

use std::collections::HashMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{
    EncryptedFile, PASSWORD, Reply, TestServer, b64, plaintext, register, send_file,
    share_link_request,
};
use dtc_app::api::LINK_TICKET_HEADER;
use process::RemoteClient;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest time a test waits for the binary to start or to log a line.
const PATIENCE: Duration = Duration::from_secs(20);

fn get(path: &str) -> Request<Body> {
    Request::builder()
        .method(Method::GET)
        .uri(path)
        .body(Body::empty())
        .unwrap()
}

fn login_body(username: &str, login_key: &[u8]) -> Value {
    json!({ "request": { "username": username, "login_key": b64(login_key) } })
}

/// A response read from a raw HTTP/1.1 connection.
struct RawReply {
    status: u16,
    head: String,
    body: String,
}

impl RawReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends `GET path` with `extra` header lines on a new connection and reads the reply
/// until the server closes it.
async fn raw_get(addr: SocketAddr, path: &str, extra: &str) -> RawReply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(received).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    RawReply {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Parses the samples of a Prometheus text exposition into `name{labels}` → value.
fn parse_samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (key, value) = line.rsplit_once(' ').unwrap();
            (key.to_owned(), value.parse().unwrap())
        })
        .collect()
}

async fn start_metrics_listener(server: &TestServer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics = server.metrics.clone();
    tokio::spawn(dtc_server::metrics::serve_metrics(
        listener,
        metrics,
        server.store.clone(),
    ));
    addr
}

async fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let reply = raw_get(addr, "/metrics", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let content_type = reply.header("content-type").unwrap();
    assert!(content_type.contains("version=0.0.4"), "{content_type}");
    parse_samples(&reply.body)
}

#[tokio::test]
async fn healthz_is_ok_without_session() {
    let server = TestServer::start().await;

    let reply = server.client().send(get("/healthz")).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "ok");
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    assert!(reply.headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn public_router_has_no_metrics() {
    let server = TestServer::start().await;

    let reply = server.client().send(get("/metrics")).await;

    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_count_requests_and_part_bytes() {
    let mut server = TestServer::start().await;
    server.listen().await;
    let metrics_addr = start_metrics_listener(&server).await;
    let (alice, mut alice_client) = register(&server, "alice").await;
    let (bob, mut bob_client) = register(&server, "bob").await;
    let file = EncryptedFile::new(&plaintext(100_000));
    let part_len = file.parts[0].len() as f64;

    let file_id = send_file(&mut alice_client, &alice, &bob, &file).await;
    bob_client.get_part(&file_id, 0).await.assert_ok();
    let mut wrong_key = alice.login_key;
    wrong_key[0] ^= 1;
    let failed = server
        .client()
        .call("login", login_body("alice", &wrong_key))
        .await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    let signed_in = server
        .client()
        .call("login", login_body("alice", &alice.login_key))
        .await;
    signed_in.assert_ok();
    server.client().send(get("/healthz")).await.assert_ok();

    let samples = scrape(metrics_addr).await;
    let sample = |key: &str| {
        *samples
            .get(key)
            .unwrap_or_else(|| panic!("no sample {key}"))
    };
    assert_eq!(sample("dtc_part_bytes_received_total"), part_len);
    assert_eq!(sample("dtc_part_bytes_sent_total"), part_len);
    assert_eq!(
        sample("dtc_http_requests_total{route=\"part\",status=\"2xx\"}"),
        2.0
    );
    assert_eq!(
        sample("dtc_http_requests_total{route=\"health\",status=\"2xx\"}"),
        1.0
    );
    assert_eq!(
        sample("dtc_http_requests_total{route=\"api\",status=\"4xx\"}"),
        1.0
    );
    assert_eq!(
        sample("dtc_http_request_duration_seconds_count{route=\"part\"}"),
        2.0
    );
    assert_eq!(sample("dtc_sign_ins_total{result=\"ok\"}"), 1.0);
    assert_eq!(sample("dtc_sign_ins_total{result=\"failed\"}"), 1.0);
    assert_eq!(sample("dtc_sign_ins_total{result=\"throttled\"}"), 0.0);
    assert_eq!(sample("dtc_links_served_total"), 0.0);
    assert!(sample("dtc_database_size_bytes") > 0.0);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(&format!("dtc_build_info{{version=\"{version}\"}}")),
        1.0
    );
}

#[tokio::test]
async fn open_part_transfers_return_to_zero() {
    let mut server = TestServer::start().await;
    server.listen().await;
    let metrics_addr = start_metrics_listener(&server).await;
    let (alice, mut client) = register(&server, "alice").await;
    let (bob, _) = register(&server, "bob").await;
    let file = EncryptedFile::new(&plaintext(100_000));
    let file_id = send_file(&mut client, &alice, &bob, &file).await;
    client.get_part(&file_id, 0).await.assert_ok();

    // The transfer ends when hyper drops the response body, just after the client
    // has read it, so the gauge may lag the reply by a moment.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let open = scrape(metrics_addr).await["dtc_open_part_transfers"];
        if open == 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} part transfers still open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn metrics_listener_serves_only_metrics() {
    let server = TestServer::start().await;
    let metrics_addr = start_metrics_listener(&server).await;

    for path in ["/", "/healthz", "/api/session"] {
        let reply = raw_get(metrics_addr, path, "").await;
        assert_eq!(reply.status, 404, "path {path}");
    }
}

#[tokio::test]
async fn safe_client_request_id_is_kept() {
    let server = TestServer::start().await;
    let mut request = get("/healthz");
    request
        .headers_mut()
        .insert("x-request-id", "proxy-id-42".parse().unwrap());

    let reply = server.client().send(request).await;

    assert_eq!(reply.headers["x-request-id"], "proxy-id-42");
}

#[tokio::test]
async fn unsafe_client_request_id_is_replaced() {
    let server = TestServer::start().await;
    let too_long = "a".repeat(65);
    for bad in ["id with spaces", "id\"}{", "a_b", too_long.as_str()] {
        let mut request = get("/healthz");
        request
            .headers_mut()
            .insert("x-request-id", bad.parse().unwrap());

        let reply = server.client().send(request).await;

        let id = reply.headers["x-request-id"].to_str().unwrap();
        assert_ne!(id, bad);
        assert_eq!(id.len(), 36, "replacement {id:?} is not a UUID");
    }
}

/// The real binary, started with JSON logs on free ports. Dropping it kills it.
struct Binary {
    child: Child,
    /// The binary's stdout lines, read by a thread.
    lines: mpsc::Receiver<String>,
    addr: SocketAddr,
    metrics_addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Binary {
    /// Starts the binary with the default log filter, as a server without `RUST_LOG`.
    fn start() -> Binary {
        Self::start_with_filter(None)
    }

    /// Starts the binary with `RUST_LOG` set to `filter`, or unset for `None`.
    fn start_with_filter(filter: Option<&str>) -> Binary {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_dtc-server"));
        command
            .arg("--addr=127.0.0.1:0")
            .arg("--metrics-addr=127.0.0.1:0")
            .arg(format!("--data-dir={}", dir.path().display()))
            .arg(format!("--site-dir={}", dir.path().join("site").display()))
            .arg("--log-format=json")
            .env_remove("RUST_LOG");
        if let Some(filter) = filter {
            command.env("RUST_LOG", filter);
        }
        let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut binary = Binary {
            child,
            lines,
            addr: "127.0.0.1:0".parse().unwrap(),
            metrics_addr: "127.0.0.1:0".parse().unwrap(),
            _dir: dir,
        };
        binary.addr = binary.addr_logged_in("server started");
        binary.metrics_addr = binary.addr_logged_in("metrics listener started");
        binary
    }

    fn next_line(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("no log line in {PATIENCE:?}"));
        serde_json::from_str(&line)
            .unwrap_or_else(|err| panic!("log line is not JSON ({err}): {line}"))
    }

    /// Reads log lines until `done` holds for the lines read, and returns them all.
    fn lines_until(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        while !done(&seen) {
            seen.push(self.next_line());
        }
        seen
    }

    /// Reads lines up to the one with `message` and returns the `addr` field it logs.
    fn addr_logged_in(&self, message: &str) -> SocketAddr {
        loop {
            let line = self.next_line();
            if line["fields"]["message"] == message {
                return line["fields"]["addr"].as_str().unwrap().parse().unwrap();
            }
        }
    }

    /// Reads log lines until one of the request with `request_id` reports its response.
    fn lines_of_request(&self, request_id: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let line = self.next_line();
            let done = line["fields"]["message"] == "finished processing request"
                && line["span"]["request_id"] == request_id;
            seen.push(line);
            if done {
                return seen;
            }
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_message(line: &Value, message: &str) -> bool {
    line["fields"]["message"] == message
}

/// The request span of a log line: the first of its span list named `request`.
fn request_span(line: &Value) -> Option<&Value> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|span| span["name"] == "request")
}

/// The request id that a server response carries.
fn request_id_of(reply: &Reply) -> String {
    reply.headers["x-request-id"].to_str().unwrap().to_owned()
}

/// Finds the line with `message` logged in the request `request_id`, and returns
/// the fields of its request span.
fn span_of<'a>(lines: &'a [Value], request_id: &str, message: &str) -> &'a Value {
    lines
        .iter()
        .filter(|line| is_message(line, message))
        .filter_map(request_span)
        .find(|span| span["request_id"] == request_id)
        .unwrap_or_else(|| panic!("no {message:?} line in request {request_id}: {lines:#?}"))
}

/// Asserts that every line logged inside a request span names `request_id`, in the
/// current span and in the request span of the span list.
fn assert_lines_carry(lines: &[Value], request_id: &str) {
    let in_request: Vec<&Value> = lines
        .iter()
        .filter(|line| {
            line["spans"]
                .as_array()
                .is_some_and(|spans| !spans.is_empty())
        })
        .collect();
    assert!(!in_request.is_empty(), "no line inside a span: {lines:?}");
    for line in in_request {
        let root = &line["spans"][0];
        assert_eq!(root["name"], "request", "{line}");
        assert_eq!(root["request_id"], request_id, "{line}");
        assert!(line["span"].is_object(), "no current span: {line}");
    }
}

#[tokio::test]
async fn json_logs_carry_request_id() {
    let binary = Binary::start();

    let health = raw_get(binary.addr, "/healthz", "x-request-id: deploy-test-1\r\n").await;
    assert_eq!(health.status, 200);
    let lines = binary.lines_of_request("deploy-test-1");
    assert_lines_carry(&lines, "deploy-test-1");

    let api = raw_get(
        binary.addr,
        "/api/no_such_function",
        "x-request-id: deploy-test-2\r\n",
    )
    .await;
    assert_eq!(api.status, 404);
    let lines = binary.lines_of_request("deploy-test-2");
    assert_lines_carry(&lines, "deploy-test-2");
    let rejected = lines
        .iter()
        .find(|line| line["fields"]["message"] == "request rejected");
    assert!(rejected.is_some(), "no rejection line: {lines:?}");
}

#[tokio::test]
async fn json_logs_carry_replaced_request_id() {
    let binary = Binary::start();

    let reply = raw_get(binary.addr, "/healthz", "x-request-id: evil\"id\r\n").await;

    let id = reply.header("x-request-id").unwrap().to_owned();
    assert_ne!(id, "evil\"id");
    let lines = binary.lines_of_request(&id);
    assert_lines_carry(&lines, &id);
    for line in &lines {
        assert!(!line.to_string().contains("evil"), "{line}");
    }
}

#[tokio::test]
async fn binary_serves_metrics_apart() {
    let binary = Binary::start();

    let public = raw_get(binary.addr, "/metrics", "").await;
    let health = raw_get(binary.addr, "/healthz", "").await;
    let samples = scrape(binary.metrics_addr).await;

    assert_eq!(public.status, 404);
    assert_eq!(health.status, 200);
    assert_eq!(health.body, "ok");
    let health_key = "dtc_http_requests_total{route=\"health\",status=\"2xx\"}";
    assert_eq!(samples[health_key], 1.0);
    let page_key = "dtc_http_requests_total{route=\"page\",status=\"4xx\"}";
    assert_eq!(samples[page_key], 1.0);
}

#[tokio::test]
async fn json_logs_name_ids_and_no_secrets() {
    // A filter that keeps the spans of the session layer, which handlers run inside.
    let binary = Binary::start_with_filter(Some("info"));
    let addr = binary.addr;
    let (alice, mut alice_client) = process::register(addr, "zelda-logs").await;
    let (bob, _) = process::register(addr, "yorick-logs").await;
    let file = EncryptedFile::new(&plaintext(100_000));

    let created = alice_client
        .call("create_upload", file.create_request(&bob.username))
        .await
        .unwrap();
    let file_id = created.json()["file_id"].as_str().unwrap().to_owned();
    let stored = alice_client
        .put_part(&file_id, 0, file.parts[0].clone())
        .await
        .unwrap();
    alice_client
        .call("finish_upload", file.finish_request(&file_id, &alice, &bob))
        .await
        .unwrap()
        .assert_ok();
    let (link, body) = share_link_request(&file_id, &file, 3600, 1);
    let linked = alice_client.call("create_link", body).await.unwrap();
    linked.assert_ok();
    let mut visitor = RemoteClient::new(addr);
    let unlock_body = json!({ "request": {
        "link_id": link.id,
        "gate_key": b64(&link.gate_key),
        "access_key": b64(&link.access_key),
    }});
    let unlocked = visitor.call("unlock_link", unlock_body).await.unwrap();
    let ticket = unlocked.json()["ticket"].as_str().unwrap().to_owned();
    let part_request = Request::builder()
        .uri(format!("/api/links/{}/parts/0", link.id))
        .header(LINK_TICKET_HEADER, &ticket)
        .body(Body::empty())
        .unwrap();
    let link_part = visitor.send(part_request).await.unwrap();
    link_part.assert_ok();
    let fetched = alice_client.get_part(&file_id, 0).await.unwrap();
    fetched.assert_ok();
    let missing_id = "ab".repeat(16);
    let missing = alice_client.get_part(&missing_id, 0).await.unwrap();
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let mut wrong_key = alice.login_key;
    wrong_key[0] ^= 1;
    let failed = RemoteClient::new(addr)
        .call("login", login_body(&alice.username, &wrong_key))
        .await
        .unwrap();
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    let mut signed_out = RemoteClient::new(addr);
    let inbox = signed_out.call("inbox", json!({})).await.unwrap();
    assert_eq!(inbox.status, StatusCode::UNAUTHORIZED);
    let last = raw_get(addr, "/healthz", "x-request-id: last-request\r\n").await;
    assert_eq!(last.status, 200);

    let sent = "last part of a share-link download sent";
    let finished = "finished processing request";
    let lines = binary.lines_until(|lines| {
        let ended = |line: &&Value| {
            is_message(line, finished) && line["span"]["request_id"] == "last-request"
        };
        lines.iter().any(|line| is_message(line, sent)) && lines.iter().any(|line| ended(&line))
    });

    let registered = lines
        .iter()
        .find(|line| is_message(line, "account registered"))
        .unwrap();
    let account = registered["fields"]["account"].clone();
    assert!(account.is_string(), "{registered}");
    for reply in [&created, &stored, &linked] {
        let span = span_of(&lines, &request_id_of(reply), finished);
        assert_eq!(span["account"], account, "{span}");
        assert_eq!(span["file_id"], file_id.as_str(), "{span}");
    }
    for reply in [&stored, &fetched] {
        let span = span_of(&lines, &request_id_of(reply), finished);
        assert_eq!(span["account"], account, "{span}");
        assert_eq!(span["file_id"], file_id.as_str(), "{span}");
        assert_eq!(span["part"], 0, "{span}");
    }
    let span = span_of(&lines, &request_id_of(&missing), "request rejected");
    assert_eq!(span["account"], account, "{span}");
    assert_eq!(span["file_id"], missing_id.as_str(), "{span}");
    for reply in [&linked, &unlocked, &link_part] {
        let span = span_of(&lines, &request_id_of(reply), finished);
        assert_eq!(span["link_id"], link.id.as_str(), "{span}");
        assert_eq!(span["file_id"], file_id.as_str(), "{span}");
    }
    let span = span_of(&lines, &request_id_of(&link_part), sent);
    assert_eq!(span["link_id"], link.id.as_str(), "{span}");
    let span = span_of(&lines, &request_id_of(&failed), "request rejected");
    assert_eq!(span["account"], account, "{span}");
    span_of(&lines, &request_id_of(&inbox), "request rejected");

    let session = alice_client.cookie.clone().unwrap();
    let secrets = [
        alice.username.as_str(),
        bob.username.as_str(),
        "report.pdf",
        PASSWORD,
        &b64(&alice.login_key),
        &b64(&wrong_key),
        &session,
        &ticket,
        &b64(&link.gate_key),
        &b64(&link.access_key),
    ];
    for line in &lines {
        let text = line.to_string();
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
        if line["spans"]
            .as_array()
            .is_some_and(|spans| !spans.is_empty())
        {
            assert!(request_span(line).is_some(), "no request span: {text}");
        }
        // The only addresses logged are the server's own, at start.
        let own = ["server started", "metrics listener started"];
        if !own.iter().any(|message| is_message(line, message)) {
            assert!(!text.contains("127.0.0.1"), "client address in {text}");
        }
    }
}

#[tokio::test]
async fn default_log_filter_keeps_ended_sessions_quiet() {
    let binary = Binary::start();
    // The cookie of a session that expired or ended elsewhere: normal traffic.
    let mut stale = RemoteClient::new(binary.addr);
    stale.cookie = Some("AAAAAAAAAAAAAAAAAAAAAA".to_owned());

    let inbox = stale.call("inbox", json!({})).await.unwrap();

    assert_eq!(inbox.status, StatusCode::UNAUTHORIZED);
    let lines = binary.lines_of_request(&request_id_of(&inbox));
    span_of(&lines, &request_id_of(&inbox), "request rejected");
    for line in &lines {
        assert_ne!(line["level"], "WARN", "{line}");
    }
}
