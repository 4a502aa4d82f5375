//! A private D-Bus session bus: a real `dbus-daemon` with its own socket,
//! configuration and service folder (for activation tests).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::process::{require_program, start_service, stop_group};
use crate::HarnessError;

/// A running private session bus.
pub struct DbusBus {
    address: String,
    services: PathBuf,
    child: Child,
}

impl DbusBus {
    /// Starts a bus whose socket, configuration and log live under `dir`.
    pub fn start(dir: &Path) -> Result<DbusBus, HarnessError> {
        DbusBus::start_with(dir, "")
    }

    /// Starts a bus under `dir` that every local user may connect to (its
    /// policy allows any uid; its folder and socket are open to all), for
    /// tests of callers running as another user.
    pub fn start_open_to_all_users(dir: &Path) -> Result<DbusBus, HarnessError> {
        let bus = DbusBus::start_with(dir, "    <allow user=\"*\"/>\n")?;
        let socket = dir.join("bus");
        for (path, mode) in [(dir, 0o755), (socket.as_path(), 0o666)] {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))
                .map_err(HarnessError::io("opening the bus to every user", path))?;
        }
        Ok(bus)
    }

    fn start_with(dir: &Path, policy: &str) -> Result<DbusBus, HarnessError> {
        require_program("dbus-daemon")?;
        let services = dir.join("services");
        fs::create_dir_all(&services)
            .map_err(HarnessError::io("creating D-Bus service folder", &services))?;
        let socket = dir.join("bus");
        let config = dir.join("session.conf");
        fs::write(&config, session_config(&socket, &services, policy))
            .map_err(HarnessError::io("writing D-Bus configuration", &config))?;
        let mut cmd = Command::new("dbus-daemon");
        cmd.arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .arg("--nopidfile");
        let child = start_service(
            "the D-Bus session bus",
            cmd,
            dir,
            "dbus",
            &socket,
            Duration::from_secs(10),
        )?;
        Ok(DbusBus {
            address: format!("unix:path={}", socket.display()),
            services,
            child,
        })
    }

    /// The bus address, as `DBUS_SESSION_BUS_ADDRESS` takes it.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The folder the bus reads `.service` files from for activation.
    pub fn service_dir(&self) -> &Path {
        &self.services
    }

    /// A zbus connection to this bus made by `user`: the bus, and every
    /// service on it that checks its callers, sees the account calling.
    /// The bus must let the account in ([`DbusBus::start_open_to_all_users`]).
    /// With it comes the process that made it (see
    /// [`TestUser::connect`](crate::user::TestUser::connect)): kill it
    /// when the connection is done.
    pub async fn connect_as(
        &self,
        user: &crate::user::TestUser,
    ) -> zbus::Result<(zbus::Connection, Child)> {
        let socket = self
            .address
            .strip_prefix("unix:path=")
            .ok_or_else(|| zbus::Error::Address(self.address.clone()))?;
        let (stream, holder) = user
            .connect(Path::new(socket))
            .map_err(|e| zbus::Error::InputOutput(std::sync::Arc::new(e)))?;
        stream
            .set_nonblocking(true)
            .map_err(|e| zbus::Error::InputOutput(std::sync::Arc::new(e)))?;
        let stream = tokio::net::UnixStream::from_std(stream)
            .map_err(|e| zbus::Error::InputOutput(std::sync::Arc::new(e)))?;
        let conn = zbus::connection::Builder::unix_stream(stream)
            .user_id(user.uid)
            .build()
            .await?;
        Ok((conn, holder))
    }

    /// A zbus connection to this bus.
    pub async fn connect(&self) -> zbus::Result<zbus::Connection> {
        zbus::connection::Builder::address(self.address.as_str())?
            .build()
            .await
    }
}

impl Drop for DbusBus {
    fn drop(&mut self) {
        stop_group(&mut self.child, Duration::from_secs(2));
    }
}

fn session_config(socket: &Path, services: &Path, policy: &str) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
{}  </policy>
</busconfig>
"#,
        socket.display(),
        services.display(),
        policy
    )
}
