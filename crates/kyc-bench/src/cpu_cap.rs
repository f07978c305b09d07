//! A CPU cap for a child process (Linux control groups, v2 `cpu.max` or v1 CFS quota): several
//! instances measured on a small machine each get a slice of a core, so that the load client and
//! the database keep CPU to spare. Elsewhere a cap is refused with an error naming why.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

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
        if !(0.01..=64.0).contains(&cores) {
            bail!("--instance-cpu {cores}: give a fraction of a core between 0.01 and 64");
        }
        let quota = (cores * PERIOD_US as f64).round() as u64;
        let root = Path::new("/sys/fs/cgroup");
        let unified = root.join("cgroup.controllers");
        let (dir, files) = if std::fs::read_to_string(&unified).is_ok_and(|c| c.contains("cpu")) {
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
        } else {
            bail!(
                "--instance-cpu needs a writable CPU control group (Linux, /sys/fs/cgroup with the \
                 cpu controller, run as root); none was found"
            );
        };
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
        // Empty once its process is gone; a group still in use is left for the OS.
        let _ = std::fs::remove_dir(&self.dir);
    }
}
