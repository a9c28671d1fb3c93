//! The status page, `/health/ui`, in a real browser: Debian's headless Chromium over WebDriver,
//! with no network but loopback, against the example plugin server run as a process.
//!
//! Every check of `/health/report` is on the page with its status, in order; without the token
//! no message or value reaches the DOM, with it every one does; the example's `kv_store` check,
//! broken for real by taking its data directory away, repaints within a second of its run and
//! without a reload; the page follows a drain and reconnects to the restarted server; it fits a
//! phone's width and has a dark scheme; it asks nothing of any address but the server's. The
//! README's screenshot is taken here: `HEALTH_SCREENSHOT=overwrite` writes it to
//! `docs/status-page.png`, otherwise it goes under the target directory.

#![cfg(unix)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tests::browser::{self, Browser, Options, png_size};
use tests::process::{build_example, free_port, wait_for_port, workspace};

const TOKEN: &str = "status-page-token-7c1e94";
/// How soon after its run a check's new status must be on the page.
const REPAINT: Duration = Duration::from_secs(1);
/// The screenshot's viewport.
const SIZE: (u32, u32) = (1200, 900);
/// Deadlines for what is not being measured: a loaded machine is slow.
const PATIENCE: Duration = Duration::from_secs(15);

/// The example server; killed when dropped.
struct Server {
    child: tests::process::Reaped,
    http: SocketAddr,
}

impl Server {
    fn start(exe: &Path, data: &Path, grpc: SocketAddr, http: SocketAddr) -> Server {
        let child = Command::new(exe)
            .env_remove("BASIC_PLUGIN")
            .env_remove("PLUGIN_HEALTH_UI")
            .env("PLUGIN_HEALTH_GRPC_ADDR", grpc.to_string())
            .env("PLUGIN_HEALTH_HTTP_ADDR", http.to_string())
            .env("PLUGIN_HEALTH_FILE_PATH", "")
            .env("PLUGIN_HEALTH_SHOW_DETAILS", "when-authorized")
            .env("PLUGIN_HEALTH_AUTH_TOKEN", TOKEN)
            .env("PLUGIN_HEALTH_CHECK_INTERVAL", "200ms")
            .env("PLUGIN_HEALTH_DRAIN_DELAY", "1s")
            .env("KV_DATA_DIR", data)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("starting plugin_server");
        let mut server = Server {
            child: tests::process::Reaped(child),
            http,
        };
        wait_for_port(&mut server.child, grpc, Duration::from_secs(60)).unwrap();
        wait_for_port(&mut server.child, http, Duration::from_secs(10)).unwrap();
        server
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait(&mut self, within: Duration) {
        let started = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                started.elapsed() < within,
                "the server did not stop within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// `/health/report` with the token: every check, with its details.
async fn report(http: SocketAddr) -> Value {
    let response = client()
        .get(format!("http://{http}/health/report"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

/// The report's checks, by name.
fn checks(report: &Value) -> Vec<(String, Value)> {
    report["metrics"]
        .as_object()
        .expect("the report's `metrics`")
        .iter()
        .map(|(name, check)| (name.clone(), check.clone()))
        .collect()
}

fn rank(status: &str) -> u8 {
    match status {
        "critical" => 0,
        "warning" => 1,
        "unknown" => 2,
        _ => 3,
    }
}

fn epoch_ms(rfc3339: &str) -> f64 {
    let at = humantime::parse_rfc3339(rfc3339).unwrap_or_else(|_| panic!("a time: {rfc3339}"));
    at.duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

/// Every check row on the page, in the page's order.
const ROWS: &str = r#"
return Array.from(document.querySelectorAll('[data-list="checks"] > [data-check]')).map(li => {
  const field = name => li.querySelector('[data-field="' + name + '"]');
  return {
    name: li.dataset.check,
    status: li.dataset.status,
    statusText: field('status').textContent,
    message: field('message').hidden ? '' : field('message').textContent,
    valueText: field('value').textContent,
    value: field('value').getAttribute('data-value'),
    meterNow: li.querySelector('[role="meter"]').getAttribute('aria-valuenow'),
    measureShown: !field('measure').hidden,
  };
});
"#;

/// Everything of the page a reader or a script could see: its markup (attributes included)
/// and its text.
const PAGE_TEXT: &str =
    "return document.documentElement.outerHTML + '\\n' + document.documentElement.textContent;";

fn connection_is(state: &str) -> String {
    format!("return document.querySelector('[data-connection]').dataset.connection === '{state}';")
}

/// Waits until the page shows `report`'s checks: each with its status as data and as text,
/// ordered critical, warning, unknown, healthy and by name, and (with `details`) its message
/// and value. The report is read again each round: checks run all the time.
async fn page_matches(page: &Browser, http: SocketAddr, details: bool) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let report = report(http).await;
        let rows = page.execute(ROWS, json!([])).await;
        let rows = rows.as_array().cloned().unwrap_or_default();
        let problems = mismatches(&report, &rows, details);
        if problems.is_empty() {
            return rows;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the page does not show the report:\n{}\n--- the report ---\n{report:#}",
            problems.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn mismatches(report: &Value, rows: &[Value], details: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let checks = checks(report);
    if rows.len() != checks.len() {
        problems.push(format!(
            "{} rows on the page for {} checks",
            rows.len(),
            checks.len()
        ));
    }
    for (name, check) in &checks {
        let Some(row) = rows.iter().find(|row| row["name"] == name.as_str()) else {
            problems.push(format!("no row for `{name}`"));
            continue;
        };
        let status = check["status"].as_str().unwrap_or_default();
        if row["status"] != status || row["statusText"] != status {
            problems.push(format!("`{name}` is {status}, the page says {row}"));
        }
        if details {
            if row["message"] != check["message"] {
                problems.push(format!(
                    "`{name}`: message {} on the page, {} in the report",
                    row["message"], check["message"]
                ));
            }
            let shown = row["value"].as_str().and_then(|v| v.parse::<f64>().ok());
            if shown != check["value"].as_f64() {
                problems.push(format!(
                    "`{name}`: value {shown:?} on the page, {} in the report",
                    check["value"]
                ));
            }
        }
    }
    let order: Vec<(u8, String)> = rows
        .iter()
        .map(|row| {
            let status = row["status"].as_str().unwrap_or_default();
            (
                rank(status),
                row["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    if !order.is_sorted() {
        problems.push(format!("rows not ordered by status, then name: {order:?}"));
    }
    problems
}

/// No message and no value of `report` anywhere in the page, and no value in any row.
async fn assert_no_details(page: &Browser, reports: &[Value]) {
    let text = page.execute(PAGE_TEXT, json!([])).await;
    let text = text.as_str().unwrap();
    for report in reports {
        for (name, check) in checks(report) {
            let message = check["message"].as_str().unwrap_or_default();
            assert!(
                message.is_empty() || !text.contains(message),
                "`{name}`'s message {message:?} is on the page without the token"
            );
        }
    }
    let rows = page.execute(ROWS, json!([])).await;
    for row in rows.as_array().unwrap() {
        assert_eq!(row["message"], "", "a message without the token: {row}");
        assert_eq!(row["valueText"], "", "a value without the token: {row}");
        assert_eq!(
            row["value"],
            Value::Null,
            "a value without the token: {row}"
        );
        assert_eq!(
            row["meterNow"],
            Value::Null,
            "a value without the token: {row}"
        );
        assert_eq!(
            row["measureShown"], false,
            "a value without the token: {row}"
        );
    }
}

/// Where the token must never be: the URL, web storage, cookies, the DOM.
async fn assert_token_kept_in_memory(page: &Browser) {
    let places = page
        .execute(
            r#"return {
              url: location.href,
              local: JSON.stringify(Object.entries(localStorage)),
              session: JSON.stringify(Object.entries(sessionStorage)),
              cookies: document.cookie,
              field: document.querySelector('#token').value,
              dom: document.documentElement.outerHTML,
              resources: performance.getEntriesByType('resource').map(e => e.name).join(' '),
            };"#,
            json!([]),
        )
        .await;
    for (place, value) in places.as_object().unwrap() {
        assert!(
            !value.as_str().unwrap_or_default().contains(TOKEN),
            "the token is in the page's {place}"
        );
    }
}

/// Sets the page's viewport, in CSS pixels (a headless window's outer size is not its
/// viewport's).
async fn viewport(page: &Browser, (width, height): (u32, u32), mobile: bool) {
    page.devtools(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
    )
    .await;
}

/// The SSE parser against frames split at every possible point: CRLF, LF and CR line ends,
/// multi-line data, comments, a named and an unnamed event, an event without data.
const PARSER: &str = r#"
const input = ': keep-alive\r\n\r\nevent: state\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
  + 'data: x\n\n' + 'event: transition\rdata: y\r\r' + 'event: nothing\n\n'
  + 'data:  spaced\nid: 7\nretry: 10\nunknown: field\n\n' + 'data\n\n' + 'data: unfinished';
function parse(chunks) {
  const events = [], comments = [];
  const parser = new window.healthUi.SseParser(e => events.push(e), c => comments.push(c));
  for (const chunk of chunks) parser.push(chunk);
  return JSON.stringify({ events, comments });
}
const whole = parse([input]);
const results = [whole];
for (let i = 1; i < input.length; i++) results.push(parse([input.slice(0, i), input.slice(i)]));
results.push(parse(input.split('')));
return { whole, same: results.every(r => r === whole) };
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_in_a_browser() {
    let Some(programs) = browser::programs() else {
        return;
    };
    let started = Instant::now();
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("status-page-{}", std::process::id()));
    let data = scratch.join("kv-data");
    std::fs::create_dir_all(&data).unwrap();
    let exe = build_example("plugin_server");
    let built = started.elapsed();
    let (grpc, http) = (free_port(), free_port());
    let mut server = Server::start(&exe, &data, grpc, http);

    // The store answers before the page is looked at.
    let deadline = Instant::now() + PATIENCE;
    while report(http).await["metrics"]["kv_store"]["status"] != "healthy" {
        assert!(Instant::now() < deadline, "kv_store never became healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let page = Browser::launch(
        &programs,
        &Options {
            size: SIZE,
            scratch: scratch.join("browser"),
        },
    )
    .await;
    let launched = started.elapsed();
    viewport(&page, SIZE, false).await;
    let origin = format!("http://{}", server.http);
    page.goto(&format!("{origin}/health/ui")).await;
    page.wait_for(&connection_is("live"), json!([]), PATIENCE)
        .await
        .expect("the page never connected to /health/events");
    // Set once; a reload would lose it.
    let marker = format!("{:?}", SystemTime::now());
    page.execute("window.__statusPageMarker = arguments[0];", json!([marker]))
        .await;
    // The console is read at the end; this line shows that it is read at all.
    page.execute(
        "console.error('status page test: the console is read');",
        json!([]),
    )
    .await;

    // The parser, in the page's own script.
    let parsed = page.execute(PARSER, json!([])).await;
    assert_eq!(
        parsed["same"], true,
        "split frames parse differently: {parsed}"
    );
    let whole: Value = serde_json::from_str(parsed["whole"].as_str().unwrap()).unwrap();
    let events: Vec<(&str, &str)> = whole["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["data"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [
            ("state", "{\"a\":\n1}"),
            ("message", "x"),
            ("transition", "y"),
            ("message", " spaced"),
            ("message", ""),
        ]
    );
    assert_eq!(whole["comments"], json!(["keep-alive"]));

    // Statuses, without the token; no message or value anywhere.
    page_matches(&page, http, false).await;
    let first = report(http).await;
    assert_no_details(&page, std::slice::from_ref(&first)).await;
    let notice = page
        .execute(
            "const n = document.querySelector('[data-field=\"withheld\"]'); \
             return n.hidden ? null : n.textContent;",
            json!([]),
        )
        .await;
    assert!(
        notice
            .as_str()
            .is_some_and(|n| n.contains("withheld") && n.contains("Bearer")),
        "no notice that details are withheld, with the hint: {notice}"
    );

    // The token, typed into its field: every message and value appears.
    let field = page.find("#token").await;
    page.type_into(&field, TOKEN).await;
    page.click(&page.find("[data-action=\"use-token\"]").await)
        .await;
    page_matches(&page, http, true).await;
    assert_token_kept_in_memory(&page).await;
    let notice_hidden = page
        .execute(
            "return document.querySelector('[data-field=\"withheld\"]').hidden;",
            json!([]),
        )
        .await;
    assert_eq!(
        notice_hidden, true,
        "the withheld notice stays with the token"
    );

    // kv_store writes and reads back a file in its data directory: without the directory it
    // fails. Its next run (a report runs what is older than the cache TTL) publishes the
    // failure, and the page must show it within REPAINT of that run, without reloading.
    page.execute(
        r#"window.__repainted = null;
           const row = document.querySelector('[data-check="kv_store"]');
           new MutationObserver((_, observer) => {
             if (row.dataset.status !== 'critical') return;
             observer.disconnect();
             const changed = Date.now();
             requestAnimationFrame(() => { window.__repainted = { changed, frame: Date.now() }; });
           }).observe(row, { attributes: true, attributeFilter: ['data-status'] });"#,
        json!([]),
    )
    .await;
    std::fs::remove_dir_all(&data).unwrap();
    let flipped = Instant::now();
    let failed = loop {
        let report = report(http).await;
        let check = &report["metrics"]["kv_store"];
        if check["status"] == "critical" {
            break check.clone();
        }
        assert!(
            flipped.elapsed() < PATIENCE,
            "kv_store never failed: {check}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ran = epoch_ms(failed["last_updated"].as_str().unwrap());
    let repainted = page
        .wait_for("return window.__repainted;", json!([]), PATIENCE)
        .await
        .expect("the failed kv_store never showed on the page");
    let latency = repainted["frame"].as_f64().unwrap() - ran;
    eprintln!(
        "status page: kv_store critical on the page {latency:.0} ms after its run \
         (DOM changed at {:.0} ms)",
        repainted["changed"].as_f64().unwrap() - ran
    );
    assert!(
        latency < REPAINT.as_secs_f64() * 1000.0,
        "kv_store repainted {latency:.0} ms after its run, more than {REPAINT:?}"
    );
    let same_page = page
        .execute(
            "return window.__statusPageMarker === arguments[0] \
             && performance.getEntriesByType('navigation').length === 1;",
            json!([marker]),
        )
        .await;
    assert_eq!(same_page, true, "the page was reloaded");

    // The failure's message, its transition on the timeline, and its announcement.
    page_matches(&page, http, true).await;
    page.wait_for(
        r#"const row = document.querySelector('[data-check="kv_store"]');
           const announced = document.querySelector('[data-field="announcer"]').textContent;
           return row.querySelector('.segment[data-status="critical"]') !== null
             && announced.includes('kv_store is now critical');"#,
        json!([]),
        PATIENCE,
    )
    .await
    .expect("no critical segment on kv_store's timeline, or no announcement");

    // The README's picture: the token entered, kv_store (and kv_disk, on the same directory)
    // critical.
    // A moment for the failure to show on the timelines at a glance.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    page.execute("window.scrollTo(0, 0);", json!([])).await;
    let png = page.screenshot().await;
    assert_eq!(png_size(&png), Some(SIZE), "the screenshot's size");
    let shot = if std::env::var("HEALTH_SCREENSHOT").as_deref() == Ok("overwrite") {
        let docs = workspace().join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        docs.join("status-page.png")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png")
    };
    std::fs::write(&shot, &png).unwrap();
    eprintln!("status page: screenshot in {}", shot.display());

    // A phone's width: nothing wider than the screen.
    viewport(&page, (375, 812), true).await;
    let overflow = page
        .wait_for(
            r#"if (window.innerWidth !== 375) return null;
               const wide = Array.from(document.querySelectorAll('body *'))
                 .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > 375.5
                   && !e.closest('.table-wrap, .visually-hidden'))
                 .map(e => e.tagName + '.' + e.className);
               return { scroll: document.documentElement.scrollWidth, wide };"#,
            json!([]),
            PATIENCE,
        )
        .await
        .expect("the viewport never became 375 px wide");
    assert_eq!(overflow["scroll"], 375, "wider than a phone: {overflow}");
    assert_eq!(
        overflow["wide"],
        json!([]),
        "wider than a phone: {overflow}"
    );
    viewport(&page, SIZE, false).await;

    // The dark scheme.
    let background = "return getComputedStyle(document.body).backgroundColor;";
    let light = page.execute(background, json!([])).await;
    page.devtools(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
    )
    .await;
    let dark = page.execute(background, json!([])).await;
    assert_ne!(light, dark, "no dark scheme");
    page.devtools("Emulation.setEmulatedMedia", json!({"features": []}))
        .await;

    // The store comes back, and so does the row.
    std::fs::create_dir_all(&data).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while report(http).await["metrics"]["kv_store"]["status"] != "healthy" {
        assert!(Instant::now() < deadline, "kv_store never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    page_matches(&page, http, true).await;

    // Forgetting the token takes the details off the page again.
    let with_details = report(http).await;
    page.click(&page.find("[data-action=\"forget\"]").await)
        .await;
    page.wait_for(&connection_is("live"), json!([]), PATIENCE)
        .await
        .expect("the page did not reconnect without the token");
    page_matches(&page, http, false).await;
    assert_no_details(&page, &[first, with_details]).await;

    // Drain, restart: the page says so, reconnects by itself, and shows the new process.
    page.execute(
        r#"window.__announced = [];
           new MutationObserver(records => records.forEach(r => r.addedNodes
             .forEach(n => window.__announced.push(n.textContent))))
             .observe(document.querySelector('[data-field="announcer"]'), { childList: true });"#,
        json!([]),
    )
    .await;
    server.terminate();
    page.wait_for(
        "return document.querySelector('[data-field=\"draining\"]').dataset.draining === 'true';",
        json!([]),
        PATIENCE,
    )
    .await
    .expect("the page never showed the drain");
    page.wait_for(&connection_is("reconnecting"), json!([]), PATIENCE)
        .await
        .expect("the page never noticed the stream end");
    let disconnected = page
        .execute(
            "return document.querySelector('[data-field=\"connection\"]').textContent;",
            json!([]),
        )
        .await;
    assert!(
        disconnected
            .as_str()
            .is_some_and(|t| t.contains("reconnecting")),
        "{disconnected}"
    );
    server.wait(PATIENCE);
    server = Server::start(&exe, &data, grpc, http);
    page.wait_for(&connection_is("live"), json!([]), PATIENCE)
        .await
        .expect("the page never reconnected to the restarted server");
    page_matches(&page, http, false).await;
    let same_page = page
        .execute(
            "return window.__statusPageMarker === arguments[0];",
            json!([marker]),
        )
        .await;
    assert_eq!(same_page, true, "the page was reloaded to reconnect");
    let announced = page
        .execute("return window.__announced.join(' | ');", json!([]))
        .await;
    assert!(
        announced
            .as_str()
            .is_some_and(|a| a.contains("Disconnected") && a.contains("Reconnected")),
        "the connection's loss and return were not announced: {announced}"
    );

    // Nothing but the server was asked for anything, and the page ran under its CSP.
    let requested = page
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name);",
            json!([]),
        )
        .await;
    let requested: Vec<&str> = requested
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for path in [
        "/health/ui/app.js",
        "/health/ui/style.css",
        "/health/history",
    ] {
        assert!(
            requested
                .iter()
                .any(|url| *url == format!("{origin}{path}")),
            "{path} was not requested: {requested:?}"
        );
    }
    let elsewhere: Vec<_> = requested
        .iter()
        .filter(|url| !url.starts_with(&format!("{origin}/")))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "the page reached beyond the server: {elsewhere:?}"
    );
    let console = page.console().await;
    assert!(
        console
            .iter()
            .any(|(_, message)| message.contains("the console is read")),
        "the console was not captured: {console:?}"
    );
    // The server was down for a moment: refused connections are expected, nothing else.
    let errors: Vec<_> = console
        .iter()
        .filter(|(level, message)| {
            level == "SEVERE"
                && !message.contains("the console is read")
                && !message.contains("net::ERR_CONNECTION_REFUSED")
        })
        .collect();
    assert!(errors.is_empty(), "errors in the console: {errors:?}");
    eprintln!("status page: console {console:?}");

    page.quit().await;
    server.terminate();
    server.wait(PATIENCE);
    let _ = std::fs::remove_dir_all(&scratch);
    eprintln!(
        "status page: example built in {:.1} s, server and browser up in {:.1} s, the page \
         tested in {:.1} s",
        built.as_secs_f64(),
        (launched - built).as_secs_f64(),
        (started.elapsed() - launched).as_secs_f64()
    );
}
