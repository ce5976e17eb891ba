//! The share-link part route: `GET /api/links/{link_id}/parts/{index}` with the ticket
//! from `unlock_link` in the `x-link-ticket` header, and no session.
//!
//! Serving the last part takes a reservation of the download limit first, and one
//! reservation allows at most three starts of the last part so that the page can retry
//! a dropped connection with its ticket. The body of that response carries the
//! reservation's generation and records, on that generation alone, whether it was sent
//! to its end. If one response of the reservation was, the reservation counts as a use
//! when it expires unconfirmed. A reservation is released once none of its responses is
//! in flight and none was sent to the end. Before each piece the body reads the store's
//! clock. Once the reservation has expired, the body ends with an error, so hyper cuts
//! the connection and the client sees an incomplete body. A slow reader therefore cannot
//! hold a reservation past its expiry and still receive the whole part. A reader that
//! stops reading is never polled again, because hyper does not poll a body whose socket
//! is not writable, so the store settles such a reservation one minute after its
//! expiry without waiting for the body.
//!
//! "Sent to the end" means the last piece was handed to hyper. The kernel's socket
//! send buffer can still hold a few MiB that the client never receives, which is why
//! the page may retry the last part with the same ticket.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use dtc_app::api::{ApiError, LINK_TICKET_HEADER};
use hyper::body::{Frame, SizeHint};
use tracing::{Instrument, Span};

use crate::AppState;
use crate::backend::{parse_link_id, record_file};
use crate::error::{ApiFailure, from_store};
use crate::parts::{check_index, parse_index};
use crate::request_span;
use crate::store::{LinkId, Reserved, Store, Ticket};

/// Size of the pieces a last part is sent in, so that the body learns how far the
/// connection took it.
const DELIVERY_CHUNK_LEN: usize = 64 * 1024;

type LinkPartPath = Result<Path<(String, String)>, PathRejection>;

/// Returns one part of the file behind a live link to a valid ticket of that link. A
/// missing, forged or expired ticket, a ticket of another link and a dead link all get
/// the dead-link response.
pub async fn get_link_part(
    State(state): State<AppState>,
    path: LinkPartPath,
    headers: HeaderMap,
) -> Result<Response, ApiFailure> {
    let Path((link_id, index)) = path.map_err(|err| ApiError::invalid_input(err.body_text()))?;
    let id = parse_link_id(&link_id)?;
    let index = parse_index(&index)?;
    let ticket = ticket_of(&headers).ok_or_else(ApiError::link_not_found)?;

    let file = state
        .store
        .link_file(id, ticket)
        .await
        .map_err(|err| from_store("link part", err))?;
    record_file(file.id);
    check_index(&file, index)?;
    let reserved = if index + 1 == file.part_count {
        let reserved = state
            .store
            .reserve_download(id, ticket)
            .await
            .map_err(|err| from_store("reserve download", err))?;
        Some(reserved)
    } else {
        None
    };

    let part = match state.store.read_part(file.id, index).await {
        Ok(Some(part)) => Bytes::from(part),
        missing => {
            if let Some(reserved) = reserved {
                let span = request_span::current();
                release_later(state.store.clone(), id, ticket, reserved.generation, span);
            }
            let error = match missing {
                Err(err) => from_store("read link part", err),
                _ => ApiError::link_not_found(),
            };
            return Err(error.into());
        }
    };
    tracing::info!(
        bytes = part.len(),
        last = reserved.is_some(),
        "link part served"
    );
    let body = match reserved {
        Some(reserved) => Body::new(ReservedBody::new(
            part,
            state.store.clone(),
            id,
            ticket,
            reserved,
        )),
        None => Body::from(part),
    };
    Ok((part_headers(), body).into_response())
}

fn ticket_of(headers: &HeaderMap) -> Option<Ticket> {
    let value = headers.get(LINK_TICKET_HEADER)?.to_str().ok()?;
    Ticket::parse(value)
}

fn part_headers() -> [(header::HeaderName, HeaderValue); 3] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

/// The body of a last part. Handing out its final piece marks its reservation as sent
/// to the end, and being dropped before that ends this response's share of it. Once
/// the reservation has expired it hands out no further piece and ends with an error.
/// The body outlives its handler, so it keeps the request span for its log lines.
///
/// NOTE: "sent" means handed to hyper, whose write buffer and the kernel's socket send
/// buffer can together still hold a few MiB. A client that drops the connection after
/// that point uses a download once the reservation expires, unless it retries.
struct ReservedBody {
    remaining: Bytes,
    reservation: Option<Reservation>,
}

struct Reservation {
    store: Store,
    link: LinkId,
    ticket: Ticket,
    reserved: Reserved,
    span: Span,
}

impl ReservedBody {
    fn new(part: Bytes, store: Store, link: LinkId, ticket: Ticket, reserved: Reserved) -> Self {
        ReservedBody {
            remaining: part,
            reservation: Some(Reservation {
                store,
                link,
                ticket,
                reserved,
                span: request_span::current(),
            }),
        }
    }

    /// Returns whether the reservation expired before the body was sent to its end.
    fn expired(&self) -> bool {
        self.reservation.as_ref().is_some_and(|reservation| {
            reservation.store.clock().now_ms() >= reservation.reserved.expires_at_ms
        })
    }
}

impl hyper::body::Body for ReservedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.remaining.is_empty() {
            self.deliver();
            return Poll::Ready(None);
        }
        if self.expired() {
            // Dropping the reservation's share now releases it; the rest is not sent.
            self.remaining = Bytes::new();
            if let Some(reservation) = self.reservation.take() {
                reservation.span.in_scope(|| {
                    tracing::info!(link_id = %reservation.link, "last part cut at its reservation's expiry");
                });
                reservation.release();
            }
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the reservation of this download expired",
            ))));
        }
        let len = self.remaining.len().min(DELIVERY_CHUNK_LEN);
        let chunk = self.remaining.split_to(len);
        if self.remaining.is_empty() {
            self.deliver();
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining.is_empty() && self.reservation.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining.len() as u64)
    }
}

impl ReservedBody {
    fn deliver(&mut self) {
        let Some(Reservation {
            store,
            link,
            ticket,
            reserved,
            span,
        }) = self.reservation.take()
        else {
            return;
        };
        let mark = async move {
            match store
                .mark_delivered(link, ticket, reserved.generation)
                .await
            {
                Ok(()) => {
                    tracing::info!(link_id = %link, "last part of a share-link download sent")
                }
                Err(err) => {
                    tracing::error!(link_id = %link, error = %err, "failed to mark a download as sent")
                }
            }
        };
        tokio::spawn(mark.instrument(span));
    }
}

impl Reservation {
    fn release(self) {
        let generation = self.reserved.generation;
        release_later(self.store, self.link, self.ticket, generation, self.span);
    }
}

impl Drop for ReservedBody {
    fn drop(&mut self) {
        if let Some(reservation) = self.reservation.take() {
            reservation.release();
        }
    }
}

/// Releases the reservation of a download whose last part did not go out in full.
/// Its log lines go to `span`, the span of the request that served the part.
fn release_later(store: Store, link: LinkId, ticket: Ticket, generation: u64, span: Span) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        span.in_scope(|| {
            tracing::warn!(link_id = %link, "no runtime to release a reservation; it expires unused");
        });
        return;
    };
    let release = async move {
        match store.release_reservation(link, ticket, generation).await {
            Ok(()) => tracing::info!(link_id = %link, "unfinished download released"),
            Err(err) => {
                tracing::error!(link_id = %link, error = %err, "failed to release a reservation")
            }
        }
    };
    runtime.spawn(release.instrument(span));
}
