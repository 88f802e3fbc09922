//! Locating, downloading and verifying data files.
//!
//! Every data set is described by a [`DatasetSpec`] (see [`crate::catalog`]): its canonical
//! file names, the checksum of each file, and where the files come from. Files are looked up
//!
//! 1. in the directory given by the caller (`--data-dir`): its sub-directory named after the
//!    data set, then the directory itself;
//! 2. in the cache directory [`cache_dir`] (`$HIGHWAY_ZOO_DATA`, default
//!    `$XDG_CACHE_HOME/highway-zoo` or `$HOME/.cache/highway-zoo`), sub-directory named after
//!    the data set (the layout `scripts/fetch-data.sh` writes);
//! 3. downloaded from the canonical source into the cache (cargo feature `download`, on by
//!    default), with a progress line on stderr, and verified.
//!
//! Checksums are always of the *decompressed* content, so a file may be stored raw or
//! compressed (`.gz` for IDX files, `.bz2` for the Wikipedia excerpt) and still verify.
//! Downloaded archives are unpacked with the `tar` crate (CIFAR) and the `zip` crate
//! ([`extract_zip`]: enwik8, text8; [`unzip_bytes`] is its byte-level form).

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};

/// Published checksum of a file's (decompressed) content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// MD5, lowercase hex.
    Md5(&'static str),
    /// SHA-256, lowercase hex.
    Sha256(&'static str),
    /// Only the size in bytes is known (no published digest).
    Size(u64),
}

impl Checksum {
    /// Name of the algorithm: `md5`, `sha256` or `size`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Checksum::Md5(_) => "md5",
            Checksum::Sha256(_) => "sha256",
            Checksum::Size(_) => "size",
        }
    }

    /// The expected value as text.
    pub fn expected(&self) -> String {
        match self {
            Checksum::Md5(s) | Checksum::Sha256(s) => (*s).to_string(),
            Checksum::Size(n) => n.to_string(),
        }
    }
}

/// One file of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFile {
    /// Canonical file name (uncompressed form; `.gz` and, for `.bz2` names, the decompressed
    /// name are accepted too, see [`find_file`]).
    pub name: &'static str,
    /// Checksum of the decompressed content.
    pub checksum: Checksum,
}

/// Kind of archive a data set is distributed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// A gzipped tarball (CIFAR).
    TarGz,
    /// A zip file with one deflated member (enwik8, text8).
    Zip,
}

/// Where the canonical files come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Each file is downloaded on its own from `mirror + name + suffix`; mirrors are tried in
    /// order and the file is stored as `name + suffix`.
    Files {
        /// Base URLs, ending in `/`.
        mirrors: &'static [&'static str],
        /// Suffix of the remote file names (e.g. `.gz`), empty for none.
        suffix: &'static str,
    },
    /// One archive holds all the files (matched by base name).
    Archive {
        /// URL of the archive.
        url: &'static str,
        /// Archive format.
        kind: ArchiveKind,
        /// Published MD5 of the archive itself, where there is one.
        md5: Option<&'static str>,
    },
}

/// Everything the crate knows about where a data set's files are and how to check them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSpec {
    /// Short name, as given to `scripts/fetch-data.sh` and used as the cache sub-directory.
    pub slug: &'static str,
    /// The files, with checksums.
    pub files: &'static [DataFile],
    /// Canonical download source.
    pub source: Source,
    /// How to get the files when the download fails (registry packages or manual steps).
    pub help: &'static str,
    /// A system directory where a package installs the files, searched after the cache
    /// (Debian's `dataset-fashion-mnist` puts them in `/usr/share/datasets/fashion-mnist`).
    pub system_dir: Option<&'static str>,
}

impl DatasetSpec {
    /// The directory where this data set's files live in the cache.
    pub fn cache_subdir(&self) -> PathBuf {
        cache_dir().join(self.slug)
    }

    /// Instructions to get the files, naming the cache directory.
    pub fn instructions(&self) -> String {
        let names: Vec<&str> = self.files.iter().map(|f| f.name).collect();
        format!(
            "{} They go into {} (files: {}); or pass --data-dir DIR with those files in DIR.",
            self.help,
            self.cache_subdir().display(),
            names.join(", ")
        )
    }
}

/// Whether this process runs under CI: the `CI` environment variable is set to anything but
/// `0`, `false` or nothing (CI services set `CI=true`; so does `.ci/run`).
pub fn under_ci() -> bool {
    std::env::var("CI")
        .is_ok_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
}

/// For tests on the real data sets, when `name` is not in the cache: under CI ([`under_ci`]) the
/// test fails, naming the data set and the command that fetches it, so that a missing install
/// step is seen; elsewhere it prints `SKIPPED: …` and the caller returns.
///
/// # Panics
///
/// Under CI, always (that is the failure).
pub fn missing_in_test(name: &str) {
    let message = format!(
        "{name} is not in {}; run `bash scripts/fetch-data.sh {name}`",
        cache_dir().display()
    );
    if under_ci() {
        panic!("CI=true and the real data this test needs is missing: {message}");
    }
    eprintln!("SKIPPED: {message}");
}

/// The cache directory: `$HIGHWAY_ZOO_DATA`, else `$XDG_CACHE_HOME/highway-zoo`, else
/// `$HOME/.cache/highway-zoo`, else `./data`.
pub fn cache_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("HIGHWAY_ZOO_DATA") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("highway-zoo");
    }
    if let Some(home) = var("HOME") {
        return PathBuf::from(home).join(".cache").join("highway-zoo");
    }
    PathBuf::from("data")
}

/// Finds `name` in `dir` as stored raw, gzipped (`name.gz`) or, for a `.bz2` name, already
/// decompressed (the name without `.bz2`).
pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let mut candidates = vec![dir.join(name), dir.join(format!("{name}.gz"))];
    if let Some(stem) = name.strip_suffix(".bz2") {
        candidates.push(dir.join(stem));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// Like [`find_file`] but a missing file is a [`DataError::Missing`] naming the path.
pub fn require_file(dir: &Path, name: &str) -> Result<PathBuf> {
    find_file(dir, name).ok_or_else(|| DataError::Missing {
        path: dir.join(name),
        help: format!("also looked for {name}.gz"),
    })
}

/// The directory holding all of `spec`'s files, without downloading: `data_dir/<slug>`,
/// `data_dir`, the cache, then [`DatasetSpec::system_dir`]. `None` when no candidate
/// has every file.
pub fn locate(spec: &DatasetSpec, data_dir: Option<&Path>) -> Option<PathBuf> {
    let all: Vec<&str> = spec.files.iter().map(|f| f.name).collect();
    locate_files(spec, &all, data_dir)
}

/// Like [`locate`], but the directory need only hold the files named in `names` (e.g. the
/// two files of MNIST's test split).
pub fn locate_files(
    spec: &DatasetSpec,
    names: &[&str],
    data_dir: Option<&Path>,
) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = data_dir {
        candidates.push(dir.join(spec.slug));
        candidates.push(dir.to_path_buf());
    }
    candidates.push(spec.cache_subdir());
    candidates.extend(spec.system_dir.map(PathBuf::from));
    candidates
        .into_iter()
        .find(|dir| names.iter().all(|name| find_file(dir, name).is_some()))
}

/// An explicitly given data directory must exist: a mistyped `--data-dir` is an error, not a
/// silent fall-back to the cache.
pub fn require_data_dir(data_dir: Option<&Path>) -> Result<()> {
    match data_dir {
        Some(dir) if !dir.is_dir() => Err(DataError::Missing {
            path: dir.to_path_buf(),
            help: "the data directory given (--data-dir) does not exist or is not a directory"
                .into(),
        }),
        _ => Ok(()),
    }
}

/// Locates the files ([`locate`]) or downloads them into the cache, verifying every
/// downloaded file. A failed download is a [`DataError::Download`] that says how to get the
/// files with `scripts/fetch-data.sh` or by hand.
pub fn fetch(spec: &DatasetSpec, data_dir: Option<&Path>) -> Result<PathBuf> {
    let all: Vec<&str> = spec.files.iter().map(|f| f.name).collect();
    fetch_files(spec, &all, data_dir)
}

/// Like [`fetch`], but a directory holding the files named in `names` is enough; only when
/// none does is the whole data set downloaded.
pub fn fetch_files(spec: &DatasetSpec, names: &[&str], data_dir: Option<&Path>) -> Result<PathBuf> {
    require_data_dir(data_dir)?;
    if let Some(dir) = locate_files(spec, names, data_dir) {
        return Ok(dir);
    }
    download(spec)?;
    Ok(spec.cache_subdir())
}

/// Opens a file for reading its decompressed content (`.gz` and `.bz2` by extension).
pub fn open_decompressed(path: &Path) -> Result<Box<dyn Read>> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let reader = BufReader::with_capacity(1 << 16, file);
    Ok(match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Some("bz2") => Box::new(bzip2::read::MultiBzDecoder::new(reader)),
        _ => Box::new(reader),
    })
}

/// Reads a whole file, decompressing `.gz` and `.bz2` files (see [`decompress`]).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let bytes = fs::read(path).map_err(|e| DataError::io(path, e))?;
    decompress(path, bytes)
}

/// Decompresses a file's bytes as [`read_file`] does, by `path`'s extension: `.gz`
/// (concatenated gzip members) and `.bz2` (concatenated bzip2 streams) are decompressed,
/// anything else is returned as is. `path` is only used for the extension and in messages;
/// a corrupt or truncated stream is a [`DataError::Format`] naming it.
pub fn decompress(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let read = match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out),
        Some("bz2") => bzip2::read::MultiBzDecoder::new(&bytes[..]).read_to_end(&mut out),
        _ => return Ok(bytes),
    };
    read.map_err(|e| decompress_error(path, e))?;
    Ok(out)
}

fn decompress_error(path: &Path, e: io::Error) -> DataError {
    match e.kind() {
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            DataError::format(path, format!("corrupt or truncated compressed stream: {e}"))
        }
        _ => DataError::io(path, e),
    }
}

/// Computes `checksum`'s algorithm over the decompressed content of `path` and returns the
/// value found (hex digest, or size in bytes).
pub fn compute_checksum(path: &Path, checksum: Checksum) -> Result<String> {
    let mut reader = open_decompressed(path)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut md5 = Md5::new();
    let mut sha = Sha256::new();
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(decompress_error(path, e)),
        };
        size += n as u64;
        match checksum {
            Checksum::Md5(_) => md5.update(&buf[..n]),
            Checksum::Sha256(_) => sha.update(&buf[..n]),
            Checksum::Size(_) => {}
        }
    }
    Ok(match checksum {
        Checksum::Md5(_) => hex(&md5.finalize()),
        Checksum::Sha256(_) => hex(&sha.finalize()),
        Checksum::Size(_) => size.to_string(),
    })
}

/// Verifies `path` against `checksum`; a mismatch is a [`DataError::ChecksumMismatch`] that
/// names the file, the expected and the found value.
pub fn verify_file(path: &Path, checksum: Checksum) -> Result<()> {
    let found = compute_checksum(path, checksum)?;
    let expected = checksum.expected();
    if found.eq_ignore_ascii_case(&expected) {
        Ok(())
    } else {
        Err(DataError::ChecksumMismatch {
            path: path.to_path_buf(),
            algorithm: checksum.algorithm(),
            expected,
            found,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn download_error(spec: &DatasetSpec, url: &str, reason: impl Into<String>) -> DataError {
    DataError::Download {
        dataset: spec.slug.to_string(),
        url: url.to_string(),
        reason: reason.into(),
        help: spec.instructions(),
    }
}

/// Downloads `spec`'s files from the canonical source into [`DatasetSpec::cache_subdir`] and
/// verifies them. Files already there with the right checksum are kept.
pub fn download(spec: &DatasetSpec) -> Result<()> {
    download_into(spec, &spec.cache_subdir())
}

/// Downloads `spec`'s files from the canonical source into `dir` and verifies them. Files
/// already there with the right checksum are kept.
pub fn download_into(spec: &DatasetSpec, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let result = download_files(spec, dir);
    if result.is_err() {
        let _ = fs::remove_dir(dir); // only if the failure left it empty
    }
    result
}

fn download_files(spec: &DatasetSpec, dir: &Path) -> Result<()> {
    let dir = dir.to_path_buf();
    let missing: Vec<&DataFile> = spec
        .files
        .iter()
        .filter(|f| match find_file(&dir, f.name) {
            Some(p) => verify_file(&p, f.checksum).is_err(),
            None => true,
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    match spec.source {
        Source::Files { mirrors, suffix } => {
            for file in missing {
                let dest = dir.join(format!("{}{suffix}", file.name));
                let mut failures = Vec::new();
                for mirror in mirrors {
                    let url = format!("{mirror}{}{suffix}", file.name);
                    match http_get_to_file(&url, &dest) {
                        Ok(()) => {
                            failures.clear();
                            break;
                        }
                        Err(reason) => failures.push((url, reason)),
                    }
                }
                if let Some((url, _)) = failures.first() {
                    let reasons: Vec<String> =
                        failures.iter().map(|(u, r)| format!("{u}: {r}")).collect();
                    return Err(download_error(spec, url, reasons.join("; ")));
                }
                if let Err(e) = verify_file(&dest, file.checksum) {
                    let _ = fs::remove_file(&dest);
                    return Err(e);
                }
            }
        }
        Source::Archive { url, kind, md5 } => {
            let archive_name = url.rsplit('/').next().unwrap_or("archive");
            let archive = dir.join(archive_name);
            http_get_to_file(url, &archive).map_err(|r| download_error(spec, url, r))?;
            if let Some(sum) = md5
                && let Err(e) = verify_file(&archive, Checksum::Md5(sum))
            {
                let _ = fs::remove_file(&archive);
                return Err(e);
            }
            let names: Vec<&str> = spec.files.iter().map(|f| f.name).collect();
            let extracted = match kind {
                ArchiveKind::TarGz => extract_tar_gz(&archive, &dir, &names),
                ArchiveKind::Zip => extract_zip(&archive, &dir),
            };
            let _ = fs::remove_file(&archive);
            extracted?;
            for file in missing {
                let path = require_file(&dir, file.name)?;
                verify_file(&path, file.checksum)?;
            }
        }
    }
    Ok(())
}

/// Extracts the members of a gzipped tarball whose base names are in `names` into `dir`.
#[cfg(feature = "download")]
fn extract_tar_gz(archive: &Path, dir: &Path, names: &[&str]) -> Result<()> {
    let file = File::open(archive).map_err(|e| DataError::io(archive, e))?;
    let gz = flate2::read::GzDecoder::new(BufReader::new(file));
    let mut tar = tar::Archive::new(gz);
    let entries = tar
        .entries()
        .map_err(|e| DataError::format(archive, format!("bad tar archive: {e}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| DataError::format(archive, format!("bad tar entry: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| DataError::format(archive, format!("bad tar path: {e}")))?
            .into_owned();
        let Some(base) = path.file_name().and_then(|b| b.to_str()) else {
            continue;
        };
        if names.contains(&base) {
            let dest = dir.join(base);
            let mut out = File::create(&dest).map_err(|e| DataError::io(&dest, e))?;
            io::copy(&mut entry, &mut out).map_err(|e| DataError::io(&dest, e))?;
        }
    }
    Ok(())
}

#[cfg(not(feature = "download"))]
fn extract_tar_gz(archive: &Path, _dir: &Path, _names: &[&str]) -> Result<()> {
    Err(DataError::format(
        archive,
        "tar extraction needs the `download` feature",
    ))
}

/// Extracts every file member of the zip archive `archive` into `dir`, under its base name
/// (the enwik8 and text8 archives hold one member each, `enwik8` and `text8`).
///
/// The archive is read with the [`zip`] crate from its central directory. Members may be
/// stored or deflated; each is checked against the archive's CRC-32 and declared size while
/// it is written. A member is written to `NAME.part` in `dir` and renamed to `NAME` only once
/// it has passed these checks, so a damaged archive leaves no file behind that could pass for
/// a good one. Directory members are skipped. A member whose path leaves the extraction
/// directory (`../x`) or names no file, a symbolic link, an encrypted member, an unsupported
/// compression method, a truncated or otherwise damaged archive, and an archive without a
/// file member are [`DataError`]s naming `archive` and the problem. An absolute member path is
/// taken relative to `dir` (as `unzip` does), and only base names are used, so nothing is
/// ever written outside `dir`.
pub fn extract_zip(archive: &Path, dir: &Path) -> Result<()> {
    let file = File::open(archive).map_err(|e| DataError::io(archive, e))?;
    for_each_zip_member(archive, BufReader::new(file), |name, declared, member| {
        let dest = dir.join(name);
        let part = dir.join(format!("{name}.part"));
        let written = File::create(&part)
            .map_err(|e| DataError::io(&part, e))
            .and_then(|mut out| copy_member(archive, name, declared, member, &mut out, &part))
            .and_then(|()| fs::rename(&part, &dest).map_err(|e| DataError::io(&dest, e)));
        if written.is_err() {
            let _ = fs::remove_file(&part);
        }
        written
    })?;
    Ok(())
}

/// Reads the zip archive `bytes` as [`extract_zip`] reads the file `archive`, with the same
/// checks, and returns each file member's base name and content in archive order instead of
/// writing them. `archive` is only used in messages. This is the byte-level entry point of
/// the `zip` fuzz target.
pub fn unzip_bytes(archive: &Path, bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut members = Vec::new();
    for_each_zip_member(archive, io::Cursor::new(bytes), |name, declared, member| {
        let mut content = Vec::new();
        copy_member(archive, name, declared, member, &mut content, archive)?;
        members.push((name.to_string(), content));
        Ok(())
    })?;
    Ok(members)
}

/// Opens `reader` as a zip archive and hands each file member, with its safe base name and
/// declared uncompressed size, to `sink` (which reads it with [`copy_member`]). Checks the
/// names and that there is at least one file member.
fn for_each_zip_member<R: Read + io::Seek>(
    archive: &Path,
    reader: R,
    mut sink: impl FnMut(&str, u64, &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| zip_error(archive, "not a readable zip archive", e))?;
    let mut files = 0;
    for i in 0..zip.len() {
        let mut member = zip
            .by_index(i)
            .map_err(|e| zip_error(archive, &format!("zip member {i}"), e))?;
        let raw = String::from_utf8_lossy(member.name_raw()).into_owned();
        if member.is_dir() {
            continue;
        }
        if member.is_symlink() {
            return Err(DataError::format(
                archive,
                format!("zip member {raw:?} is a symbolic link"),
            ));
        }
        let base = member
            .enclosed_name()
            .and_then(|p| p.file_name().and_then(|b| b.to_str()).map(str::to_string));
        let Some(base) = base.filter(|b| !b.is_empty() && !b.contains(['/', '\\'])) else {
            return Err(DataError::format(
                archive,
                format!(
                    "zip member {raw:?} has an unsafe path (it leaves the extraction \
                     directory or names no file)"
                ),
            ));
        };
        let declared = member.size();
        sink(&base, declared, &mut member)?;
        files += 1;
    }
    if files == 0 {
        return Err(DataError::format(archive, "zip archive has no file member"));
    }
    Ok(())
}

/// Copies a zip member to `out`. A read error (bad deflate stream, CRC-32 mismatch, member
/// larger than declared, truncated archive) or a member shorter than its `declared` size is a
/// [`DataError::Format`] naming `archive` and the member, a write error a [`DataError::Io`]
/// naming `dest`.
fn copy_member(
    archive: &Path,
    name: &str,
    declared: u64,
    member: &mut dyn Read,
    out: &mut dyn io::Write,
    dest: &Path,
) -> Result<()> {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match member.read(&mut buf) {
            Ok(0) if total == declared => return Ok(()),
            Ok(0) => {
                return Err(DataError::format(
                    archive,
                    format!(
                        "zip member {name:?} holds {total} bytes but its header declares {declared}"
                    ),
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(DataError::format(
                    archive,
                    format!("zip member {name:?} is damaged: {e}"),
                ));
            }
        };
        out.write_all(&buf[..n])
            .map_err(|e| DataError::io(dest, e))?;
        total += n as u64;
    }
}

fn zip_error(archive: &Path, context: &str, e: zip::result::ZipError) -> DataError {
    match e {
        zip::result::ZipError::Io(e)
            if !matches!(
                e.kind(),
                io::ErrorKind::InvalidData
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::UnexpectedEof
            ) =>
        {
            DataError::io(archive, e)
        }
        e => DataError::format(archive, format!("{context}: {e}")),
    }
}

/// Downloads `url` to `dest` (via `dest.part`), printing a progress line on stderr.
#[cfg(feature = "download")]
fn http_get_to_file(url: &str, dest: &Path) -> std::result::Result<(), String> {
    use std::io::Write;
    use std::time::Duration;

    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_body(Some(Duration::from_secs(60)))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let total = response.body().content_length();
    let mut body = response.body_mut().as_reader();
    let part = dest.with_extension("part");
    let mut out = File::create(&part).map_err(|e| format!("{}: {e}", part.display()))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut so_far = 0u64;
    let mut last_print = 0u64;
    let name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mb = |b: u64| b as f64 / 1e6;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = fs::remove_file(&part);
                return Err(format!("reading the response: {e}"));
            }
        };
        out.write_all(&buf[..n])
            .map_err(|e| format!("{}: {e}", part.display()))?;
        so_far += n as u64;
        if so_far - last_print >= 1 << 20 {
            last_print = so_far;
            match total {
                Some(t) => eprint!("\r  {name}: {:.1} / {:.1} MB", mb(so_far), mb(t)),
                None => eprint!("\r  {name}: {:.1} MB", mb(so_far)),
            }
        }
    }
    eprintln!("\r  {name}: {:.1} MB done", mb(so_far));
    drop(out);
    if let Some(t) = total
        && t != so_far
    {
        let _ = fs::remove_file(&part);
        return Err(format!("connection closed after {so_far} of {t} bytes"));
    }
    fs::rename(&part, dest).map_err(|e| format!("{}: {e}", dest.display()))
}

#[cfg(not(feature = "download"))]
fn http_get_to_file(_url: &str, _dest: &Path) -> std::result::Result<(), String> {
    Err("this build of `datasets` has no `download` feature".to_string())
}

#[cfg(test)]
mod tests;
