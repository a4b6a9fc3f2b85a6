//! Clocks for a shared, noisy machine: wall time and the CPU time this process (every thread of
//! it: the plan reads its file on a thread of its own) or the waited-for children actually ran,
//! so ratios between workloads measured side by side stay meaningful when other builds steal
//! the cores. The benchmark runs one workload at a time on a current-thread runtime, so the
//! process's CPU time during a workload is the workload's.

use std::time::{Duration, Instant};

/// CPU time every thread of this process has run (`CLOCK_PROCESS_CPUTIME_ID`, nanosecond
/// resolution).
pub fn process_cpu() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one plain struct we own.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// User + system CPU time of every child process waited for so far.
pub fn children_cpu() -> Duration {
    // SAFETY: getrusage writes one plain struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    let time = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// This process's peak resident set (VmHWM), in bytes.
/// Forgets the peak so far: the fixture's set-up allocates and frees far more than the plan
/// it measures would, so a child lowers its peak to what it holds now before the workload runs.
/// Freed memory the allocator still keeps is handed back first, and Linux then restarts the
/// peak at the resident size (`clear_refs` 5). Returns whether the kernel took it.
pub fn reset_peak_rss() -> bool {
    // SAFETY: malloc_trim only returns free memory of glibc's heap to the system.
    unsafe {
        libc::malloc_trim(0);
    }
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

pub fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// One timed run: wall and CPU time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    pub wall: Duration,
    pub cpu: Duration,
}

/// Times `work` on this thread (with the CPU of any thread it starts).
pub fn timed<T>(work: impl FnOnce() -> T) -> (T, Timing) {
    let (wall, cpu) = (Instant::now(), process_cpu());
    let out = work();
    (out, Timing { wall: wall.elapsed(), cpu: process_cpu().saturating_sub(cpu) })
}

/// Times a future run to completion on this thread (a current-thread runtime), with the CPU of
/// any thread it starts.
pub async fn timed_async<T>(work: impl std::future::Future<Output = T>) -> (T, Timing) {
    let (wall, cpu) = (Instant::now(), process_cpu());
    let out = work.await;
    (out, Timing { wall: wall.elapsed(), cpu: process_cpu().saturating_sub(cpu) })
}

/// The median of some durations (the upper one of the middle two).
pub fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// The value below which `q` (0..=1) of the sorted samples fall (nearest rank).
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// `1.23 s`, `45.6 ms`, `789 µs`.
pub fn show(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_quantiles_and_clocks() {
        let ms = |n| Duration::from_millis(n);
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), ms(2));
        let sorted: Vec<_> = (1..=100).map(ms).collect();
        assert_eq!(quantile(&sorted, 0.5), ms(50));
        assert_eq!(quantile(&sorted, 0.99), ms(99));
        let (_, t) = timed(|| (0..200_000u64).map(|i| i.wrapping_mul(i)).sum::<u64>());
        assert!(t.cpu <= t.wall + ms(20));
        // A thread the work starts counts too (the plan reads its file on one).
        let spin = || {
            let until = Instant::now() + Duration::from_millis(60);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        };
        let (_, t) = timed(|| std::thread::spawn(spin).join().unwrap());
        assert!(t.cpu >= ms(40), "{t:?}");
        assert!(peak_rss() > 0);
        assert_eq!(show(ms(1500)), "1.50 s");
    }
}
