//! A built-in lab scenario kept running (`mss lab run NAME --keep`) for tests that
//! work inside its namespaces; the namespaces (and the kept captures) are removed
//! on drop.

use std::process::{Child, Command, Output, Stdio};

/// A kept lab: namespaces `mss-lab-PID-NODE`.
pub(crate) struct KeptLab {
    prefix: String,
    /// The run's kept capture directory.
    dir: std::path::PathBuf,
}

impl KeptLab {
    /// Runs `mss lab run NAME --keep` and keeps its namespaces.
    pub(crate) fn start(name: &str) -> KeptLab {
        let child = Command::new(env!("CARGO_BIN_EXE_mss"))
            .args(["lab", "run", name, "--keep"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mss lab run --keep");
        let prefix = format!("mss-lab-{}-", child.id());
        let dir = std::env::temp_dir().join(format!("{prefix}{name}"));
        let output = child.wait_with_output().expect("wait");
        let lab = KeptLab { prefix, dir };
        assert!(output.status.code().is_some(), "{name}: the run ended");
        lab
    }

    /// A node's namespace.
    pub(crate) fn ns(&self, node: &str) -> String {
        format!("{}{node}", self.prefix)
    }

    /// `PROGRAM ARGS` inside a node's namespace, to completion.
    pub(crate) fn run(&self, node: &str, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(node), program])
            .args(args)
            .output()
            .expect("ip netns exec")
    }

    /// `mss ARGS` inside a node's namespace.
    pub(crate) fn mss(&self, node: &str, args: &[&str]) -> Output {
        self.run(node, env!("CARGO_BIN_EXE_mss"), args)
    }

    /// `mss ARGS` started inside a node's namespace, standard output piped.
    pub(crate) fn spawn(&self, node: &str, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(node), env!("CARGO_BIN_EXE_mss")])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn in namespace")
    }
}

impl Drop for KeptLab {
    fn drop(&mut self) {
        // What `mss lab clean` does, for this lab's namespaces only.
        for (name, _, _) in mss_lab::run::leftovers() {
            if name.starts_with(&self.prefix) {
                mss_lab::run::remove_namespace(&name);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
