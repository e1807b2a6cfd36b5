//! `mss probe reflect --listen ADDR:PORT`: answers each connection with the SYN
//! options that arrived (TCP_SAVED_SYN) as one JSON line, then closes.
//!
//! Bounded: a client must first send the request line (so stray connections and
//! scanners get nothing); the answer is one line of a few hundred bytes, sent only
//! over the established connection (no spoofed amplification); at most
//! `--max-clients` connections are served at once, each for at most 2 seconds.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::Failure;
use crate::cli::ProbeReflectArgs;

/// The request line a client sends.
pub(crate) const REQUEST: &str = "MSS-REFLECT 1\n";
/// How long a client has to send it.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

fn serve(mut stream: TcpStream) -> std::io::Result<bool> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut request = [0u8; 32];
    let mut got = 0;
    while got < REQUEST.len() {
        let n = stream.read(&mut request[got..])?;
        if n == 0 {
            return Ok(false);
        }
        got += n;
    }
    if &request[..REQUEST.len()] != REQUEST.as_bytes() {
        return Ok(false);
    }
    let syn = mss_net::saved_syn(&stream)?;
    let peer = stream.peer_addr()?;
    let mut answer = super::describe_syn(&syn).unwrap_or_else(|| json!({}));
    answer["type"] = json!("reflect");
    answer["client"] = json!(peer.to_string());
    let mut line = answer.to_string();
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    Ok(true)
}

pub(crate) fn run(args: &ProbeReflectArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let listener = TcpListener::bind(&args.listen)
        .map_err(|e| Failure::Input(format!("--listen {}: {e}", args.listen)))?;
    mss_net::set_save_syn(&listener)
        .map_err(|e| Failure::Input(format!("TCP_SAVE_SYN: {e} (Linux 4.2 or later)")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Input(format!("--listen {}: {e}", args.listen)))?;
    writeln!(out, "mss probe reflect: listening on {local}")?;
    out.flush()?;
    let active = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let limit = args.count.map(|c| usize::try_from(c).unwrap_or(usize::MAX));
    let mut handles = Vec::new();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if active.load(Ordering::Acquire) >= args.max_clients.max(1) {
            // Over the limit: close at once, no answer.
            continue;
        }
        active.fetch_add(1, Ordering::AcqRel);
        let (now_active, now_answered) = (Arc::clone(&active), Arc::clone(&answered));
        handles.push(std::thread::spawn(move || {
            if let Ok(true) = serve(stream) {
                now_answered.fetch_add(1, Ordering::AcqRel);
            }
            now_active.fetch_sub(1, Ordering::AcqRel);
        }));
        handles.retain(|h| !h.is_finished());
        if let Some(limit) = limit {
            // Wait for the ones in flight, to count them.
            if answered.load(Ordering::Acquire) + active.load(Ordering::Acquire) >= limit {
                for handle in handles.drain(..) {
                    let _ = handle.join();
                }
                if answered.load(Ordering::Acquire) >= limit {
                    break;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
