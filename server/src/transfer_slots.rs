//! The slots of part transfers. At most [`MAX_CONCURRENT_PART_TRANSFERS`] part uploads
//! and downloads run at once over both part routes, and more wait for a slot. A
//! transfer keeps its slot until hyper has taken the last frame of its response body,
//! or the connection ended, so the parts held in memory for responses stay within the
//! slots. A client that stops
//! reading loses its connection after the write stall limit of
//! [`crate::serve::WRITE_STALL_TIMEOUT`], which frees its slot.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

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

/// Largest data frame a response body gives hyper at once. hyper drops a body once it
/// has taken its last frame and keeps queued frames itself, up to about 450 KiB, until
/// the socket takes them. A part in one frame would let the slot go before a byte was
/// sent, so the body hands out copies of this size instead.
const FRAME_LEN: usize = 64 * 1024;

/// Returns `body` with `slot` attached: the slot is released when hyper drops the
/// body, once it has taken the last frame or when the connection ended.
fn hold_until_dropped(body: Body, slot: OwnedSemaphorePermit) -> Body {
    Body::new(SlotBody {
        body,
        pending: Bytes::new(),
        _slot: slot,
    })
}

/// A response body that owns a transfer slot and passes the data of `body` on in
/// frames of at most [`FRAME_LEN`] bytes, with the exact length of the whole, so that
/// hyper still sends `Content-Length`.
struct SlotBody {
    body: Body,
    /// Data taken from `body` and not passed on yet.
    pending: Bytes,
    _slot: OwnedSemaphorePermit,
}

impl SlotBody {
    /// Returns a copy of the next frame of `pending`, so that a frame hyper still
    /// queues does not keep the whole part alive after the body is dropped.
    fn next_frame(&mut self) -> Frame<Bytes> {
        let len = self.pending.len().min(FRAME_LEN);
        let data = Bytes::copy_from_slice(&self.pending[..len]);
        self.pending = self.pending.slice(len..);
        Frame::data(data)
    }
}

impl HttpBody for SlotBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if !self.pending.is_empty() {
            return Poll::Ready(Some(Ok(self.next_frame())));
        }
        match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) if data.len() > FRAME_LEN => {
                    self.pending = data;
                    Poll::Ready(Some(Ok(self.next_frame())))
                }
                Ok(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            other => Poll::Ready(other),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let pending = self.pending.len() as u64;
        let inner = self.body.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + pending);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + pending);
        }
        hint
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
    async fn part_is_passed_on_in_small_frames() {
        let semaphore = Arc::new(Semaphore::new(1));
        let slot = Arc::clone(&semaphore).acquire_owned().await.unwrap();
        let part: Vec<u8> = (0..FRAME_LEN * 3 + 5).map(|i| (i % 251) as u8).collect();
        let mut body = hold_until_dropped(Body::from(part.clone()), slot);

        let mut received = Vec::new();
        let mut frames = 0;
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() <= FRAME_LEN, "frame of {} bytes", data.len());
            received.extend_from_slice(&data);
            frames += 1;
        }
        assert_eq!(frames, 4);
        assert!(received == part, "the frames differ from the part");
        assert!(body.is_end_stream());
        assert_eq!(semaphore.available_permits(), 0, "released before the drop");
        drop(body);
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
