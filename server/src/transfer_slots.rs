//! The slots of part transfers. At most [`MAX_CONCURRENT_PART_TRANSFERS`] part uploads
//! and downloads run at once over both part routes, and more wait for a slot. A
//! transfer keeps its slot until its response body has been sent or dropped, so the
//! parts held in memory for responses stay within the slots. A client that stops
//! reading loses its connection after the write stall limit of
//! [`crate::serve::WRITE_STALL_TIMEOUT`], which frees its slot.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Part transfers served at once. Each holds up to one part (about 4 MiB) in memory,
/// so the slots bound that memory near 64 MiB.
pub const MAX_CONCURRENT_PART_TRANSFERS: usize = 16;

/// The shared slots of the part routes.
#[derive(Clone, Debug)]
pub struct TransferSlots(Arc<Semaphore>);

impl TransferSlots {
    pub fn new(count: usize) -> TransferSlots {
        TransferSlots(Arc::new(Semaphore::new(count)))
    }
}

/// Waits for a slot, runs the request, and moves the slot into the response body.
pub async fn hold_slot(
    State(slots): State<TransferSlots>,
    request: Request,
    next: Next,
) -> Response {
    let slot = match Arc::clone(&slots.0).acquire_owned().await {
        Ok(slot) => slot,
        // The semaphore is never closed. If it were, serving without a slot would be
        // the safe way out.
        Err(_) => return next.run(request).await,
    };
    let response = next.run(request).await;
    response.map(|body| hold_until_dropped(body, slot))
}

/// Returns `body` with `slot` attached: the slot is released when hyper drops the
/// body, after the last frame was sent or when the connection ended.
fn hold_until_dropped(body: Body, slot: OwnedSemaphorePermit) -> Body {
    Body::new(SlotBody { body, _slot: slot })
}

/// A response body that owns a transfer slot and forwards everything else, the exact
/// length included, so that hyper still sends `Content-Length`.
struct SlotBody {
    body: Body,
    _slot: OwnedSemaphorePermit,
}

impl HttpBody for SlotBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn slot_is_released_when_the_body_is_dropped() {
        let semaphore = Arc::new(Semaphore::new(1));
        let slot = Arc::clone(&semaphore).acquire_owned().await.unwrap();
        let body = hold_until_dropped(Body::from("part"), slot);
        assert_eq!(semaphore.available_permits(), 0);

        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"part");
        assert_eq!(semaphore.available_permits(), 1);
    }

    #[tokio::test]
    async fn body_keeps_its_length() {
        let semaphore = Arc::new(Semaphore::new(1));
        let slot = semaphore.acquire_owned().await.unwrap();
        let body = hold_until_dropped(Body::from(vec![0u8; 4096]), slot);
        assert_eq!(body.size_hint().exact(), Some(4096));
    }
}
