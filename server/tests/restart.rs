//! A real server on 127.0.0.1 over TCP, stopped and started again on the same data
//! directory: sessions, files and the database survive the restart.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use common::{EncryptedFile, plaintext, registration, session_cookie, test_config};
use dtc_server::config::{Config, DEFAULT_MAX_FILE_SIZE};
use dtc_server::store::Store;
use dtc_server::{AppState, router, serve};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running on its own port until [`RunningServer::stop`].
struct RunningServer {
    addr: SocketAddr,
    store: Store,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    async fn start(config: &Config) -> RunningServer {
        let store = Store::open(config.database_path()).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(AppState::new(store.clone(), config));
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(serve(listener, app, shutdown));
        RunningServer {
            addr,
            store,
            stop,
            task,
        }
    }

    /// Stops serving and closes the database, as SIGTERM does.
    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
        assert!(
            self.store.close().await.unwrap(),
            "the database is still in use"
        );
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Sends one HTTP/1.1 request on a new connection.
async fn http(addr: SocketAddr, request: Request<Body>) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    drop(sender);
    driver.await.unwrap().unwrap();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

fn call(name: &str, cookie: Option<&str>, body: Value) -> Request<Body> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/{name}"))
        .header(header::HOST, "127.0.0.1")
        .header(header::ORIGIN, "http://127.0.0.1")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, format!("dtc_session={cookie}"));
    }
    request.body(Body::from(body.to_string())).unwrap()
}

fn part(method: Method, file_id: &str, index: u32, cookie: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(format!("/api/files/{file_id}/parts/{index}"))
        .header(header::HOST, "127.0.0.1")
        .header(header::ORIGIN, "http://127.0.0.1")
        .header(header::COOKIE, format!("dtc_session={cookie}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(body))
        .unwrap()
}

async fn register(addr: SocketAddr, username: &str) -> (common::User, String) {
    let (user, body) = registration(username);
    let reply = http(addr, call("register", None, body)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let cookie = session_cookie(&reply.headers).unwrap().unwrap();
    (user, cookie)
}

#[tokio::test]
async fn restart_keeps_session_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path().to_path_buf(), DEFAULT_MAX_FILE_SIZE);

    let server = RunningServer::start(&config).await;
    let (bob, bob_cookie) = register(server.addr, "bob").await;
    let (alice, alice_cookie) = register(server.addr, "alice").await;
    let file = EncryptedFile::new(&plaintext(5000));
    let created = http(
        server.addr,
        call(
            "create_upload",
            Some(&alice_cookie),
            file.create_request("bob"),
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::OK);
    let file_id = created.json()["file_id"].as_str().unwrap().to_owned();
    let uploaded = http(
        server.addr,
        part(
            Method::PUT,
            &file_id,
            0,
            &alice_cookie,
            file.parts[0].clone(),
        ),
    )
    .await;
    assert_eq!(uploaded.status, StatusCode::NO_CONTENT);
    let finish = file.finish_request(&file_id, &alice, &bob);
    let finished = http(
        server.addr,
        call("finish_upload", Some(&alice_cookie), finish),
    )
    .await;
    assert_eq!(finished.status, StatusCode::OK);
    let decoy = http(
        server.addr,
        call("login_params", None, json!({ "username": "nobody" })),
    )
    .await;
    server.stop().await;

    let server = RunningServer::start(&config).await;
    let session = http(server.addr, call("session", Some(&alice_cookie), json!({}))).await;
    assert_eq!(session.status, StatusCode::OK);
    assert_eq!(session.json(), json!("alice"));

    let inbox = http(server.addr, call("inbox", Some(&bob_cookie), json!({}))).await;
    assert_eq!(inbox.json()[0]["file_id"], file_id.as_str());
    let download = http(
        server.addr,
        part(Method::GET, &file_id, 0, &bob_cookie, vec![]),
    )
    .await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.body.to_vec(), file.parts[0]);

    let decoy_again = http(
        server.addr,
        call("login_params", None, json!({ "username": "nobody" })),
    )
    .await;
    assert_eq!(decoy_again.json(), decoy.json());

    let unknown = http(
        server.addr,
        call("session", Some("AAAAAAAAAAAAAAAAAAAAAA"), json!({})),
    )
    .await;
    assert_eq!(unknown.json(), Value::Null);
    server.stop().await;
}
