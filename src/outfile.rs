//! Files mss writes because the user named them (`mss clamp -o FILE`): only ever a
//! new regular file, complete or not at all.
//!
//! - The path must not exist, or be a regular file and `--force` given. A device
//!   node, FIFO, socket, directory or symbolic link is never written through or
//!   replaced (as root, `-o /dev/null` must not turn /dev/null into a file).
//! - The data goes to a file with no name in the same directory (O_TMPFILE), which
//!   gets its name only when complete (linkat(2)): an error or a kill leaves
//!   nothing behind, and a file that appeared meanwhile is not replaced without
//!   `--force`. On file systems without O_TMPFILE a hidden temporary file beside it
//!   is used instead and removed on any error.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::AtFlags;
use nix::fcntl::{AT_FDCWD, OFlag};
use nix::sys::stat::Mode;

/// A file being written, named only once [`NewFile::persist`] succeeds.
#[derive(Debug)]
pub(crate) struct NewFile {
    file: File,
    dest: PathBuf,
    force: bool,
    /// The hidden temporary file, when O_TMPFILE was not available.
    named: Option<PathBuf>,
}

/// What kind of thing the path is, for the message.
fn kind_of(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_symlink() {
        Some("a symbolic link")
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_fifo() {
        Some("a FIFO")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_file() {
        None
    } else {
        Some("not a regular file")
    }
}

/// Says whether `dest` may be written: absent, or a regular file with `force`.
pub(crate) fn check(dest: &Path, force: bool) -> Result<(), String> {
    let shown = dest.display();
    match std::fs::symlink_metadata(dest) {
        Ok(meta) => match kind_of(meta.file_type()) {
            Some(kind) => Err(format!(
                "{shown}: is {kind}; mss writes only new regular files and never writes \
                 through or replaces anything else: give another path, or `-` for \
                 standard output and redirect it"
            )),
            None if !force => Err(format!(
                "{shown}: exists; give --force to replace it, or another path"
            )),
            None => Ok(()),
        },
        // Said before any work is done: the directory it would go in is missing.
        Err(e) if e.kind() == io::ErrorKind::NotFound => match dest.parent() {
            Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(format!(
                "{shown}: cannot create: the directory {} does not exist",
                dir.display()
            )),
            _ => Ok(()),
        },
        Err(e) => Err(format!("{shown}: {e}")),
    }
}

impl NewFile {
    /// Starts writing the file that will become `dest` (checked with [`check`]).
    pub(crate) fn create(dest: &Path, force: bool) -> Result<NewFile, String> {
        check(dest, force)?;
        let shown = dest.display();
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let unnamed = nix::fcntl::open(
            &dir,
            OFlag::O_TMPFILE | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o666),
        );
        match unnamed {
            Ok(fd) => Ok(NewFile {
                file: File::from(fd),
                dest: dest.to_path_buf(),
                force,
                named: None,
            }),
            // ENOENT / ENOTDIR: the directory is missing; say so plainly.
            Err(nix::Error::ENOENT | nix::Error::ENOTDIR) => Err(format!(
                "{shown}: cannot create: the directory {} does not exist",
                dir.display()
            )),
            Err(nix::Error::EACCES | nix::Error::EPERM | nix::Error::EROFS) => Err(format!(
                "{shown}: cannot create: {}",
                io::Error::from(nix::Error::EACCES)
            )),
            // The file system has no O_TMPFILE: a hidden temporary file instead.
            Err(_) => {
                let name = dest
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "out".into());
                let temp = dir.join(format!(".{name}.mss-{}.partial", std::process::id()));
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o666)
                    .open(&temp)
                    .map_err(|e| format!("{shown}: cannot create: {e}"))?;
                Ok(NewFile {
                    file,
                    dest: dest.to_path_buf(),
                    force,
                    named: Some(temp),
                })
            }
        }
    }

    /// The file to write to.
    pub(crate) fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Gives the complete file its name. Without `force`, a file that appeared at
    /// the path meanwhile is left alone and reported.
    pub(crate) fn persist(mut self) -> Result<(), String> {
        let shown = self.dest.display().to_string();
        let exists = |e: &dyn std::fmt::Display| {
            format!(
                "{shown}: appeared while mss was writing it ({e}); not replaced: give --force to replace it"
            )
        };
        let fail = |e: &dyn std::fmt::Display| format!("{shown}: {e}");
        match self.named.take() {
            None => {
                let proc_path = format!("/proc/self/fd/{}", self.file.as_raw_fd());
                if self.force {
                    // Linked under a temporary name, then renamed over the old file.
                    let temp = self.dest.with_file_name(format!(
                        ".{}.mss-{}.partial",
                        self.dest
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        std::process::id()
                    ));
                    nix::unistd::linkat(
                        AT_FDCWD,
                        proc_path.as_str(),
                        AT_FDCWD,
                        &temp,
                        AtFlags::AT_SYMLINK_FOLLOW,
                    )
                    .map_err(|e| fail(&e))?;
                    std::fs::rename(&temp, &self.dest).map_err(|e| {
                        let _ = std::fs::remove_file(&temp);
                        fail(&e)
                    })
                } else {
                    match nix::unistd::linkat(
                        AT_FDCWD,
                        proc_path.as_str(),
                        AT_FDCWD,
                        &self.dest,
                        AtFlags::AT_SYMLINK_FOLLOW,
                    ) {
                        Ok(()) => Ok(()),
                        Err(nix::Error::EEXIST) => Err(exists(&nix::Error::EEXIST)),
                        Err(e) => Err(fail(&e)),
                    }
                }
            }
            Some(temp) => {
                let result = if self.force {
                    std::fs::rename(&temp, &self.dest).map_err(|e| fail(&e))
                } else {
                    // A hard link never replaces: EEXIST if the name is taken.
                    match std::fs::hard_link(&temp, &self.dest) {
                        Ok(()) => Ok(()),
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(exists(&e)),
                        Err(e) => Err(fail(&e)),
                    }
                };
                let _ = std::fs::remove_file(&temp);
                result
            }
        }
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        // Not persisted: an unnamed file vanishes with its descriptor; a named
        // temporary one is removed.
        if let Some(temp) = self.named.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// Standard output as a raw file, for writing a capture with large writes and
/// no line buffering; refused on a terminal (binary data).
pub(crate) fn stdout_for_capture() -> Result<File, String> {
    use std::io::IsTerminal;
    if io::stdout().is_terminal() {
        return Err(
            "-o -: standard output is a terminal; a capture is binary: redirect it \
             (`-o - > FILE`) or pipe it (`-o - | tcpdump -r -`)"
                .into(),
        );
    }
    let fd = nix::unistd::dup(io::stdout()).map_err(|e| format!("standard output: {e}"))?;
    Ok(File::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mss-outfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    fn entries(d: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(d)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_file_appears_only_when_complete() {
        let d = dir("new");
        let dest = d.join("out.pcap");
        let mut f = NewFile::create(&dest, false).expect("create");
        io::Write::write_all(f.file(), b"data").expect("write");
        assert!(entries(&d).is_empty(), "nothing named before persist");
        f.persist().expect("persist");
        assert_eq!(std::fs::read(&dest).expect("read"), b"data");
        assert_eq!(entries(&d), ["out.pcap"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn dropped_without_persist_leaves_nothing() {
        let d = dir("drop");
        let mut f = NewFile::create(&d.join("out.pcap"), false).expect("create");
        io::Write::write_all(f.file(), b"half").expect("write");
        drop(f);
        assert!(entries(&d).is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn existing_files_need_force_and_other_things_are_refused() {
        let d = dir("exists");
        let dest = d.join("old.pcap");
        std::fs::write(&dest, b"old").expect("write");
        let err = NewFile::create(&dest, false).expect_err("exists");
        assert!(err.contains("exists; give --force"), "{err}");
        let mut f = NewFile::create(&dest, true).expect("forced");
        io::Write::write_all(f.file(), b"new").expect("write");
        f.persist().expect("persist");
        assert_eq!(std::fs::read(&dest).expect("read"), b"new");
        assert_eq!(entries(&d), ["old.pcap"]);
        let link = d.join("link");
        std::os::unix::fs::symlink(&dest, &link).expect("symlink");
        let err = NewFile::create(&link, true).expect_err("symlink");
        assert!(err.contains("is a symbolic link"), "{err}");
        let fifo = d.join("fifo");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).expect("mkfifo");
        let err = NewFile::create(&fifo, true).expect_err("fifo");
        assert!(err.contains("is a FIFO"), "{err}");
        let err = NewFile::create(&d, true).expect_err("dir");
        assert!(err.contains("is a directory"), "{err}");
        let err = NewFile::create(&d.join("no/such/dir/x"), false).expect_err("no dir");
        assert!(err.contains("does not exist"), "{err}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_file_that_appears_meanwhile_is_not_replaced() {
        let d = dir("race");
        let dest = d.join("out.pcap");
        let mut f = NewFile::create(&dest, false).expect("create");
        io::Write::write_all(f.file(), b"mine").expect("write");
        std::fs::write(&dest, b"theirs").expect("write");
        let err = f.persist().expect_err("appeared");
        assert!(err.contains("appeared while"), "{err}");
        assert_eq!(std::fs::read(&dest).expect("read"), b"theirs");
        assert_eq!(entries(&d), ["out.pcap"]);
        let _ = std::fs::remove_dir_all(&d);
    }
}
