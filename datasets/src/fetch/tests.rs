use super::*;
use std::io::Write;

#[test]
fn checksum_mismatch_names_file_expected_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ptb.valid.txt");
    fs::write(&path, b"hello\n").unwrap();
    let err = verify_file(&path, Checksum::Md5("aa0affc06ff7c36e977d7cd49e3839bf")).unwrap_err();
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
    let mut gz =
        flate2::write::GzEncoder::new(File::create(&path).unwrap(), flate2::Compression::default());
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
fn a_data_dir_that_does_not_exist_is_an_error_not_the_cache() {
    let missing = Path::new("/nonexistent/highway-zoo-data");
    let err = require_data_dir(Some(missing)).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/highway-zoo-data"), "{err}");
    assert!(err.contains("--data-dir"), "{err}");
    assert!(require_data_dir(None).is_ok());
    assert!(require_data_dir(Some(&std::env::temp_dir())).is_ok());
    let spec = crate::DatasetName::Mnist.spec();
    let err = fetch(spec, Some(missing)).unwrap_err().to_string();
    assert!(err.contains("does not exist"), "{err}");
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

const TEXT8: &[u8] = b"anarchism originated as a term of abuse first used against early";

/// A zip archive written by the `zip` crate; `(name, content, deflated)` per member, a
/// name ending in `/` is a directory.
fn zip_bytes(members: &[(&str, &[u8], bool)]) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    for &(name, content, deflated) in members {
        let method = if deflated {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default().compression_method(method);
        if name.ends_with('/') {
            w.add_directory(name, options).unwrap();
        } else {
            w.start_file(name, options).unwrap();
            w.write_all(content).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

/// Offset of the first central-directory header.
fn central_header(zip: &[u8]) -> usize {
    zip.windows(4)
        .position(|w| w == 0x0201_4b50u32.to_le_bytes())
        .unwrap()
}

/// Overwrites a field of the first member in both its local header (at `local`) and its
/// central-directory header (at `central`).
fn patch_first_member(zip: &mut [u8], local: usize, central: usize, bytes: &[u8]) {
    let c = central_header(zip) + central;
    zip[local..local + bytes.len()].copy_from_slice(bytes);
    zip[c..c + bytes.len()].copy_from_slice(bytes);
}

/// Writes `zip` to `DIR/text8.zip`, extracts it into `DIR/out` and returns the error
/// message, checking that it names the archive and that nothing was left behind in `DIR`
/// or `DIR/out`.
fn extract_err(zip: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("text8.zip");
    fs::write(&archive, zip).unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let err = extract_zip(&archive, &out).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("text8.zip"), "{msg}");
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0, "{msg}");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2, "{msg}");
    // The byte-level reader agrees.
    let bytes_msg = unzip_bytes(&archive, zip).unwrap_err().to_string();
    assert!(bytes_msg.contains("text8.zip"), "{bytes_msg}");
    msg
}

#[test]
fn zip_stored_and_deflated_members_are_extracted() {
    let dir = tempfile::tempdir().unwrap();
    let zip = zip_bytes(&[
        ("text8", TEXT8, true),
        ("data/", b"", false),
        ("data/enwik8", b"<mediawiki>", false),
    ]);
    let archive = dir.path().join("text8.zip");
    fs::write(&archive, &zip).unwrap();
    extract_zip(&archive, dir.path()).unwrap();
    assert_eq!(fs::read(dir.path().join("text8")).unwrap(), TEXT8);
    // Members in sub-directories land under their base name; directories are skipped.
    assert_eq!(fs::read(dir.path().join("enwik8")).unwrap(), b"<mediawiki>");
    assert!(!dir.path().join("data").exists());
    assert!(!dir.path().join("text8.part").exists());
    let members = unzip_bytes(&archive, &zip).unwrap();
    assert_eq!(
        members,
        vec![
            ("text8".to_string(), TEXT8.to_vec()),
            ("enwik8".to_string(), b"<mediawiki>".to_vec())
        ]
    );
}

#[test]
fn zip_with_wrong_crc_is_an_error() {
    for deflated in [false, true] {
        let mut zip = zip_bytes(&[("text8", TEXT8, deflated)]);
        let crc = u32::from_le_bytes(zip[14..18].try_into().unwrap());
        patch_first_member(&mut zip, 14, 16, &(crc ^ 1).to_le_bytes());
        let msg = extract_err(&zip);
        assert!(msg.contains("text8"), "{msg}");
        assert!(msg.to_lowercase().contains("checksum"), "{msg}");
    }
    // A flipped content byte under the right CRC.
    let mut zip = zip_bytes(&[("text8", TEXT8, false)]);
    zip[30 + 5] ^= 0x20;
    let msg = extract_err(&zip);
    assert!(msg.to_lowercase().contains("checksum"), "{msg}");
}

#[test]
fn zip_with_wrong_declared_size_is_an_error() {
    for (deflated, delta) in [(false, 1i64), (false, -1), (true, 1), (true, -1)] {
        let mut zip = zip_bytes(&[("text8", TEXT8, deflated)]);
        let size = (TEXT8.len() as i64 + delta) as u32;
        patch_first_member(&mut zip, 22, 24, &size.to_le_bytes());
        let msg = extract_err(&zip);
        assert!(msg.contains("text8"), "{msg}");
    }
}

#[test]
fn truncated_zip_is_an_error() {
    let zip = zip_bytes(&[("text8", TEXT8, true)]);
    for len in [
        0,
        1,
        4,
        22,
        30,
        40,
        zip.len() / 2,
        zip.len() - 22,
        zip.len() - 1,
    ] {
        extract_err(&zip[..len]);
    }
    // Cut inside the member's data, with the central directory kept: a short member.
    let c = central_header(&zip);
    let mut short = zip[..c - 8].to_vec();
    short.extend_from_slice(&zip[c..]);
    extract_err(&short);
}

#[test]
fn damaged_zip_archives_are_errors_not_panics() {
    // Not a zip file at all.
    let msg = extract_err(b"<mediawiki> not a zip archive, just text");
    assert!(msg.contains("zip"), "{msg}");
    // A local header and deflate data with a zero CRC but no central directory (the
    // format the hand-written reader this replaced accepted).
    let mut deflated = Vec::new();
    {
        let mut enc =
            flate2::write::DeflateEncoder::new(&mut deflated, flate2::Compression::default());
        enc.write_all(TEXT8).unwrap();
        enc.finish().unwrap();
    }
    let mut zip = Vec::new();
    zip.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[20, 0, 0, 0, 8, 0, 0, 0, 0, 0]); // version, flags, method, time, date
    zip.extend_from_slice(&0u32.to_le_bytes()); // crc
    zip.extend_from_slice(&(deflated.len() as u32).to_le_bytes());
    zip.extend_from_slice(&(TEXT8.len() as u32).to_le_bytes());
    zip.extend_from_slice(&5u16.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(b"text8");
    zip.extend_from_slice(&deflated);
    zip.extend_from_slice(&0x0201_4b50u32.to_le_bytes()); // start of central directory
    extract_err(&zip);
    // An unsupported compression method (12, bzip2).
    let mut zip = zip_bytes(&[("text8", TEXT8, false)]);
    patch_first_member(&mut zip, 8, 10, &12u16.to_le_bytes());
    let msg = extract_err(&zip);
    assert!(msg.contains("ompression"), "{msg}");
    // A corrupt deflate stream.
    let mut zip = zip_bytes(&[("text8", TEXT8, true)]);
    for b in &mut zip[30 + 5..30 + 15] {
        *b = 0xff;
    }
    extract_err(&zip);
    // Only a directory.
    let msg = extract_err(&zip_bytes(&[("text8/", b"", false)]));
    assert!(msg.contains("no file member"), "{msg}");
}

#[test]
fn zip_member_paths_leaving_the_directory_are_refused() {
    for name in ["../x", "a/../../x", "..", "a/.."] {
        let zip = zip_bytes(&[(name, b"escaped", false)]);
        let msg = extract_err(&zip);
        assert!(msg.contains("unsafe"), "{name}: {msg}");
    }
    // A harmless `..` inside the archive is resolved, not refused.
    let zip = zip_bytes(&[("a/../text8", TEXT8, false)]);
    let members = unzip_bytes(Path::new("text8.zip"), &zip).unwrap();
    assert_eq!(members, vec![("text8".to_string(), TEXT8.to_vec())]);
    // An absolute path is taken relative to the extraction directory.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let target = dir.path().join("escaped");
    let zip = zip_bytes(&[(target.to_str().unwrap(), b"escaped", false)]);
    let archive = dir.path().join("text8.zip");
    fs::write(&archive, &zip).unwrap();
    extract_zip(&archive, &out).unwrap();
    assert!(!target.exists());
    assert_eq!(fs::read(out.join("escaped")).unwrap(), b"escaped");
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
