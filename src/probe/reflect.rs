//! `mss probe reflect --listen ADDR:PORT`: answers each connection with the SYN
//! options that arrived (TCP_SAVED_SYN) as one JSON line, then closes.
//!
//! Bounded: a client must first send the request line (so stray connections and
//! scanners get nothing); the answer is one line of a few hundred bytes, sent only
//! over the established connection (no spoofed amplification); at most
//! `--max-clients` connections are served at once, each for at most 2 seconds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use mss_wire::syn::{self, SynDescription};
use serde_json::{Value, json};

use crate::Failure;
use crate::cli::ProbeReflectArgs;

/// The request line a client sends.
pub(crate) const REQUEST: &str = "MSS-REFLECT 1\n";
/// How long a client has to send it.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// What one client's SYN carried.
struct Answer {
    client: SocketAddr,
    /// `None` when the saved bytes hold no IP and TCP header.
    syn: Option<SynDescription>,
}

impl Answer {
    /// The JSON line the client gets (and `--json` logs): the SYN's description,
    /// then the type and the client's address.
    fn json(&self) -> Value {
        let mut answer = self.syn.as_ref().map_or_else(|| json!({}), super::syn_json);
        answer["type"] = json!("reflect");
        answer["client"] = json!(self.client.to_string());
        answer
    }

    /// One log line, in words.
    fn describe(&self) -> String {
        let Some(syn) = &self.syn else {
            return format!(
                "{}  SYN not readable (no IP and TCP header saved)",
                self.client
            );
        };
        let mss = syn
            .mss
            .map_or("no MSS option".to_string(), |m| format!("MSS {m}"));
        let kinds: Vec<String> = syn.option_kinds().iter().map(ToString::to_string).collect();
        format!(
            "{}  SYN with {mss}, TTL {}, option kinds [{}]",
            self.client,
            syn.ttl,
            kinds.join(",")
        )
    }
}

/// Answers one client; returns what was sent, `None` when the client did not ask
/// properly.
fn serve(mut stream: TcpStream) -> std::io::Result<Option<Answer>> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut request = [0u8; 32];
    let mut got = 0;
    while got < REQUEST.len() {
        let n = stream.read(&mut request[got..])?;
        if n == 0 {
            return Ok(None);
        }
        got += n;
    }
    if &request[..REQUEST.len()] != REQUEST.as_bytes() {
        return Ok(None);
    }
    let saved = mss_net::saved_syn(&stream)?;
    let answer = Answer {
        client: stream.peer_addr()?,
        syn: syn::describe(&saved),
    };
    let mut line = answer.json().to_string();
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    Ok(Some(answer))
}

pub(crate) fn run(args: &ProbeReflectArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let listener = TcpListener::bind(&args.listen).map_err(|e| {
        Failure::Input(format!(
            "--listen \"{}\": {e} (give ADDR:PORT, IPv6 as [ADDR]:PORT)",
            args.listen
        ))
    })?;
    mss_net::set_save_syn(&listener)
        .map_err(|e| Failure::Input(format!("TCP_SAVE_SYN: {e} (Linux 4.2 or later)")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Input(format!("--listen {}: {e}", args.listen)))?;
    // Non-blocking, so answers are logged while no new client comes.
    listener
        .set_nonblocking(true)
        .map_err(|e| Failure::Input(format!("--listen {}: {e}", args.listen)))?;
    if args.json {
        writeln!(
            out,
            "{}",
            json!({"type": "reflect_listening", "listen": local.to_string()})
        )?;
    } else {
        writeln!(out, "mss probe reflect: listening on {local}")?;
    }
    out.flush()?;
    let max_clients = usize::try_from(args.max_clients).unwrap_or(usize::MAX);
    let active = Arc::new(AtomicUsize::new(0));
    let (sent, answers) = mpsc::channel::<Answer>();
    let mut answered: u64 = 0;
    let mut handles = Vec::new();
    let log = |answer: Answer, out: &mut dyn Write| -> std::io::Result<()> {
        if args.json {
            writeln!(out, "{}", answer.json())?;
        } else {
            writeln!(out, "{}", answer.describe())?;
        }
        out.flush()
    };
    loop {
        while let Ok(answer) = answers.try_recv() {
            answered += 1;
            log(answer, out)?;
        }
        if args.count.is_some_and(|limit| answered >= limit) {
            break;
        }
        handles.retain(|h: &std::thread::JoinHandle<()>| !h.is_finished());
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(_) => continue,
        };
        if active.load(Ordering::Acquire) >= max_clients {
            // Over the limit: close at once, no answer.
            continue;
        }
        active.fetch_add(1, Ordering::AcqRel);
        let (now_active, sent) = (Arc::clone(&active), sent.clone());
        handles.push(std::thread::spawn(move || {
            if let Ok(Some(answer)) = serve(stream) {
                let _ = sent.send(answer);
            }
            now_active.fetch_sub(1, Ordering::AcqRel);
        }));
    }
    // Clients already connected get their answer (each within CLIENT_TIMEOUT).
    for handle in handles {
        let _ = handle.join();
    }
    while let Ok(answer) = answers.try_recv() {
        log(answer, out)?;
    }
    Ok(ExitCode::SUCCESS)
}
