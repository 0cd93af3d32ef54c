//! A process seen from outside: resident memory and CPU time from /proc, sampled every 200 ms
//! while it runs, and when it went idle.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One reading of /proc/<pid>/{status,stat}.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// VmRSS, KiB.
    pub rss_kib: u64,
    /// VmHWM (peak RSS so far), KiB.
    pub hwm_kib: u64,
    /// utime + stime, clock ticks.
    pub cpu_ticks: u64,
}

pub fn read(pid: u32) -> std::io::Result<Reading> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (rss_kib, hwm_kib) = parse_status(&status);
    Ok(Reading {
        rss_kib,
        hwm_kib,
        cpu_ticks: parse_stat_cpu(&stat).unwrap_or(0),
    })
}

/// Clock ticks per second (USER_HZ).
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// (VmRSS, VmHWM) in KiB.
fn parse_status(text: &str) -> (u64, u64) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// utime + stime: fields 14 and 15 of /proc/<pid>/stat, counted after the `(comm)` field,
/// which may itself hold spaces and parentheses.
fn parse_stat_cpu(text: &str) -> Option<u64> {
    let after = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): utime is field 14, index 11 here.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// A reading `at_ms` after sampling began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    pub at_ms: u64,
    pub reading: Reading,
}

/// Samples a process every `every` until it exits or the sampler is dropped.
pub struct Sampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    pub fn start(pid: u32, started: Instant, every: Duration) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let out = samples.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Ok(reading) = read(pid) else { break };
                let at_ms = started.elapsed().as_millis() as u64;
                out.lock().unwrap().push(Sample { at_ms, reading });
            }
        });
        Sampler { samples, task }
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }

    pub fn last(&self) -> Option<Sample> {
        self.samples.lock().unwrap().last().copied()
    }

    /// The highest VmHWM seen: the peak RSS of the process's life so far.
    pub fn peak_kib(&self) -> u64 {
        let s = self.samples.lock().unwrap();
        s.iter()
            .map(|s| s.reading.hwm_kib.max(s.reading.rss_kib))
            .max()
            .unwrap_or(0)
    }

    /// Waits until the process has used at most `max_share` of one CPU over the last `window`
    /// (it has gone idle), up to `timeout`. Returns when, after the sampler's start, the quiet
    /// stretch began, or `None` on timeout.
    pub async fn wait_idle(
        &self,
        window: Duration,
        max_share: f64,
        timeout: Duration,
    ) -> Option<Duration> {
        let deadline = Instant::now() + timeout;
        let max_ticks =
            (max_share * window.as_secs_f64() * ticks_per_second() as f64).floor() as u64;
        loop {
            let found = idle_since(&self.samples(), window.as_millis() as u64, max_ticks);
            if let Some(ms) = found {
                return Some(Duration::from_millis(ms));
            }
            if Instant::now() >= deadline || self.task.is_finished() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// When the quiet stretch at the end of `samples` began, if it is at least `window_ms` long: the
/// earliest sample since which the CPU counter rose by at most `max_ticks`.
pub fn idle_since(samples: &[Sample], window_ms: u64, max_ticks: u64) -> Option<u64> {
    let last = samples.last()?;
    let start = samples.iter().find(|s| {
        last.reading.cpu_ticks - s.reading.cpu_ticks.min(last.reading.cpu_ticks) <= max_ticks
    })?;
    (last.at_ms - start.at_ms >= window_ms).then_some(start.at_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let status =
            "Name:\tcertsmith\nVmPeak:\t  900 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   30720 kB\n";
        assert_eq!(parse_status(status), (30720, 40960));
        assert_eq!(parse_status("Name: x\n"), (0, 0));
        // comm with a space and a parenthesis; utime 120, stime 30
        let stat =
            "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 120 30 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_stat_cpu(stat), Some(150));
        assert_eq!(parse_stat_cpu("garbage"), None);
    }

    #[test]
    fn idle_is_the_start_of_a_quiet_stretch_long_enough() {
        let s = |at_ms, cpu_ticks| Sample {
            at_ms,
            reading: Reading {
                cpu_ticks,
                ..Reading::default()
            },
        };
        let busy_then_quiet = [
            s(0, 0),
            s(200, 20),
            s(400, 40),
            s(600, 41),
            s(800, 41),
            s(1000, 41),
            s(1600, 42),
        ];
        let cases: [(&[Sample], u64, u64, Option<u64>); 5] = [
            (&[], 1000, 2, None),
            (&busy_then_quiet, 1000, 2, Some(400)),
            (&busy_then_quiet, 1000, 0, None),
            (&busy_then_quiet[..6], 1000, 2, None),
            (&[s(0, 5), s(1200, 5)], 1000, 0, Some(0)),
        ];
        for (samples, window, max, want) in cases {
            assert_eq!(idle_since(samples, window, max), want, "{samples:?}");
        }
    }
}
