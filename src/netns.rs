//! Running a piece of work inside a named network namespace (`ip netns`): on a
//! thread of its own, since setns(CLONE_NEWNET) changes only the calling thread.
//! Processes it starts are in the namespace too.

use crate::Failure;

/// Runs `work` in network namespace `name` (`/run/netns/NAME`), or here for `None`.
pub(crate) fn run_in<T: Send>(
    name: Option<&str>,
    work: impl FnOnce() -> Result<T, Failure> + Send,
) -> Result<T, Failure> {
    let Some(name) = name else {
        return work();
    };
    let path = format!("/run/netns/{name}");
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let file = std::fs::File::open(&path).map_err(|e| {
                    Failure::Input(format!(
                        "--netns {name}: cannot open {path}: {e}; `ip netns list` shows the \
                         names"
                    ))
                })?;
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                    Failure::Input(format!(
                        "--netns {name}: cannot enter it: {e} (entering a namespace needs \
                         root, CAP_SYS_ADMIN)"
                    ))
                })?;
                work()
            })
            .join()
            .unwrap_or_else(|_| Err(Failure::Input("the namespace's thread failed".into())))
    })
}
