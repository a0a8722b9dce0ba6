//! Serving with limits: a slow client (one that trickles its headers, or never finishes)
//! cannot hold the server, and no request can carry an unbounded body.

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::timeout::TimeoutLayer;
use tracing::{debug, warn};

#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    /// Time allowed to send the request headers (slowloris).
    pub header_timeout: Duration,
    /// Time allowed for a whole request.
    pub request_timeout: Duration,
    pub max_body: usize,
    pub max_connections: usize,
    /// A connection whose client takes nothing we send for this long is closed: a player
    /// that stopped reading an endless TS stream would otherwise hold it for ever.
    pub write_stall_timeout: Duration,
    /// Bytes written but not yet sent that the kernel holds per connection
    /// (`TCP_NOTSENT_LOWAT`); what is in flight is not limited.
    pub unsent_bytes: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            max_body: 64 * 1024,
            max_connections: 256,
            write_stall_timeout: Duration::from_secs(15),
            unsent_bytes: 128 * 1024,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight
/// finish (for a few seconds at most).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let router = router.layer(
        ServiceBuilder::new()
            .layer(DefaultBodyLimit::max(limits.max_body))
            .layer(TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                limits.request_timeout,
            )),
    );
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service =
            TowerToHyperService::new(router.clone().layer(axum::Extension(ConnectInfo(peer))));
        // Bytes a client has not taken stay in our queues, where they are counted and
        // bounded, rather than in megabytes of kernel send buffer: a player that stopped
        // reading an HTTP TS stream is then noticed in seconds.
        if let Err(e) =
            socket2::SockRef::from(&stream).set_tcp_notsent_lowat(limits.unsent_bytes as u32)
        {
            debug!(%peer, "TCP_NOTSENT_LOWAT: {e}");
        }
        let stream = StallGuard::new(stream, limits.write_stall_timeout);
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = watched.await {
                debug!(%peer, "connection ended: {e}");
            }
            drop(permit);
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(3)) => {}
    }
    Ok(())
}

/// A connection that fails a write the peer has not taken for `timeout` (its receive
/// window stayed shut): hyper then drops the connection and its response body.
struct StallGuard<S> {
    inner: S,
    timeout: Duration,
    /// Armed while a write is waiting.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallGuard<S> {
    fn new(inner: S, timeout: Duration) -> Self {
        StallGuard {
            inner,
            timeout,
            deadline: None,
        }
    }

    /// A write's outcome, judged: progress disarms the deadline; waiting arms it, and
    /// fails once the peer's time is up.
    fn judge<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if result.is_ready() {
            self.deadline = None;
            return result;
        }
        let timeout = self.timeout;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if deadline.as_mut().poll(cx).is_ready() {
            Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading",
            )))
        } else {
            Poll::Pending
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.judge(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.judge(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_write_the_peer_never_takes_fails_after_the_timeout() {
        // The peer's buffer holds 1 KiB and it never reads.
        let (ours, _peer) = tokio::io::duplex(1024);
        let mut guarded = StallGuard::new(ours, Duration::from_millis(200));
        let started = std::time::Instant::now();
        let mut written = 0;
        let error = loop {
            match guarded.write(&[0u8; 256]).await {
                Ok(n) => written += n,
                Err(e) => break e,
            }
        };
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(written, 1024, "what fitted was taken");
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_slow_reader_is_not_cut_off() {
        let (ours, mut peer) = tokio::io::duplex(1024);
        let mut guarded = StallGuard::new(ours, Duration::from_millis(300));
        let reader = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 512];
            let mut total = 0;
            while total < 8 * 1024 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                total += peer.read(&mut buf).await.expect("read");
            }
            total
        });
        for _ in 0..32 {
            guarded
                .write_all(&[1u8; 256])
                .await
                .expect("a slow reader still reads");
        }
        assert_eq!(reader.await.expect("reader"), 8 * 1024);
    }
}
