//! A TCP proxy the test controls, to make the broker reachable or not, or cut it off mid-stream.

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Forwards 127.0.0.1:`from` to 127.0.0.1:`to`; aborting the handle closes the listener and cuts
/// every connection it carries.
pub async fn start(from: u16, to: u16) -> JoinHandle<()> {
    let listener = TcpListener::bind(("127.0.0.1", from))
        .await
        .expect("proxy bind");
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((mut inbound, _)) = listener.accept().await {
            connections.spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", to)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}
