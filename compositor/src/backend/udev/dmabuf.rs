//! `linux-dmabuf`: clients (games, GPU toolkits) hand buffers that live on
//! the GPU. The global exists only under the udev backend (made in
//! `announce_globals`); a dmabuf is accepted when the renderer imports it.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::delegate_dmabuf;
use smithay::wayland::dmabuf::{DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier};

use crate::backend::Backend;
use crate::state::State;

impl DmabufHandler for State {
    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.dmabuf_state
    }

    fn dmabuf_imported(
        &mut self,
        _global: &DmabufGlobal,
        dmabuf: Dmabuf,
        notifier: ImportNotifier,
    ) {
        let imported = match &mut self.backend {
            Backend::Udev(udev) => udev.import_dmabuf(&dmabuf),
            _ => false,
        };
        if imported {
            // Err only if the client is already gone: nothing to tell it.
            let _ = notifier.successful::<State>();
        } else {
            notifier.failed();
        }
    }
}

delegate_dmabuf!(State);
