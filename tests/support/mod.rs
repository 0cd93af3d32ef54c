//! Finding and using the local test bed (hack/testenv.sh) from integration tests.
//!
//! The bed writes an env file; tests read it to find the kubeconfig, kubectl, helm, Pebble and
//! BIND. When the bed is not up, a test fails with the command that starts it: integration
//! tests never pass without the real components.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod certs;
pub mod values;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::sync::OnceCell;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test bed's settings, read from its env file.
pub struct TestBed {
    vars: HashMap<String, String>,
}

impl TestBed {
    /// Reads the env file of a running bed, or panics saying how to start one.
    pub fn get() -> Self {
        let dir = std::env::var_os("CERTSMITH_TESTENV_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target/testenv"));
        let file = dir.join("env");
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "the test bed is not up ({} unreadable: {e}). Start it with `hack/testenv.sh up`, \
                 or run the whole suite with `hack/test.sh`.",
                file.display()
            )
        });
        let bed = Self {
            vars: parse_env_file(&text),
        };
        bed.require_apiserver();
        bed
    }

    /// A variable of the env file, or a panic naming it.
    pub fn var(&self, name: &str) -> &str {
        self.vars.get(name).unwrap_or_else(|| {
            panic!("the test bed's env file has no {name}: re-run `hack/testenv.sh up`")
        })
    }

    pub fn kubeconfig(&self) -> &Path {
        Path::new(self.var("KUBECONFIG"))
    }

    fn require_apiserver(&self) {
        let out = Command::new(self.var("KUBECTL"))
            .args([
                "--kubeconfig",
                self.var("KUBECONFIG"),
                "get",
                "--raw",
                "/readyz",
            ])
            .output()
            .expect("running kubectl from the test bed");
        assert!(
            out.status.success(),
            "the test bed's kube-apiserver is not answering: {}\nRestart it with `hack/testenv.sh up`.",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A client for the bed's kube-apiserver, bound to the calling test's runtime.
    pub async fn client(&self) -> Client {
        let kubeconfig =
            Kubeconfig::read_from(self.kubeconfig()).expect("reading the bed's kubeconfig");
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("loading the bed's kubeconfig");
        Client::try_from(config).expect("building a client for the bed")
    }

    /// Runs kubectl against the bed; returns (success, stdout, stderr).
    pub fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        run(Command::new(self.var("KUBECTL"))
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args))
    }

    /// Runs helm against the bed; returns (success, stdout, stderr).
    pub fn helm(&self, args: &[&str]) -> (bool, String, String) {
        run(Command::new(self.var("HELM"))
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args))
    }
}

/// Runs a command to completion; returns (success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Parses `export NAME=value` lines (values may be single- or double-quoted).
fn parse_env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("export "))
        .flat_map(|rest| rest.split_whitespace()) // several NAME=value on one line
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                v.trim_matches(|c| c == '"' || c == '\'').to_owned(),
            )
        })
        .collect()
}

static CRDS_INSTALLED: OnceCell<()> = OnceCell::const_new();

/// Applies crds/*.yaml (what users apply) once per test binary and waits until every CRD is
/// Established.
pub async fn install_crds(client: &Client) {
    CRDS_INSTALLED
        .get_or_init(|| async {
            let api: Api<CustomResourceDefinition> = Api::all(client.clone());
            let params = PatchParams::apply("certsmith-tests").force();
            let mut names = Vec::new();
            for crd in committed_crds() {
                let name = crd.metadata.name.clone().expect("CRD has a name");
                api.patch(&name, &params, &Patch::Apply(&crd))
                    .await
                    .unwrap_or_else(|e| panic!("applying CRD {name}: {e}"));
                names.push(name);
            }
            for name in names {
                wait_established(&api, &name).await;
            }
        })
        .await;
}

/// The CRDs as committed under crds/.
pub fn committed_crds() -> Vec<CustomResourceDefinition> {
    let mut paths: Vec<_> = std::fs::read_dir(repo_root().join("crds"))
        .expect("reading crds/")
        .map(|e| e.expect("crds/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("reading a CRD file");
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", p.display()))
        })
        .collect()
}

async fn wait_established(api: &Api<CustomResourceDefinition>, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let crd = api.get(name).await.expect("reading a CRD back");
        let established = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "CRD {name} not Established after 30s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fresh namespace for one test; `delete_namespace` removes it.
pub async fn fresh_namespace(client: &Client, prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": { "name": name, "labels": { "certsmith.test/ephemeral": "true" } }
    }))
    .expect("namespace object");
    api.create(&PostParams::default(), &ns)
        .await
        .expect("creating a test namespace");
    name
}

/// Deletes a test namespace and what certsmith acts on in it. Best effort: the bed has no
/// namespace controller, so a deleted namespace lingers in Terminating with all its objects,
/// which a controller watching every namespace (a ClusterIssuer test) would otherwise go on
/// reconciling; hence the explicit deletes. Names never clash.
pub async fn delete_namespace(client: &Client, name: &str) {
    use certsmith::api::{Certificate, CertificateRequest, Issuer};
    use k8s_openapi::api::core::v1::Secret;
    let (params, all) = (DeleteParams::default(), ListParams::default());
    let _ = Api::<Certificate>::namespaced(client.clone(), name)
        .delete_collection(&params, &all)
        .await;
    let _ = Api::<CertificateRequest>::namespaced(client.clone(), name)
        .delete_collection(&params, &all)
        .await;
    let _ = Api::<Issuer>::namespaced(client.clone(), name)
        .delete_collection(&params, &all)
        .await;
    let _ = Api::<Secret>::namespaced(client.clone(), name)
        .delete_collection(&params, &all)
        .await;
    let api: Api<Namespace> = Api::all(client.clone());
    let _ = api.delete(name, &params).await;
}

/// Splits a multi-document YAML file into JSON values (skipping empty documents).
pub fn yaml_documents(path: &Path) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// A `certsmith controller` process for one test, killed when dropped.
pub struct ControllerProcess {
    child: std::process::Child,
    pub log: PathBuf,
    /// Where the current process's lines start in `log` (a restart appends).
    log_offset: usize,
    /// The extra arguments and kubeconfig it was started with, for `restart`.
    args: Vec<String>,
    kubeconfig: PathBuf,
}

impl ControllerProcess {
    /// Starts the controller binary against the bed, with extra arguments (e.g.
    /// `--namespace`), logging to target/test-logs/<name>.log.
    pub fn start(bed: &TestBed, name: &str, args: &[&str]) -> Self {
        Self::start_with_kubeconfig(bed.kubeconfig(), name, args)
    }

    /// Like [`ControllerProcess::start`], connecting with another kubeconfig (e.g. one holding
    /// only a ServiceAccount's token, to run under that account's RBAC).
    pub fn start_with_kubeconfig(kubeconfig: &Path, name: &str, args: &[&str]) -> Self {
        let dir = repo_root().join("target/test-logs");
        std::fs::create_dir_all(&dir).expect("creating target/test-logs");
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("creating the controller log");
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let kubeconfig = kubeconfig.to_owned();
        let child = spawn_controller(&kubeconfig, &args, file);
        Self {
            child,
            log,
            log_offset: 0,
            args,
            kubeconfig,
        }
    }

    /// Kills the process with SIGKILL (no graceful shutdown) and reaps it.
    pub fn kill9(&mut self) {
        // `Child::kill` sends SIGKILL on Unix.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the process if it still runs (SIGKILL) and starts it again with the same
    /// arguments, appending to the same log.
    pub fn restart(&mut self) {
        self.kill9();
        self.log_offset = self.log_text().len();
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .expect("opening the controller log to append");
        self.child = spawn_controller(&self.kubeconfig, &self.args, file);
    }

    /// The controller's log so far, for assertion messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id (the controller's Lease identity ends in `_<pid>`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (graceful shutdown) and waits up to `timeout` for the process to exit;
    /// returns its exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// The address a server of the current process bound (`what`: "metrics" or "health
    /// probe"), read from its log after the last (re)start; waits up to 30 s for the line.
    pub async fn listen_address(&self, what: &str) -> std::net::SocketAddr {
        let marker = format!("{what} server listening");
        eventually(Duration::from_secs(30), &marker, || async {
            let log = self.log_text();
            let current = log.get(self.log_offset..).unwrap_or_default();
            current
                .lines()
                .filter(|l| l.contains(&marker))
                .find_map(|l| {
                    l.split("address=")
                        .nth(1)?
                        .split_whitespace()
                        .next()?
                        .parse()
                        .ok()
                })
        })
        .await
    }
}

/// A plain HTTP/1.0 GET: (status code, body). For the controller's metrics and probes.
pub fn http_get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connecting to {address}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").expect("sending the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("reading the response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:.200}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn spawn_controller(
    kubeconfig: &Path,
    args: &[String],
    file: std::fs::File,
) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_certsmith"))
        .arg("controller")
        // One process per test: no leader election and no fixed ports, unless a test's own
        // arguments (which come later and override these) say otherwise.
        .args([
            "--leader-elect=false",
            "--metrics-listen-address=127.0.0.1:0",
            "--healthz-listen-address=127.0.0.1:0",
        ])
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("RUST_LOG", "certsmith=debug,info")
        .stdout(file.try_clone().expect("log file handle"))
        .stderr(file)
        .spawn()
        .expect("starting certsmith controller")
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or panics after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
