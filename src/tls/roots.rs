//! The system's CA certificates: the files rustls-native-certs reads, read as it reads them,
//! faster.
//!
//! Why not `rustls_native_certs::load_native_certs` itself: its PEM reader (rustls-pki-types: a
//! line at a time through `BufRead`, then a careful base64 decoder) was 8.5 million
//! instructions for one ~220 KB bundle, 44 % of everything a cold start does up to the first
//! CloudFormation response (callgrind, `scripts/bench --wrap`); this one is 1.2 million. The
//! trust decision stays the library's: the same files (`from_env`: `SSL_CERT_FILE` and/or
//! `SSL_CERT_DIR` by its exact rule, else the locations openssl-probe knows; each file of a
//! directory once, as the `openssl rehash` links point at files already read; duplicates
//! dropped), and the same reading of their text (`decode`). Tests compare both with the
//! library: this machine's store, a fabricated directory, and odd texts.

use rustls::pki_types::CertificateDer;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const CERTIFICATE: &[u8] = b"CERTIFICATE";

/// The certificates of the system's trust store, sorted and without duplicates. Unreadable
/// files and blocks are skipped, as every TLS client skips them.
pub fn load() -> Vec<CertificateDer<'static>> {
    let var = std::env::var_os;
    match from_env(var("SSL_CERT_FILE"), var("SSL_CERT_DIR")) {
        Some((file, dirs)) => load_from(file.as_deref(), &dirs),
        None => {
            let probed = openssl_probe::probe();
            load_from(probed.cert_file.as_deref(), &probed.cert_dir)
        }
    }
}

/// rustls-native-certs' `CertPaths::from_env` and its choice, to the letter: `None` (probe the
/// system) unless SSL_CERT_FILE is set, even empty (which then gives no certificates), or
/// SSL_CERT_DIR names a directory once its empty entries are dropped.
fn from_env(
    file: Option<OsString>,
    dir: Option<OsString>,
) -> Option<(Option<PathBuf>, Vec<PathBuf>)> {
    let file = file.map(PathBuf::from);
    let dirs: Vec<PathBuf> = dir
        .map(|d| {
            std::env::split_paths(&d)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    (file.is_some() || !dirs.is_empty()).then_some((file, dirs))
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
    for dir in dirs {
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

/// The DER of each `CERTIFICATE` section of a PEM text, in order, read as rustls-pki-types
/// reads it, so that exactly the same certificates come out: lines end at `\n` or `\r`; a
/// line starting `-----BEGIN ` opens a section (any label, and without closing the one open:
/// the bodies run on, as there) if it ends in exactly five dashes, else it abandons what was
/// open; `-----END <label>-----` closes it; other text outside sections is ignored (bundles
/// carry comments). A section that is not `CERTIFICATE` (`TRUSTED CERTIFICATE`, `X509 CRL`),
/// or whose body is not base64, gives nothing.
///
/// The speed is in the body: its lines are copied whole (memchr, memcpy) and decoded by
/// base64-simd, the SDK's own base64; whitespace inside a line, which no bundle has, takes
/// its forgiving (WHATWG) decoder instead.
fn decode(pem: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut lines = lines(pem);
    let mut label: Option<&[u8]> = None;
    let mut body = Vec::new();
    std::iter::from_fn(move || {
        for line in lines.by_ref() {
            if line.starts_with(BEGIN) {
                label = begin_label(line);
                if label.is_none() {
                    body.clear();
                }
                continue;
            }
            let Some(open) = label else { continue };
            let closes = line
                .strip_prefix(END)
                .and_then(|rest| rest.strip_prefix(open))
                .is_some_and(|rest| rest.starts_with(b"-----"));
            if !closes {
                body.extend_from_slice(line.trim_ascii());
                continue;
            }
            label = None;
            let der = (open == CERTIFICATE).then(|| {
                base64_simd::STANDARD
                    .decode_to_vec(&body)
                    .or_else(|_| base64_simd::forgiving_decode_to_vec(&body))
            });
            body.clear();
            if let Some(Ok(der)) = der {
                return Some(der);
            }
        }
        None
    })
}

/// The text's lines, without their `\n` or `\r`.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut from = 0;
    memchr::memchr2_iter(b'\n', b'\r', text)
        .chain([text.len()])
        .map(move |eol| {
            let line = &text[from..eol];
            from = eol + 1;
            line
        })
}

/// The label of a `-----BEGIN <label>-----` line, `None` unless it ends in exactly five dashes
/// (spaces among them and after them are passed over, as rustls-pki-types passes them over).
fn begin_label(line: &[u8]) -> Option<&[u8]> {
    let (mut dashes, mut at) = (0, line.len());
    for (i, &b) in line.iter().enumerate().rev() {
        match b {
            b'-' => {
                dashes += 1;
                at = i;
            }
            b' ' => continue,
            _ => break,
        }
    }
    (dashes == 5).then(|| line.get(BEGIN.len()..at)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::RootCertStore;
    use rustls::pki_types::pem::PemObject;

    /// Two certificates of this machine's store.
    fn two() -> [Vec<u8>; 2] {
        let ders: Vec<Vec<u8>> = rustls_native_certs::load_native_certs()
            .certs
            .into_iter()
            .take(2)
            .map(|c| c.to_vec())
            .collect();
        ders.try_into()
            .expect("the machine has two CA certificates: apt-get install -y ca-certificates")
    }

    /// `der` as PEM body lines of 64 characters.
    fn body(der: &[u8], eol: &str) -> String {
        let text = base64_simd::STANDARD.encode_to_string(der);
        text.as_bytes()
            .chunks(64)
            .map(|l| format!("{}{eol}", std::str::from_utf8(l).unwrap()))
            .collect()
    }

    fn block(label: &str, body: &str, eol: &str) -> String {
        format!("-----BEGIN {label}-----{eol}{body}-----END {label}-----{eol}")
    }

    /// A bundle as distributions write them, plus the odd blocks a trust file may hold.
    fn bundle(eol: &str) -> String {
        let [a, b] = two();
        [
            format!("# A bundle's comment{eol}"),
            block("CERTIFICATE", &body(&a, eol), eol),
            eol.to_string(),
            block("TRUSTED CERTIFICATE", &body(&b, eol), eol),
            block("CERTIFICATE", &format!("not base64!{eol}"), eol),
            block("PRIVATE KEY", &body(&a, eol), eol),
            block("CERTIFICATE", &body(&b, eol), eol),
            format!("-----BEGIN CERTIFICATE-----{eol}{}", body(&a, eol)),
        ]
        .concat()
    }

    /// What rustls-pki-types' own reader (rustls-native-certs') gives.
    fn theirs(pem: &str) -> Vec<Vec<u8>> {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .filter_map(Result::ok)
            .map(|c| c.to_vec())
            .collect()
    }

    fn ours(pem: &str) -> Vec<Vec<u8>> {
        decode(pem.as_bytes()).collect()
    }

    #[test]
    fn a_bundle_gives_its_certificate_blocks_and_nothing_else() {
        let [a, b] = two();
        for eol in ["\n", "\r\n", "\r"] {
            let pem = bundle(eol);
            assert_eq!(ours(&pem), [a.clone(), b.clone()], "line ending {eol:?}");
            assert_eq!(ours(&pem), theirs(&pem), "line ending {eol:?}");
        }
    }

    /// What becomes a trust anchor of `ders`.
    fn anchors(ders: Vec<Vec<u8>>) -> Vec<rustls::pki_types::TrustAnchor<'static>> {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(ders.into_iter().map(CertificateDer::from));
        roots.roots
    }

    /// Odd texts give the trust anchors rustls-pki-types' reading gives: no certificate
    /// trusted that rustls-native-certs would not trust, none lost that it would keep. (Not
    /// always the same bytes: where it glues two bodies into one, both readers may decode the
    /// glued text differently, and no certificate comes of it either way.)
    #[test]
    fn odd_texts_give_what_rustls_pki_types_gives() {
        let [a, b] = two();
        let (ba, bb) = (body(&a, "\n"), body(&b, "\n"));
        let good = block("CERTIFICATE", &bb, "\n");
        let spaced = {
            let one_line = base64_simd::STANDARD.encode_to_string(&a);
            format!("{} \t{}\n", &one_line[..10], &one_line[10..])
        };
        let cases = [
            // Cut short, then a good block: the bodies run on into one, lost.
            format!("-----BEGIN CERTIFICATE-----\nMIIcut\n{good}"),
            // An unterminated trusted certificate, then a good block: the same.
            format!("-----BEGIN TRUSTED CERTIFICATE-----\n{ba}{good}"),
            // A BEGIN line with four dashes abandons what follows until the next BEGIN.
            format!("-----BEGIN CERTIFICATE----\n{ba}-----END CERTIFICATE-----\n{good}"),
            format!("-----BEGIN CERTIFICATE-----  \n{ba}-----END CERTIFICATE-----\n{good}"),
            // Markers not at the start of their line are text.
            format!("  -----BEGIN CERTIFICATE-----\n{ba}  -----END CERTIFICATE-----\n{good}"),
            format!("-----BEGIN CERTIFICATE-----\n{ba}-----END X509 CRL-----\n{good}"),
            format!("-----BEGIN CERTIFICATE-----\n{spaced}-----END CERTIFICATE-----\n"),
            format!("-----BEGIN X509 CRL-----\n{ba}-----END X509 CRL-----\n{good}"),
            String::new(),
            "-----BEGIN -----\n-----END -----\n".to_string(),
        ];
        for (i, pem) in cases.iter().enumerate() {
            assert_eq!(anchors(ours(pem)), anchors(theirs(pem)), "case {i}");
        }
        // And the cases mean something: some give a certificate, some none.
        assert_eq!(anchors(ours(&cases[0])), []);
        assert_eq!(anchors(ours(&cases[2])), anchors(vec![b.clone()]));
        assert_eq!(anchors(ours(&cases[6])), anchors(vec![a.clone()]));
    }

    #[test]
    fn the_environment_is_read_as_rustls_native_certs_reads_it() {
        let os = |s: &str| Some(OsString::from(s));
        assert_eq!(from_env(None, None), None);
        // An empty SSL_CERT_FILE still counts: no certificates, not the system's.
        assert_eq!(from_env(os(""), None), Some((Some(PathBuf::new()), vec![])));
        // An SSL_CERT_DIR of empty entries does not: the system's.
        assert_eq!(from_env(None, os(":")), None);
        assert_eq!(
            from_env(os("/ca.pem"), os(":/a::/b")),
            Some((Some("/ca.pem".into()), vec!["/a".into(), "/b".into()]))
        );
        assert!(load_from(Some(Path::new("")), &[]).is_empty());
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
        let ders = two().to_vec();
        let bundle = dir.join("certs/bundle.pem");
        fs::write(&bundle, self::bundle("\n")).unwrap();
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
