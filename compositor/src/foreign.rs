//! xdg-foreign (`zxdg_exporter_v2`, `zxdg_importer_v2`) within one origin:
//! a window exported by a client of work may be imported, and made the
//! parent of a dialog, only by a client of work (a host window only by a
//! host client, a sandbox's only by that sandbox). An import of another
//! origin's handle, or of one that does not exist or is gone, gets
//! `destroyed` at once, as the protocol says an invalid import does: no
//! one learns whether the handle exists elsewhere.
//!
//! Zion's own rather than Smithay's `xdg_foreign`, which any client may
//! import from and which has no hook to refuse.

use std::collections::HashMap;

use rand::distr::{Alphanumeric, SampleString};
use smithay::reexports::wayland_protocols::xdg::foreign::zv2::server::{
    zxdg_exported_v2::{self, ZxdgExportedV2},
    zxdg_exporter_v2::{self, ZxdgExporterV2},
    zxdg_imported_v2::{self, ZxdgImportedV2},
    zxdg_importer_v2::{self, ZxdgImporterV2},
};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
};
use smithay::wayland::compositor::{get_role, with_states};
use smithay::wayland::shell::is_valid_parent;
use smithay::wayland::shell::xdg::{XdgToplevelSurfaceData, XDG_TOPLEVEL_ROLE};
use tracing::{info, warn};

use crate::identity::{origin_of, Origin};
use crate::state::State;

/// The length of a handle: 32 letters and digits, not guessable.
const HANDLE_LEN: usize = 32;

/// Whether a client of `importer` may import what a client of `exporter`
/// exported: only from its own origin. A client of unknown origin
/// (neither side) imports nothing.
pub fn may_import(exporter: Option<&Origin>, importer: Option<&Origin>) -> bool {
    matches!((exporter, importer), (Some(e), Some(i)) if e == i)
}

/// The exported windows, by handle.
#[derive(Debug, Default)]
pub struct Foreign {
    exported: HashMap<String, Export>,
}

/// One exported window.
#[derive(Debug)]
struct Export {
    /// The toplevel's surface.
    surface: WlSurface,
    /// The origin of the client that exported it.
    origin: Option<Origin>,
    /// The imports of it, told `destroyed` when it is revoked.
    imports: Vec<ZxdgImportedV2>,
    /// The surface an import made its child, and that import.
    child: Option<(WlSurface, ZxdgImportedV2)>,
}

/// The handle of an `zxdg_exported_v2`.
#[derive(Debug)]
pub struct ExportedHandle(String);

/// The handle an `zxdg_imported_v2` imported; `None` when the import was
/// refused (its requests do nothing).
#[derive(Debug)]
pub struct ImportedHandle(Option<String>);

impl Foreign {
    /// Creates the two globals, offered to every client (each imports only
    /// from its own origin).
    pub fn new(dh: &DisplayHandle) -> Foreign {
        dh.create_global::<State, ZxdgExporterV2, ()>(1, ());
        dh.create_global::<State, ZxdgImporterV2, ()>(1, ());
        Foreign::default()
    }

    /// The export of `handle` a client of `importer` may use.
    fn import(&mut self, handle: &str, importer: Option<&Origin>) -> Option<&mut Export> {
        self.exported
            .get_mut(handle)
            .filter(|e| e.surface.is_alive() && may_import(e.origin.as_ref(), importer))
    }
}

/// Sets `child`'s xdg parent to `parent`; true if it changed.
fn set_parent(child: &WlSurface, parent: Option<&WlSurface>) -> bool {
    with_states(child, |states| {
        let Some(data) = states.data_map.get::<XdgToplevelSurfaceData>() else {
            return false;
        };
        let Ok(mut role) = data.lock() else {
            return false;
        };
        let changed = role.parent.as_ref() != parent;
        role.parent = parent.cloned();
        changed
    })
}

/// Undoes the parent an import set, if that import set it and the parent
/// is still the exported surface.
fn release_child(export: &mut Export, only_for: Option<&ZxdgImportedV2>) {
    let Some((child, by)) = &export.child else {
        return;
    };
    if only_for.is_some_and(|i| i != by) {
        return;
    }
    let is_parent = with_states(child, |states| {
        states
            .data_map
            .get::<XdgToplevelSurfaceData>()
            .and_then(|d| {
                d.lock()
                    .ok()
                    .map(|r| r.parent.as_ref() == Some(&export.surface))
            })
            .unwrap_or(false)
    });
    if is_parent {
        set_parent(child, None);
    }
    export.child = None;
}

impl GlobalDispatch<ZxdgExporterV2, ()> for State {
    fn bind(
        _state: &mut State,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<ZxdgExporterV2>,
        _data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ZxdgExporterV2, ()> for State {
    fn request(
        state: &mut State,
        client: &Client,
        exporter: &ZxdgExporterV2,
        request: zxdg_exporter_v2::Request,
        _data: &(),
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        let zxdg_exporter_v2::Request::ExportToplevel { id, surface } = request else {
            return;
        };
        if get_role(&surface) != Some(XDG_TOPLEVEL_ROLE) {
            exporter.post_error(
                zxdg_exporter_v2::Error::InvalidSurface,
                "only an xdg_toplevel's surface can be exported",
            );
            return;
        }
        let handle = Alphanumeric.sample_string(&mut rand::rng(), HANDLE_LEN);
        let exported = data_init.init(id, ExportedHandle(handle.clone()));
        exported.handle(handle.clone());
        let origin = origin_of(client).cloned();
        info!(?origin, "a window exported (xdg-foreign)");
        state.foreign.exported.insert(
            handle,
            Export {
                surface,
                origin,
                imports: Vec::new(),
                child: None,
            },
        );
    }
}

impl Dispatch<ZxdgExportedV2, ExportedHandle> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _exported: &ZxdgExportedV2,
        _request: zxdg_exported_v2::Request,
        _data: &ExportedHandle,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
    }

    fn destroyed(
        state: &mut State,
        _client: ClientId,
        _exported: &ZxdgExportedV2,
        data: &ExportedHandle,
    ) {
        // Revoked: the relation an import made ends, and the imports are
        // told they are no longer valid.
        if let Some(mut export) = state.foreign.exported.remove(&data.0) {
            release_child(&mut export, None);
            for import in export.imports.iter().filter(|i| i.is_alive()) {
                import.destroyed();
            }
        }
    }
}

impl GlobalDispatch<ZxdgImporterV2, ()> for State {
    fn bind(
        _state: &mut State,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<ZxdgImporterV2>,
        _data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ZxdgImporterV2, ()> for State {
    fn request(
        state: &mut State,
        client: &Client,
        _importer: &ZxdgImporterV2,
        request: zxdg_importer_v2::Request,
        _data: &(),
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        let zxdg_importer_v2::Request::ImportToplevel { id, handle } = request else {
            return;
        };
        let importer = origin_of(client);
        match state.foreign.import(&handle, importer) {
            Some(export) => {
                let imported = data_init.init(id, ImportedHandle(Some(handle)));
                export.imports.retain(|i| i.is_alive());
                export.imports.push(imported);
            }
            None => {
                warn!(
                    ?importer,
                    "an import of a window not exported by its own origin (or gone): refused"
                );
                let imported = data_init.init(id, ImportedHandle(None));
                imported.destroyed();
            }
        }
    }
}

impl Dispatch<ZxdgImportedV2, ImportedHandle> for State {
    fn request(
        state: &mut State,
        client: &Client,
        imported: &ZxdgImportedV2,
        request: zxdg_imported_v2::Request,
        data: &ImportedHandle,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        let zxdg_imported_v2::Request::SetParentOf { surface: child } = request else {
            return;
        };
        let Some(handle) = &data.0 else {
            return;
        };
        let Some(export) = state.foreign.import(handle, origin_of(client)) else {
            return;
        };
        if get_role(&child) != Some(XDG_TOPLEVEL_ROLE) || !is_valid_parent(&child, &export.surface)
        {
            imported.post_error(
                zxdg_imported_v2::Error::InvalidSurface,
                "the child is not an xdg_toplevel that can have this parent",
            );
            return;
        }
        release_child(export, None);
        set_parent(&child, Some(&export.surface));
        export.child = Some((child, imported.clone()));
    }

    fn destroyed(
        state: &mut State,
        _client: ClientId,
        imported: &ZxdgImportedV2,
        data: &ImportedHandle,
    ) {
        let Some(handle) = &data.0 else {
            return;
        };
        if let Some(export) = state.foreign.exported.get_mut(handle) {
            export.imports.retain(|i| i != imported);
            release_child(export, Some(imported));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Origin {
        Origin::Profile(name.parse().expect("valid name"))
    }

    #[test]
    fn only_the_same_origin_imports() {
        let (work, gaming) = (profile("work"), profile("gaming"));
        assert!(may_import(Some(&work), Some(&work)));
        assert!(may_import(Some(&Origin::Host), Some(&Origin::Host)));
        assert!(!may_import(Some(&work), Some(&gaming)));
        assert!(!may_import(Some(&work), Some(&Origin::Host)));
        assert!(!may_import(Some(&Origin::Host), Some(&work)));
        assert!(!may_import(None, None));
        assert!(!may_import(Some(&work), None));
        let sandbox = Origin::Sandbox {
            profile: "work".parse().expect("valid name"),
            instance: "tab".parse().expect("valid instance"),
        };
        assert!(!may_import(Some(&work), Some(&sandbox)));
        assert!(may_import(Some(&sandbox), Some(&sandbox)));
    }
}
