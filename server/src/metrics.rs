//! Prometheus metrics: counters kept in atomics by a middleware on the public router,
//! and a separate listener that serves them as `GET /metrics` in the text exposition
//! format (version 0.0.4). The public listener never serves them.

use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::body::{Frame, SizeHint};
use tokio::net::TcpListener;

use crate::store::Store;

/// Content type of the Prometheus text exposition format.
const EXPOSITION_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the request duration histogram, in seconds. Part transfers of
/// 4 MiB over slow links take tens of seconds, so the buckets reach 120 s, the part
/// body timeout.
const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 120.0,
];

/// The kinds of route that requests are counted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteClass {
    /// `POST /api/{name}`: the server functions, and any other path under `/api`.
    Api,
    /// `/api/files/{file_id}/parts/{index}`.
    Part,
    /// `/api/links/{link_id}/parts/{index}`.
    LinkPart,
    /// `/healthz`.
    Health,
    /// The static pages: every other path.
    Page,
}

impl RouteClass {
    const ALL: [RouteClass; 5] = [
        RouteClass::Api,
        RouteClass::Part,
        RouteClass::LinkPart,
        RouteClass::Health,
        RouteClass::Page,
    ];

    /// Classifies a request path.
    pub fn of(path: &str) -> RouteClass {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["api", "files", _, "parts", _] => RouteClass::Part,
            ["api", "links", _, "parts", _] => RouteClass::LinkPart,
            ["api", ..] => RouteClass::Api,
            ["healthz"] => RouteClass::Health,
            _ => RouteClass::Page,
        }
    }

    fn label(self) -> &'static str {
        match self {
            RouteClass::Api => "api",
            RouteClass::Part => "part",
            RouteClass::LinkPart => "link_part",
            RouteClass::Health => "health",
            RouteClass::Page => "page",
        }
    }

    fn is_part(self) -> bool {
        matches!(self, RouteClass::Part | RouteClass::LinkPart)
    }
}

const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Index into [`STATUS_CLASSES`] for a status code.
fn status_class(status: StatusCode) -> usize {
    usize::from(status.as_u16() / 100).clamp(1, 5) - 1
}

/// A request duration histogram of one route class.
#[derive(Default)]
struct Histogram {
    /// Count per bucket of [`DURATION_BUCKETS`], not cumulative; the last is `+Inf`.
    buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// The server's counters; the router's middleware updates them and the metrics
/// listener reads them.
#[derive(Default)]
pub struct Metrics {
    /// Responses by route class and status class.
    requests: [[AtomicU64; STATUS_CLASSES.len()]; RouteClass::ALL.len()],
    durations: [Histogram; RouteClass::ALL.len()],
    part_bytes_received: AtomicU64,
    part_bytes_sent: AtomicU64,
    /// Part requests whose response has not been sent to its end.
    open_part_transfers: AtomicU64,
    sign_ins_ok: AtomicU64,
    sign_ins_failed: AtomicU64,
    sign_ins_throttled: AtomicU64,
    /// Successful `unlock_link` calls, each a share link served to a visitor.
    links_served: AtomicU64,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    fn record_response(&self, route: RouteClass, status: StatusCode, elapsed: Duration) {
        let index = route as usize;
        self.requests[index][status_class(status)].fetch_add(1, Ordering::Relaxed);
        self.durations[index].observe(elapsed);
    }

    /// Counts the outcome of a `login` call by its status: 2xx signed in, 401 wrong
    /// credentials, 429 throttled.
    fn record_sign_in(&self, status: StatusCode) {
        let counter = match status.as_u16() {
            200..=299 => &self.sign_ins_ok,
            401 => &self.sign_ins_failed,
            429 => &self.sign_ins_throttled,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes every metric in the Prometheus text format. `database_bytes` is the size
    /// of the database file, when it could be read.
    pub fn render(&self, database_bytes: Option<u64>) -> String {
        let mut out = String::new();
        self.render_requests(&mut out);
        self.render_durations(&mut out);

        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let counters = [
            (
                "dtc_part_bytes_received_total",
                "Ciphertext part bytes received in request bodies.",
                load(&self.part_bytes_received),
            ),
            (
                "dtc_part_bytes_sent_total",
                "Ciphertext part bytes sent in response bodies.",
                load(&self.part_bytes_sent),
            ),
            (
                "dtc_links_served_total",
                "Share links unlocked by a visitor, each giving a download ticket.",
                load(&self.links_served),
            ),
        ];
        for (name, help, value) in counters {
            write_metric(&mut out, name, "counter", help, &[("", value)]);
        }

        write_metric(
            &mut out,
            "dtc_sign_ins_total",
            "counter",
            "Sign-in attempts by result.",
            &[
                ("result=\"ok\"", load(&self.sign_ins_ok)),
                ("result=\"failed\"", load(&self.sign_ins_failed)),
                ("result=\"throttled\"", load(&self.sign_ins_throttled)),
            ],
        );
        write_metric(
            &mut out,
            "dtc_open_part_transfers",
            "gauge",
            "Part uploads and downloads in progress.",
            &[("", load(&self.open_part_transfers))],
        );
        if let Some(bytes) = database_bytes {
            write_metric(
                &mut out,
                "dtc_database_size_bytes",
                "gauge",
                "Size of the database file.",
                &[("", bytes)],
            );
        }

        let version = format!("version=\"{}\"", env!("CARGO_PKG_VERSION"));
        write_metric(
            &mut out,
            "dtc_build_info",
            "gauge",
            "The server's version; the value is always 1.",
            &[(version.as_str(), 1)],
        );
        out
    }

    fn render_requests(&self, out: &mut String) {
        let mut samples = Vec::new();
        for route in RouteClass::ALL {
            for (index, class) in STATUS_CLASSES.iter().enumerate() {
                let value = self.requests[route as usize][index].load(Ordering::Relaxed);
                let labels = format!("route=\"{}\",status=\"{class}\"", route.label());
                samples.push((labels, value));
            }
        }
        let samples: Vec<(&str, u64)> = samples
            .iter()
            .map(|(labels, value)| (labels.as_str(), *value))
            .collect();
        write_metric(
            out,
            "dtc_http_requests_total",
            "counter",
            "HTTP responses by route class and status class.",
            &samples,
        );
    }

    fn render_durations(&self, out: &mut String) {
        let name = "dtc_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from a request's arrival to its response headers."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for route in RouteClass::ALL {
            let histogram = &self.durations[route as usize];
            let label = route.label();
            let mut cumulative = 0;
            for (index, count) in histogram.buckets.iter().enumerate() {
                cumulative += count.load(Ordering::Relaxed);
                let bound = DURATION_BUCKETS
                    .get(index)
                    .map_or_else(|| "+Inf".to_owned(), |bound| bound.to_string());
                let _ = writeln!(
                    out,
                    "{name}_bucket{{route=\"{label}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let sum = histogram.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "{name}_sum{{route=\"{label}\"}} {sum}");
            let _ = writeln!(out, "{name}_count{{route=\"{label}\"}} {cumulative}");
        }
    }
}

/// Writes one metric family; a sample with empty labels has none.
fn write_metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// Counts a request and its response, and the part bytes that pass in either body.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request.uri().path();
    let route = RouteClass::of(path);
    let is_sign_in = path == "/api/login";
    let is_link_unlock = path == "/api/unlock_link";

    let transfer = route.is_part().then(|| OpenTransfer::start(&metrics));
    let request = if route.is_part() {
        let counter = Counter::new(&metrics, Direction::Received);
        request.map(|body| Body::new(CountedBody::new(body, counter, None)))
    } else {
        request
    };
    let response = next.run(request).await;

    let status = response.status();
    metrics.record_response(route, status, started.elapsed());
    if is_sign_in {
        metrics.record_sign_in(status);
    }
    if is_link_unlock && status.is_success() {
        metrics.links_served.fetch_add(1, Ordering::Relaxed);
    }
    match transfer {
        Some(transfer) => {
            let counter = Counter::new(&metrics, Direction::Sent);
            response.map(|body| Body::new(CountedBody::new(body, counter, Some(transfer))))
        }
        None => response,
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Received,
    Sent,
}

/// The byte counter of one body direction.
struct Counter {
    metrics: Arc<Metrics>,
    direction: Direction,
}

impl Counter {
    fn new(metrics: &Arc<Metrics>, direction: Direction) -> Counter {
        Counter {
            metrics: Arc::clone(metrics),
            direction,
        }
    }

    fn add(&self, bytes: usize) {
        let total = match self.direction {
            Direction::Received => &self.metrics.part_bytes_received,
            Direction::Sent => &self.metrics.part_bytes_sent,
        };
        total.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// One part transfer in progress; dropping it ends it.
struct OpenTransfer(Arc<Metrics>);

impl OpenTransfer {
    fn start(metrics: &Arc<Metrics>) -> OpenTransfer {
        metrics.open_part_transfers.fetch_add(1, Ordering::Relaxed);
        OpenTransfer(Arc::clone(metrics))
    }
}

impl Drop for OpenTransfer {
    fn drop(&mut self) {
        self.0.open_part_transfers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A body that counts its data bytes. A response body also keeps its transfer open
/// until the body is dropped.
struct CountedBody {
    inner: Body,
    counter: Counter,
    _transfer: Option<OpenTransfer>,
}

impl CountedBody {
    fn new(inner: Body, counter: Counter, transfer: Option<OpenTransfer>) -> CountedBody {
        CountedBody {
            inner,
            counter,
            _transfer: transfer,
        }
    }
}

impl hyper::body::Body for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(context);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.counter.add(data.len());
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Builds the router of the metrics listener: `GET /metrics` and nothing else.
pub fn metrics_router(metrics: Arc<Metrics>, store: Store) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state((metrics, store))
}

async fn scrape(State((metrics, store)): State<(Arc<Metrics>, Store)>) -> Response {
    let database_bytes = match tokio::fs::metadata(store.path()).await {
        Ok(metadata) => Some(metadata.len()),
        Err(err) => {
            tracing::warn!(error = %err, path = %store.path().display(), "failed to read the database size");
            None
        }
    };
    let headers = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static(EXPOSITION_CONTENT_TYPE),
    )];
    (headers, metrics.render(database_bytes)).into_response()
}

/// Serves the metrics on `listener` until the task is aborted.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    store: Store,
) -> std::io::Result<()> {
    let app = metrics_router(metrics, store);
    crate::serve(listener, app, std::future::pending()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_class_of_paths() {
        let cases = [
            ("/api/files/abc/parts/0", RouteClass::Part),
            ("/api/links/abc/parts/3", RouteClass::LinkPart),
            ("/api/login", RouteClass::Api),
            ("/api/files/abc/parts", RouteClass::Api),
            ("/healthz", RouteClass::Health),
            ("/", RouteClass::Page),
            ("/s/abc", RouteClass::Page),
        ];
        for (path, class) in cases {
            assert_eq!(RouteClass::of(path), class, "path {path}");
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = Metrics::default();
        let ok = StatusCode::OK;
        metrics.record_response(RouteClass::Api, ok, Duration::from_millis(3));
        metrics.record_response(RouteClass::Api, ok, Duration::from_millis(200));
        metrics.record_response(RouteClass::Api, ok, Duration::from_secs(500));
        let text = metrics.render(None);

        let bucket = |le: &str| format!("_bucket{{route=\"api\",le=\"{le}\"}} ");
        assert!(text.contains(&format!("{}1\n", bucket("0.005"))), "{text}");
        assert!(text.contains(&format!("{}2\n", bucket("0.25"))), "{text}");
        assert!(text.contains(&format!("{}2\n", bucket("120"))), "{text}");
        assert!(text.contains(&format!("{}3\n", bucket("+Inf"))), "{text}");
        assert!(text.contains("_count{route=\"api\"} 3\n"), "{text}");
    }

    #[test]
    fn sign_ins_counted_by_status() {
        let metrics = Metrics::default();
        metrics.record_sign_in(StatusCode::OK);
        metrics.record_sign_in(StatusCode::UNAUTHORIZED);
        metrics.record_sign_in(StatusCode::UNAUTHORIZED);
        metrics.record_sign_in(StatusCode::TOO_MANY_REQUESTS);
        metrics.record_sign_in(StatusCode::BAD_REQUEST);
        let text = metrics.render(None);

        assert!(
            text.contains("dtc_sign_ins_total{result=\"ok\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("dtc_sign_ins_total{result=\"failed\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("dtc_sign_ins_total{result=\"throttled\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn status_classes_cover_every_code() {
        assert_eq!(STATUS_CLASSES[status_class(StatusCode::CONTINUE)], "1xx");
        assert_eq!(STATUS_CLASSES[status_class(StatusCode::NO_CONTENT)], "2xx");
        assert_eq!(STATUS_CLASSES[status_class(StatusCode::FOUND)], "3xx");
        assert_eq!(STATUS_CLASSES[status_class(StatusCode::NOT_FOUND)], "4xx");
        assert_eq!(STATUS_CLASSES[status_class(StatusCode::BAD_GATEWAY)], "5xx");
    }
}
