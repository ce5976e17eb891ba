//! The real `dtc-server` binary in a child process, and an HTTP client for it whose
//! requests return errors instead of panicking, since the server may die under them.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::common::{EncryptedFile, Reply, User, registration, session_cookie};

/// Maximum time one request may take before the client gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Maximum time from spawning the server until `server_info` responds.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Returns the path of the binary that Cargo built for these tests.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_dtc-server")
}

/// A `dtc-server` process serving a data directory on a free port of 127.0.0.1.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

impl ServerProcess {
    /// Starts the binary on `data_dir` with extra flags and waits until it serves.
    /// Its log goes to `log`, appended to so that restarts keep the earlier lines.
    pub async fn start(data_dir: &Path, log: &Path, flags: &[&str]) -> ServerProcess {
        let output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let started_at = std::fs::metadata(log).unwrap().len();
        let child = Command::new(binary())
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--site-dir")
            .arg(data_dir.join("site"))
            .args(flags)
            .env("RUST_LOG", "info,tower_sessions=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(output.try_clone().unwrap()))
            .stderr(Stdio::from(output))
            .spawn()
            .unwrap();
        let mut server = ServerProcess {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.to_path_buf(),
            log: log.to_path_buf(),
        };
        server.addr = server.wait_for_address(started_at).await;
        server.wait_until_serving().await;
        server
    }

    /// Reads the address from the `server started` line written after `offset`.
    async fn wait_for_address(&mut self, offset: u64) -> SocketAddr {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let fresh = text.get(offset as usize..).unwrap_or("");
            if let Some(addr) = fresh
                .lines()
                .filter(|line| line.contains("server started"))
                .find_map(|line| line.split("addr=").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
            {
                return addr.parse().unwrap();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("server exited with {status} before serving; log:\n{fresh}");
            }
            assert!(
                Instant::now() < deadline,
                "server did not start in {START_TIMEOUT:?}; log:\n{fresh}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut client = RemoteClient::new(self.addr);
        loop {
            if let Ok(reply) = client.call("server_info", json!({})).await
                && reply.status == StatusCode::OK
            {
                return;
            }
            assert!(Instant::now() < deadline, "server_info did not answer");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `limit` for the process to exit.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                self.child.kill().unwrap();
                panic!(
                    "server did not exit within {limit:?}; log:\n{}",
                    self.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A failed request: the connection broke, timed out or was refused.
pub type RequestError = String;

/// A client of a server in another process that keeps the session cookie and sends
/// `Host` and `Origin` as a page of the server does.
#[derive(Clone)]
pub struct RemoteClient {
    pub addr: SocketAddr,
    pub cookie: Option<String>,
}

impl RemoteClient {
    pub fn new(addr: SocketAddr) -> RemoteClient {
        RemoteClient { addr, cookie: None }
    }

    pub async fn call(&mut self, name: &str, body: Value) -> Result<Reply, RequestError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("/api/{name}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    pub async fn put_part(
        &mut self,
        file_id: &str,
        index: u32,
        bytes: Vec<u8>,
    ) -> Result<Reply, RequestError> {
        let request = Request::builder()
            .method(Method::PUT)
            .uri(format!("/api/files/{file_id}/parts/{index}"))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_LENGTH, bytes.len())
            .body(Body::from(bytes))
            .unwrap();
        self.send(request).await
    }

    pub async fn get_part(&mut self, file_id: &str, index: u32) -> Result<Reply, RequestError> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(format!("/api/files/{file_id}/parts/{index}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    pub async fn send(&mut self, mut request: Request<Body>) -> Result<Reply, RequestError> {
        let headers = request.headers_mut();
        headers.insert(header::HOST, self.addr.to_string().parse().unwrap());
        if !headers.contains_key(header::ORIGIN) {
            let origin = format!("http://{}", self.addr);
            headers.insert(header::ORIGIN, origin.parse().unwrap());
        }
        if let Some(cookie) = &self.cookie {
            let value = format!("dtc_session={cookie}");
            headers.insert(header::COOKIE, value.parse().unwrap());
        }
        let exchange = tokio::time::timeout(REQUEST_TIMEOUT, exchange(self.addr, request));
        let (parts, body) = exchange
            .await
            .map_err(|_| format!("request timed out after {REQUEST_TIMEOUT:?}"))??;
        if let Some(set) = session_cookie(&parts.headers) {
            self.cookie = set;
        }
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

async fn exchange(
    addr: SocketAddr,
    request: Request<Body>,
) -> Result<(axum::http::response::Parts, Bytes), RequestError> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|err| format!("connect: {err}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|err| format!("handshake: {err}"))?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| format!("send: {err}"))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|err| format!("body: {err}"))?
        .to_bytes();
    Ok((parts, body))
}

/// Registers `username` on the server, which signs the returned client in.
pub async fn register(addr: SocketAddr, username: &str) -> (User, RemoteClient) {
    let mut client = RemoteClient::new(addr);
    let (user, body) = registration(username);
    let reply = client.call("register", body).await.unwrap();
    reply.assert_ok();
    (user, client)
}

/// Signs `user` in on a new client.
pub async fn login(addr: SocketAddr, user: &User) -> Result<RemoteClient, Reply> {
    let mut client = RemoteClient::new(addr);
    let body = json!({ "request": {
        "username": user.username,
        "login_key": crate::common::b64(&user.login_key),
    }});
    let reply = client.call("login", body).await.unwrap();
    if reply.status.is_success() {
        Ok(client)
    } else {
        Err(reply)
    }
}

/// Uploads every part of `file` and finishes, stopping at the first failure.
pub async fn send_file(
    client: &mut RemoteClient,
    sender: &User,
    recipient: &User,
    file: &EncryptedFile,
) -> Result<String, RequestError> {
    let reply = client
        .call("create_upload", file.create_request(&recipient.username))
        .await?;
    reply.assert_ok();
    let file_id = reply.json()["file_id"].as_str().unwrap().to_owned();
    for (index, part) in file.parts.iter().enumerate() {
        let reply = client
            .put_part(&file_id, index as u32, part.clone())
            .await?;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    }
    let reply = client
        .call(
            "finish_upload",
            file.finish_request(&file_id, sender, recipient),
        )
        .await?;
    reply.assert_ok();
    Ok(file_id)
}

/// Downloads every part of a file and decrypts it with `file`'s key.
pub async fn download(
    client: &mut RemoteClient,
    file_id: &str,
    file: &EncryptedFile,
) -> Result<Vec<u8>, RequestError> {
    let mut parts = Vec::new();
    for index in 0..file.layout.part_count() {
        let reply = client.get_part(file_id, index).await?;
        if reply.status != StatusCode::OK {
            return Err(format!(
                "part {index} of {file_id}: status {} {:?}",
                reply.status, reply.body
            ));
        }
        parts.push(reply.body.to_vec());
    }
    Ok(file.decrypt(&parts))
}

/// Runs `dtc-server admin ARGS --data-dir DIR` and returns (success, stdout, stderr).
pub fn admin(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary())
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
