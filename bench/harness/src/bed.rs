//! The bench's private test bed (hack/testenv.sh with its own state directory and ports, set up
//! by bench/run.sh): resetting it to an empty cluster, installing the CRDs, and the pids of its
//! kube-apiserver and etcd (for their CPU time).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct Bed {
    pub repo: PathBuf,
    pub state: PathBuf,
}

impl Bed {
    pub fn from_env(repo: &Path) -> Result<Bed, String> {
        let state = std::env::var("CERTSMITH_TESTENV_DIR").map_err(|_| {
            "CERTSMITH_TESTENV_DIR is not set: run the bench through bench/run.sh".to_owned()
        })?;
        Ok(Bed {
            repo: repo.to_owned(),
            state: PathBuf::from(state),
        })
    }

    fn testenv(&self, cmd: &str) -> Result<(), String> {
        let log = self
            .state
            .join("logs")
            .join(format!("bench-testenv-{cmd}.log"));
        let _ = std::fs::create_dir_all(self.state.join("logs"));
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let status = std::process::Command::new("bash")
            .arg(self.repo.join("hack/testenv.sh"))
            .arg(cmd)
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .status()
            .map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "hack/testenv.sh {cmd} failed; see {}",
                log.display()
            ))
        }
    }

    /// An empty cluster: `reset` (down, forget etcd's data), `up`, CRDs. Returns what it cost.
    pub fn reset(&self) -> Result<Duration, String> {
        let t0 = Instant::now();
        self.testenv("reset")?;
        self.testenv("up")?;
        self.install_crds()?;
        Ok(t0.elapsed())
    }

    /// Applies crds/ (server-side) and waits until they are Established.
    pub fn install_crds(&self) -> Result<(), String> {
        let kubectl = |args: &[&str]| {
            let out = std::process::Command::new("kubectl")
                .args(args)
                .output()
                .map_err(|e| format!("kubectl: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "kubectl {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        let crds = self.repo.join("crds");
        let crds = crds.to_string_lossy();
        kubectl(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=certsmith-bench",
            "-f",
            &crds,
        ])?;
        kubectl(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "-f",
            &crds,
        ])
    }

    /// The pid of a bed part (`kube-apiserver`, `etcd`) as hack/testenv.sh recorded it.
    pub fn pid(&self, part: &str) -> Option<u32> {
        let text =
            std::fs::read_to_string(self.state.join("run").join(format!("{part}.pid"))).ok()?;
        text.split_whitespace().next()?.parse().ok()
    }
}
