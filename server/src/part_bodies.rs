//! The bound on uploaded part bodies that one client address has in memory at once.
//!
//! An upload handler reads its whole part, about 4 MiB, into memory before the store
//! writes it, and the store writes one part at a time. A page sends several parts at
//! once, so without a bound every one of its parts would be read in full and wait
//! there for the writer. With the bound, a handler waits for a turn before it reads
//! the body, and the other parts stay in the client's socket until then. A client that
//! sends slowly delays only its own parts, because each address has turns of its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Part bodies one client address may have in memory at once: one that the store
/// writes while the next one arrives.
pub const PART_BODIES_PER_ADDRESS: usize = 2;

/// A semaphore of turns for each client address; clones share the map.
#[derive(Clone, Debug)]
pub struct PartBodies {
    by_address: Arc<Mutex<HashMap<IpAddr, Arc<Semaphore>>>>,
    per_address: usize,
}

impl Default for PartBodies {
    fn default() -> Self {
        PartBodies::new(PART_BODIES_PER_ADDRESS)
    }
}

impl PartBodies {
    /// Allows `per_address` bodies per client address at once.
    pub fn new(per_address: usize) -> PartBodies {
        PartBodies {
            by_address: Arc::default(),
            per_address,
        }
    }

    /// Waits until `address` may read one more body into memory. The turn lasts until
    /// the returned value is dropped.
    pub async fn turn(&self, address: IpAddr) -> BodyTurn {
        let semaphore = {
            let mut by_address = self.lock();
            let semaphore = by_address
                .entry(address)
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_address)));
            Arc::clone(semaphore)
        };
        // Acquiring fails only on a closed semaphore, and this module never closes
        // one. Should it happen, the body is read without a turn.
        let permit = match semaphore.acquire_owned().await {
            Ok(permit) => Some(permit),
            Err(error) => {
                tracing::warn!(%address, %error, "reading a part body without a turn");
                None
            }
        };
        BodyTurn {
            permit,
            address,
            bodies: self.clone(),
        }
    }

    /// Counts the client addresses that hold or wait for a turn.
    pub fn addresses(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, Arc<Semaphore>>> {
        self.by_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One turn of a client address; dropping it lets the next body of that address in.
#[derive(Debug)]
pub struct BodyTurn {
    permit: Option<OwnedSemaphorePermit>,
    address: IpAddr,
    bodies: PartBodies,
}

impl Drop for BodyTurn {
    fn drop(&mut self) {
        drop(self.permit.take());
        // Forget the address once no handler holds or waits for its semaphore. The map
        // then has the only reference, and new handlers clone theirs under this lock.
        let mut by_address = self.bodies.lock();
        let unused = by_address
            .get(&self.address)
            .is_some_and(|semaphore| Arc::strong_count(semaphore) == 1);
        if unused {
            by_address.remove(&self.address);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const WAIT: Duration = Duration::from_millis(50);

    fn address(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[tokio::test]
    async fn turn_waits_when_address_is_full() {
        let bodies = PartBodies::new(2);
        let first = bodies.turn(address(1)).await;
        let _second = bodies.turn(address(1)).await;
        let third = tokio::time::timeout(WAIT, bodies.turn(address(1))).await;
        assert!(third.is_err(), "a third body of one address must wait");

        drop(first);
        let third = tokio::time::timeout(WAIT, bodies.turn(address(1))).await;
        assert!(third.is_ok(), "a finished body lets the next one in");
    }

    #[tokio::test]
    async fn turn_of_other_address_is_free() {
        let bodies = PartBodies::new(1);
        let _full = bodies.turn(address(1)).await;
        let other = tokio::time::timeout(WAIT, bodies.turn(address(2))).await;
        assert!(other.is_ok(), "another address has turns of its own");
    }

    #[tokio::test]
    async fn idle_address_is_forgotten() {
        let bodies = PartBodies::new(1);
        let first = bodies.turn(address(1)).await;
        let waiting = tokio::spawn({
            let bodies = bodies.clone();
            async move { bodies.turn(address(1)).await }
        });
        tokio::time::sleep(WAIT).await;
        drop(first);
        assert_eq!(bodies.addresses(), 1, "a waiting handler keeps its address");

        drop(waiting.await.unwrap());
        assert_eq!(bodies.addresses(), 0);
    }
}
