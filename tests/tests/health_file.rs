//! The health file for exec probes: atomic replacement under concurrent readers, updates on
//! change, an unwritable path reported as a warning, and nothing planted at or beside the path
//! (links, devices, pipes, directories) written through or replaced.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use health_runtime::health_file::HEALTH_FILE_CHECK;
use health_runtime::health_file::HealthFile;
use health_runtime::{Check, Status};
use tests::builder;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("health-file-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Keeps `runtime`'s health file at `path` until the sender is used; the handle ends with it.
fn keep(
    runtime: &health_runtime::HealthRuntime,
    path: PathBuf,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runtime = runtime.clone();
    let keeper = tokio::spawn(async move {
        health_runtime::health_file::keep(&runtime, path, async {
            let _ = stopped.await;
        })
        .await
    });
    (stop, keeper)
}

fn read(path: &std::path::Path) -> HealthFile {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

async fn wait_for(path: &std::path::Path, want: impl Fn(&HealthFile) -> bool) -> HealthFile {
    for _ in 0..500 {
        let file = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<HealthFile>(&bytes).ok());
        if let Some(file) = file.filter(|file| want(file)) {
            return file;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the health file never showed the expected state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_always_see_a_complete_file_during_ten_thousand_rewrites() {
    let dir = scratch("atomic");
    let path = dir.join("health");
    let runtime = builder()
        .with_check(Check::new("db", || async { true }))
        .build()
        .unwrap();
    runtime.report().await;
    health_runtime::health_file::write(&runtime, &path)
        .await
        .unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (path, done) = (path.clone(), done.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::Relaxed) {
                    let bytes = std::fs::read(&path).expect("the file is always there");
                    let file: HealthFile = serde_json::from_slice(&bytes)
                        .unwrap_or_else(|error| panic!("torn read ({error}): {bytes:?}"));
                    assert!(file.healthy);
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for _ in 0..10_000 {
        health_runtime::health_file::write(&runtime, &path)
            .await
            .unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let reads: u64 = readers
        .into_iter()
        .map(|reader| reader.join().unwrap())
        .sum();
    assert!(reads > 0);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["health"], "no temporary files left behind");
    let file = read(&path);
    assert_eq!(file.status, Status::Healthy);
    assert!(SystemTime::now().duration_since(file.timestamp).unwrap() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_file_follows_changes_and_says_not_healthy_while_draining() {
    let dir = scratch("follow");
    let path = dir.join("health");
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    let runtime = builder()
        .cache_ttl(Duration::ZERO)
        .drain_delay(Duration::from_millis(200))
        .with_check(Check::new("db", move || {
            std::future::ready(flag.load(Ordering::SeqCst))
        }))
        .build()
        .unwrap();
    runtime.check("db").await.unwrap();
    let (stop, keeper) = keep(&runtime, path.clone());
    let first = wait_for(&path, |file| file.healthy).await;
    assert_eq!(first.status, Status::Healthy);

    up.store(false, Ordering::SeqCst);
    runtime.check("db").await.unwrap();
    let failing = wait_for(&path, |file| !file.healthy).await;
    assert_eq!(failing.status, Status::Critical);

    up.store(true, Ordering::SeqCst);
    runtime.check("db").await.unwrap();
    wait_for(&path, |file| file.healthy).await;

    runtime.shutdown();
    let draining = wait_for(&path, |file| !file.healthy).await;
    assert_eq!(
        draining.status,
        Status::Healthy,
        "the checks pass, but the process stops"
    );
    stop.send(()).unwrap();
    keeper.await.unwrap();
    assert!(!read(&path).healthy);
}

#[tokio::test]
async fn an_unwritable_path_is_a_warning_not_a_crash() {
    let dir = scratch("unwritable");
    let path = dir.join("missing-directory").join("health");
    // The builder registers the check because the configuration names the file.
    let mut config = tests::quiet_config();
    config.surfaces.health_file = Some(path.clone());
    let runtime = builder()
        .config(config)
        .with_check(Check::new("db", || async { true }))
        .build()
        .unwrap();
    let before = runtime.check(HEALTH_FILE_CHECK).await.unwrap();
    assert_eq!(
        before.state().status(),
        Status::Healthy,
        "no write failed yet"
    );
    let (stop, keeper) = keep(&runtime, path);
    let mut state = None;
    for _ in 0..500 {
        state = runtime
            .cached(HEALTH_FILE_CHECK)
            .filter(|check| check.state().status() == Status::Warning);
        if state.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let state = state.expect("the health_file check turns warning");
    let message = state.state().message().unwrap();
    assert!(
        message.starts_with("cannot write the health file: "),
        "{message}"
    );
    assert!(message.contains("missing-directory"), "{message}");
    let report = runtime.report().await;
    assert_eq!(report.overall_status, Status::Warning, "still serving");
    assert_eq!(report.metrics["db"].status, Status::Healthy);

    stop.send(()).unwrap();
    keeper.await.unwrap();
    let after = runtime
        .cached(HEALTH_FILE_CHECK)
        .expect("the builder's check stays");
    assert_eq!(
        after.state().status(),
        Status::Warning,
        "the last write failed too"
    );
}

#[test]
fn the_builder_registers_the_check_only_when_the_configuration_names_a_file() {
    let without = builder().build().unwrap();
    assert!(without.cached(HEALTH_FILE_CHECK).is_none());
    let mut config = tests::quiet_config();
    config.surfaces.health_file = Some(scratch("configured").join("health"));
    let with = builder().config(config).build().unwrap();
    let check = with
        .cached(HEALTH_FILE_CHECK)
        .expect("registered by the builder");
    assert_eq!(check.info().on_error(), Status::Warning);
    assert!(check.info().groups().is_empty());
}

#[tokio::test]
async fn until_a_writer_runs_the_check_says_nothing_writes_the_file() {
    let path = scratch("not-yet").join("health");
    let mut config = tests::quiet_config();
    config.surfaces.health_file = Some(path.clone());
    let runtime = builder().config(config).build().unwrap();
    let before = runtime.check(HEALTH_FILE_CHECK).await.unwrap();
    assert_eq!(before.state().status(), Status::Healthy);
    let said = before.state().message().map(str::to_owned);
    assert!(
        said.as_deref()
            .is_some_and(|said| said.starts_with("not written yet")),
        "{said:?}"
    );
    let (stop, keeper) = keep(&runtime, path);
    let mut message = said;
    for _ in 0..200 {
        message = runtime
            .cached(HEALTH_FILE_CHECK)
            .and_then(|check| check.state().message().map(str::to_owned));
        if message.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(message, None, "written: nothing more to say");
    stop.send(()).unwrap();
    keeper.await.unwrap();
}

const PRECIOUS: &str = "the victim's own content";

/// A directory the test owns with a victim file outside the health file's name.
fn with_victim(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let victim = dir.join("victim");
    std::fs::write(&victim, PRECIOUS).unwrap();
    (dir, victim)
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

async fn runtime() -> health_runtime::HealthRuntime {
    let runtime = builder()
        .with_check(Check::new("db", || async { true }))
        .build()
        .unwrap();
    runtime.report().await;
    runtime
}

#[tokio::test]
async fn links_at_the_old_temporary_name_are_not_written_through() {
    use std::os::unix::fs::MetadataExt as _;

    let runtime = runtime().await;
    let old_name = format!(".health.{}.tmp", std::process::id());
    for (name, plant) in [
        (
            "temp-symlink",
            (|victim, at| std::os::unix::fs::symlink(victim, at))
                as fn(&std::path::Path, &std::path::Path) -> std::io::Result<()>,
        ),
        ("temp-hardlink", |victim, at| std::fs::hard_link(victim, at)),
    ] {
        let (dir, victim) = with_victim(name);
        plant(&victim, &dir.join(&old_name)).unwrap();
        let path = dir.join("health");
        health_runtime::health_file::write(&runtime, &path)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            PRECIOUS,
            "{name}"
        );
        assert!(read(&path).healthy, "{name}");
        assert_eq!(
            std::fs::metadata(&path).unwrap().mode() & 0o777,
            0o644,
            "{name}: readable by a probe running as another user"
        );
        assert_eq!(
            entries(&dir),
            [old_name.as_str(), "health", "victim"],
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_symlink_at_the_path_is_refused_and_a_hard_link_is_replaced_not_written_through() {
    use health_runtime::health_file::{FileKind, WriteError};

    let runtime = runtime().await;
    let (dir, victim) = with_victim("target-symlink");
    let path = dir.join("health");
    std::os::unix::fs::symlink(&victim, &path).unwrap();
    let error = health_runtime::health_file::write(&runtime, &path)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, WriteError::NotRegular { kind: FileKind::Symlink, path: at } if at == &path),
        "{error}"
    );
    assert!(error.to_string().contains("a symbolic link"), "{error}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), PRECIOUS);
    assert_eq!(std::fs::read_link(&path).unwrap(), victim, "left as it is");
    assert_eq!(entries(&dir), ["health", "victim"], "nothing left behind");

    let (dir, victim) = with_victim("target-hardlink");
    let path = dir.join("health");
    std::fs::hard_link(&victim, &path).unwrap();
    health_runtime::health_file::write(&runtime, &path)
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), PRECIOUS);
    assert!(read(&path).healthy);
}

#[tokio::test]
async fn devices_pipes_and_directories_at_the_path_are_refused_untouched() {
    use health_runtime::health_file::{FileKind, WriteError};
    use std::os::unix::fs::FileTypeExt as _;

    let runtime = runtime().await;
    let dir = scratch("not-regular");
    let fifo = dir.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let directory = dir.join("directory");
    std::fs::create_dir(&directory).unwrap();
    for (path, kind) in [
        (PathBuf::from("/dev/null"), FileKind::CharDevice),
        (PathBuf::from("/dev/full"), FileKind::CharDevice),
        (fifo.clone(), FileKind::Fifo),
        (directory.clone(), FileKind::Directory),
    ] {
        let error = health_runtime::health_file::write(&runtime, &path)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, WriteError::NotRegular { kind: found, path: at } if *found == kind && at == &path),
            "{}: {error}",
            path.display()
        );
        assert!(error.to_string().contains(&kind.to_string()), "{error}");
    }
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert!(
        std::fs::metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(entries(&directory).is_empty());
    assert_eq!(entries(&dir), ["directory", "fifo"], "nothing left behind");
    let in_dev = entries(std::path::Path::new("/dev"));
    assert!(
        !in_dev
            .iter()
            .any(|name| name.starts_with(".null.") || name.starts_with(".full.")),
        "{in_dev:?}"
    );
}

#[tokio::test]
async fn a_device_as_the_configured_path_shows_in_the_check_and_the_server_keeps_serving() {
    use std::os::unix::fs::FileTypeExt as _;

    let path = PathBuf::from("/dev/null");
    let mut config = tests::quiet_config();
    config.surfaces.health_file = Some(path.clone());
    let runtime = builder()
        .config(config)
        .with_check(Check::new("db", || async { true }))
        .build()
        .unwrap();
    let (stop, keeper) = keep(&runtime, path);
    let mut state = None;
    for _ in 0..500 {
        state = runtime
            .cached(HEALTH_FILE_CHECK)
            .filter(|check| check.state().status() == Status::Warning);
        if state.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let state = state.expect("the health_file check turns warning");
    let message = state.state().message().unwrap();
    assert!(message.contains("`/dev/null`"), "{message}");
    assert!(message.contains("a character device"), "{message}");
    assert_eq!(runtime.report().await.overall_status, Status::Warning);
    stop.send(()).unwrap();
    keeper.await.unwrap();
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[tokio::test]
async fn a_file_of_another_user_is_replaced_where_the_directory_allows_and_logged() {
    use std::os::unix::fs::MetadataExt as _;

    let runtime = runtime().await;
    let (dir, _) = with_victim("foreign");
    let path = dir.join("health");
    std::fs::write(&path, "planted").unwrap();
    let ours = std::fs::metadata(&path).unwrap().uid();
    let theirs = ours + 4242;
    if std::os::unix::fs::chown(&path, Some(theirs), None).is_err() {
        // Only a privileged user can give a file away; the refusal path needs another user.
        return;
    }
    let logs = Logs::default();
    let guard = logs.capture();
    health_runtime::health_file::write(&runtime, &path)
        .await
        .unwrap();
    drop(guard);
    assert!(read(&path).healthy);
    assert_eq!(std::fs::metadata(&path).unwrap().uid(), ours);
    assert_eq!(entries(&dir), ["health", "victim"]);
    let logs = logs.text();
    assert!(
        logs.contains("WARN")
            && logs.contains("belonged to another user")
            && logs.contains(&format!("owner={theirs}"))
            && logs.contains(&path.display().to_string()),
        "{logs}"
    );
}

/// Log lines, captured on this thread.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        use tracing_subscriber::util::SubscriberInitExt as _;
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
            .set_default()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
