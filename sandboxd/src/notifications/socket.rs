//! Connecting to a profile's bus socket. Its folder is one the container
//! writes in, so the name there may be anything the profile put: a link to
//! the host's own bus, a FIFO, a folder. The socket is opened without
//! following a link (`O_PATH | O_NOFOLLOW` beneath the folder), checked to
//! be a socket, and connected to through that descriptor, so that what is
//! checked is what is connected to.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};

/// The profile's bus cannot be reached (yet).
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// Opening the folder or the name in it failed (not there yet: the
    /// container's bus has not started).
    #[error("opening {path}: {source}")]
    Open {
        /// What was opened.
        path: PathBuf,
        /// Why.
        source: rustix::io::Errno,
    },
    /// The name is not a socket: a link, a FIFO, a file.
    #[error("{path} is not a socket (a {kind}); it is not connected to")]
    NotASocket {
        /// The name.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// Connecting failed (nobody listening: the bus stopped).
    #[error("connecting to {path}: {source}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Connects to the socket `name` in `folder` (a folder the host made, in a
/// folder only the host writes), never through a link.
pub fn connect(folder: &Path, name: &str) -> Result<std::os::unix::net::UnixStream, SocketError> {
    let path = folder.join(name);
    let dir = rustix::fs::open(
        folder,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::PATH,
        Mode::empty(),
    )
    .map_err(|source| SocketError::Open {
        path: folder.to_owned(),
        source,
    })?;
    let fd = rustix::fs::openat(
        &dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| SocketError::Open {
        path: path.clone(),
        source,
    })?;
    let stat = rustix::fs::fstat(&fd).map_err(|source| SocketError::Open {
        path: path.clone(),
        source,
    })?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::Socket {
        let kind = match kind {
            FileType::Symlink => "symbolic link",
            FileType::Directory => "folder",
            FileType::Fifo => "FIFO",
            FileType::RegularFile => "file",
            _ => "device",
        };
        return Err(SocketError::NotASocket { path, kind });
    }
    // The descriptor's own name in /proc: connect() resolves it to the very
    // inode checked above (systemd's `connect_unix_path` does the same).
    let by_fd = format!("/proc/self/fd/{}", fd.as_raw_fd());
    std::os::unix::net::UnixStream::connect(by_fd)
        .map_err(|source| SocketError::Connect { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_planted_in_place_of_the_socket_is_not_followed() {
        let dir = tempfile::tempdir().expect("temp folder");
        let real = dir.path().join("real");
        let _listener = std::os::unix::net::UnixListener::bind(&real).expect("listen");
        std::os::unix::fs::symlink(&real, dir.path().join("bus")).expect("link");
        let err = connect(dir.path(), "bus").expect_err("a link");
        assert!(
            matches!(
                err,
                SocketError::NotASocket {
                    kind: "symbolic link",
                    ..
                }
            ),
            "{err}"
        );
        std::fs::write(dir.path().join("file"), b"x").expect("file");
        assert!(matches!(
            connect(dir.path(), "file"),
            Err(SocketError::NotASocket { kind: "file", .. })
        ));
        assert!(matches!(
            connect(dir.path(), "missing"),
            Err(SocketError::Open { .. })
        ));
        connect(dir.path(), "real").expect("the socket itself connects");
    }
}
