//! The artifact directory of one run: `config.json`, per-epoch metrics, checkpoint sets and
//! whatever else the caller writes (`summary.json`, the zoo's `provenance.json`). Every file is
//! written atomically (a temporary file in the same directory, synced, renamed over the old
//! one, the directory synced), so an interrupted run never leaves a torn file.

use anyhow::Context;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("syncing {} to disk", tmp.display()))?;
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    sync_dir(dir)
}

/// The directory `path` is in: `.` for a bare file name (whose `parent()` is empty).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Syncs the directory `dir` itself to disk, so that the renames and new entries in it survive
/// a power loss (a file's own `fsync` does not cover its name). A no-op where directories
/// cannot be opened as files (Windows).
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    if cfg!(unix) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing the directory {} to disk", dir.display()))?;
    }
    Ok(())
}

/// One run's artifact directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The directory.
    pub path: PathBuf,
}

impl RunDir {
    /// Opens the directory, creating it if needed.
    pub fn create(path: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let path = path.into();
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating the artifact directory {}", path.display()))?;
        Ok(Self { path })
    }

    /// A path inside the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `value` as pretty JSON to `name`, atomically.
    pub fn write_json<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> anyhow::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(value)?;
        bytes.push(b'\n');
        write_atomic(&self.file(name), &bytes)
    }

    /// Reads JSON from `name`; `Ok(None)` if the file does not exist, a clear error if it is
    /// not valid.
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> anyhow::Result<Option<T>> {
        let path = self.file(name);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid {name}", path.display()))?;
        Ok(Some(value))
    }

    /// Directory of the checkpoint taken after `epoch` (1-based: the epochs completed).
    pub fn checkpoint_dir(&self, epoch: usize) -> PathBuf {
        self.path
            .join("checkpoints")
            .join(format!("epoch-{epoch:04}"))
    }

    /// The newest complete checkpoint, as `(epoch, directory)`.
    pub fn latest_checkpoint(&self) -> Option<(usize, PathBuf)> {
        let root = self.path.join("checkpoints");
        let text = std::fs::read_to_string(root.join("latest")).ok()?;
        let epoch: usize = text.trim().parse().ok()?;
        let dir = self.checkpoint_dir(epoch);
        dir.is_dir().then_some((epoch, dir))
    }

    /// The staging directory of the checkpoint of `epoch`, private to this process.
    pub fn staging_dir(&self, epoch: usize) -> PathBuf {
        self.path
            .join("checkpoints")
            .join(format!(".tmp-epoch-{epoch:04}-{}", std::process::id()))
    }

    /// Publishes the staging directory of `epoch` ([`RunDir::staging_dir`]), whose files are
    /// complete: its files and itself are synced, it is renamed into place and `checkpoints/`
    /// synced, then `checkpoints/latest` is updated, each step atomic and on disk before the
    /// next, so a crash or power loss at any point leaves the previous checkpoint intact. A
    /// failed sync is an error naming the file. Keeps the newest `keep`.
    pub fn publish_checkpoint(&self, epoch: usize, keep: usize) -> anyhow::Result<PathBuf> {
        let root = self.path.join("checkpoints");
        let tmp = self.staging_dir(epoch);
        for entry in
            std::fs::read_dir(&tmp).with_context(|| format!("reading {}", tmp.display()))?
        {
            let path = entry?.path();
            if path.is_file() {
                std::fs::File::open(&path)
                    .and_then(|f| f.sync_all())
                    .with_context(|| format!("syncing {} to disk", path.display()))?;
            }
        }
        sync_dir(&tmp)?;
        let dir = self.checkpoint_dir(epoch);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("removing the older {}", dir.display()))?;
        }
        std::fs::rename(&tmp, &dir)
            .with_context(|| format!("renaming {} to {}", tmp.display(), dir.display()))?;
        sync_dir(&root)?;
        write_atomic(&root.join("latest"), format!("{epoch}\n").as_bytes())?;
        // Prune old checkpoints: a set that cannot be removed costs disk space, not data.
        let mut epochs = self.checkpoint_epochs();
        epochs.sort_unstable();
        let excess = epochs.len().saturating_sub(keep.max(1));
        for old in &epochs[..excess] {
            let old = self.checkpoint_dir(*old);
            if let Err(e) = std::fs::remove_dir_all(&old) {
                eprintln!(
                    "warning: could not remove the old checkpoint {}: {e}",
                    old.display()
                );
            }
        }
        Ok(dir)
    }

    /// The epochs of the published checkpoints, newest first: the one `checkpoints/latest`
    /// names, then the other `epoch-NNNN` directories in descending order.
    pub fn checkpoint_epochs(&self) -> Vec<usize> {
        let root = self.path.join("checkpoints");
        let mut epochs: Vec<usize> = std::fs::read_dir(&root)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str()?.strip_prefix("epoch-")?.parse().ok())
            .collect();
        epochs.sort_unstable_by(|a, b| b.cmp(a));
        if let Some((latest, _)) = self.latest_checkpoint() {
            epochs.retain(|e| *e != latest);
            epochs.insert(0, latest);
        }
        epochs
    }

    /// Removes what a killed process left behind: staging directories in `checkpoints/` and
    /// the temporary files of [`write_atomic`] (`.NAME.tmp-PID`) in the run directory and in
    /// `checkpoints/`.
    pub fn remove_stray_files(&self) -> anyhow::Result<()> {
        for dir in [self.path.clone(), self.path.join("checkpoints")] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let stray = name.starts_with(".tmp-epoch-")
                    || (name.starts_with('.') && name.contains(".tmp-"));
                if !stray {
                    continue;
                }
                let path = entry.path();
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.with_context(|| format!("removing the stray {}", path.display()))?;
            }
        }
        Ok(())
    }
}

impl RunDir {
    /// Where the run can be resumed from, for error messages.
    pub fn last_good(&self) -> String {
        self.latest_checkpoint()
            .map(|(e, d)| format!("the last good checkpoint (epoch {e}) is {}", d.display()))
            .unwrap_or_else(|| "no checkpoint was written yet".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bare file name (`report --write README.md`) is written in, and syncs, the current
    /// directory: its `parent()` is the empty path, which cannot be opened.
    #[test]
    fn a_bare_file_name_is_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("README.md")), Path::new("."));
        assert_eq!(parent_dir(Path::new("docs/speed.md")), Path::new("docs"));
        assert_eq!(parent_dir(Path::new("/x.json")), Path::new("/"));
        sync_dir(parent_dir(Path::new("README.md"))).unwrap();
    }

    #[test]
    fn checkpoints_publish_atomically_and_prune() {
        let dir = std::env::temp_dir().join(format!("hz-rundir-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let run = RunDir::create(&dir).unwrap();
        assert!(run.latest_checkpoint().is_none());
        let stage = |epoch: usize| {
            let tmp = run.staging_dir(epoch);
            std::fs::create_dir_all(&tmp).unwrap();
            std::fs::write(tmp.join("x"), format!("{epoch}")).unwrap();
        };
        for epoch in 0..4 {
            stage(epoch);
            run.publish_checkpoint(epoch, 2).unwrap();
        }
        let (epoch, path) = run.latest_checkpoint().unwrap();
        assert_eq!(epoch, 3);
        assert_eq!(std::fs::read_to_string(path.join("x")).unwrap(), "3");
        assert!(!run.checkpoint_dir(1).exists() && run.checkpoint_dir(2).exists());
        // A set staged but never published (a crash while writing) leaves the previous
        // checkpoint as the latest, and is a stray to remove.
        stage(4);
        assert_eq!(run.latest_checkpoint().unwrap().0, 3);
        run.remove_stray_files().unwrap();
        assert!(!run.staging_dir(4).exists());
        // Publishing a set that was never staged is an error naming its directory.
        let err = format!("{:#}", run.publish_checkpoint(5, 2).unwrap_err());
        assert!(err.contains(".tmp-epoch-0005"), "{err}");
        assert_eq!(run.latest_checkpoint().unwrap().0, 3);
        // JSON round trip and a clear error for a corrupt file.
        run.write_json("a.json", &vec![1, 2]).unwrap();
        assert_eq!(
            run.read_json::<Vec<i32>>("a.json").unwrap(),
            Some(vec![1, 2])
        );
        std::fs::write(run.file("b.json"), "{").unwrap();
        let err = run.read_json::<Vec<i32>>("b.json").unwrap_err().to_string();
        assert!(err.contains("b.json is not a valid"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_directory_that_cannot_be_synced_is_an_error_naming_it() {
        let missing = std::env::temp_dir().join(format!("hz-no-such-dir-{}", std::process::id()));
        if cfg!(unix) {
            let err = format!("{:#}", sync_dir(&missing).unwrap_err());
            assert!(
                err.contains("syncing the directory") && err.contains("hz-no-such-dir"),
                "{err}"
            );
        }
        // A written file is synced together with its directory entry.
        let dir = missing.join("run");
        write_atomic(&dir.join("x.json"), b"1").unwrap();
        assert_eq!(std::fs::read(dir.join("x.json")).unwrap(), b"1");
        std::fs::remove_dir_all(missing).ok();
    }
}
