//! tcpdump at one capture point.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::plan::Cmd;

/// A running tcpdump; killed on drop if still running.
#[derive(Debug)]
pub struct Capture {
    child: Child,
    file: PathBuf,
    /// What tcpdump says after it started listening (its counts at the end).
    said: mpsc::Receiver<String>,
}

impl Capture {
    /// Starts the capture command and waits until tcpdump is listening.
    pub fn start(cmd: &Cmd, file: &Path) -> Result<Capture, String> {
        let (program, args) = cmd.argv.split_first().ok_or("empty capture command")?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run `{cmd}`: {e}"))?;
        let stderr = child.stderr.take().ok_or("tcpdump without stderr")?;
        let (tx, rx) = mpsc::channel();
        let (later_tx, later_rx) = mpsc::channel();
        thread::spawn(move || {
            let mut said = Vec::new();
            let mut listening = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if listening {
                    let _ = later_tx.send(line);
                } else if line.contains("listening on") {
                    listening = true;
                    let _ = tx.send(Ok(()));
                } else {
                    said.push(line);
                }
            }
            let _ = tx.send(Err(said.join("; ")));
        });
        let capture = Capture {
            child,
            file: file.to_path_buf(),
            said: later_rx,
        };
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(capture),
            Ok(Err(said)) => Err(format!("`{cmd}` exited: {said}")),
            Err(_) => Err(format!("`{cmd}` did not start listening within 10 s")),
        }
    }

    /// The process id, for cleanup.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks tcpdump to stop with SIGINT: it flushes the file and exits. Leave a
    /// moment for packets in flight before.
    pub fn interrupt(&self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGINT,
            );
        }
    }

    /// Waits (at most 5 s) for tcpdump to exit after [`Capture::interrupt`];
    /// returns the file and what tcpdump said once it was listening (`N packets
    /// captured`, `N packets dropped by kernel`).
    pub fn wait(mut self) -> (PathBuf, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let mut said = Vec::new();
        // The reader thread ends with tcpdump's stderr; a moment for its last lines.
        while let Ok(line) = self.said.recv_timeout(Duration::from_millis(200)) {
            said.push(line);
        }
        (self.file.clone(), said)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A long-running process of the plan (mss's own clamp); killed on drop if still
/// running.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
}

impl Daemon {
    /// Starts the command (the program `mss` is this very executable) and waits
    /// until it prints `ready` on its standard output.
    pub fn start(cmd: &Cmd, ready: &str) -> Result<Daemon, String> {
        let mut argv = cmd.argv.clone();
        for word in argv.iter_mut() {
            if word == "mss" {
                *word = std::env::current_exe()
                    .map_err(|e| format!("cannot find the mss executable: {e}"))?
                    .display()
                    .to_string();
                break;
            }
        }
        let (program, args) = argv.split_first().ok_or("empty command")?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run `{cmd}`: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = mpsc::channel();
        let ready = ready.to_string();
        let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let errors = std::sync::Arc::clone(&said);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut lines) = errors.lock() {
                    lines.push(line);
                }
            }
        });
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with(&ready) {
                    let _ = tx.send(());
                }
            }
        });
        let mut daemon = Daemon { child };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if rx.recv_timeout(Duration::from_millis(50)).is_ok() {
                return Ok(daemon);
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                thread::sleep(Duration::from_millis(50));
                let said = said.lock().map(|l| l.join("; ")).unwrap_or_default();
                return Err(format!("`{cmd}` exited ({status}): {said}"));
            }
            if Instant::now() > deadline {
                return Err(format!("`{cmd}` was not ready within 10 s"));
            }
        }
    }

    /// The process id, for cleanup.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it with SIGTERM (mss clamp removes its rules) and waits up to 5 s.
    pub fn stop(mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
