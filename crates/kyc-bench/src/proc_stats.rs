//! A child process's CPU time (user + system) and peak RSS, as the OS reports them (Linux /proc;
//! elsewhere the figures are reported as unavailable).

/// CPU seconds (user + system) used so far by `pid`.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// CPU seconds used so far by a server made of processes: `pid` (with the children it has
/// waited for: a PostgreSQL connection's backend that exited counts) and every live descendant.
pub fn tree_cpu_secs(pid: u32) -> Option<f64> {
    let fields = |p: u32| -> Option<Vec<String>> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        Some(rest.split_whitespace().map(str::to_string).collect())
    };
    let ticks = |f: &[String], i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    let root = fields(pid)?;
    // utime, stime, cutime, cstime: fields 14-17 of the line, 12-15 after the name.
    let mut total = ticks(&root, 11)? + ticks(&root, 12)? + ticks(&root, 13)? + ticks(&root, 14)?;
    let mut tree = vec![pid];
    let mut i = 0;
    let all: Vec<(u32, Vec<String>)> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| Some((p, fields(p)?)))
        .collect();
    while i < tree.len() {
        let parent = tree[i];
        for (p, f) in &all {
            // ppid is field 4 of the line: 2 after the name.
            if f.get(1).and_then(|v| v.parse::<u32>().ok()) == Some(parent) && !tree.contains(p) {
                tree.push(*p);
                total += ticks(f, 11).unwrap_or(0.0) + ticks(f, 12).unwrap_or(0.0);
            }
        }
        i += 1;
    }
    Some(total / clock_ticks())
}

/// Peak resident set size (VmHWM) of `pid` in MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    status_mib(pid, "VmHWM:")
}

/// Resident set size now (VmRSS) of `pid` in MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    status_mib(pid, "VmRSS:")
}

fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn clock_ticks() -> f64 {
    // USER_HZ is 100 on every Linux architecture KYC Desk runs on.
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}
