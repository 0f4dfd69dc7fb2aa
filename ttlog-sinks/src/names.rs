//! The names of a file sink's files: the active file `{stem}.{ext}` and the rotated ones
//! `{stem}.{UTC timestamp}.{ext}` (`app.20261206T215001Z.log`), with `.{n}` before the
//! extension when several rotations fall in one second, and `.gz` after it once compressed.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The parts of the active file's path that name its rotated files.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub(crate) dir: PathBuf,
    pub(crate) stem: String,
    /// Without the dot; `log` when the path has none.
    pub(crate) ext: String,
}

/// A rotated file found in the directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rotated {
    /// Seconds since the epoch, from the name.
    pub(crate) secs: u64,
    /// The `.{n}` of a second rotation in the same second (0 for the first).
    pub(crate) seq: u32,
    pub(crate) path: PathBuf,
}

impl Names {
    pub(crate) fn new(path: &Path) -> Names {
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "ttlog".to_owned());
        let (stem, ext) = match file.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => {
                (stem.to_owned(), ext.to_owned())
            }
            _ => (file, "log".to_owned()),
        };
        Names { dir, stem, ext }
    }

    pub(crate) fn active(&self) -> PathBuf {
        self.dir.join(format!("{}.{}", self.stem, self.ext))
    }

    /// The name for a file rotated at `at`, the `seq`-th in that second.
    pub(crate) fn rotated(&self, at: SystemTime, seq: u32) -> PathBuf {
        let stamp = compact_utc(at);
        match seq {
            0 => self.dir.join(format!("{}.{stamp}.{}", self.stem, self.ext)),
            n => self
                .dir
                .join(format!("{}.{stamp}.{n}.{}", self.stem, self.ext)),
        }
    }

    /// A free name for a file rotated at `at` that sorts after `last` (the previous rotation
    /// of this sink, if any): several rotations in one second get `.1`, `.2`, … in order, and
    /// a number freed by retention is not used again (the file would sort as the oldest).
    pub(crate) fn free_rotated(
        &self,
        at: SystemTime,
        last: Option<(u64, u32)>,
    ) -> (PathBuf, u64, u32) {
        let secs = epoch_secs(at);
        let mut seq = match last {
            Some((last_secs, last_seq)) if last_secs == secs => last_seq + 1,
            _ => 0,
        };
        loop {
            let path = self.rotated(at, seq);
            if !path.exists() && !gz(&path).exists() {
                return (path, secs, seq);
            }
            seq += 1;
        }
    }

    /// Parses `name` as one of this sink's rotated files (compressed or not).
    pub(crate) fn parse_rotated(&self, name: &str) -> Option<(u64, u32)> {
        let name = name.strip_suffix(".gz").unwrap_or(name);
        let rest = name.strip_prefix(&self.stem)?.strip_prefix('.')?;
        let rest = rest.strip_suffix(&self.ext)?.strip_suffix('.')?;
        let (stamp, seq) = match rest.split_once('.') {
            Some((stamp, seq)) => (stamp, seq.parse().ok()?),
            None => (rest, 0),
        };
        Some((parse_compact_utc(stamp)?, seq))
    }

    /// This sink's rotated files in the directory, oldest first.
    pub(crate) fn list_rotated(&self) -> std::io::Result<Vec<Rotated>> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some((secs, seq)) = self.parse_rotated(name) {
                found.push(Rotated {
                    secs,
                    seq,
                    path: entry.path(),
                });
            }
        }
        found.sort();
        Ok(found)
    }
}

/// `path` with `.gz` appended.
pub(crate) fn gz(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

/// `20261206T215001Z` for `at` (UTC, seconds).
pub(crate) fn compact_utc(at: SystemTime) -> String {
    // `humantime` writes `2026-12-06T21:50:01Z`; the name drops the separators (a `:` is not
    // allowed in file names everywhere).
    humantime::format_rfc3339_seconds(at)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect()
}

fn parse_compact_utc(stamp: &str) -> Option<u64> {
    let b = stamp.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<&str> {
        let part = stamp.get(range)?;
        part.bytes().all(|c| c.is_ascii_digit()).then_some(part)
    };
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        digits(0..4)?,
        digits(4..6)?,
        digits(6..8)?,
        digits(9..11)?,
        digits(11..13)?,
        digits(13..15)?
    );
    let at = humantime::parse_rfc3339(&rfc3339).ok()?;
    at.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// Seconds since the epoch of `at` (0 before it).
pub(crate) fn epoch_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names_round_trip() {
        let names = Names::new(Path::new("/var/log/app/orders.log"));
        assert_eq!(names.active(), Path::new("/var/log/app/orders.log"));
        let at = UNIX_EPOCH + Duration::from_secs(1_796_593_801);
        let first = names.rotated(at, 0);
        assert_eq!(first, Path::new("/var/log/app/orders.20261206T215001Z.log"));
        let name = |p: &Path| p.file_name().unwrap().to_str().unwrap().to_owned();
        assert_eq!(names.parse_rotated(&name(&first)), Some((1_796_593_801, 0)));
        let third = names.rotated(at, 2);
        assert_eq!(names.parse_rotated(&name(&third)), Some((1_796_593_801, 2)));
        assert_eq!(
            names.parse_rotated("orders.20261206T215001Z.log.gz"),
            Some((1_796_593_801, 0))
        );
        for other in [
            "orders.log",
            "orders.20261306T215001Z.log",
            "orders.2026120T215001Z.log",
            "billing.20261206T215001Z.log",
            "orders.20261206T215001Z.txt",
            "orders.20261206T215001Z.x.log",
        ] {
            assert_eq!(names.parse_rotated(other), None, "{other}");
        }
    }

    #[test]
    fn a_path_without_extension_gets_log() {
        let names = Names::new(Path::new("audit"));
        assert_eq!(names.active(), Path::new("./audit.log"));
    }
}
