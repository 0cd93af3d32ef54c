//! The controller under test: the release binary run as a separate process, one fresh process per
//! run, found on the loopback port it picked (logged), probed on /readyz, read on /metrics,
//! sampled in /proc, and stopped with SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::procfs::Sampler;

/// How often RSS and CPU are read.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(200);

pub struct Controller {
    child: tokio::process::Child,
    pub pid: u32,
    pub started: Instant,
    pub log: PathBuf,
    pub sampler: Sampler,
    address: Option<SocketAddr>,
}

/// Flags every run passes: no leader election (one process, no Lease writes), metrics and
/// probes on one free loopback port (each listener answers every path), JSON logs at warn plus
/// the line that names the port.
pub fn base_args(cluster_resource_namespace: &str) -> Vec<String> {
    [
        "controller",
        "--leader-elect=false",
        "--metrics-listen-address",
        "127.0.0.1:0",
        "--healthz-listen-address",
        "0",
        "--log-format",
        "json",
        "--cluster-resource-namespace",
        cluster_resource_namespace,
    ]
    .map(String::from)
    .to_vec()
}

pub const RUST_LOG: &str = "warn,certsmith::telemetry=info";

/// The controller's log filter: `BENCH_CONTROLLER_LOG` when set (to time a scenario's steps,
/// e.g. `info,certsmith=debug`; more logging costs the controller CPU, so not for figures of
/// record), else `RUST_LOG` above.
fn log_filter() -> String {
    std::env::var("BENCH_CONTROLLER_LOG").unwrap_or_else(|_| RUST_LOG.to_owned())
}

/// Whether the binary knows a flag (its `controller --help` mentions it).
pub async fn supports_flag(bin: &Path, flag: &str) -> bool {
    match tokio::process::Command::new(bin)
        .args(["controller", "--help"])
        .output()
        .await
    {
        Ok(out) => String::from_utf8_lossy(&out.stdout).contains(flag),
        Err(_) => false,
    }
}

impl Controller {
    pub async fn start(bin: &Path, args: &[String], log: PathBuf) -> Result<Controller, String> {
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        let started = Instant::now();
        let child = tokio::process::Command::new(bin)
            .args(args)
            .env("RUST_LOG", log_filter())
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let pid = child.id().ok_or("the controller exited at once")?;
        let sampler = Sampler::start(pid, started, SAMPLE_EVERY);
        Ok(Controller {
            child,
            pid,
            started,
            log,
            sampler,
            address: None,
        })
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The metrics/probe address the controller logged, waiting for it up to `timeout`.
    async fn address(&mut self, timeout: Duration) -> Option<SocketAddr> {
        let deadline = Instant::now() + timeout;
        while self.address.is_none() && Instant::now() < deadline {
            self.address = listening_address(&self.log_text());
            if self.address.is_none() {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.address
    }

    /// Time from process start until /readyz first answers 200 (every informer cache synced);
    /// `None` if it does not within `timeout` or the binary serves no probes.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Option<Duration> {
        let deadline = Instant::now() + timeout;
        let addr = self.address(timeout).await?;
        while Instant::now() < deadline {
            if let Ok((200, _)) = http_get(addr, "/readyz").await {
                return Some(self.started.elapsed());
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    }

    /// The controller's own /metrics text.
    pub async fn metrics(&mut self) -> Option<String> {
        let addr = self.address(Duration::from_secs(5)).await?;
        match http_get(addr, "/metrics").await {
            Ok((200, body)) => Some(body),
            _ => None,
        }
    }

    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Warning and error lines in the log, and how many of them speak of conflicts (an
    /// optimistic-lock failure that surfaced instead of being retried).
    pub fn log_problems(&self) -> (Vec<String>, usize) {
        let mut lines = Vec::new();
        for line in self.log_text().lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if matches!(v["level"].as_str(), Some("WARN" | "ERROR")) {
                lines.push(line.to_owned());
            }
        }
        let conflicts = lines
            .iter()
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("conflict")
                    || l.contains("409")
                    || l.contains("the object has been modified")
            })
            .count();
        (lines, conflicts)
    }

    /// SIGTERM, then SIGKILL after 15 s.
    pub async fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            eprintln!(
                "  controller pid {} ignored SIGTERM for 15 s; killing it",
                self.pid
            );
            let _ = self.child.kill().await;
        }
    }
}

/// `address` of the first "... server listening" JSON log line.
fn listening_address(log: &str) -> Option<SocketAddr> {
    log.lines().find_map(|line| {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let msg = v["message"].as_str().or(v["fields"]["message"].as_str())?;
        if !msg.ends_with("server listening") {
            return None;
        }
        v["address"]
            .as_str()
            .or(v["fields"]["address"].as_str())?
            .parse()
            .ok()
    })
}

/// A one-shot HTTP/1.0 GET on loopback: status code and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let io = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(5), io)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 5 s"))??;
    let text = String::from_utf8_lossy(&buf);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((code, body))
}

/// Sum of a counter in Prometheus text, by the value of one label (`None` sums everything).
pub fn counter_by_label(
    text: &str,
    metric: &str,
    label: &str,
) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(metric) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix('{') else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let key = labels
            .split("\",")
            .find_map(|kv| kv.strip_prefix(&format!("{label}=\"")))
            .map(|v| v.trim_end_matches('"').to_owned())
            .unwrap_or_default();
        *out.entry(key).or_insert(0.0) += value;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_logged_address() {
        let log = r#"not json
{"timestamp":"2026-01-01T00:00:00Z","level":"INFO","message":"health probe server listening","address":"127.0.0.1:40001"}
{"timestamp":"2026-01-01T00:00:00Z","level":"INFO","message":"metrics server listening","address":"127.0.0.1:40002"}"#;
        assert_eq!(
            listening_address(log),
            Some("127.0.0.1:40001".parse().unwrap())
        );
        assert_eq!(listening_address("{\"message\":\"starting\"}"), None);
    }

    #[test]
    fn sums_counters_by_label() {
        let text = r#"# TYPE certmanager_http_acme_client_request_count counter
certmanager_http_acme_client_request_count{scheme="https",host="127.0.0.1:25000",action="new_order",method="POST",status="201"} 5
certmanager_http_acme_client_request_count{scheme="https",host="127.0.0.1:25000",action="order",method="POST",status="200"} 7
certmanager_http_acme_client_request_count{scheme="https",host="127.0.0.1:25000",action="new_order",method="POST",status="429"} 1
certmanager_http_acme_client_request_count_total 3
"#;
        let got = counter_by_label(text, "certmanager_http_acme_client_request_count", "action");
        assert_eq!(got["new_order"], 6.0);
        assert_eq!(got["order"], 7.0);
        assert_eq!(got.len(), 2);
    }
}
