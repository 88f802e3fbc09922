//! Zip archives (`fetch::unzip_bytes`, the byte-level form of `fetch::extract_zip`, which
//! unpacks the downloaded enwik8 and text8 archives): the `zip` crate's central-directory
//! reader, stored and deflated members, its CRC-32 and size checks, and the member-name
//! checks that keep extraction inside the target directory.
#![no_main]

use std::path::Path;

use datasets::fetch::unzip_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let archive = Path::new("text8.zip");
    match unzip_bytes(archive, data) {
        Ok(members) => {
            assert!(!members.is_empty(), "Ok without a file member");
            for (name, _) in &members {
                // A plain file name: joined to the extraction directory, it stays inside.
                assert!(!name.is_empty(), "empty member name");
                assert!(name != "." && name != "..", "member name {name:?}");
                assert!(!name.contains(['/', '\\', '\0']), "member name {name:?}");
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("text8.zip"),
                "message does not name the file: {msg}"
            );
        }
    }
});
