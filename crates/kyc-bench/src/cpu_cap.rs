//! A CPU cap for a child process (Linux control groups, v2 `cpu.max` or v1 CFS quota): several
//! instances measured on a small machine each get a slice of a core, so that the load client and
//! the database keep CPU to spare. Elsewhere a cap is refused with an error naming why.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// `cores` of one core as a CPU quota per period, in microseconds; refused out of range.
fn quota_us(cores: f64) -> anyhow::Result<u64> {
    if !(0.01..=64.0).contains(&cores) {
        bail!("--instance-cpu {cores}: give a fraction of a core between 0.01 and 64");
    }
    Ok((cores * PERIOD_US as f64).round() as u64)
}

/// A control group holding one process, limited to a fraction of one core; removed when dropped
/// (after its process has exited).
pub struct CpuCap {
    dir: PathBuf,
}

const PERIOD_US: u64 = 100_000;

impl CpuCap {
    /// Puts `pid` (all its threads) into a new group limited to `cores` of one core
    /// (0.4 = 40 ms of CPU every 100 ms).
    pub fn apply(pid: u32, cores: f64, name: &str) -> anyhow::Result<CpuCap> {
        let quota = quota_us(cores)?;
        let root = Path::new("/sys/fs/cgroup");
        // cgroup v2: the cpu controller must be enabled for the root's children.
        let unified = std::fs::read_to_string(root.join("cgroup.subtree_control"));
        let (dir, files) = if unified
            .as_ref()
            .is_ok_and(|c| c.split_whitespace().any(|w| w == "cpu"))
        {
            let dir = root.join(name);
            (dir, vec![("cpu.max", format!("{quota} {PERIOD_US}"))])
        } else if root.join("cpu/cpu.cfs_quota_us").exists() {
            let dir = root.join("cpu").join(name);
            (
                dir,
                vec![
                    ("cpu.cfs_period_us", PERIOD_US.to_string()),
                    ("cpu.cfs_quota_us", quota.to_string()),
                ],
            )
        } else if unified.is_ok() {
            bail!(
                "--instance-cpu: the cpu controller is not enabled for /sys/fs/cgroup's children \
                 (as root: echo +cpu > /sys/fs/cgroup/cgroup.subtree_control)"
            );
        } else {
            bail!(
                "--instance-cpu needs a writable CPU control group (Linux, /sys/fs/cgroup with the \
                 cpu controller, run as root); none was found"
            );
        };
        if let Some(parent) = dir.parent() {
            remove_left_behind(parent);
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the control group {}", dir.display()))?;
        let cap = CpuCap { dir };
        for (file, value) in files {
            std::fs::write(cap.dir.join(file), &value)
                .with_context(|| format!("writing {value} to {}", cap.dir.join(file).display()))?;
        }
        std::fs::write(cap.dir.join("cgroup.procs"), pid.to_string())
            .with_context(|| format!("moving process {pid} into {}", cap.dir.display()))?;
        Ok(cap)
    }

    /// How often the group's processes were stopped for having used their quota (periods).
    pub fn throttled(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(self.dir.join("cpu.stat")).ok()?;
        stat.lines()
            .find_map(|l| l.strip_prefix("nr_throttled "))
            .and_then(|v| v.trim().parse().ok())
    }
}

impl Drop for CpuCap {
    fn drop(&mut self) {
        // Empty once its process is gone. A bench killed before this runs leaves its group
        // behind; the next bench removes it ([`remove_left_behind`]).
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Removes the groups in `parent` that a bench killed before it could clean up left behind (empty
/// ones: a group that still holds a process cannot be removed, and is not).
fn remove_left_behind(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let alive = |pid: u32| Path::new("/proc").join(pid.to_string()).exists();
    for name in left_behind(&names, alive) {
        let _ = std::fs::remove_dir(parent.join(name));
    }
}

/// Which of `names` are groups of a bench (`kyc-bench-<pid>-<n>`) whose process is no longer
/// `alive`.
fn left_behind(names: &[String], alive: impl Fn(u32) -> bool) -> Vec<&str> {
    names
        .iter()
        .filter(|name| {
            name.strip_prefix("kyc-bench-")
                .and_then(|rest| rest.split_once('-'))
                .and_then(|(pid, n)| Some((pid.parse::<u32>().ok()?, n.parse::<u32>().ok()?)))
                .is_some_and(|(pid, _)| !alive(pid))
        })
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_groups_of_benches_no_longer_running_are_left_behind() {
        let names: Vec<String> = [
            "kyc-bench-100-0",
            "kyc-bench-100-1",
            "kyc-bench-200-0",
            "kyc-bench-x-0",
            "kyc-bench-300",
            "system.slice",
            "kyc-benchmark-100-0",
        ]
        .map(String::from)
        .to_vec();
        let alive = |pid: u32| pid == 200;
        assert_eq!(
            super::left_behind(&names, alive),
            ["kyc-bench-100-0", "kyc-bench-100-1"]
        );
    }

    #[test]
    fn a_share_of_a_core_is_a_quota_per_period_and_out_of_range_is_refused() {
        assert_eq!(super::quota_us(0.4).unwrap(), 40_000);
        assert_eq!(super::quota_us(2.0).unwrap(), 200_000);
        for bad in [0.0, -1.0, 0.001, 65.0, f64::NAN] {
            let e = super::quota_us(bad).unwrap_err().to_string();
            assert!(e.contains("between 0.01 and 64"), "{bad}: {e}");
        }
    }
}
