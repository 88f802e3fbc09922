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
    let mut candidates = Vec::new();
    if let Some(dir) = data_dir {
        candidates.push(dir.join(spec.slug));
        candidates.push(dir.to_path_buf());
    }
    candidates.push(spec.cache_subdir());
    candidates.extend(spec.system_dir.map(PathBuf::from));
    candidates
        .into_iter()
        .find(|dir| spec.files.iter().all(|f| find_file(dir, f.name).is_some()))
}

/// Locates the files ([`locate`]) or downloads them into the cache, verifying every
/// downloaded file. A failed download is a [`DataError::Download`] that says how to get the
/// files with `scripts/fetch-data.sh` or by hand.
pub fn fetch(spec: &DatasetSpec, data_dir: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = locate(spec, data_dir) {
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

/// Extracts every member of a zip file (stored or deflated, as written by `zip`) into `dir`.
///
/// A minimal reader of local file headers: enough for the single-member archives of
/// enwik8 and text8.
pub fn extract_zip(archive: &Path, dir: &Path) -> Result<()> {
    let file = File::open(archive).map_err(|e| DataError::io(archive, e))?;
    let mut reader = BufReader::new(file);
    let mut extracted = 0;
    loop {
        let mut header = [0u8; 30];
        if let Err(e) = reader.read_exact(&mut header) {
            if extracted > 0 {
                break;
            }
            return Err(DataError::format(archive, format!("no zip header: {e}")));
        }
        let u16_at = |i: usize| u16::from_le_bytes([header[i], header[i + 1]]);
        let u32_at =
            |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        if u32_at(0) != 0x0403_4b50 {
            if extracted > 0 {
                break; // central directory
            }
            return Err(DataError::format(archive, "not a zip file (bad signature)"));
        }
        let flags = u16_at(6);
        let method = u16_at(8);
        let compressed = u32_at(18) as u64;
        let name_len = u16_at(26) as usize;
        let extra_len = u16_at(28) as usize;
        let mut name = vec![0u8; name_len];
        reader
            .read_exact(&mut name)
            .map_err(|e| DataError::format(archive, format!("truncated zip header: {e}")))?;
        io::copy(&mut (&mut reader).take(extra_len as u64), &mut io::sink())
            .map_err(|e| DataError::io(archive, e))?;
        let name = String::from_utf8_lossy(&name).into_owned();
        let base = name.rsplit('/').next().unwrap_or("").to_string();
        if base.is_empty() || base == ".." || base == "." {
            return Err(DataError::format(
                archive,
                format!("unsupported zip member {name:?}"),
            ));
        }
        let dest = dir.join(&base);
        let mut out = File::create(&dest).map_err(|e| DataError::io(&dest, e))?;
        match method {
            0 => {
                io::copy(&mut (&mut reader).take(compressed), &mut out)
                    .map_err(|e| DataError::io(&dest, e))?;
            }
            8 => {
                // The deflate stream ends by itself, also when sizes are in a data descriptor.
                let mut inflater = flate2::bufread::DeflateDecoder::new(&mut reader);
                io::copy(&mut inflater, &mut out).map_err(|e| decompress_error(archive, e))?;
            }
            m => {
                return Err(DataError::format(
                    archive,
                    format!("zip member {name:?} uses unsupported compression method {m}"),
                ));
            }
        }
        extracted += 1;
        if flags & 0x8 != 0 {
            // Sizes follow in a data descriptor; only single-member archives are supported.
            break;
        }
    }
    Ok(())
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
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn checksum_mismatch_names_file_expected_and_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ptb.valid.txt");
        fs::write(&path, b"hello\n").unwrap();
        let err =
            verify_file(&path, Checksum::Md5("aa0affc06ff7c36e977d7cd49e3839bf")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DataError::ChecksumMismatch { .. }));
        assert!(msg.contains("ptb.valid.txt"), "{msg}");
        assert!(msg.contains("aa0affc06ff7c36e977d7cd49e3839bf"), "{msg}");
        // md5("hello\n")
        assert!(msg.contains("b1946ac92492d2347c6235b4d2611184"), "{msg}");
        assert!(msg.contains("md5"), "{msg}");
    }

    #[test]
    fn checksums_are_of_decompressed_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.gz");
        let mut gz = flate2::write::GzEncoder::new(
            File::create(&path).unwrap(),
            flate2::Compression::default(),
        );
        gz.write_all(b"hello\n").unwrap();
        gz.finish().unwrap();
        verify_file(&path, Checksum::Md5("b1946ac92492d2347c6235b4d2611184")).unwrap();
        verify_file(
            &path,
            Checksum::Sha256("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"),
        )
        .unwrap();
        verify_file(&path, Checksum::Size(6)).unwrap();
        assert!(verify_file(&path, Checksum::Size(7)).is_err());
    }

    #[test]
    fn corrupt_gzip_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train-images-idx3-ubyte.gz");
        fs::write(&path, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
        let msg = read_file(&path).unwrap_err().to_string();
        assert!(msg.contains("train-images-idx3-ubyte.gz"), "{msg}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let msg = require_file(dir.path(), "t10k-labels-idx1-ubyte")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("t10k-labels-idx1-ubyte"), "{msg}");
        assert!(msg.contains("not found"), "{msg}");
    }

    #[test]
    fn zip_members_are_extracted() {
        let dir = tempfile::tempdir().unwrap();
        // A zip with one deflated member "text8", written by hand.
        let content = b"anarchism originated as a term of abuse";
        let mut deflated = Vec::new();
        {
            let mut enc =
                flate2::write::DeflateEncoder::new(&mut deflated, flate2::Compression::default());
            enc.write_all(content).unwrap();
            enc.finish().unwrap();
        }
        let mut zip = Vec::new();
        zip.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        zip.extend_from_slice(&[20, 0, 0, 0, 8, 0, 0, 0, 0, 0]); // version, flags, method, time, date
        zip.extend_from_slice(&0u32.to_le_bytes()); // crc (unchecked)
        zip.extend_from_slice(&(deflated.len() as u32).to_le_bytes());
        zip.extend_from_slice(&(content.len() as u32).to_le_bytes());
        zip.extend_from_slice(&5u16.to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        zip.extend_from_slice(b"text8");
        zip.extend_from_slice(&deflated);
        zip.extend_from_slice(&0x0201_4b50u32.to_le_bytes()); // start of central directory
        let archive = dir.path().join("text8.zip");
        fs::write(&archive, &zip).unwrap();
        extract_zip(&archive, dir.path()).unwrap();
        assert_eq!(fs::read(dir.path().join("text8")).unwrap(), content);
    }

    #[test]
    fn failed_download_says_how_to_get_the_files() {
        let spec = DatasetSpec {
            slug: "mnist",
            files: &[DataFile {
                name: "nothing-here",
                checksum: Checksum::Size(1),
            }],
            source: Source::Files {
                mirrors: &["http://127.0.0.1:9/"],
                suffix: ".gz",
            },
            help: "Run `bash scripts/fetch-data.sh mnist`.",
            system_dir: None,
        };
        // Port 9 (discard) on loopback: the connection is refused at once.
        let dir = tempfile::tempdir().unwrap();
        let err = download_into(&spec, dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DataError::Download { .. }), "{msg}");
        assert!(msg.contains("http://127.0.0.1:9/nothing-here.gz"), "{msg}");
        assert!(msg.contains("scripts/fetch-data.sh mnist"), "{msg}");
        assert!(msg.contains("nothing-here"), "{msg}");
    }
}
