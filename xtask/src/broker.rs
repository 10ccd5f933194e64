//! `cargo xtask broker`: a real Apache Kafka for the tests. A single node in KRaft mode (broker
//! and controller in one process) on 127.0.0.1, on free ports, in a temporary directory.
//!
//! The broker's jars come from the Maven registry, fetched once with `mvn` (a throwaway POM
//! naming `kafka_2.13` and a log4j binding, and `dependency:copy-dependencies`) into
//! `target/xtask/kafka-<version>/libs`. `start` formats a fresh storage directory, starts
//! `kafka.Kafka` detached (it outlives xtask), waits until its client port answers and prints
//! the bootstrap address; what it started is recorded in `target/xtask/broker/state`, which
//! `status` reads and `stop` uses to end that process (by its pid, checked to be that broker)
//! and remove its directory.

use std::{
    env, fmt, fs,
    io::Read as _,
    net::{SocketAddr, TcpListener, TcpStream},
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use crate::{UsageError, prereq, workspace::Workspace};

/// The Apache Kafka release the tests run against.
pub(crate) const KAFKA_VERSION: &str = "4.4.0";
/// The log4j2 release of that Kafka release (its POM names no logging binding).
const LOG4J_VERSION: &str = "2.25.5";
/// The Maven goal that copies the jars, pinned.
const COPY_DEPENDENCIES: &str =
    "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies";
/// The environment variable the real-broker tests read the bootstrap address from.
pub(crate) const BROKERS_ENV: &str = "RUNNER_KAFKA_BROKERS";
/// How long the broker may take to answer after it was started.
const START_BUDGET: Duration = Duration::from_secs(120);
/// How long a SIGTERM is given before SIGKILL.
const STOP_BUDGET: Duration = Duration::from_secs(30);

/// A `cargo xtask broker` subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BrokerCommand {
    /// Start a broker (or report the one running) and print its address.
    Start,
    /// Stop the broker started by `start`.
    Stop,
    /// Say whether one runs, and where.
    Status,
}

impl BrokerCommand {
    /// Parses the arguments after `broker`; `None` means help was asked for.
    pub(crate) fn parse(args: &[String]) -> Result<Option<Self>, UsageError> {
        match args {
            [] => Err(UsageError(
                "`broker` needs a subcommand: start, stop or status".to_owned(),
            )),
            [one] => match one.as_str() {
                "start" => Ok(Some(Self::Start)),
                "stop" => Ok(Some(Self::Stop)),
                "status" => Ok(Some(Self::Status)),
                "-h" | "--help" => Ok(None),
                other => Err(UsageError(format!(
                    "unknown broker subcommand `{other}`; valid: start, stop, status"
                ))),
            },
            [_, extra, ..] => Err(UsageError(format!(
                "unexpected argument `{extra}` for `broker`"
            ))),
        }
    }

    /// Runs the subcommand, printing what it did.
    pub(crate) fn run(self, workspace: &Workspace) -> Result<()> {
        match self {
            Self::Start => {
                let broker = start(workspace)?;
                println!("{}", broker.bootstrap);
            }
            Self::Stop => {
                if stop(workspace)? {
                    println!("broker stopped");
                } else {
                    println!("no broker was running");
                }
            }
            Self::Status => match running(workspace)? {
                Some(broker) => println!("running: {broker}"),
                None => println!("not running"),
            },
        }
        Ok(())
    }
}

/// A broker started by [`start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Broker {
    /// The `java` process.
    pub(crate) pid: u32,
    /// `127.0.0.1:<port>`, for `bootstrap.servers`.
    pub(crate) bootstrap: String,
    /// Its configuration, storage and logs.
    pub(crate) dir: PathBuf,
}

impl fmt::Display for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Apache Kafka {KAFKA_VERSION} at {} (pid {}, directory {}, log {})",
            self.bootstrap,
            self.pid,
            self.dir.display(),
            self.dir.join("server.log").display()
        )
    }
}

impl Broker {
    /// The state file's text.
    fn to_state(&self) -> String {
        format!(
            "pid={}\nbootstrap={}\ndir={}\n",
            self.pid,
            self.bootstrap,
            self.dir.display()
        )
    }

    /// Reads a state file's text back.
    fn from_state(text: &str) -> Option<Self> {
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
        };
        Some(Self {
            pid: field("pid")?.parse().ok()?,
            bootstrap: field("bootstrap")?.to_owned(),
            dir: PathBuf::from(field("dir")?),
        })
    }

    /// Whether its process still runs (and is this broker: pids are reused).
    fn is_alive(&self) -> bool {
        let proc = PathBuf::from(format!("/proc/{}", self.pid));
        let zombie = fs::read_to_string(proc.join("stat")).map_or(true, |stat| {
            // `pid (comm) S ...`: the state follows the last `)`.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
                .is_none_or(|state| state == 'Z' || state == 'X')
        });
        let ours = fs::read(proc.join("cmdline")).is_ok_and(|cmdline| {
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.contains("kafka.Kafka") && cmdline.contains(&*self.dir.to_string_lossy())
        });
        !zombie && ours
    }
}

/// Where the running broker is recorded.
fn state_file(workspace: &Workspace) -> PathBuf {
    workspace
        .root()
        .join("target")
        .join("xtask")
        .join("broker")
        .join("state")
}

/// The broker recorded as running, if its process is alive.
pub(crate) fn running(workspace: &Workspace) -> Result<Option<Broker>> {
    let path = state_file(workspace);
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(None);
    };
    let broker = Broker::from_state(&text)
        .with_context(|| format!("{} is not a broker state file", path.display()))?;
    Ok(broker.is_alive().then_some(broker))
}

/// Starts a broker, or returns the one already running.
pub(crate) fn start(workspace: &Workspace) -> Result<Broker> {
    if let Some(broker) = running(workspace)? {
        eprintln!("broker: already running: {broker}");
        return Ok(broker);
    }
    let libs = fetch(workspace)?;
    let (port, controller_port) = (free_port()?, free_port()?);
    let dir = env::temp_dir().join(format!("runner-kafka-broker-{port}"));
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir.join("data")).with_context(|| format!("creating {}", dir.display()))?;
    let properties = dir.join("server.properties");
    fs::write(&properties, server_properties(&dir, port, controller_port))?;
    fs::write(dir.join("log4j2.properties"), log4j2_properties(&dir))?;

    let classpath = format!("{}/*", libs.display());
    let format = Command::new("java")
        .args(["-cp", &classpath, "kafka.tools.StorageTool", "format", "-t"])
        .arg(cluster_id()?)
        .arg("-c")
        .arg(&properties)
        .stdin(Stdio::null())
        .output()
        .context("running java (kafka.tools.StorageTool format)")?;
    if !format.status.success() {
        bail!(
            "formatting the broker's storage failed ({}):\n{}{}",
            format.status,
            String::from_utf8_lossy(&format.stdout),
            String::from_utf8_lossy(&format.stderr)
        );
    }

    let out = fs::File::create(dir.join("out.log"))?;
    let child = Command::new("java")
        .arg("-Xms256m")
        .arg("-Xmx512m")
        .arg(format!("-Dkafka.logs.dir={}", dir.display()))
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            dir.join("log4j2.properties").display()
        ))
        .args(["-cp", &classpath, "kafka.Kafka"])
        .arg(&properties)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        // Its own process group: a Ctrl-C meant for xtask does not reach it, and it outlives
        // `cargo xtask broker start`.
        .process_group(0)
        .spawn()
        .context("starting java (kafka.Kafka)")?;
    let broker = Broker {
        pid: child.id(),
        bootstrap: format!("127.0.0.1:{port}"),
        dir,
    };
    let state = state_file(workspace);
    if let Some(parent) = state.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(&state, broker.to_state())?;

    let started = Instant::now();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        // The client port opens once the broker is unfenced: it answers requests.
        if TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok() {
            eprintln!(
                "broker: started in {:.1}s: {broker}",
                started.elapsed().as_secs_f64()
            );
            return Ok(broker);
        }
        if !broker.is_alive() || started.elapsed() > START_BUDGET {
            let why = if broker.is_alive() {
                format!("did not answer within {}s", START_BUDGET.as_secs())
            } else {
                "exited".to_owned()
            };
            let log =
                tail(&broker.dir.join("out.log"), 20) + &tail(&broker.dir.join("server.log"), 20);
            let _ = stop(workspace);
            bail!("the broker {why}; its last log lines:\n{log}");
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `work` with a broker: the one running, or one started for it and stopped after it
/// (whatever `work` returned).
pub(crate) fn with_broker<T>(
    workspace: &Workspace,
    work: impl FnOnce(&Broker) -> Result<T>,
) -> Result<T> {
    let already = running(workspace)?.is_some();
    let broker = start(workspace)?;
    let outcome = work(&broker);
    if !already {
        stop(workspace)?;
    }
    outcome
}

/// Stops the broker [`start`] recorded: SIGTERM, SIGKILL after [`STOP_BUDGET`]; removes its
/// directory. `false` when none was running.
pub(crate) fn stop(workspace: &Workspace) -> Result<bool> {
    let path = state_file(workspace);
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(false);
    };
    let broker = Broker::from_state(&text)
        .with_context(|| format!("{} is not a broker state file", path.display()))?;
    let was_alive = broker.is_alive();
    if was_alive {
        signal(broker.pid, "TERM")?;
        let asked = Instant::now();
        while broker.is_alive() && asked.elapsed() < STOP_BUDGET {
            thread::sleep(Duration::from_millis(100));
        }
        if broker.is_alive() {
            eprintln!(
                "broker: still running {}s after SIGTERM: SIGKILL",
                STOP_BUDGET.as_secs()
            );
            signal(broker.pid, "KILL")?;
        }
    }
    if broker.dir.exists() {
        fs::remove_dir_all(&broker.dir)
            .with_context(|| format!("removing {}", broker.dir.display()))?;
    }
    fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    Ok(was_alive)
}

/// Sends `signal` to `pid` with kill(1).
fn signal(pid: u32, signal: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("kill -{signal} {pid} failed ({status})");
    }
    Ok(())
}

/// The broker's jars, fetched with Maven on first use.
fn fetch(workspace: &Workspace) -> Result<PathBuf> {
    let home = workspace
        .root()
        .join("target")
        .join("xtask")
        .join(format!("kafka-{KAFKA_VERSION}"));
    let libs = home.join("libs");
    let complete = home.join("complete");
    if complete.is_file() {
        return Ok(libs);
    }
    prereq::ensure(&[("java", "openjdk-17-jre-headless"), ("mvn", "maven")])?;
    java_is_recent_enough()?;
    println!(
        "==> fetching Apache Kafka {KAFKA_VERSION} with Maven into {}",
        libs.display()
    );
    fs::create_dir_all(&home)?;
    fs::write(home.join("pom.xml"), pom())?;
    let partial = home.join("libs.partial");
    if partial.exists() {
        fs::remove_dir_all(&partial)?;
    }
    let output = Command::new("mvn")
        .args(["-B", "-q", "-f"])
        .arg(home.join("pom.xml"))
        .arg(COPY_DEPENDENCIES)
        .arg("-DincludeScope=runtime")
        .arg(format!("-DoutputDirectory={}", partial.display()))
        .stdin(Stdio::null())
        .output()
        .context("running mvn")?;
    if !output.status.success() {
        bail!(
            "Maven could not fetch Apache Kafka {KAFKA_VERSION} (org.apache.kafka:kafka_2.13 and \
             log4j {LOG4J_VERSION}); is the Maven registry reachable? mvn said ({}):\n{}{}",
            output.status,
            last_lines(&String::from_utf8_lossy(&output.stdout), 30),
            last_lines(&String::from_utf8_lossy(&output.stderr), 30)
        );
    }
    if libs.exists() {
        fs::remove_dir_all(&libs)?;
    }
    fs::rename(&partial, &libs)?;
    fs::write(&complete, "")?;
    Ok(libs)
}

/// Kafka 4 needs Java 17 or later.
fn java_is_recent_enough() -> Result<()> {
    let output = Command::new("java")
        .arg("-version")
        .output()
        .context("running java -version")?;
    // `openjdk version "17.0.15" 2025-04-15` (on stderr).
    let text = String::from_utf8_lossy(&output.stderr);
    let major = java_major(&text)
        .with_context(|| format!("cannot read the Java version from `java -version`: {text}"))?;
    if major < 17 {
        bail!("Apache Kafka {KAFKA_VERSION} needs Java 17 or later; `java` is Java {major}");
    }
    Ok(())
}

/// The major version in `java -version`'s output.
fn java_major(text: &str) -> Option<u32> {
    let quoted = text.split('"').nth(1)?;
    let mut parts = quoted.split('.');
    match parts.next()?.parse().ok()? {
        1 => parts.next()?.parse().ok(), // 1.8.0_x is Java 8
        major => Some(major),
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A cluster id: 16 random bytes, URL-safe base64 without padding, without `-` (Kafka's own
/// tool rejects those).
fn cluster_id() -> Result<String> {
    let mut urandom = fs::File::open("/dev/urandom").context("opening /dev/urandom")?;
    loop {
        let mut bytes = [0_u8; 16];
        urandom.read_exact(&mut bytes)?;
        let id = base64_url(&bytes);
        if !id.contains('-') {
            return Ok(id);
        }
    }
}

/// URL-safe base64 without padding.
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0_u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// A broker sized for tests: one node, one replica, no initial rebalance delay, small
/// segments, two network and io threads.
fn server_properties(dir: &Path, port: u16, controller_port: u16) -> String {
    format!(
        "process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.quorum.voters=1@127.0.0.1:{controller_port}
log.dirs={data}
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.segment.bytes=16777216
log.cleaner.dedupe.buffer.size=2097152
num.network.threads=2
num.io.threads=2
",
        data = dir.join("data").display()
    )
}

/// The broker's log goes to `server.log` in its directory.
fn log4j2_properties(dir: &Path) -> String {
    format!(
        "status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
",
        log = dir.join("server.log").display()
    )
}

/// The throwaway POM whose runtime dependencies are the broker.
fn pom() -> String {
    format!(
        r#"<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>runner.xtask</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>{LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>{LOG4J_VERSION}</version></dependency>
  </dependencies>
</project>
"#
    )
}

/// The last `n` lines of the file at `path` (empty if it cannot be read).
fn tail(path: &Path, n: usize) -> String {
    fs::read_to_string(path).map_or_else(|_| String::new(), |text| last_lines(&text, n))
}

/// The last `n` lines of `text`, each ending in a newline.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|line| format!("{line}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<BrokerCommand>, UsageError> {
        BrokerCommand::parse(&args.iter().map(ToString::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn subcommands_parse_and_mistakes_are_usage_errors() {
        assert_eq!(parse(&["start"]).unwrap(), Some(BrokerCommand::Start));
        assert_eq!(parse(&["stop"]).unwrap(), Some(BrokerCommand::Stop));
        assert_eq!(parse(&["status"]).unwrap(), Some(BrokerCommand::Status));
        assert_eq!(parse(&["--help"]).unwrap(), None);
        assert!(
            parse(&[])
                .unwrap_err()
                .to_string()
                .contains("start, stop or status")
        );
        assert!(
            parse(&["restart"])
                .unwrap_err()
                .to_string()
                .contains("restart")
        );
        assert!(
            parse(&["start", "now"])
                .unwrap_err()
                .to_string()
                .contains("now")
        );
    }

    #[test]
    fn the_state_file_round_trips() {
        let broker = Broker {
            pid: 4242,
            bootstrap: "127.0.0.1:39092".to_owned(),
            dir: PathBuf::from("/tmp/runner-kafka-broker-39092"),
        };
        assert_eq!(Broker::from_state(&broker.to_state()), Some(broker));
        assert_eq!(Broker::from_state("pid=x\n"), None);
    }

    #[test]
    fn a_process_that_is_not_the_broker_is_not_alive() {
        let broker = Broker {
            pid: std::process::id(),
            bootstrap: "127.0.0.1:1".to_owned(),
            dir: PathBuf::from("/nonexistent/runner-kafka-broker"),
        };
        assert!(!broker.is_alive(), "this test process is not a broker");
    }

    #[test]
    fn base64_url_matches_known_vectors() {
        assert_eq!(base64_url(b""), "");
        assert_eq!(base64_url(b"f"), "Zg");
        assert_eq!(base64_url(b"fo"), "Zm8");
        assert_eq!(base64_url(b"foo"), "Zm9v");
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64_url(&[0_u8; 16]).len(), 22);
    }

    #[test]
    fn cluster_ids_are_22_characters_without_dashes() {
        for _ in 0..50 {
            let id = cluster_id().unwrap();
            assert_eq!(id.len(), 22, "{id}");
            assert!(!id.contains('-'), "{id}");
        }
    }

    #[test]
    fn java_versions_are_read_from_both_schemes() {
        assert_eq!(
            java_major("openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime"),
            Some(17)
        );
        assert_eq!(java_major("java version \"1.8.0_392\""), Some(8));
        assert_eq!(java_major("openjdk version \"25\" 2025-09-16"), Some(25));
        assert_eq!(java_major("no version here"), None);
    }

    #[test]
    fn the_properties_name_the_ports_and_directory() {
        let text = server_properties(Path::new("/tmp/b"), 1000, 1001);
        assert!(text.contains("listeners=PLAINTEXT://127.0.0.1:1000,CONTROLLER://127.0.0.1:1001"));
        assert!(text.contains("controller.quorum.voters=1@127.0.0.1:1001"));
        assert!(text.contains("log.dirs=/tmp/b/data"));
        assert!(text.contains("group.initial.rebalance.delay.ms=0"));
    }
}
