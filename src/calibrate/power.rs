//! CPU energy from RAPL (`/sys/class/powercap/intel-rapl:N/energy_uj`).
//! Only package-level domains (intel-rapl:N, not the :N:M sub-domains) are
//! summed, so nothing is counted twice. Where no counter is readable the
//! power source is `unavailable`: no estimate is ever substituted.

use crate::calibrate::{PowerInfo, PowerSource};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
struct Domain {
    label: String,
    energy_path: PathBuf,
    max_range_uj: u64,
}

#[derive(Debug, Clone)]
pub struct Rapl {
    domains: Vec<Domain>,
}

/// Counter snapshot (microjoules, one per domain).
#[derive(Debug, Clone, PartialEq)]
pub struct RaplReading(pub Vec<u64>);

fn read_u64(p: &Path) -> Option<u64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// Energy between two readings of one counter, handling one wraparound.
pub fn delta_uj(before: u64, after: u64, max_range_uj: u64) -> u64 {
    if after >= before {
        after - before
    } else {
        // wrapped: counter runs 0..=max_range
        max_range_uj.saturating_sub(before) + after + 1
    }
}

impl Rapl {
    /// Readable package domains under `root` (normally /sys/class/powercap).
    /// Err(reason) when there are none.
    pub fn open_at(root: &Path) -> Result<Rapl, String> {
        let entries = std::fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))?;
        let mut domains = Vec::new();
        let mut unreadable = Vec::new();
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for dir in names {
            let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
            // package level only: "intel-rapl:0", not "intel-rapl:0:1"
            let Some(rest) = name.strip_prefix("intel-rapl:") else { continue };
            if rest.contains(':') {
                continue;
            }
            let energy_path = dir.join("energy_uj");
            if read_u64(&energy_path).is_none() {
                unreadable.push(name);
                continue;
            }
            let max_range_uj = read_u64(&dir.join("max_energy_range_uj")).unwrap_or(u64::MAX);
            let zone = std::fs::read_to_string(dir.join("name")).map(|s| s.trim().to_string()).unwrap_or_default();
            domains.push(Domain { label: format!("{name} {zone}").trim().to_string(), energy_path, max_range_uj });
        }
        if domains.is_empty() {
            return Err(if unreadable.is_empty() {
                format!("no intel-rapl package domains under {}", root.display())
            } else {
                format!("RAPL counters not readable ({}): run as root or `sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj`", unreadable.join(", "))
            });
        }
        Ok(Rapl { domains })
    }

    pub fn open() -> Result<Rapl, String> {
        Rapl::open_at(Path::new("/sys/class/powercap"))
    }

    pub fn read(&self) -> Option<RaplReading> {
        self.domains.iter().map(|d| read_u64(&d.energy_path)).collect::<Option<Vec<_>>>().map(RaplReading)
    }

    /// Joules between two readings, summed over domains.
    pub fn joules(&self, before: &RaplReading, after: &RaplReading) -> f64 {
        self.domains.iter().zip(before.0.iter().zip(after.0.iter())).map(|(d, (b, a))| delta_uj(*b, *a, d.max_range_uj) as f64 * 1e-6).sum()
    }

    pub fn info(&self) -> PowerInfo {
        PowerInfo {
            source: PowerSource::Rapl,
            domains: self.domains.iter().map(|d| d.label.clone()).collect(),
            note: "RAPL package energy: whole socket(s) incl. idle cores and uncore, excludes DRAM and PSU losses".into(),
        }
    }
}

/// RAPL if readable, else `unavailable` with the reason.
pub fn cpu_meter() -> (Option<Rapl>, PowerInfo) {
    match Rapl::open() {
        Ok(r) => {
            let info = r.info();
            (Some(r), info)
        }
        Err(why) => (None, PowerInfo::unavailable(why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraparound() {
        assert_eq!(delta_uj(100, 250, 1000), 150);
        assert_eq!(delta_uj(900, 99, 999), 199); // 900..=999 is 100 uJ to wrap, +99
        assert_eq!(delta_uj(5, 5, 10), 0);
    }

    #[test]
    fn fake_sysfs() {
        let root = std::env::temp_dir().join(format!("flopprint-rapl-{}", std::process::id()));
        let pkg = root.join("intel-rapl:0");
        let sub = root.join("intel-rapl:0:0");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(pkg.join("energy_uj"), "1000000\n").unwrap();
        std::fs::write(pkg.join("max_energy_range_uj"), "262143328850\n").unwrap();
        std::fs::write(pkg.join("name"), "package-0\n").unwrap();
        std::fs::write(sub.join("energy_uj"), "5\n").unwrap();
        let r = Rapl::open_at(&root).unwrap();
        assert_eq!(r.info().domains, vec!["intel-rapl:0 package-0".to_string()]);
        let before = r.read().unwrap();
        std::fs::write(pkg.join("energy_uj"), "3500000\n").unwrap();
        let after = r.read().unwrap();
        assert!((r.joules(&before, &after) - 2.5).abs() < 1e-9);
        std::fs::remove_dir_all(&root).unwrap();
        // missing root -> unavailable, never a guess
        assert!(Rapl::open_at(&root).is_err());
    }
}
