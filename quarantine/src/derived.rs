//! Items the quarantine makes itself from another item: a sanitised copy
//! (issue 17) enters the store as a new item, scanned like any other, with
//! the original's inbox and profile (so the same transfer rules and quota
//! apply to it) and a label that names where it came from.

use std::ffi::{OsStr, OsString};

use rustix::fs::RenameFlags;
use rustix::io::Errno;

use crate::error::StoreError;
use crate::ingest::TEMP_PREFIX;
use crate::item::{Item, Source};
use crate::journal::{InboxIdentity, NewItem};
use crate::store::{lock, sync_dir, Store, StoreEvent};

impl Store {
    /// Takes `file` (a regular file the daemon made, at most a few hundred
    /// megabytes) into the store as a new `stored` item named `name`, derived
    /// from `from`: same inbox and profile, source label `label` (e.g.
    /// `sanitised from #5`). The original is left as it is.
    pub fn add_derived(
        &self,
        from: &Item,
        file: &std::fs::File,
        name: &OsStr,
        label: &str,
    ) -> Result<Item, StoreError> {
        let path = self.paths.objects.join(name);
        let st = rustix::fs::fstat(file).map_err(|e| StoreError::errno("inspecting", &path, e))?;
        let size = u64::try_from(st.st_size).unwrap_or(0);
        let source = Source {
            name: from.inbox.clone(),
            label: label.to_owned(),
            profile: from.profile.clone(),
        };
        let safe_name = zion_storage::sanitize_name(name);
        let id = lock(&self.journal).insert_ingesting(&NewItem {
            original_name: name,
            safe_name: safe_name.as_str(),
            source: &source,
            size,
        })?;
        let temp = OsString::from(format!("{TEMP_PREFIX}{id}"));
        let rollback = || -> Result<(), StoreError> {
            match rustix::fs::unlinkat(&self.objects_dir, &temp, rustix::fs::AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => {
                    return Err(StoreError::errno(
                        "removing the partial copy",
                        self.paths.objects.join(&temp),
                        e,
                    ))
                }
            }
            lock(&self.journal).delete_row(id)
        };
        let fd = rustix::fd::AsFd::as_fd(file)
            .try_clone_to_owned()
            .map_err(|e| StoreError::io("duplicating the descriptor of", &path, e))?;
        let copied = match self.copy_in(&fd, &temp, size, size, true, &mut |_| {}) {
            Ok(Some(copied)) => {
                if let Err(e) = rustix::fs::fdatasync(&copied.2) {
                    rollback()?;
                    return Err(StoreError::errno(
                        "syncing",
                        self.paths.objects.join(&temp),
                        e,
                    ));
                }
                copied
            }
            Ok(None) => {
                rollback()?;
                return Err(StoreError::io(
                    "copying",
                    &path,
                    std::io::Error::other("the file changed while it was copied"),
                ));
            }
            Err(e) => {
                rollback()?;
                return Err(e);
            }
        };
        let (sha, size, _file) = copied;
        {
            let _objects = lock(&self.objects_lock);
            let object = hex::encode(sha);
            match rustix::fs::renameat_with(
                &self.objects_dir,
                temp.as_os_str(),
                &self.objects_dir,
                object.as_str(),
                RenameFlags::NOREPLACE,
            ) {
                Ok(()) => {}
                // The same bytes are stored already: share that object.
                Err(Errno::EXIST) => {
                    let _ = rustix::fs::unlinkat(
                        &self.objects_dir,
                        &temp,
                        rustix::fs::AtFlags::empty(),
                    );
                }
                Err(e) => {
                    rollback()?;
                    return Err(StoreError::errno(
                        "storing the object",
                        self.paths.objects.join(&object),
                        e,
                    ));
                }
            }
            sync_dir(&self.objects_dir, &self.paths.objects)?;
            let journal = lock(&self.journal);
            journal.mark_stored(id, &sha, size, &InboxIdentity::of(&st))?;
            // There is no inbox file to remove.
            journal.clear_inbox(id)?;
        }
        let item = self.get(id)?;
        tracing::info!(
            item = %id,
            from = %from.id,
            sha256 = %hex::encode(sha),
            size,
            "{label}: {}",
            safe_name
        );
        self.emit(StoreEvent::ItemAdded(item.clone()));
        Ok(item)
    }
}
