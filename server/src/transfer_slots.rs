//! The slots of part transfers. At most [`MAX_CONCURRENT_PART_TRANSFERS`] part uploads
//! and downloads run at once over both part routes, and more wait for a slot. A
//! transfer keeps its slot until hyper has taken the last frame of its response body,
//! or the connection ended, so the parts held in memory for responses stay within the
//! slots. A client that stops
//! reading loses its connection after the write stall limit of
//! [`crate::serve::WRITE_STALL_TIMEOUT`], which frees its slot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use dtc_app::api::ApiError;
use hyper::body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::Settings;
use crate::client::client_ip;
use crate::error::ApiFailure;

/// Part transfers served at once. Each holds up to one part (about 4 MiB) in memory,
/// so the slots bound that memory near 64 MiB.
pub const MAX_CONCURRENT_PART_TRANSFERS: usize = 16;

/// Part transfers one client address may have at once, waiting ones included, unless
/// [`Settings::part_transfers_per_address`] is changed. More get `429` with
/// `Retry-After`, which the pages retry, so that clients that stop reading from one
/// address cannot take every slot.
pub const MAX_PART_TRANSFERS_PER_ADDRESS: usize = 4;

/// Seconds a client over its per-address count is asked to wait.
const RETRY_AFTER_SECS: u64 = 1;

/// The shared slots of the part routes, and the transfers of each client address.
#[derive(Clone, Debug)]
pub struct TransferSlots {
    slots: Arc<Semaphore>,
    by_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
    settings: Arc<Settings>,
}

impl TransferSlots {
    pub fn new(count: usize, settings: Arc<Settings>) -> TransferSlots {
        TransferSlots {
            slots: Arc::new(Semaphore::new(count)),
            by_address: Arc::default(),
            settings,
        }
    }

    /// Counts a transfer of `address`, or returns `None` when the address has its
    /// maximum already.
    fn enter(&self, address: IpAddr) -> Option<AddressTransfer> {
        let mut counts = self
            .by_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(address).or_insert(0);
        if *count >= self.settings.part_transfers_per_address {
            return None;
        }
        *count += 1;
        Some(AddressTransfer {
            address,
            by_address: Arc::clone(&self.by_address),
        })
    }
}

/// One counted transfer of a client address; dropping it takes the count back.
struct AddressTransfer {
    address: IpAddr,
    by_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for AddressTransfer {
    fn drop(&mut self) {
        let mut counts = self
            .by_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

/// The slot and the address count that a response body keeps until hyper drops it.
struct TransferHold {
    _slot: OwnedSemaphorePermit,
    _address: Option<AddressTransfer>,
}

/// Counts the transfer for its client address, waits for a slot, runs the request,
/// and moves both into the response body.
pub async fn hold_slot(
    State(slots): State<TransferSlots>,
    request: Request,
    next: Next,
) -> Response {
    let address = match client_ip(request.headers(), request.extensions(), &slots.settings) {
        Ok(address) => address,
        Err(error) => return ApiFailure(error).into_response(),
    };
    let Some(counted) = slots.enter(address) else {
        let error = ApiError::too_many_requests(
            format!(
                "{} part transfers from your address are running; retry in {RETRY_AFTER_SECS} s",
                slots.settings.part_transfers_per_address
            ),
            RETRY_AFTER_SECS,
        );
        return ApiFailure(error).into_response();
    };
    let slot = match Arc::clone(&slots.slots).acquire_owned().await {
        Ok(slot) => slot,
        // The semaphore is never closed. If it were, serving without a slot would be
        // the safe way out.
        Err(_) => return next.run(request).await,
    };
    let hold = TransferHold {
        _slot: slot,
        _address: Some(counted),
    };
    let response = next.run(request).await;
    response.map(|body| hold_until_dropped(body, hold))
}

/// Largest data frame a response body gives hyper at once. hyper drops a body once it
/// has taken its last frame and keeps queued frames itself, up to about 450 KiB, until
/// the socket takes them. A part in one frame would let the slot go before a byte was
/// sent, so the body hands out copies of this size instead.
const FRAME_LEN: usize = 64 * 1024;

/// Returns `body` with `slot` attached: the slot is released when hyper drops the
/// body, once it has taken the last frame or when the connection ended.
fn hold_until_dropped(body: Body, hold: TransferHold) -> Body {
    Body::new(SlotBody {
        body,
        pending: Bytes::new(),
        _hold: hold,
    })
}

/// A response body that owns a transfer slot and passes the data of `body` on in
/// frames of at most [`FRAME_LEN`] bytes, with the exact length of the whole, so that
/// hyper still sends `Content-Length`.
struct SlotBody {
    body: Body,
    /// Data taken from `body` and not passed on yet.
    pending: Bytes,
    _hold: TransferHold,
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

    fn hold_of(slot: OwnedSemaphorePermit) -> TransferHold {
        TransferHold {
            _slot: slot,
            _address: None,
        }
    }

    #[test]
    fn address_count_is_capped_and_taken_back() {
        let settings = Arc::new(Settings {
            site_dir: "dist".into(),
            https: false,
            client_address_header: None,
            session_idle: crate::PART_BODY_TIMEOUT,
            session_max_age: crate::PART_BODY_TIMEOUT,
            part_body_timeout: crate::PART_BODY_TIMEOUT,
            json_body_timeout: crate::JSON_BODY_TIMEOUT,
            part_transfers_per_address: MAX_PART_TRANSFERS_PER_ADDRESS,
        });
        let slots = TransferSlots::new(16, settings);
        let address: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();

        let mut counted: Vec<_> = (0..MAX_PART_TRANSFERS_PER_ADDRESS)
            .map(|_| slots.enter(address).unwrap())
            .collect();
        assert!(slots.enter(address).is_none());
        assert!(slots.enter(other).is_some());
        counted.pop();
        assert!(slots.enter(address).is_some());
        drop(counted);
        assert!(slots.by_address.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn slot_is_released_when_the_body_is_dropped() {
        let semaphore = Arc::new(Semaphore::new(1));
        let slot = Arc::clone(&semaphore).acquire_owned().await.unwrap();
        let body = hold_until_dropped(Body::from("part"), hold_of(slot));
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
        let mut body = hold_until_dropped(Body::from(part.clone()), hold_of(slot));

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
        let body = hold_until_dropped(Body::from(vec![0u8; 4096]), hold_of(slot));
        assert_eq!(body.size_hint().exact(), Some(4096));
    }
}
