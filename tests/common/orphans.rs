//! Private servers of killed test processes. A test killed mid-run (a timeout, ^C, a
//! cancelled CI job) never runs its `Drop`, and its server stays behind, perhaps frozen by
//! `SIGSTOP`, holding memory and a port for good. Every start sweeps them first: directories
//! `<tmp>/<prefix>...-<pid>` whose process is gone have their processes resumed and killed
//! (those whose command line names the directory, and their children) and are removed.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]
#![allow(dead_code)] // each suite uses part of its includer

use std::process::Command;

/// Sweeps the leftovers of dead test processes under `<tmp>/<prefix>*`.
pub fn reap(prefix: &str) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(prefix) {
            continue;
        }
        let Some(owner) = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{owner}")).exists() {
            continue; // a test still running (this one, or another process's)
        }
        let dir = entry.path();
        let pids = Command::new("pgrep")
            .arg("-f")
            .arg(&dir)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for signal in ["-CONT", "-KILL"] {
            for pid in pids.split_whitespace() {
                let _ = Command::new("pkill").args([signal, "-P", pid]).status();
                let _ = Command::new("kill").args([signal, pid]).status();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
