//! A TCP proxy the test controls, to make the broker reachable (or not) on a port of its choosing.

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Forwards 127.0.0.1:`from` to 127.0.0.1:`to` until aborted.
pub async fn start(from: u16, to: u16) -> JoinHandle<()> {
    let listener = TcpListener::bind(("127.0.0.1", from))
        .await
        .expect("proxy bind");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", to)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}
