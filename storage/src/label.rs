//! A released file keeps where it came from in its extended attributes
//! (issue 17): the download URL and referrer under the names browsers use,
//! and Zion's source label, so that any later tool can see them. Written on
//! the open file before it gets its name; a filesystem without user
//! attributes only costs the labels (logged), never the release.

use std::path::Path;

use rustix::fd::AsFd;
use rustix::fs::XattrFlags;
use rustix::io::Errno;

use crate::release::ReleaseRequest;

/// The download's URL (Chromium, `wget --xattr`, `curl --xattr`).
pub const ORIGIN_XATTR: &str = "user.xdg.origin.url";
/// The page the download was started from.
pub const REFERRER_XATTR: &str = "user.xdg.referrer.url";
/// Where the quarantine took the file from, e.g. `sandbox:work/3`.
pub const SOURCE_XATTR: &str = "user.zion.source";
/// Who says the origin: `host` (observed) or `file` (claimed by the file).
pub const PROVENANCE_XATTR: &str = "user.zion.origin.provenance";

/// The attributes a released file gets.
pub(crate) fn labels<'a>(req: &ReleaseRequest<'a>) -> Vec<(&'static str, &'a str)> {
    let mut out = Vec::new();
    if !req.source_label.is_empty() {
        out.push((SOURCE_XATTR, req.source_label));
    }
    if let Some(origin) = &req.origin {
        if let Some(url) = origin.url {
            out.push((ORIGIN_XATTR, url));
        }
        if let Some(referrer) = origin.referrer {
            out.push((REFERRER_XATTR, referrer));
        }
        out.push((PROVENANCE_XATTR, origin.provenance));
    }
    out
}

/// Sets `labels` on the open file; failures are logged, not returned.
pub(crate) fn apply(file: impl AsFd, labels: &[(&str, &str)], where_: &Path) {
    let fd = file.as_fd();
    for (name, value) in labels {
        match rustix::fs::fsetxattr(fd, *name, value.as_bytes(), XattrFlags::empty()) {
            Ok(()) => {}
            Err(Errno::NOTSUP) => {
                tracing::warn!(
                    "{} keeps no user extended attributes: the released file does not carry \
                     its origin or source (see `zionctl quarantine show`)",
                    where_.display()
                );
                return;
            }
            Err(e) => tracing::warn!(
                "could not set {name} on the file released into {}: {e}",
                where_.display()
            ),
        }
    }
}
