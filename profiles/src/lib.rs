//! Zion's profiles: the configuration model, the Podman container a profile
//! gives (a pure function), and the profile lifecycle through Podman.

pub mod access;
pub mod apps;
pub mod config;
pub mod devices;
mod error;
pub mod image;
pub mod lifecycle;
pub mod network;
pub mod podman;
pub mod sound;
pub mod spec;

pub use config::{Config, ConfigError, Profile, ProfileName};
pub use error::LifecycleError;
pub use lifecycle::{ContainerState, ExecOutput, Found, Lifecycle, Plan, Up};
pub use podman::{PodmanCandidates, PodmanClient, Timeouts};
pub use spec::{container_spec, ContainerSpec, HostDevices, ProfilePaths, SpecOutcome};
