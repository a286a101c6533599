//! Where the benches that run without criterion leave their results, for `report.py`.

use std::path::PathBuf;

/// `<target>/peer-benches`, created if missing.
pub fn dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    let dir = target.join("peer-benches");
    std::fs::create_dir_all(&dir).expect("the target directory is writable");
    dir
}

/// Writes one bench's results as `<target>/peer-benches/<name>.json` and says where.
pub fn write(name: &str, results: &serde_json::Value) {
    let path = dir().join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(results).expect("results serialize");
    std::fs::write(&path, text).expect("the results file is writable");
    println!("results: {}", path.display());
}
