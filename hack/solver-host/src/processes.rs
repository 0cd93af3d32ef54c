//! The kubelet's part: one real `certsmith acmesolver` process per solver Pod, started with the
//! Pod's container arguments (its `--listen-port` rewritten to a free loopback port), restarted
//! on failure (restartPolicy OnFailure), stopped with SIGTERM when the Pod goes away.
//!
//! A Pod in a Terminating namespace counts as gone: the bed has no namespace controller, so such
//! Pods would otherwise run forever.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::{Container, Namespace, Pod};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::Store;
use serde_json::json;
use tokio::process::{Child, Command};
use tokio::sync::Notify;

/// The flag cert-manager's (and certsmith's) acmesolver takes its port from.
const PORT_FLAG: &str = "--listen-port";
/// The port when the Pod's arguments name none (the acmesolver's default).
const DEFAULT_PORT: i32 = 8089;
/// How long a stopped process gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// What runs for one Pod.
enum Entry {
    Running {
        child: Child,
        /// The port the Pod's arguments asked for (its container port) and the one it got.
        pod_port: i32,
        port: u16,
        restarts: u32,
    },
    /// Exited (or never started); started again at `retry` unless it finished cleanly.
    Down {
        retry: Option<Instant>,
        restarts: u32,
    },
}

/// Processes by Pod uid; shared with the proxy.
#[derive(Clone, Default)]
pub struct Table {
    inner: Arc<Mutex<BTreeMap<String, (String, Entry)>>>,
}

impl Table {
    /// The loopback port of the process serving `container_port` of the Pod `uid`.
    pub fn lookup(&self, uid: &str, container_port: i32) -> Result<u16, String> {
        let table = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match table.get(uid) {
            Some((_, Entry::Running { pod_port, port, .. })) if *pod_port == container_port => {
                Ok(*port)
            }
            Some((_, Entry::Running { pod_port, .. })) => Err(format!(
                "its acmesolver listens on container port {pod_port}, not {container_port}"
            )),
            Some((_, Entry::Down { .. })) => {
                Err("its acmesolver process is not running (see the log above)".into())
            }
            None => Err("no acmesolver process was started for it".into()),
        }
    }

    pub fn running(&self) -> usize {
        let table = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        table
            .values()
            .filter(|(_, e)| matches!(e, Entry::Running { .. }))
            .count()
    }
}

/// The certsmith binary to run: `$CERTSMITH_SOLVER_BIN`, else the newer of
/// `<repo>/target/release/certsmith` and `<repo>/target/debug/certsmith`.
pub fn solver_binary(repo: &Path) -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("CERTSMITH_SOLVER_BIN") {
        let bin = PathBuf::from(bin);
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!(
                "CERTSMITH_SOLVER_BIN={} is not a file",
                bin.display()
            ))
        };
    }
    let candidates = ["release", "debug"].map(|p| repo.join("target").join(p).join("certsmith"));
    candidates
        .iter()
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, p)| p.clone())
        .ok_or_else(|| {
            format!(
                "no certsmith binary: neither {} nor {} exists (run `cargo build`, or set CERTSMITH_SOLVER_BIN)",
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

/// The process's arguments: the container's (after `command[0]`, the image's binary), with
/// `--listen-port` set to `port` and the listen address to loopback. Also returns the port the
/// Pod asked for.
pub fn solver_argv(container: &Container, port: u16) -> (Vec<String>, i32) {
    let mut argv: Vec<String> = container
        .command
        .iter()
        .flatten()
        .skip(1)
        .cloned()
        .collect();
    argv.extend(container.args.iter().flatten().cloned());
    let mut pod_port = DEFAULT_PORT;
    let mut out = Vec::with_capacity(argv.len() + 2);
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        if let Some(v) = arg
            .strip_prefix(PORT_FLAG)
            .and_then(|r| r.strip_prefix('='))
        {
            pod_port = v.parse().unwrap_or(DEFAULT_PORT);
        } else if arg == PORT_FLAG {
            pod_port = it
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_PORT);
        } else if !arg.starts_with("--listen-address") {
            out.push(arg);
        }
    }
    out.push(format!("{PORT_FLAG}={port}"));
    out.push("--listen-address=127.0.0.1".to_owned());
    (out, pod_port)
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

fn restart_delay(restarts: u32) -> Duration {
    Duration::from_millis(500 * 2u64.pow(restarts.min(5)))
}

/// Keeps the processes in line with the solver Pods until `stop` is notified, then stops them.
pub struct Supervisor {
    pub client: kube::Client,
    pub pods: Store<Pod>,
    pub namespaces: Store<Namespace>,
    pub table: Table,
    pub repo: PathBuf,
    pub mark_status: bool,
    /// Only Pods in namespaces whose name starts with this (a private instance next to the
    /// bed's own leaves the other Pods to it).
    pub namespace_prefix: Option<String>,
}

impl Supervisor {
    pub async fn run(self, wake: Arc<Notify>, stop: Arc<Notify>) {
        loop {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                () = stop.notified() => break,
            }
            self.reconcile();
        }
        self.stop_all().await;
    }

    fn wanted(&self) -> Vec<Arc<Pod>> {
        let terminating: HashSet<String> = self
            .namespaces
            .state()
            .iter()
            .filter(|n| n.metadata.deletion_timestamp.is_some())
            .filter_map(|n| n.metadata.name.clone())
            .collect();
        self.pods
            .state()
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| !terminating.contains(p.metadata.namespace.as_deref().unwrap_or("")))
            .filter(|p| p.metadata.uid.is_some())
            .filter(|p| {
                self.namespace_prefix.as_deref().is_none_or(|prefix| {
                    p.metadata
                        .namespace
                        .as_deref()
                        .is_some_and(|ns| ns.starts_with(prefix))
                })
            })
            .collect()
    }

    fn reconcile(&self) {
        let wanted = self.wanted();
        let mut table = self.table.inner.lock().unwrap_or_else(|e| e.into_inner());
        let keep: HashSet<&str> = wanted
            .iter()
            .filter_map(|p| p.metadata.uid.as_deref())
            .collect();
        let gone: Vec<String> = table
            .keys()
            .filter(|uid| !keep.contains(uid.as_str()))
            .cloned()
            .collect();
        for uid in gone {
            if let Some((name, Entry::Running { child, .. })) = table.remove(&uid) {
                tokio::spawn(stop(name, child));
            }
        }
        for pod in wanted {
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let name = pod_name(&pod);
            let now = Instant::now();
            let restarts = match table.get_mut(&uid) {
                None => 0,
                Some((
                    _,
                    Entry::Running {
                        child, restarts, ..
                    },
                )) => match child.try_wait() {
                    Ok(None) => continue,
                    Ok(Some(status)) => {
                        let restarts = *restarts;
                        let retry = (!status.success()).then(|| now + restart_delay(restarts));
                        tracing::warn!(pod = %name, %status, restart = retry.is_some(), "acmesolver exited");
                        self.mark(&pod, Some(status), restarts);
                        table.insert(
                            uid,
                            (
                                name,
                                Entry::Down {
                                    retry,
                                    restarts: restarts + 1,
                                },
                            ),
                        );
                        continue;
                    }
                    Err(err) => {
                        tracing::warn!(pod = %name, %err, "checking the acmesolver process failed");
                        continue;
                    }
                },
                Some((
                    _,
                    Entry::Down {
                        retry: Some(at),
                        restarts,
                    },
                )) if *at <= now => *restarts,
                Some((_, Entry::Down { .. })) => continue,
            };
            let entry = match self.start(&pod, &name) {
                Ok((child, pod_port, port)) => {
                    self.mark(&pod, None, restarts);
                    Entry::Running {
                        child,
                        pod_port,
                        port,
                        restarts,
                    }
                }
                Err(err) => {
                    tracing::error!(pod = %name, "cannot start acmesolver: {err}");
                    Entry::Down {
                        retry: Some(now + restart_delay(restarts)),
                        restarts: restarts + 1,
                    }
                }
            };
            table.insert(uid, (name, entry));
        }
    }

    fn start(&self, pod: &Pod, name: &str) -> Result<(Child, i32, u16), String> {
        let bin = solver_binary(&self.repo)?;
        let container = pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .ok_or("the Pod has no container")?;
        let port = free_port().map_err(|e| format!("finding a free port: {e}"))?;
        let (argv, pod_port) = solver_argv(container, port);
        let child = Command::new(&bin)
            .args(&argv)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("running {}: {e}", bin.display()))?;
        let age = bin
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .map(|d| format!("{}s", d.as_secs()))
            .unwrap_or_default();
        tracing::info!(
            pod = %name,
            pid = child.id().unwrap_or(0),
            port,
            pod_port,
            bin = %bin.display(),
            bin_age = age,
            "started acmesolver"
        );
        Ok((child, pod_port, port))
    }

    /// Writes a kubelet-like status: Running and Ready while the process runs, Succeeded after a
    /// clean exit, not Ready after a failed one. Best effort.
    fn mark(&self, pod: &Pod, exited: Option<ExitStatus>, restarts: u32) {
        if !self.mark_status {
            return;
        }
        let (Some(ns), Some(name)) = (pod.metadata.namespace.clone(), pod.metadata.name.clone())
        else {
            return;
        };
        let now = jiff::Timestamp::now().to_string();
        let container = pod.spec.as_ref().and_then(|s| s.containers.first());
        let cname = container.map(|c| c.name.clone()).unwrap_or_default();
        let image = container.and_then(|c| c.image.clone()).unwrap_or_default();
        let ready = exited.is_none();
        let cond = |t: &str, ok: bool| json!({"type": t, "status": if ok { "True" } else { "False" }, "lastTransitionTime": now});
        let (phase, state) = match exited {
            None => ("Running", json!({"running": {"startedAt": now}})),
            Some(s) => (
                if s.success() { "Succeeded" } else { "Running" },
                json!({"terminated": {"exitCode": s.code().unwrap_or(-1), "finishedAt": now, "reason": if s.success() { "Completed" } else { "Error" }}}),
            ),
        };
        let status = json!({"status": {
            "phase": phase,
            "hostIP": "127.0.0.1",
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": pod.status.as_ref().and_then(|s| s.start_time.clone()).map_or(now.clone(), |t| t.0.to_string()),
            "conditions": [cond("PodScheduled", true), cond("Initialized", true), cond("ContainersReady", ready), cond("Ready", ready)],
            "containerStatuses": [{
                "name": cname, "image": image, "imageID": "", "ready": ready, "started": ready,
                "restartCount": restarts, "state": state,
            }],
        }});
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        tokio::spawn(async move {
            if let Err(err) = api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await
            {
                tracing::debug!(pod = %format!("{ns}/{name}"), %err, "writing the Pod status failed");
            }
        });
    }

    async fn stop_all(&self) {
        let entries: Vec<(String, Entry)> = {
            let mut table = self.table.inner.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *table).into_values().collect()
        };
        let stops = entries.into_iter().filter_map(|(name, e)| match e {
            Entry::Running { child, .. } => Some(stop(name, child)),
            Entry::Down { .. } => None,
        });
        futures::future::join_all(stops).await;
    }
}

fn pod_name(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.name.as_deref().unwrap_or("")
    )
}

/// SIGTERM, then SIGKILL after the grace period, as the kubelet does.
async fn stop(name: String, mut child: Child) {
    let Some(pid) = child.id() else { return };
    // SAFETY: kill(2) on the pid of a child we have not reaped yet (so not reused).
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(Ok(status)) => {
            tracing::info!(pod = %name, pid, %status, "stopped acmesolver (Pod gone)")
        }
        _ => {
            let _ = child.kill().await;
            tracing::warn!(pod = %name, pid, "acmesolver ignored SIGTERM; killed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(command: Option<&[&str]>, args: &[&str]) -> Container {
        Container {
            name: "acmesolver".into(),
            command: command.map(|c| c.iter().map(|s| (*s).to_owned()).collect()),
            args: Some(args.iter().map(|s| (*s).to_owned()).collect()),
            ..Container::default()
        }
    }

    #[test]
    fn argv_table() {
        let cases: Vec<(Container, Vec<&str>, i32)> = vec![
            (
                container(
                    None,
                    &[
                        "acmesolver",
                        "--listen-port=8089",
                        "--domain=a",
                        "--token=t",
                        "--key=k",
                    ],
                ),
                vec![
                    "acmesolver",
                    "--domain=a",
                    "--token=t",
                    "--key=k",
                    "--listen-port=4000",
                    "--listen-address=127.0.0.1",
                ],
                8089,
            ),
            (
                container(None, &["acmesolver", "--listen-port", "9000", "--domain=a"]),
                vec![
                    "acmesolver",
                    "--domain=a",
                    "--listen-port=4000",
                    "--listen-address=127.0.0.1",
                ],
                9000,
            ),
            (
                container(
                    Some(&["/certsmith", "acmesolver"]),
                    &["--domain=a", "--listen-address=::"],
                ),
                vec![
                    "acmesolver",
                    "--domain=a",
                    "--listen-port=4000",
                    "--listen-address=127.0.0.1",
                ],
                8089,
            ),
        ];
        for (c, want, port) in cases {
            let (argv, pod_port) = solver_argv(&c, 4000);
            assert_eq!(argv, want);
            assert_eq!(pod_port, port);
        }
    }

    #[test]
    fn binary_lookup_prefers_the_newer_build() {
        let dir = std::env::temp_dir().join(format!("solver-host-test-{}", std::process::id()));
        let release = dir.join("target/release");
        let debug = dir.join("target/debug");
        std::fs::create_dir_all(&release).unwrap();
        std::fs::create_dir_all(&debug).unwrap();
        assert!(
            solver_binary(&dir)
                .unwrap_err()
                .contains("no certsmith binary")
        );
        std::fs::write(release.join("certsmith"), "").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(debug.join("certsmith"), "").unwrap();
        assert_eq!(solver_binary(&dir).unwrap(), debug.join("certsmith"));
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(release.join("certsmith"), "x").unwrap();
        assert_eq!(solver_binary(&dir).unwrap(), release.join("certsmith"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn restart_backoff_is_bounded() {
        assert_eq!(restart_delay(0), Duration::from_millis(500));
        assert_eq!(restart_delay(1), Duration::from_secs(1));
        assert_eq!(restart_delay(30), Duration::from_secs(16));
    }
}
