//! A TCP proxy the test controls, to make the broker reachable or not, or cut it off mid-stream.

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Forwards 127.0.0.1:`from` to 127.0.0.1:`to`; aborting the handle closes the listener and cuts
/// every connection it carries.
///
/// Binding is retried for a few seconds: a port just released (a proxy aborted to be restarted)
/// can take a moment to be free again.
pub async fn start(from: u16, to: u16) -> JoinHandle<()> {
    let mut tries = 0;
    let listener = loop {
        match TcpListener::bind(("127.0.0.1", from)).await {
            Ok(listener) => break listener,
            Err(e) if tries < 50 => {
                tries += 1;
                eprintln!("proxy bind on {from}: {e}; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("proxy bind on {from}: {e}"),
        }
    };
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

/// A loopback port nothing listens on (yet), chosen below the kernel's ephemeral range, so that
/// neither an outgoing connection nor another test's bind to port 0 can take it before the proxy
/// binds it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = ephemeral_low().clamp(2048, 65_535);
    let span = low - 1024;
    let seed = std::process::id().wrapping_mul(7919);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 1024 + (seed.wrapping_add(n.wrapping_mul(104_729)) % span);
        let port = u16::try_from(port).expect("port below 65536");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The first port of the kernel's ephemeral range (Linux default 32768).
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next().and_then(|p| p.parse().ok()))
        .unwrap_or(32_768)
}
