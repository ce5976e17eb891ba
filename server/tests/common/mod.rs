//! Test helpers: a server on a real redb file in a temporary directory, a client that
//! keeps the session cookie, and accounts and files made with the real crypto crate.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, Response, StatusCode, header};
use clap::Parser;
use dtc_app::api::{ApiError, ErrorCode};
use dtc_crypto::exchange::seal_file_key;
use dtc_crypto::file::{ContentsDecryptor, ContentsEncryptor, FileKey, encrypt_metadata};
use dtc_crypto::identity::{IdentitySecret, PublicKey};
use dtc_crypto::layout::PartLayout;
use dtc_crypto::metadata::FileMetadata;
use dtc_crypto::password::{self, KdfParams, PasswordKeys};
use dtc_server::config::{Config, DEFAULT_MAX_FILE_SIZE, LogFormat};
use dtc_server::session_store::{SECURE_SESSION_COOKIE, SESSION_COOKIE, device_cookie_name};
use dtc_server::store::{Clock, FileId, Store};
use dtc_server::{AppState, Settings, router};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

/// Cheapest accepted Argon2id parameters, so that tests derive keys quickly.
pub const TEST_KDF: KdfParams = KdfParams {
    memory_kib: 19456,
    iterations: 2,
    parallelism: 1,
};

pub const PASSWORD: &str = "correct horse battery staple";

/// The application on a database in its own temporary directory.
pub struct TestServer {
    pub dir: TempDir,
    pub store: Store,
    pub app: Router,
    pub config: Config,
    /// The time of the share-link rules.
    pub clock: Clock,
    /// Where [`TestServer::listen`] serves the application over TCP, if it does.
    pub addr: Option<std::net::SocketAddr>,
    /// The counters of the application's metrics.
    pub metrics: std::sync::Arc<dtc_server::metrics::Metrics>,
    /// Whether the server serves its pages over HTTPS (`Settings::https`).
    pub https: bool,
    tune: fn(&mut Settings),
    /// The TCP server of [`TestServer::listen`], which [`TestServer::restart`] stops.
    serving: Option<Serving>,
}

/// A running `dtc_server::serve` task and the sender that stops it.
struct Serving {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with_max_file_size(DEFAULT_MAX_FILE_SIZE).await
    }

    pub async fn start_with_max_file_size(max_file_size: u64) -> TestServer {
        init_logs();
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path().to_path_buf(), max_file_size);
        Self::open(dir, config, |_| {}).await
    }

    /// Starts a server whose router settings `tune` changes, such as shorter timeouts.
    pub async fn start_with_settings(tune: fn(&mut Settings)) -> TestServer {
        init_logs();
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path().to_path_buf(), DEFAULT_MAX_FILE_SIZE);
        Self::open(dir, config, tune).await
    }

    /// Starts a server whose share-link rules read `clock`.
    pub async fn start_with_clock(clock: Clock) -> TestServer {
        init_logs();
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path().to_path_buf(), DEFAULT_MAX_FILE_SIZE);
        Self::open_with_clock(dir, config, |_| {}, clock).await
    }

    /// Starts a server on `clock` whose configuration `configure` changes, such as a
    /// small quota or a short file lifetime.
    pub async fn start_with_config(
        clock: Clock,
        configure: impl FnOnce(&mut Config),
    ) -> TestServer {
        init_logs();
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path().to_path_buf(), DEFAULT_MAX_FILE_SIZE);
        configure(&mut config);
        Self::open_with_clock(dir, config, |_| {}, clock).await
    }

    /// Starts a server whose store reads `clock` and whose router settings `tune`
    /// changes.
    pub async fn start_with_clock_and_settings(
        clock: Clock,
        tune: fn(&mut Settings),
    ) -> TestServer {
        init_logs();
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path().to_path_buf(), DEFAULT_MAX_FILE_SIZE);
        Self::open_with_clock(dir, config, tune, clock).await
    }

    /// Serves the application on 127.0.0.1 over TCP; clients made afterwards use it.
    /// It serves until [`TestServer::restart`] or the end of the test.
    pub async fn listen(&mut self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = self.app.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // Only an explicit stop ends the server. A dropped sender leaves it running,
        // because a test may drop its `TestServer` before its last request.
        let shutdown = async move {
            if stopped.await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let task = tokio::spawn(dtc_server::serve(listener, app, shutdown));
        self.serving = Some(Serving { stop, task });
        self.addr = Some(addr);
        addr
    }

    async fn open(dir: TempDir, config: Config, tune: fn(&mut Settings)) -> TestServer {
        Self::open_with_clock(dir, config, tune, Clock::system()).await
    }

    async fn open_with_clock(
        dir: TempDir,
        config: Config,
        tune: fn(&mut Settings),
        clock: Clock,
    ) -> TestServer {
        let store = Store::open_with_clock(config.database_path(), clock.clone())
            .await
            .unwrap();
        let mut state = AppState::new(store.clone(), &config);
        tune(std::sync::Arc::make_mut(&mut state.settings));
        let metrics = state.metrics.clone();
        let https = state.settings.https;
        let app = router(state);
        TestServer {
            dir,
            store,
            app,
            config,
            clock,
            addr: None,
            metrics,
            https,
            tune,
            serving: None,
        }
    }

    /// Closes the database and opens the same directory again, as a restart does.
    pub async fn restart(self) -> TestServer {
        self.restart_after(|_| {}).await
    }

    /// Closes the database, runs `edit` on the database file and opens it again. A
    /// server started by [`TestServer::listen`] is stopped first, and the new one
    /// serves in process until `listen` is called again.
    pub async fn restart_after(self, edit: impl FnOnce(&std::path::Path)) -> TestServer {
        let TestServer {
            dir,
            store,
            app,
            config,
            clock,
            tune,
            serving,
            ..
        } = self;
        drop(app);
        if let Some(Serving { stop, task }) = serving {
            stop.send(()).unwrap();
            task.await.unwrap().unwrap();
        }
        assert!(
            store.close().await.unwrap(),
            "a database handle is still alive"
        );
        edit(&config.database_path());
        Self::open_with_clock(dir, config, tune, clock).await
    }

    pub fn client(&self) -> Client {
        Client {
            app: self.app.clone(),
            cookie: None,
            cookie_name: SESSION_COOKIE,
            addr: self.addr,
            origin: Origin::Own,
            https: self.https,
            device_cookie: None,
        }
    }
}

/// Sends the server's logs to the test output, shown for failing tests.
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info,tower_sessions=warn")
        .with_test_writer()
        .with_ansi(false)
        .try_init();
}

pub fn test_config(data_dir: PathBuf, max_file_size: u64) -> Config {
    let mut config = Config::try_parse_from(["dtc-server"]).unwrap();
    config.addr = "127.0.0.1:0".parse().unwrap();
    config.site_dir = data_dir.join("site");
    config.data_dir = data_dir;
    config.max_file_size = max_file_size;
    config.log_format = LogFormat::Text;
    config
}

/// One response, with its body read in full.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {:?}", self.body))
    }

    /// Parses the `ApiError` body of a failed request.
    pub fn error(&self) -> ApiError {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("body is not an ApiError ({err}): {:?}", self.body))
    }

    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.status.is_success(),
            "status {} body {:?}",
            self.status,
            self.body
        );
        self
    }

    /// Asserts the status and the error code, and returns the message.
    pub fn assert_error(&self, status: u16, code: ErrorCode) -> String {
        assert_eq!(self.status.as_u16(), status, "body {:?}", self.body);
        let error = self.error();
        assert_eq!(error.code, code, "message {:?}", error.message);
        error.message
    }
}

/// A client of the router that keeps the session cookie like a browser, and sends
/// `Host` and `Origin` as a page of the server does unless a request sets them.
#[derive(Clone)]
pub struct Client {
    app: Router,
    pub cookie: Option<String>,
    /// The name of the session cookie, as the last response that set it named it.
    pub cookie_name: &'static str,
    /// Sends over TCP to this address when set, else to the router in process.
    addr: Option<std::net::SocketAddr>,
    /// The `Origin` added to a request that has none.
    pub origin: Origin,
    /// Whether the server is reached over HTTPS, so that [`Origin::Own`] is `https://`.
    pub https: bool,
    /// The device cookie, as the last response that set it set it.
    pub device_cookie: Option<String>,
}

/// The `Origin` header a [`Client`] adds to a request that carries none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The server's scheme and the request's `Host`, as a page of the server sends it.
    Own,
    /// No `Origin` header.
    Omit,
    /// This exact value.
    Other(String),
}

impl Client {
    /// Calls a server function with a JSON body.
    pub async fn call(&mut self, name: &str, body: Value) -> Reply {
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("/api/{name}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    /// Uploads a part with a `Content-Length` header of its real length.
    pub async fn put_part(&mut self, file_id: &str, index: u32, bytes: Vec<u8>) -> Reply {
        let length = bytes.len() as u64;
        self.put_part_declaring(file_id, index, bytes, Some(length))
            .await
    }

    /// Uploads a part with any `Content-Length` header, or none.
    pub async fn put_part_declaring(
        &mut self,
        file_id: &str,
        index: u32,
        bytes: Vec<u8>,
        content_length: Option<u64>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(Method::PUT)
            .uri(format!("/api/files/{file_id}/parts/{index}"))
            .header(header::CONTENT_TYPE, "application/octet-stream");
        if let Some(length) = content_length {
            request = request.header(header::CONTENT_LENGTH, length);
        }
        self.send(request.body(Body::from(bytes)).unwrap()).await
    }

    pub async fn get_part(&mut self, file_id: &str, index: u32) -> Reply {
        let request = Request::builder()
            .method(Method::GET)
            .uri(format!("/api/files/{file_id}/parts/{index}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    /// Returns this client with `origin` as the `Origin` it adds to requests.
    pub fn with_origin(mut self, origin: Origin) -> Client {
        self.origin = origin;
        self
    }

    /// The `Host` a browser sends to this server: its listening address over TCP,
    /// `127.0.0.1` in process.
    pub fn host(&self) -> String {
        match self.addr {
            Some(addr) => addr.to_string(),
            None => "127.0.0.1".to_owned(),
        }
    }

    /// Adds `Host` and the client's `Origin` where the request has none.
    fn add_host_and_origin(&self, request: &mut Request<Body>) {
        let headers = request.headers_mut();
        if !headers.contains_key(header::HOST) {
            headers.insert(header::HOST, self.host().parse().unwrap());
        }
        if headers.contains_key(header::ORIGIN) {
            return;
        }
        let origin = match &self.origin {
            Origin::Own => {
                let host = headers[header::HOST].to_str().unwrap();
                let scheme = if self.https { "https" } else { "http" };
                format!("{scheme}://{host}")
            }
            Origin::Omit => return,
            Origin::Other(origin) => origin.clone(),
        };
        headers.insert(header::ORIGIN, origin.parse().unwrap());
    }

    /// Sends a request in process and returns the response with its body unread, so
    /// that the body keeps what it holds until the caller drops it.
    pub async fn send_unread(&mut self, mut request: Request<Body>) -> Response<Body> {
        assert!(self.addr.is_none(), "send_unread works in process only");
        self.add_cookies(&mut request);
        self.app
            .clone()
            .oneshot(with_local_peer(request))
            .await
            .unwrap()
    }

    /// Adds `Host`, `Origin` and the cookies of this client to `request`.
    fn add_cookies(&self, request: &mut Request<Body>) {
        self.add_host_and_origin(request);
        let mut cookies = Vec::new();
        if let Some(cookie) = &self.cookie {
            cookies.push(format!("{}={cookie}", self.cookie_name));
        }
        if let Some(device) = &self.device_cookie {
            cookies.push(format!("{}={device}", device_cookie_name(self.https)));
        }
        if !cookies.is_empty() {
            request
                .headers_mut()
                .insert(header::COOKIE, cookies.join("; ").parse().unwrap());
        }
    }

    /// Sends a request with the session cookie and keeps the cookie of the response.
    pub async fn send(&mut self, mut request: Request<Body>) -> Reply {
        self.add_cookies(&mut request);
        let (parts, body) = match self.addr {
            Some(addr) => over_tcp(addr, request).await,
            None => {
                let request = with_local_peer(request);
                let response = self.app.clone().oneshot(request).await.unwrap();
                let (parts, body) = response.into_parts();
                (parts, body.collect().await.unwrap().to_bytes())
            }
        };
        if let Some((name, set)) = named_session_cookie(&parts.headers) {
            self.cookie_name = name;
            self.cookie = set;
        }
        if let Some(device) = set_cookie_value(&parts.headers, device_cookie_name(self.https)) {
            self.device_cookie = Some(device);
        }
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// Gives an in-process request the peer address that `dtc_server::serve` would give a
/// local client, unless it has one, since in process there is no socket.
fn with_local_peer(mut request: Request<Body>) -> Request<Body> {
    if request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_none()
    {
        let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    request
}

/// Sends one request on a new HTTP/1.1 connection and reads the whole response.
async fn over_tcp(
    addr: std::net::SocketAddr,
    request: Request<Body>,
) -> (axum::http::response::Parts, Bytes) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (parts, body.collect().await.unwrap().to_bytes())
}

/// Returns the value of the cookie `name` that a response sets, if it sets one.
pub fn set_cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
}

/// Reads the session cookie a response sets: `Some(Some(value))` when set,
/// `Some(None)` when removed, `None` when the response leaves it alone.
pub fn session_cookie(headers: &HeaderMap) -> Option<Option<String>> {
    named_session_cookie(headers).map(|(_, value)| value)
}

/// Reads the session cookie a response sets under either of its names, with the name.
pub fn named_session_cookie(headers: &HeaderMap) -> Option<(&'static str, Option<String>)> {
    let (name, set_cookie) = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            [SESSION_COOKIE, SECURE_SESSION_COOKIE]
                .into_iter()
                .find(|name| value.starts_with(&format!("{name}=")))
                .map(|name| (name, value))
        })?;
    let value = set_cookie[name.len() + 1..].split(';').next().unwrap_or("");
    if value.is_empty() || set_cookie.contains("Max-Age=0") {
        Some((name, None))
    } else {
        Some((name, Some(value.to_owned())))
    }
}

/// A registered account with the keys its browser holds.
pub struct User {
    pub username: String,
    pub identity: IdentitySecret,
    pub public_key: PublicKey,
    pub login_key: [u8; 32],
}

/// Makes a new identity and the body of a `register` call for it.
pub fn registration(username: &str) -> (User, Value) {
    let identity = IdentitySecret::generate();
    let public_key = identity.public_key();
    let salt = password::random_salt();
    let keys = PasswordKeys::derive(PASSWORD, &salt, TEST_KDF).unwrap();
    let wrapped = password::wrap_identity(&keys.wrapping, &identity, username);
    let login_key = *keys.login.expose_secret_bytes();
    let body = json!({ "request": {
        "username": username,
        "salt": b64(&salt),
        "kdf": kdf_json(TEST_KDF),
        "login_key": b64(&login_key),
        "public_key": b64(&public_key.to_sec1()),
        "wrapped_identity": b64(&wrapped),
    }});
    let user = User {
        username: username.to_owned(),
        identity,
        public_key,
        login_key,
    };
    (user, body)
}

/// Registers `username` on a fresh client, which is then signed in.
pub async fn register(server: &TestServer, username: &str) -> (User, Client) {
    let mut client = server.client();
    let (user, body) = registration(username);
    client.call("register", body).await.assert_ok();
    (user, client)
}

pub fn kdf_json(kdf: KdfParams) -> Value {
    json!({
        "memory_kib": kdf.memory_kib,
        "iterations": kdf.iterations,
        "parallelism": kdf.parallelism,
    })
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(value: &Value) -> Vec<u8> {
    use base64::Engine;
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"));
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// A file encrypted as the browser does it, cut into its upload parts.
pub struct EncryptedFile {
    pub key: FileKey,
    pub layout: PartLayout,
    pub parts: Vec<Vec<u8>>,
    pub metadata: Vec<u8>,
}

impl EncryptedFile {
    pub fn new(plaintext: &[u8]) -> EncryptedFile {
        let key = FileKey::generate();
        let layout = PartLayout::for_plaintext_len(plaintext.len() as u64).unwrap();
        let encryptor =
            ContentsEncryptor::new(&key, &ContentsEncryptor::random_salt(), layout).unwrap();
        let parts = (0..layout.part_count())
            .map(|index| {
                let range = layout.part_plaintext_range(index).unwrap();
                let slice = &plaintext[range.start as usize..range.end as usize];
                encryptor.encrypt_part(index, slice).unwrap()
            })
            .collect();
        let metadata = FileMetadata {
            name: "report.pdf".into(),
            size: plaintext.len() as u64,
            media_type: "application/pdf".into(),
            modified_ms: 1_700_000_000_000,
        };
        let metadata = encrypt_metadata(&key, &metadata).unwrap();
        EncryptedFile {
            key,
            layout,
            parts,
            metadata,
        }
    }

    pub fn ciphertext_len(&self) -> u64 {
        self.layout.ciphertext_len()
    }

    pub fn create_request(&self, recipient: &str) -> Value {
        json!({ "request": {
            "recipient": recipient,
            "ciphertext_len": self.ciphertext_len(),
            "metadata": b64(&self.metadata),
        }})
    }

    /// Seals the file key to `recipient` with `sender`'s identity, as a key record.
    pub fn key_record(&self, file_id: &str, sender: &User, recipient: &User) -> Value {
        let id: FileId = file_id.parse().unwrap();
        let sealed =
            seal_file_key(&sender.identity, &recipient.public_key, &id.0, &self.key).unwrap();
        json!({
            "recipient": recipient.username,
            "enc": b64(&sealed.enc),
            "sealed_key": b64(&sealed.ciphertext),
        })
    }

    pub fn finish_request(&self, file_id: &str, sender: &User, recipient: &User) -> Value {
        json!({ "request": {
            "file_id": file_id,
            "records": [
                self.key_record(file_id, sender, recipient),
                self.key_record(file_id, sender, sender),
            ],
        }})
    }

    /// Decrypts downloaded parts with this file's key.
    pub fn decrypt(&self, parts: &[Vec<u8>]) -> Vec<u8> {
        let decryptor = ContentsDecryptor::new(&self.key, &parts[0][..56], self.layout).unwrap();
        let mut plaintext = Vec::new();
        for (index, part) in parts.iter().enumerate() {
            plaintext.extend(decryptor.decrypt_part(index as u32, part).unwrap());
        }
        plaintext
    }
}

/// Creates an upload from `sender` to `recipient` and returns the file id.
pub async fn create_upload(client: &mut Client, file: &EncryptedFile, recipient: &str) -> String {
    let reply = client
        .call("create_upload", file.create_request(recipient))
        .await;
    reply.assert_ok();
    let ticket = reply.json();
    assert_eq!(ticket["part_count"], file.layout.part_count());
    ticket["file_id"].as_str().unwrap().to_owned()
}

/// Uploads every part and finishes: the whole send of one file.
pub async fn send_file(
    client: &mut Client,
    sender: &User,
    recipient: &User,
    file: &EncryptedFile,
) -> String {
    let file_id = create_upload(client, file, &recipient.username).await;
    for (index, part) in file.parts.iter().enumerate() {
        let reply = client.put_part(&file_id, index as u32, part.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "part {index}: {:?}",
            reply.body
        );
    }
    let reply = client
        .call(
            "finish_upload",
            file.finish_request(&file_id, sender, recipient),
        )
        .await;
    reply.assert_ok();
    file_id
}

/// Deterministic plaintext of `len` bytes.
pub fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A share link without a password, with the keys its URL gives a visitor.
#[derive(Clone, Debug)]
pub struct ShareLink {
    pub id: String,
    pub file_id: String,
    pub gate_key: Vec<u8>,
    pub access_key: Vec<u8>,
}

/// Builds a `create_link` body for `file` with real link keys and no password, and
/// returns the link a visitor would hold.
pub fn share_link_request(
    file_id: &str,
    file: &EncryptedFile,
    expires_in_secs: u64,
    download_limit: u32,
) -> (ShareLink, Value) {
    use dtc_crypto::link::{LinkKeys, LinkSecret, seal_link_secret, wrap_file_key};

    let mut id_bytes = [0u8; 16];
    getrandom::fill(&mut id_bytes).unwrap();
    let id: String = id_bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    let secret = LinkSecret::generate();
    let keys = LinkKeys::derive(&secret, &id_bytes, None).unwrap();
    let file_bytes: FileId = file_id.parse().unwrap();
    let wrapped = wrap_file_key(&keys, &id_bytes, &file_bytes.0, &file.key);
    let sealed = seal_link_secret(&file.key, &id_bytes, &secret);
    let body = json!({ "request": {
        "file_id": file_id,
        "link_id": id,
        "options": {
            "expires_in_secs": expires_in_secs,
            "download_limit": download_limit,
            "password": null,
        },
        "gate_key": b64(keys.gate.expose_secret_bytes()),
        "access_key": b64(keys.access.expose_secret_bytes()),
        "wrapped_key": b64(&wrapped),
        "sealed_secret": b64(&sealed),
    }});
    let link = ShareLink {
        id,
        file_id: file_id.to_owned(),
        gate_key: keys.gate.expose_secret_bytes().to_vec(),
        access_key: keys.access.expose_secret_bytes().to_vec(),
    };
    (link, body)
}
