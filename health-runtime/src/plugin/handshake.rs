//! What a go-plugin host tells its plugin through the environment, and the line the plugin
//! answers with on stdout. The rules are go-plugin's (`server.go`, `client.go` of
//! <https://github.com/hashicorp/go-plugin>).

use std::path::PathBuf;

use super::PluginError;

/// go-plugin's core protocol version: the first field of the handshake line.
pub(crate) const CORE_PROTOCOL_VERSION: u32 = 1;

/// The versions the host speaks, as a comma list.
pub(crate) const PROTOCOL_VERSIONS: &str = "PLUGIN_PROTOCOL_VERSIONS";
/// The host's AutoMTLS certificate, PEM.
pub(crate) const CLIENT_CERT: &str = "PLUGIN_CLIENT_CERT";
/// Where to create the unix socket.
pub(crate) const UNIX_SOCKET_DIR: &str = "PLUGIN_UNIX_SOCKET_DIR";
/// The group that may connect to the unix socket.
pub(crate) const UNIX_SOCKET_GROUP: &str = "PLUGIN_UNIX_SOCKET_GROUP";
/// The lowest TCP port to listen on.
pub(crate) const MIN_PORT: &str = "PLUGIN_MIN_PORT";
/// The highest TCP port to listen on.
pub(crate) const MAX_PORT: &str = "PLUGIN_MAX_PORT";
/// Set by hosts that can multiplex broker connections over the plugin's own connection.
pub(crate) const MULTIPLEX_GRPC: &str = "PLUGIN_MULTIPLEX_GRPC";

/// What a go-plugin host and its plugins agree on before they talk: the magic cookie that tells a
/// plugin it was launched by its host, and the versions of the application protocol (your own
/// gRPC services) the plugin speaks.
///
/// The cookie is not a secret or a security measure; it only keeps a user from starting the
/// plugin by hand by mistake. Use the values of the host you are writing for; HashiCorp's own gRPC
/// KV example uses:
///
/// ```
/// use health_runtime::plugin::Handshake;
///
/// let handshake = Handshake::new("BASIC_PLUGIN", "hello").versions([1]);
/// assert_eq!(handshake.app_versions(), &[1]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    cookie_key: String,
    cookie_value: String,
    versions: Vec<u32>,
}

impl Handshake {
    /// A handshake with this magic cookie, speaking app protocol version 1.
    pub fn new(cookie_key: impl Into<String>, cookie_value: impl Into<String>) -> Self {
        Handshake {
            cookie_key: cookie_key.into(),
            cookie_value: cookie_value.into(),
            versions: vec![1],
        }
    }

    /// The app protocol versions this plugin speaks, in any order (replacing version 1). The
    /// host's highest one that is also in this list is used.
    #[must_use]
    pub fn versions(mut self, versions: impl IntoIterator<Item = u32>) -> Self {
        let mut versions: Vec<u32> = versions.into_iter().collect();
        versions.sort_unstable();
        versions.dedup();
        self.versions = versions;
        self
    }

    /// The cookie's variable name.
    pub fn cookie_key(&self) -> &str {
        &self.cookie_key
    }

    /// The app protocol versions this plugin speaks, lowest first.
    pub fn app_versions(&self) -> &[u32] {
        &self.versions
    }

    /// Whether this process was launched by a host of this handshake: the cookie variable holds
    /// the cookie value.
    pub fn launched_by_host(&self) -> bool {
        self.cookie(&|name| std::env::var(name).ok()) == Cookie::Matches
    }

    pub(crate) fn cookie(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Cookie {
        match lookup(&self.cookie_key) {
            None => Cookie::Absent,
            Some(value) if value == self.cookie_value => Cookie::Matches,
            Some(_) => Cookie::Wrong,
        }
    }

    /// Checks the configuration itself: a cookie and at least one version.
    pub(crate) fn validate(&self) -> Result<(), PluginError> {
        let problem = if self.cookie_key.is_empty() || self.cookie_value.is_empty() {
            "the magic cookie key and value must not be empty"
        } else if self.cookie_key.contains('=') || self.cookie_key.contains('\0') {
            "the magic cookie key must be a valid environment variable name"
        } else if self.versions.is_empty() {
            "at least one app protocol version is needed"
        } else {
            return Ok(());
        };
        Err(PluginError::Handshake(problem))
    }

    /// The app protocol version to announce: the highest one both sides speak, or, when there is
    /// none (or the host sent no list), the plugin's lowest, which the host then refuses with
    /// its own message.
    pub(crate) fn negotiate(&self, host: &[u32]) -> u32 {
        self.versions
            .iter()
            .rev()
            .find(|version| host.contains(version))
            .or(self.versions.first())
            .copied()
            .unwrap_or(1)
    }
}

/// What the cookie variable says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cookie {
    /// It holds the cookie value: a host of ours launched the process.
    Matches,
    /// It is not set: started by hand, or as a standalone service.
    Absent,
    /// It holds something else.
    Wrong,
}

/// The host's variables, read once at startup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HostEnv {
    pub(crate) protocol_versions: Vec<u32>,
    pub(crate) client_cert: Option<String>,
    pub(crate) unix_socket_dir: Option<PathBuf>,
    pub(crate) unix_socket_group: Option<String>,
    pub(crate) min_port: u16,
    pub(crate) max_port: u16,
    pub(crate) multiplex: bool,
}

impl HostEnv {
    /// Reads and checks every variable; an empty one counts as unset, as in go-plugin.
    pub(crate) fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, PluginError> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let mut env = HostEnv::default();
        if let Some(list) = get(PROTOCOL_VERSIONS) {
            // As go-plugin's own plugins do: an entry that is not a number is skipped, with a
            // word, rather than refusing a host that otherwise works.
            for item in list.split(',') {
                match item.parse::<u32>() {
                    Ok(version) => env.protocol_versions.push(version),
                    Err(_) => tracing::warn!(
                        "{PROTOCOL_VERSIONS}={list:?}: ignoring `{item}`, which is not a version number"
                    ),
                }
            }
        }
        env.client_cert = get(CLIENT_CERT);
        env.unix_socket_dir = get(UNIX_SOCKET_DIR).map(PathBuf::from);
        env.unix_socket_group = get(UNIX_SOCKET_GROUP);
        let port = |name: &'static str| -> Result<u16, PluginError> {
            match get(name) {
                None => Ok(0),
                Some(value) => value.trim().parse::<u16>().map_err(|_| {
                    PluginError::config(name, &value, "expected a port number, 0-65535")
                }),
            }
        };
        env.min_port = port(MIN_PORT)?;
        env.max_port = port(MAX_PORT)?;
        if env.min_port > env.max_port {
            return Err(PluginError::config(
                MIN_PORT,
                &env.min_port.to_string(),
                format!("it is greater than {MAX_PORT}={}", env.max_port),
            ));
        }
        env.multiplex = get(MULTIPLEX_GRPC).is_some();
        Ok(env)
    }
}

/// The handshake line, without its newline:
/// `CORE|APP|NETWORK|ADDRESS|grpc|CERT`, and `|false` (no multiplexing) when the host offered it.
pub(crate) fn handshake_line(
    app_version: u32,
    network: &str,
    address: &str,
    server_cert: Option<&str>,
    multiplex_asked: bool,
) -> String {
    let mut line = format!(
        "{CORE_PROTOCOL_VERSION}|{app_version}|{network}|{address}|grpc|{}",
        server_cert.unwrap_or("")
    );
    if multiplex_asked {
        // Broker connections are never multiplexed. A host that requires it refuses the plugin
        // with go-plugin's `ErrGRPCBrokerMuxNotSupported`; the others go on without.
        line.push_str("|false");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        }
    }

    #[test]
    fn negotiates_the_highest_common_version_in_any_order() {
        let handshake = Handshake::new("K", "V").versions([3, 1, 2]);
        assert_eq!(handshake.negotiate(&[1, 2]), 2);
        assert_eq!(handshake.negotiate(&[2, 1]), 2);
        assert_eq!(handshake.negotiate(&[5, 3, 4]), 3);
        assert_eq!(handshake.negotiate(&[1]), 1);
    }

    #[test]
    fn without_a_common_version_announces_the_lowest() {
        let handshake = Handshake::new("K", "V").versions([4, 2]);
        assert_eq!(handshake.negotiate(&[7, 9]), 2);
        assert_eq!(handshake.negotiate(&[]), 2);
    }

    #[test]
    fn reads_the_cookie() {
        let handshake = Handshake::new("BASIC_PLUGIN", "hello");
        assert_eq!(
            handshake.cookie(&env(&[("BASIC_PLUGIN", "hello")])),
            Cookie::Matches
        );
        assert_eq!(
            handshake.cookie(&env(&[("BASIC_PLUGIN", "hell")])),
            Cookie::Wrong
        );
        assert_eq!(handshake.cookie(&env(&[])), Cookie::Absent);
    }

    #[test]
    fn refuses_an_empty_cookie_or_no_versions() {
        assert!(Handshake::new("", "v").validate().is_err());
        assert!(Handshake::new("k", "").validate().is_err());
        assert!(Handshake::new("k", "v").versions([]).validate().is_err());
        assert!(Handshake::new("k", "v").validate().is_ok());
    }

    #[test]
    fn reads_the_host_variables() {
        let host = HostEnv::from_lookup(&env(&[
            (PROTOCOL_VERSIONS, "2,1"),
            (UNIX_SOCKET_DIR, "/run/plugins"),
            (UNIX_SOCKET_GROUP, "plugins"),
            (MIN_PORT, "10000"),
            (MAX_PORT, "10010"),
            (MULTIPLEX_GRPC, "true"),
            (CLIENT_CERT, "PEM"),
        ]))
        .unwrap();
        assert_eq!(host.protocol_versions, [2, 1]);
        assert_eq!(host.unix_socket_dir, Some(PathBuf::from("/run/plugins")));
        assert_eq!(host.unix_socket_group.as_deref(), Some("plugins"));
        assert_eq!((host.min_port, host.max_port), (10000, 10010));
        assert!(host.multiplex);
        assert_eq!(host.client_cert.as_deref(), Some("PEM"));
        assert_eq!(HostEnv::from_lookup(&env(&[])).unwrap(), HostEnv::default());
    }

    #[test]
    fn skips_bad_versions_and_names_the_variable_and_value_of_a_bad_port() {
        let host = HostEnv::from_lookup(&env(&[(PROTOCOL_VERSIONS, "1,two, 3,4")])).unwrap();
        assert_eq!(host.protocol_versions, [1, 4]);
        let error = HostEnv::from_lookup(&env(&[(MIN_PORT, "20"), (MAX_PORT, "10")])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "PLUGIN_MIN_PORT=\"20\": it is greater than PLUGIN_MAX_PORT=10"
        );
        let error = HostEnv::from_lookup(&env(&[(MAX_PORT, "70000")])).unwrap_err();
        assert!(error.to_string().starts_with("PLUGIN_MAX_PORT=\"70000\""));
    }

    #[test]
    fn writes_six_fields_or_seven_when_multiplexing_was_offered() {
        assert_eq!(
            handshake_line(1, "unix", "/tmp/plugin1", None, false),
            "1|1|unix|/tmp/plugin1|grpc|"
        );
        assert_eq!(
            handshake_line(2, "tcp", "127.0.0.1:1234", Some("MIIB"), true),
            "1|2|tcp|127.0.0.1:1234|grpc|MIIB|false"
        );
    }
}
