//! A profile's own session bus (issue 16, notifications). Its apps call
//! `org.freedesktop.Notifications` as on any desktop; the bus they reach is
//! a `dbus-daemon` inside the profile's container, never the host's. Its
//! socket lies in a folder the host also sees, so that zion-sandboxd can
//! connect to it as a client and relay notifications (`notify` in
//! zion-sandboxd). The daemon, not the host, parses the profile's D-Bus
//! traffic first; the host is one more client of a bus it does not trust.

/// Where the profile's bus folder is mounted (read-write: the container's
/// `dbus-daemon` makes its socket there) inside the container.
pub const CONTAINER_BUS: &str = "/run/zion/bus";
/// The bus socket's name in that folder.
pub const BUS_SOCKET: &str = "bus";
/// The bus configuration the session's first process writes inside the
/// container's own runtime folder (a private tmpfs).
const CONFIG_FILE: &str = "/run/zion/bus.conf";

/// `DBUS_SESSION_BUS_ADDRESS` inside the container.
pub fn address() -> String {
    format!("unix:path={CONTAINER_BUS}/{BUS_SOCKET}")
}

/// The bus's configuration: a session bus on the shared socket, whose
/// anonymous clients (the host's relay, whose uid means nothing in the
/// container's user namespace) may connect, activation from the image's
/// own service files. Pure.
pub fn config() -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>{}</listen>
  <auth>EXTERNAL</auth>
  <auth>ANONYMOUS</auth>
  <allow_anonymous/>
  <standard_session_servicedirs/>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <limit name="max_message_size">1048576</limit>
</busconfig>
"#,
        address()
    )
}

/// The session's first process: starts the profile's bus when the image
/// has `dbus-daemon` (an image without it runs on, its apps without a bus),
/// then sleeps for the container's life. Pure.
pub fn session_command() -> Vec<String> {
    let script = format!(
        "if command -v dbus-daemon >/dev/null 2>&1; then \
         printf '%s' \"$1\" > {CONFIG_FILE} && \
         dbus-daemon --fork --nopidfile --config-file={CONFIG_FILE}; \
         fi; exec sleep infinity"
    );
    vec![
        "sh".into(),
        "-c".into(),
        script,
        "zion-session".into(),
        config(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bus_listens_on_the_shared_socket_and_lets_the_relay_in() {
        let config = config();
        assert!(config.contains("<listen>unix:path=/run/zion/bus/bus</listen>"));
        assert!(config.contains("<allow_anonymous/>"));
        assert_eq!(address(), "unix:path=/run/zion/bus/bus");
    }

    #[test]
    fn the_session_sleeps_even_without_a_bus() {
        let argv = session_command();
        assert_eq!(argv[..2], ["sh".to_owned(), "-c".to_owned()]);
        assert!(argv[2].ends_with("exec sleep infinity"), "{}", argv[2]);
        // The configuration travels as an argument, never spliced into the
        // script.
        assert_eq!(argv[4], config());
        assert!(!argv[2].contains("<busconfig>"));
    }
}
