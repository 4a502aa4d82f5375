//! wlr-screencopy (`zwlr_screencopy_manager_v1`, version 3): host clients
//! (grim, a screen recorder of the session) copy the output as shown into
//! a wl_shm buffer of theirs. Smithay 0.7 has no screencopy, so this is
//! the server side of the protocol, on `wayland-protocols-wlr`.
//!
//! The global is host only: the filter is given by
//! [`crate::handlers::policy`], so a profile's or a sandbox's client never
//! sees it (it would read every other desktop's windows).
//!
//! The pixels are those of [`crate::backend::Backend::screenshot`], the
//! same image the `Screenshot` D-Bus method and `--screenshot` write: the
//! shown desktop with its frames and layer surfaces, no cursor. A `copy`
//! is served at once, during the request: if a frame is pending it is drawn
//! first, then the last drawn frame is copied. `copy_with_damage` is served
//! the same way, with the whole region as damage (it does not wait for the
//! next change, so a client looping on it gets frames as fast as it asks).
//!
//! Only shm buffers are offered (`buffer` in XRGB8888, which every client
//! can read; no `linux_dmabuf`). A buffer of another size, stride or
//! format, or one that is not shm, is the protocol error `invalid_buffer`;
//! a frame copied twice is `already_used`; a capture that cannot be read
//! (the output is gone, the region misses the output, the renderer fails)
//! gets `failed`.

use std::sync::Mutex;
use std::time::Duration;

use smithay::output::Output;
use smithay::reexports::wayland_protocols_wlr::screencopy::v1::server::{
    zwlr_screencopy_frame_v1::{self, ZwlrScreencopyFrameV1},
    zwlr_screencopy_manager_v1::{self, ZwlrScreencopyManagerV1},
};
use smithay::reexports::wayland_server::backend::GlobalId;
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_shm;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
};
use smithay::wayland::shm::{with_buffer_contents_mut, BufferData};
use tracing::{debug, warn};

use crate::layout::Rect;
use crate::screenshot::Screenshot;
use crate::state::State;

/// The version of `zwlr_screencopy_manager_v1` offered.
pub const VERSION: u32 = 3;

/// The shm format of the buffers asked for.
pub const FORMAT: wl_shm::Format = wl_shm::Format::Xrgb8888;

/// Who may bind the global.
type Filter = Box<dyn Fn(&Client) -> bool + Send + Sync>;

/// The global's data: its filter.
pub struct ScreencopyGlobalData {
    filter: Filter,
}

/// The `zwlr_screencopy_manager_v1` global.
#[derive(Debug)]
pub struct ScreencopyState {
    global: GlobalId,
}

impl ScreencopyState {
    /// Creates the global, visible to the clients `filter` accepts.
    pub fn new<F>(dh: &DisplayHandle, filter: F) -> ScreencopyState
    where
        F: Fn(&Client) -> bool + Send + Sync + 'static,
    {
        let data = ScreencopyGlobalData {
            filter: Box::new(filter),
        };
        let global = dh.create_global::<State, ZwlrScreencopyManagerV1, _>(VERSION, data);
        ScreencopyState { global }
    }

    /// The global's id.
    pub fn global(&self) -> GlobalId {
        self.global.clone()
    }
}

/// What a frame captures, in output pixels, and whether it was copied.
#[derive(Debug)]
pub struct FrameData {
    /// The region of the output captured (the whole output, or the
    /// client's region clipped to it); `None` when the capture failed
    /// before a buffer was described.
    region: Option<Rect>,
    /// Set by the first `copy`.
    used: Mutex<bool>,
}

impl GlobalDispatch<ZwlrScreencopyManagerV1, ScreencopyGlobalData> for State {
    fn bind(
        _state: &mut State,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrScreencopyManagerV1>,
        _global_data: &ScreencopyGlobalData,
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }

    fn can_view(client: Client, global_data: &ScreencopyGlobalData) -> bool {
        (global_data.filter)(&client)
    }
}

/// The part of an output of `size` pixels that a capture of `region`
/// (logical = physical: the output's scale is 1) covers; `None` when the
/// region is empty or misses the output.
pub fn clip_region(size: (i32, i32), region: Option<(i32, i32, i32, i32)>) -> Option<Rect> {
    let (w, h) = size;
    let Some((x, y, rw, rh)) = region else {
        return (w > 0 && h > 0).then(|| Rect::new(0, 0, w, h));
    };
    if rw <= 0 || rh <= 0 {
        return None;
    }
    let x0 = x.max(0);
    let y0 = y.max(0);
    let x1 = x.saturating_add(rw).min(w);
    let y1 = y.saturating_add(rh).min(h);
    (x1 > x0 && y1 > y0).then(|| Rect::new(x0, y0, x1 - x0, y1 - y0))
}

impl State {
    /// Starts a capture of `output` (the region in output coordinates, or
    /// all of it): describes the buffer it needs, or fails it.
    fn start_capture(
        &mut self,
        frame: New<ZwlrScreencopyFrameV1>,
        output: &smithay::reexports::wayland_server::protocol::wl_output::WlOutput,
        region: Option<(i32, i32, i32, i32)>,
        data_init: &mut DataInit<'_, State>,
    ) {
        let size = Output::from_resource(output)
            .filter(|o| o == self.backend.output())
            .and_then(|o| o.current_mode())
            .map(|m| (m.size.w, m.size.h));
        let region = size.and_then(|s| clip_region(s, region));
        let frame = data_init.init(
            frame,
            FrameData {
                region,
                used: Mutex::new(false),
            },
        );
        let Some(r) = region else {
            debug!(?size, ?region, "screencopy: nothing to capture");
            frame.failed();
            return;
        };
        debug!(?r, "screencopy: capture");
        frame.buffer(FORMAT, r.w as u32, r.h as u32, r.w as u32 * 4);
        if frame.version() >= 3 {
            frame.buffer_done();
        }
    }

    /// Copies the captured region into `buffer` and tells the client.
    fn copy_frame(&mut self, frame: &ZwlrScreencopyFrameV1, buffer: &WlBuffer, damage: bool) {
        let Some(data) = frame.data::<FrameData>() else {
            return;
        };
        {
            let mut used = data.used.lock().unwrap_or_else(|e| e.into_inner());
            if *used {
                frame.post_error(
                    zwlr_screencopy_frame_v1::Error::AlreadyUsed,
                    "this screencopy frame was already copied; capture a new one",
                );
                return;
            }
            *used = true;
        }
        let Some(region) = data.region else {
            frame.failed();
            return;
        };
        // The last drawn frame, after drawing the pending one.
        self.render_frame();
        let shot = match self.backend.screenshot() {
            Ok(shot) => shot,
            Err(err) => {
                warn!("screencopy: error reading the output: {err:?}");
                frame.failed();
                return;
            }
        };
        let written = with_buffer_contents_mut(buffer, |ptr, len, info| {
            check_buffer(&info, region)?;
            let end = info.offset as usize + info.stride as usize * info.height as usize;
            if end > len {
                return Err(format!(
                    "the buffer ends at byte {end} of a pool of {len} bytes"
                ));
            }
            // SAFETY: `ptr` points to the pool's `len` mapped bytes for the
            // duration of this callback and `offset..end` lies inside them
            // (checked above). The client may write to the pool meanwhile;
            // we only write, and the bytes are plain data.
            let pool = unsafe { std::slice::from_raw_parts_mut(ptr, len) };
            write_xrgb(
                &shot,
                region,
                &mut pool[info.offset as usize..end],
                info.stride as usize,
            );
            Ok(())
        });
        match written {
            Ok(Ok(())) => {}
            Ok(Err(why)) => {
                frame.post_error(
                    zwlr_screencopy_frame_v1::Error::InvalidBuffer,
                    format!("screencopy buffer refused: {why}"),
                );
                return;
            }
            Err(err) => {
                frame.post_error(
                    zwlr_screencopy_frame_v1::Error::InvalidBuffer,
                    format!(
                        "screencopy needs a wl_shm buffer ({}x{} XRGB8888): {err}",
                        region.w, region.h
                    ),
                );
                return;
            }
        }
        frame.flags(zwlr_screencopy_frame_v1::Flags::empty());
        if damage {
            frame.damage(0, 0, region.w as u32, region.h as u32);
        }
        let now = Duration::from(self.clock.now());
        let secs = now.as_secs();
        frame.ready((secs >> 32) as u32, secs as u32, now.subsec_nanos());
        debug!(?region, "screencopy: frame ready");
    }
}

/// Whether the client's buffer is the one described for `region`.
fn check_buffer(info: &BufferData, region: Rect) -> Result<(), String> {
    let want = format!(
        "{}x{} stride {} {FORMAT:?}",
        region.w,
        region.h,
        region.w * 4
    );
    if info.format != FORMAT {
        return Err(format!("format {:?}, want {want}", info.format));
    }
    if info.width != region.w || info.height != region.h {
        return Err(format!("size {}x{}, want {want}", info.width, info.height));
    }
    if info.stride != region.w * 4 {
        return Err(format!("stride {}, want {want}", info.stride));
    }
    Ok(())
}

/// Writes `region` of `shot` (RGBA) into `out` as XRGB8888 (little endian:
/// bytes B, G, R, X) rows `stride` bytes apart.
fn write_xrgb(shot: &Screenshot, region: Rect, out: &mut [u8], stride: usize) {
    let src_stride = shot.width as usize * 4;
    for row in 0..region.h as usize {
        let y = region.y as usize + row;
        let src_start = y * src_stride + region.x as usize * 4;
        let Some(src) = shot.rgba.get(src_start..src_start + region.w as usize * 4) else {
            return;
        };
        let Some(dst) = out.get_mut(row * stride..row * stride + region.w as usize * 4) else {
            return;
        };
        for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
            d[0] = s[2];
            d[1] = s[1];
            d[2] = s[0];
            d[3] = 0xff;
        }
    }
}

impl Dispatch<ZwlrScreencopyManagerV1, ()> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        _manager: &ZwlrScreencopyManagerV1,
        request: zwlr_screencopy_manager_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        match request {
            zwlr_screencopy_manager_v1::Request::CaptureOutput { frame, output, .. } => {
                state.start_capture(frame, &output, None, data_init);
            }
            zwlr_screencopy_manager_v1::Request::CaptureOutputRegion {
                frame,
                output,
                x,
                y,
                width,
                height,
                ..
            } => {
                state.start_capture(frame, &output, Some((x, y, width, height)), data_init);
            }
            zwlr_screencopy_manager_v1::Request::Destroy => {}
            _ => {}
        }
    }
}

impl Dispatch<ZwlrScreencopyFrameV1, FrameData> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        frame: &ZwlrScreencopyFrameV1,
        request: zwlr_screencopy_frame_v1::Request,
        _data: &FrameData,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        match request {
            zwlr_screencopy_frame_v1::Request::Copy { buffer } => {
                state.copy_frame(frame, &buffer, false);
            }
            zwlr_screencopy_frame_v1::Request::CopyWithDamage { buffer } => {
                state.copy_frame(frame, &buffer, true);
            }
            zwlr_screencopy_frame_v1::Request::Destroy => {}
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_clipped_to_the_output() {
        assert_eq!(
            clip_region((800, 600), None),
            Some(Rect::new(0, 0, 800, 600))
        );
        assert_eq!(
            clip_region((800, 600), Some((10, 20, 30, 40))),
            Some(Rect::new(10, 20, 30, 40))
        );
        assert_eq!(
            clip_region((800, 600), Some((-10, 590, 30, 40))),
            Some(Rect::new(0, 590, 20, 10))
        );
        assert_eq!(clip_region((800, 600), Some((800, 0, 10, 10))), None);
        assert_eq!(clip_region((800, 600), Some((0, 0, 0, 10))), None);
        assert_eq!(
            clip_region((800, 600), Some((i32::MAX, 0, i32::MAX, 10))),
            None
        );
    }

    #[test]
    fn pixels_are_written_as_xrgb_rows() {
        let shot = Screenshot {
            width: 2,
            height: 2,
            rgba: vec![
                1, 2, 3, 255, 4, 5, 6, 255, //
                7, 8, 9, 255, 10, 11, 12, 255,
            ],
        };
        let mut out = vec![0u8; 8];
        write_xrgb(&shot, Rect::new(1, 0, 1, 2), &mut out, 4);
        assert_eq!(out, vec![6, 5, 4, 255, 12, 11, 10, 255]);
    }
}
