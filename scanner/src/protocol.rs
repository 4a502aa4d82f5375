//! What the parent and the scan worker say to each other over their socket:
//! one JSON object per line. Each request carries the object to scan as a
//! descriptor (`SCM_RIGHTS`) attached to its line.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use serde::{Deserialize, Serialize};

use super::confine::Confinement;
use zion_quarantine::verdict::{ArchiveProblem, RuleMatch};

/// The longest line either side accepts (a reply with every match and meta).
pub const MAX_LINE: usize = 16 << 20;

/// Parent to worker.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// Scan the attached descriptor; the reply carries the same id.
    pub scan: u64,
}

/// Worker to parent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// Rules loaded and confinement in force: ready for requests.
    Ready {
        /// What the kernel enforces.
        confinement: Confinement,
        /// Rules loaded.
        rules: usize,
    },
    /// The worker cannot serve (rules unreadable, confinement refused).
    Failed {
        /// Why.
        reason: String,
    },
    /// One scan finished.
    Scanned {
        /// The request's id.
        id: u64,
        /// Matching rules, or why libyara could not finish.
        outcome: Outcome,
        /// The worker exits after this reply (its CPU budget is spent).
        retire: bool,
    },
}

/// What one scan found.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The rules that matched (empty: clean).
    Matches(Vec<RuleMatch>),
    /// libyara failed (timeout, unmappable file, …).
    Error(String),
    /// No rule matched, but an archive was not scanned through (a bomb
    /// refused, an encrypted or corrupt member).
    Unscannable {
        /// What stopped the scan.
        problem: ArchiveProblem,
        /// Where, as a member path.
        member: Vec<String>,
    },
}

/// Why a line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The deadline passed.
    #[error("no answer in time")]
    Timeout,
    /// The other side closed the socket.
    #[error("the other side closed the channel")]
    Closed,
    /// The line exceeded [`MAX_LINE`].
    #[error("line longer than {MAX_LINE} bytes")]
    TooLong,
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// A line-oriented reader over the socket that also collects descriptors.
pub struct Channel {
    stream: UnixStream,
    buffer: Vec<u8>,
    fds: Vec<OwnedFd>,
}

impl Channel {
    /// Wraps one end of a connected stream socket.
    pub fn new(fd: OwnedFd) -> Self {
        Channel {
            stream: UnixStream::from(fd),
            buffer: Vec::new(),
            fds: Vec::new(),
        }
    }

    /// Sends `line` (a newline is added) with `fd` attached, if any.
    pub fn send(&mut self, line: &[u8], fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
        let mut message = Vec::with_capacity(line.len() + 1);
        message.extend_from_slice(line);
        message.push(b'\n');
        let mut sent = 0;
        if let Some(fd) = fd {
            let fds = [fd];
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
            let mut control = SendAncillaryBuffer::new(&mut space);
            control.push(SendAncillaryMessage::ScmRights(&fds));
            sent = sendmsg(
                &self.stream,
                &[IoSlice::new(&message)],
                &mut control,
                SendFlags::NOSIGNAL,
            )?;
        }
        // The rest (or all, without a descriptor) as plain bytes.
        while sent < message.len() {
            let n = rustix::net::send(&self.stream, &message[sent..], SendFlags::NOSIGNAL)?;
            sent += n;
        }
        Ok(())
    }

    /// Writes one line without a descriptor.
    pub fn send_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.send(line, None)
    }

    /// Reads the next line (without its newline), waiting until `deadline`
    /// (forever if none). Descriptors that arrive are kept for [`Self::take_fd`].
    pub fn read_line(&mut self, deadline: Option<Instant>) -> Result<Vec<u8>, ReadError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
                line.pop();
                return Ok(line);
            }
            if self.buffer.len() > MAX_LINE {
                return Err(ReadError::TooLong);
            }
            if let Some(deadline) = deadline {
                wait_readable(self.stream.as_fd(), deadline)?;
            }
            let mut chunk = [0u8; 64 * 1024];
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let received = match recvmsg(
                &self.stream,
                &mut [IoSliceMut::new(&mut chunk)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            ) {
                Ok(r) => r,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(ReadError::Io(e.into())),
            };
            for message in control.drain() {
                if let RecvAncillaryMessage::ScmRights(fds) = message {
                    self.fds.extend(fds);
                }
            }
            if received.bytes == 0 {
                return Err(ReadError::Closed);
            }
            self.buffer.extend_from_slice(&chunk[..received.bytes]);
        }
    }

    /// The oldest descriptor received and not yet taken.
    pub fn take_fd(&mut self) -> Option<OwnedFd> {
        if self.fds.is_empty() {
            None
        } else {
            Some(self.fds.remove(0))
        }
    }

    /// Writes a serialised message as one line.
    pub fn send_json<T: Serialize>(&mut self, message: &T) -> io::Result<()> {
        let line = serde_json::to_vec(message).map_err(io::Error::other)?;
        self.send_line(&line)
    }
}

fn wait_readable(fd: BorrowedFd<'_>, deadline: Instant) -> Result<(), ReadError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::Timeout);
        }
        let timeout = Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => return Err(ReadError::Timeout),
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(ReadError::Io(e.into())),
        }
    }
}
