//! The system's CA certificates, found where rustls-native-certs finds them and decoded by a
//! faster reader than its own.
//!
//! Why not `rustls_native_certs::load_native_certs` itself: it reads PEM with rustls-pki-types'
//! reader (a line at a time, then a careful base64 decoder), which was 8.5 million instructions
//! for one ~220 KB bundle: 44 % of everything a cold start does up to the first
//! CloudFormation response (callgrind, `scripts/bench --wrap`). Finding the blocks with
//! `memmem` and decoding them with `base64-simd` (the AWS SDK's own base64, already in the
//! binary) does the same work in a small fraction of that. What is kept exactly is *which* files are read, so the trust decision is the
//! library's: `SSL_CERT_FILE` and/or `SSL_CERT_DIR` when either is set (and then only they),
//! else the locations `openssl-probe` knows for the distribution; in a directory each file is
//! read once (the `openssl rehash` symlinks point at files already read); duplicates are
//! dropped. A test compares the result with the library's on this machine.

use memchr::memmem;
use rustls::pki_types::CertificateDer;
use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
const END: &[u8] = b"-----END CERTIFICATE-----";

/// The certificates of the system's trust store, sorted and without duplicates. Unreadable
/// files and blocks are skipped, as every TLS client skips them.
pub fn load() -> Vec<CertificateDer<'static>> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let (file, dirs) = match (var("SSL_CERT_FILE"), var("SSL_CERT_DIR")) {
        (None, None) => {
            let probed = openssl_probe::probe();
            (probed.cert_file, probed.cert_dir)
        }
        (file, dirs) => (
            file.map(PathBuf::from),
            dirs.map(|d| std::env::split_paths(&d).collect())
                .unwrap_or_default(),
        ),
    };
    load_from(file.as_deref(), &dirs)
}

fn load_from(file: Option<&Path>, dirs: &[PathBuf]) -> Vec<CertificateDer<'static>> {
    let mut certs = Vec::new();
    let mut seen = HashSet::new();
    let mut first_visit = |m: &fs::Metadata| seen.insert((m.dev(), m.ino()));
    if let Some(file) = file {
        if let Ok(metadata) = fs::metadata(file) {
            first_visit(&metadata);
        }
        read_into(file, &mut certs);
    }
    for dir in dirs.iter().filter(|d| !d.as_os_str().is_empty()) {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // Follows symlinks: a rehash link and its target are one file.
            if fs::metadata(&path).is_ok_and(|m| m.is_file() && first_visit(&m)) {
                read_into(&path, &mut certs);
            }
        }
    }
    certs.sort_unstable();
    certs.dedup();
    certs.into_iter().map(CertificateDer::from).collect()
}

fn read_into(path: &Path, certs: &mut Vec<Vec<u8>>) {
    if let Ok(pem) = fs::read(path) {
        certs.extend(decode(&pem));
    }
}

/// The DER of each `CERTIFICATE` block of a PEM text, in order; a block whose body is not
/// base64 is skipped. Text between blocks (bundles carry comments) and other labels
/// (`TRUSTED CERTIFICATE`, `X509 CRL`) are not certificates and are passed over.
fn decode(pem: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let begin = memmem::Finder::new(BEGIN);
    let last_begin = memmem::FinderRev::new(BEGIN);
    let end = memmem::Finder::new(END);
    let mut rest = pem;
    let mut body = Vec::new();
    std::iter::from_fn(move || {
        loop {
            let start = begin.find(rest)? + BEGIN.len();
            let len = end.find(&rest[start..])?;
            let mut block = &rest[start..start + len];
            rest = &rest[start + len + END.len()..];
            // A block cut short is followed by the next one's BEGIN: start from the last.
            if let Some(i) = last_begin.rfind(block) {
                block = &block[i + BEGIN.len()..];
            }
            // The body's lines, joined (memchr and memcpy: a byte-at-a-time whitespace filter
            // was most of the time left), then base64-simd, the SDK's own base64. Whitespace
            // inside a line, which no bundle has, takes the forgiving (WHATWG) decoder instead.
            body.clear();
            let mut from = 0;
            for eol in memchr::memchr_iter(b'\n', block).chain([block.len()]) {
                body.extend_from_slice(block[from..eol].trim_ascii());
                from = eol + 1;
            }
            let der = base64_simd::STANDARD
                .decode_to_vec(&body)
                .or_else(|_| base64_simd::forgiving_decode_to_vec(block));
            if let Ok(der) = der {
                return Some(der);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two certificates of this machine's store, as PEM text with the given line ending.
    /// With `cut`, a block cut short comes before the second certificate: rustls-pki-types
    /// then glues the two bodies into one unparsable certificate and loses the second; we,
    /// like OpenSSL, start again at the next BEGIN.
    fn sample(eol: &str, cut: bool) -> (Vec<Vec<u8>>, String) {
        let ders: Vec<Vec<u8>> = rustls_native_certs::load_native_certs()
            .certs
            .into_iter()
            .take(2)
            .map(|c| c.to_vec())
            .collect();
        assert_eq!(
            ders.len(),
            2,
            "the machine has no CA certificates: apt-get install -y ca-certificates"
        );
        let b64 = |der: &[u8]| {
            let text = base64_simd::STANDARD.encode_to_string(der);
            text.as_bytes()
                .chunks(64)
                .map(|l| format!("{}{eol}", std::str::from_utf8(l).unwrap()))
                .collect::<String>()
        };
        let pem = format!(
            "# A bundle's comment{eol}-----BEGIN CERTIFICATE-----{eol}{}-----END CERTIFICATE-----{eol}\
             {eol}-----BEGIN TRUSTED CERTIFICATE-----{eol}{}-----END TRUSTED CERTIFICATE-----{eol}\
             -----BEGIN CERTIFICATE-----{eol}not base64!{eol}-----END CERTIFICATE-----{eol}\
             {}-----BEGIN CERTIFICATE-----{eol}{}-----END CERTIFICATE-----{eol}\
             -----BEGIN CERTIFICATE-----{eol}{}",
            b64(&ders[0]),
            if cut {
                format!("-----BEGIN CERTIFICATE-----{eol}MIIcut{eol}")
            } else {
                String::new()
            },
            b64(&ders[1]),
            b64(&ders[1]),
            b64(&ders[0]),
        );
        (ders, pem)
    }

    #[test]
    fn certificate_blocks_are_decoded_and_everything_else_passed_over() {
        for eol in ["\n", "\r\n"] {
            let (ders, pem) = sample(eol, true);
            // The trusted-certificate block, the broken block, the block cut short and the
            // unterminated last block give nothing.
            let got: Vec<Vec<u8>> = decode(pem.as_bytes()).collect();
            assert_eq!(got, ders, "line ending {eol:?}");
        }
    }

    #[test]
    fn whitespace_inside_a_line_is_skipped_too() {
        let (ders, _) = sample("\n", false);
        let b64 = base64_simd::STANDARD.encode_to_string(&ders[0]);
        let pem = format!(
            "{}\n{} \t{}\n{}\n",
            BEGIN.escape_ascii(),
            &b64[..10],
            &b64[10..],
            END.escape_ascii()
        );
        assert_eq!(
            decode(pem.as_bytes()).collect::<Vec<_>>(),
            [ders[0].clone()]
        );
    }

    #[test]
    fn finds_what_rustls_native_certs_finds_on_this_machine() {
        let ours = load();
        // The library sorts and dedups too.
        let theirs = rustls_native_certs::load_native_certs().certs;
        assert!(
            ours.len() > 50,
            "{} certificates: is ca-certificates installed?",
            ours.len()
        );
        assert!(ours == theirs, "{} against {}", ours.len(), theirs.len());
    }

    #[test]
    fn a_directory_is_read_once_per_file_and_the_bundle_not_twice() {
        let dir = std::env::temp_dir().join(format!("userkeeper-roots-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("certs")).unwrap();
        let (ders, pem) = sample("\n", false);
        let bundle = dir.join("certs/bundle.pem");
        fs::write(&bundle, &pem).unwrap();
        std::os::unix::fs::symlink(&bundle, dir.join("certs/1a2b3c4d.0")).unwrap();
        std::os::unix::fs::symlink("missing.pem", dir.join("certs/dangling.0")).unwrap();
        fs::create_dir(dir.join("certs/subdir")).unwrap();
        let mut ders = ders;
        ders.sort_unstable();
        let want: Vec<CertificateDer<'static>> =
            ders.into_iter().map(CertificateDer::from).collect();
        let got = load_from(Some(&bundle), &[dir.join("certs"), dir.join("absent")]);
        assert_eq!(got, want);
        let theirs =
            rustls_native_certs::load_certs_from_paths(Some(&bundle), Some(&dir.join("certs")));
        assert_eq!(got, theirs.certs);
        fs::remove_dir_all(&dir).unwrap();
    }
}
