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
        thread::spawn(move || {
            let mut said = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on") {
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
    /// returns the file.
    pub fn wait(mut self) -> PathBuf {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.file.clone()
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
