//! Running the router: [`serve_forever`] for the command line (until Ctrl-C), [`spawn`] for
//! tests and tools that want a server on a background thread, stopped when dropped.

use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;

use axum::Router;
use tokio::sync::oneshot;

/// Threads for the async side (accepting, reading uploads, answering); the inferences run on
/// tokio's blocking pool, bounded by the gate, not on these.
const IO_THREADS: usize = 2;

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(IO_THREADS)
        .thread_name("faststyle-serve")
        .enable_all()
        .build()
}

/// Serves `app` on `listener` until Ctrl-C (or SIGTERM on Unix), then finishes the requests in
/// progress and returns.
pub fn serve_forever(listener: TcpListener, app: Router) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, app)
            .with_graceful_shutdown(stop_signal())
            .await
    })
}

async fn stop_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, only SIGTERM (or a kill) stops the server.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("stopping");
}

/// A server on a background thread; dropping it stops the server and joins the thread.
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts `app` on `listener` in a thread of its own.
pub fn spawn(listener: TcpListener, app: Router) -> std::io::Result<RunningServer> {
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let rt = runtime()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("faststyle-serve-main".into())
        .spawn(move || {
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
            })
        })?;
    Ok(RunningServer {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    })
}
