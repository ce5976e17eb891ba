//! A socket wrapper that fails a write which makes no progress for a time limit, so
//! that a client which stops reading its response loses its connection. hyper stops
//! polling a response body while the socket is not writable, so without this limit
//! such a client would keep the response, and its buffered part, for as long as the
//! TCP connection lives.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Sleep, sleep};

/// A stream whose writes fail with [`io::ErrorKind::TimedOut`] once the socket has
/// accepted no byte for `limit`. The clock starts at the first write that has to wait
/// and restarts at every write that goes through.
pub struct WriteStallLimit<S> {
    stream: S,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteStallLimit<S> {
    pub fn new(stream: S, limit: Duration) -> Self {
        WriteStallLimit {
            stream,
            limit,
            stalled: None,
        }
    }

    /// Handles a write that returned `written`: clears the stall on progress, starts
    /// or checks the stall clock while it waits.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if written.is_ready() {
            self.stalled = None;
            return written;
        }
        let limit = self.limit;
        let stalled = self.stalled.get_or_insert_with(|| Box::pin(sleep(limit)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::info!(
                    limit_secs = limit.as_secs(),
                    "closing a connection whose client stopped reading its response"
                );
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the client read nothing for {} s", limit.as_secs()),
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteStallLimit<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteStallLimit<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.watch(cx, written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.watch(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.stream).poll_flush(cx);
        self.watch(cx, flushed)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn write_to_a_reader_that_stops_times_out() {
        let (client, server) = tokio::io::duplex(64);
        let mut limited = WriteStallLimit::new(server, Duration::from_millis(100));
        let err = limited.write_all(&[0; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(client);
    }

    #[tokio::test]
    async fn slow_reader_that_keeps_reading_is_served() {
        use tokio::io::AsyncReadExt;

        let (mut client, server) = tokio::io::duplex(64);
        let mut limited = WriteStallLimit::new(server, Duration::from_millis(200));
        let reader = tokio::spawn(async move {
            let mut received = Vec::new();
            let mut chunk = [0u8; 64];
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                match client.read(&mut chunk).await.unwrap() {
                    0 => return received,
                    read => received.extend_from_slice(&chunk[..read]),
                }
            }
        });
        limited.write_all(&[7; 1024]).await.unwrap();
        limited.shutdown().await.unwrap();
        drop(limited);
        assert_eq!(reader.await.unwrap(), vec![7; 1024]);
    }
}
