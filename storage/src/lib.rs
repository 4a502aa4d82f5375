//! Zion's storage: the on-disk layout of shared and private storage and every
//! move into it.
//!
//! - [`layout`]: where `shared/` and each profile's home are, and the
//!   [`Destination`]s a release can go to.
//! - [`name`]: hostile file names made safe ([`sanitize_name`]).
//! - [`release`]: the one way in: no symlink followed, nothing overwritten,
//!   nothing partial ever visible, every byte verified.
//! - [`audit`]: the hash-chained log of every release.
//! - [`recall`]: the way back out: a released copy taken back only while it
//!   is still the released content.

pub mod access;
pub mod audit;
mod beneath;
pub mod error;
pub mod label;
pub mod layout;
pub mod name;
mod place;
pub mod recall;
pub mod release;

pub use audit::{
    check_log, AuditAnchor, AuditCheck, AuditEntry, AuditError, AuditHead, AuditLog, AuditProblem,
};
pub use error::StorageError;
pub use layout::{is_safe_segment, Destination, Layout};
pub use name::{sanitize_name, SafeName};
pub use release::{
    audit_entry, find_released, release, release_all, release_with, remove_partials,
    resume_release, Method, ReleaseOptions, ReleaseOrigin, ReleaseRequest, Released,
};
