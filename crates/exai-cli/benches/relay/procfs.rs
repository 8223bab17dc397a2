//! What the kernel says about a process: resident memory, peak, CPU time and wake-ups.

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|line| line.starts_with(field) && line[field.len()..].starts_with(':'))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Proportional set size from `/proc/<pid>/smaps_rollup`, in KiB: shared pages divided among
/// the processes that share them.
pub fn pss_kib(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    rollup
        .lines()
        .find(|line| line.starts_with("Pss:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The parent's pid, from `/proc/<pid>/stat`.
pub fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// CPU use and context switches of a process, summed over its threads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    /// utime + stime from `/proc/<pid>/stat`, in clock ticks.
    pub ticks: u64,
    /// Time on CPU from `/proc/<pid>/task/*/schedstat`, in nanoseconds (0 when unavailable).
    pub run_ns: u64,
    /// `voluntary_ctxt_switches` over every thread: each is a sleep, so a wake-up follows.
    pub voluntary: u64,
    /// `nonvoluntary_ctxt_switches` over every thread.
    pub nonvoluntary: u64,
}

impl Cpu {
    pub fn read(pid: u32) -> Option<Cpu> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may contain spaces) start at field 3 (state).
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        let mut cpu = Cpu {
            ticks: utime + stime,
            ..Cpu::default()
        };
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()?
            .flatten()
        {
            let dir = task.path();
            if let Ok(schedstat) = std::fs::read_to_string(dir.join("schedstat")) {
                cpu.run_ns += schedstat
                    .split_whitespace()
                    .next()
                    .and_then(|ns| ns.parse::<u64>().ok())
                    .unwrap_or(0);
            }
            if let Ok(status) = std::fs::read_to_string(dir.join("status")) {
                for line in status.lines() {
                    let value = || {
                        line.split_whitespace()
                            .nth(1)
                            .and_then(|n| n.parse::<u64>().ok())
                            .unwrap_or(0)
                    };
                    if line.starts_with("voluntary_ctxt_switches:") {
                        cpu.voluntary += value();
                    } else if line.starts_with("nonvoluntary_ctxt_switches:") {
                        cpu.nonvoluntary += value();
                    }
                }
            }
        }
        Some(cpu)
    }

    pub fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            ticks: self.ticks.saturating_sub(earlier.ticks),
            run_ns: self.run_ns.saturating_sub(earlier.run_ns),
            voluntary: self.voluntary.saturating_sub(earlier.voluntary),
            nonvoluntary: self.nonvoluntary.saturating_sub(earlier.nonvoluntary),
        }
    }
}

/// Clock ticks per second for [`Cpu::ticks`].
pub fn ticks_per_sec() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// One line about the machine and how busy it is, for the report.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| {
            let parts: Vec<&str> = text.split_whitespace().take(3).collect();
            (parts.len() == 3).then(|| parts.join(" "))
        })
        .unwrap_or_else(|| "?".to_owned())
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_owned())
        })
        .unwrap_or_else(|| "?".to_owned())
}

/// How idle CPUs wait, for the report: the cpuidle driver and, under the guest `haltpoll`
/// driver, how long a vCPU polls before it halts (0: every idle halts, and the next wake-up
/// from another CPU pays a VM exit).
pub fn cpuidle() -> String {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|v| v.trim().to_owned())
    };
    let driver =
        read("/sys/devices/system/cpu/cpuidle/current_driver").unwrap_or_else(|| "none".to_owned());
    match read("/sys/module/haltpoll/parameters/guest_halt_poll_ns") {
        Some(ns) if driver == "haltpoll" => format!("cpuidle {driver}, halt-poll max {ns} ns"),
        _ => format!("cpuidle {driver}"),
    }
}

/// Holds idle CPUs in their polling state while it lives (PM QoS: a CPU wake-up latency of 0
/// written to `/dev/cpu_dma_latency`, as tuned's latency-performance profile does), so a
/// wake-up never waits for a halted CPU. `None` when the device cannot be written (not root).
pub fn hold_idle_poll() -> Option<std::fs::File> {
    use std::io::Write as _;
    let mut qos = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/cpu_dma_latency")
        .ok()?;
    qos.write_all(&0i32.to_ne_bytes()).ok()?;
    Some(qos)
}
