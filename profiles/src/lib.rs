//! Zion's profiles: the Podman container a profile gives (a pure function),
//! and the profile lifecycle through Podman. The configuration model is
//! `zion-config`.

pub mod apps;
pub mod bus;
pub mod devices;
mod error;
pub mod host;
pub mod image;
pub mod lifecycle;
pub mod network;
pub mod podman;
pub mod sound;
pub mod spec;

pub use error::LifecycleError;
pub use host::{Availability, Capabilities, Capability};
pub use lifecycle::{ContainerState, ExecOutput, Found, Lifecycle, Plan, Up};
pub use podman::{Created, PodmanCandidates, PodmanClient, Timeouts};
pub use spec::{container_spec, ContainerSpec, HostDevices, ProfilePaths, SpecOutcome};
