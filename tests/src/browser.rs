//! A real browser for the tests: Debian's headless Chromium driven over W3C WebDriver by its
//! `chromedriver`, with no network but loopback.
//!
//! The WebDriver commands the tests need (a session, navigation, scripts, keys, clicks, a
//! screenshot) are a few JSON requests each, sent with the reqwest the tests already build.

#![cfg(unix)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::process::free_port;

/// The Debian packages the browser tests need.
pub const BROWSER_PACKAGES: &str = "chromium chromium-driver";

/// The key WebDriver names an element reference by (W3C WebDriver, "Elements").
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The two programs: the browser and its WebDriver server.
#[derive(Debug, Clone)]
pub struct Programs {
    /// Chromium itself (not Debian's `/usr/bin/chromium` wrapper, which adds flags of its own).
    pub chromium: PathBuf,
    /// `chromedriver`.
    pub chromedriver: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

fn program(variable: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    candidates.iter().find_map(|candidate| {
        let path = Path::new(candidate);
        if path.is_absolute() {
            path.is_file().then(|| path.to_path_buf())
        } else {
            on_path(candidate)
        }
    })
}

/// Chromium and chromedriver (`HEALTH_CHROMIUM` and `HEALTH_CHROMEDRIVER` override where they
/// are looked for). When either is missing: a failure in CI (`CI=true`), otherwise `None` after
/// saying what to install.
pub fn programs() -> Option<Programs> {
    let chromium = program(
        "HEALTH_CHROMIUM",
        &["/usr/lib/chromium/chromium", "chromium", "chromium-browser"],
    );
    let chromedriver = program("HEALTH_CHROMEDRIVER", &["chromedriver"]);
    if let (Some(chromium), Some(chromedriver)) = (&chromium, &chromedriver) {
        return Some(Programs {
            chromium: chromium.clone(),
            chromedriver: chromedriver.clone(),
        });
    }
    let missing: Vec<&str> = [
        chromium.is_none().then_some("chromium"),
        chromedriver.is_none().then_some("chromedriver"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let help = format!(
        "the browser tests need {} (not found; HEALTH_CHROMIUM and HEALTH_CHROMEDRIVER name \
         them elsewhere): apt-get install {BROWSER_PACKAGES}",
        missing.join(" and ")
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{help}");
    }
    eprintln!("skipping: {help}");
    None
}

/// What the browser is started with.
#[derive(Debug, Clone)]
pub struct Options {
    /// The window's inner size, in CSS pixels.
    pub size: (u32, u32),
    /// Where its profile and logs go; made if missing.
    pub scratch: PathBuf,
}

/// A headless Chromium session; chromedriver and the browser end when it is dropped.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    client: reqwest::Client,
    session: String,
    /// The port every request but loopback's is sent to, where nothing listens.
    pub dead_proxy: SocketAddr,
}

/// The browser's switches: headless, a throwaway profile, no background services, and no
/// network but loopback. Names resolve to nothing except the loopback address, and everything
/// else goes to a proxy on a loopback port where nothing listens; loopback itself bypasses
/// proxies (Chromium's implicit rule, kept by naming it in the bypass list).
fn switches(options: &Options, profile: &Path, dead_proxy: SocketAddr) -> Vec<String> {
    let (width, height) = options.size;
    let mut switches: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        "--disable-breakpad",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
        "--no-pings",
        "--metrics-recording-only",
        "--password-store=basic",
        "--use-mock-keychain",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--lang=en-US",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--proxy-bypass-list=127.0.0.1",
    ]
    .map(str::to_owned)
    .to_vec();
    switches.push(format!("--proxy-server=http://{dead_proxy}"));
    switches.push(format!("--window-size={width},{height}"));
    switches.push(format!("--user-data-dir={}", profile.display()));
    switches
}

impl Browser {
    /// Starts chromedriver on a loopback port and a browser session through it.
    pub async fn launch(programs: &Programs, options: &Options) -> Browser {
        std::fs::create_dir_all(&options.scratch).unwrap();
        let port = free_port().port();
        let log = options.scratch.join("chromedriver.log");
        let mut command = Command::new(&programs.chromedriver);
        command
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that the browser it starts ends with it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut driver = command.spawn().unwrap_or_else(|error| {
            panic!("starting {}: {error}", programs.chromedriver.display())
        });
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if let Err(problem) =
            crate::process::wait_for_port(&mut driver, addr, Duration::from_secs(30))
        {
            panic!(
                "chromedriver: {problem}\n--- {} ---\n{}",
                log.display(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let profile = options.scratch.join("profile");
        let _ = std::fs::remove_dir_all(&profile);
        let dead_proxy = free_port();
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": {
                        "binary": programs.chromium,
                        "args": switches(options, &profile, dead_proxy),
                    },
                    "goog:loggingPrefs": {"browser": "ALL"},
                }
            }
        });
        let base = format!("http://{addr}");
        let response = client
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        let Some(session) = body["value"]["sessionId"].as_str() else {
            panic!(
                "chromedriver started no session: {body}\n--- {} ---\n{}",
                log.display(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Browser {
            driver,
            client,
            session: format!("{base}/session/{session}"),
            dead_proxy,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.session);
        let mut request = self.client.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("WebDriver {method} {path}: {error}"));
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|error| panic!("WebDriver {method} {path}: {error}"));
        assert!(
            status.is_success(),
            "WebDriver {method} {path} failed ({status}): {}",
            body["value"]
        );
        body["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    /// Loads `url` and waits for the load event.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// Runs `script` (a function body; its arguments are `arguments[0]`, ...) in the page and
    /// returns what it returns.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Runs `script` in the page until it calls its last argument, the callback, and returns
    /// what that was given.
    pub async fn execute_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({ "script": script, "args": args }))
            .await
    }

    /// Evaluates `script` every 25 ms until it returns something other than `null` or `false`,
    /// and returns that; `None` after `within`.
    pub async fn wait_for(&self, script: &str, args: Value, within: Duration) -> Option<Value> {
        let started = Instant::now();
        loop {
            let value = self.execute(script, args.clone()).await;
            if !(value.is_null() || value == Value::Bool(false)) {
                return Some(value);
            }
            if started.elapsed() > within {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The first element matching the CSS `selector`.
    pub async fn find(&self, selector: &str) -> Element {
        let value = self
            .post(
                "/element",
                json!({ "using": "css selector", "value": selector }),
            )
            .await;
        let id = value[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("no element reference for {selector}: {value}"))
            .to_owned();
        Element(id)
    }

    /// Types `text` into `element`, key by key, as a person would.
    pub async fn type_into(&self, element: &Element, text: &str) {
        self.post(
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )
        .await;
    }

    /// Clicks `element`.
    pub async fn click(&self, element: &Element) {
        self.post(&format!("/element/{}/click", element.0), json!({}))
            .await;
    }

    /// Sets the window's outer size (in headless mode, the viewport's).
    pub async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await;
    }

    /// Sends one Chrome DevTools Protocol command through chromedriver.
    pub async fn devtools(&self, command: &str, params: Value) -> Value {
        self.post(
            "/goog/cdp/execute",
            json!({ "cmd": command, "params": params }),
        )
        .await
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let value = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(value.as_str().expect("a base64 screenshot"))
            .expect("a base64 screenshot")
    }

    /// The console messages logged since the last call: `(level, message)`.
    pub async fn console(&self) -> Vec<(String, String)> {
        let value = self.post("/se/log", json!({ "type": "browser" })).await;
        value
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|entry| {
                        (
                            entry["level"].as_str().unwrap_or_default().to_owned(),
                            entry["message"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ends the session and chromedriver.
    pub async fn quit(mut self) {
        let _ = self.client.delete(&self.session).send().await;
        self.stop();
    }

    fn stop(&mut self) {
        // The whole group: chromedriver and the browser processes it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A reference to an element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

/// The width and height in a PNG's header.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let signature = b"\x89PNG\r\n\x1a\n";
    if png.len() < 24 || &png[..8] != signature || &png[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(png[16..20].try_into().ok()?);
    let height = u32::from_be_bytes(png[20..24].try_into().ok()?);
    Some((width, height))
}
