//! Test-signing: a throwaway self-signed code-signing certificate made with
//! `openssl`, an Authenticode signature made with `osslsigncode`, and the
//! signature verified with `osslsigncode verify`.

use std::path::{Path, PathBuf};

use crate::tool;

/// A certificate made for one packaging run.
pub struct TestCertificate {
    /// The certificate, PEM (for signing and verification).
    pub cert_pem: PathBuf,
    /// Its private key, PEM, unencrypted: deleted once the image is signed.
    pub key_pem: PathBuf,
}

/// Subject of the throwaway certificate.
pub const SUBJECT: &str = "/O=gpup-miniport/CN=gpup-miniport throwaway test signing";

/// Makes a fresh self-signed code-signing certificate in `dir`.
///
/// # Errors
/// If `openssl` fails.
pub fn make_certificate(dir: &Path) -> Result<TestCertificate, String> {
    let cert_pem = dir.join("test-signing.cert.pem");
    let key_pem = dir.join("test-signing.key.pem");
    tool::run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:3072",
            "-sha256",
            "-nodes",
            "-days",
            "30",
            "-subj",
            SUBJECT,
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "keyUsage=critical,digitalSignature",
            "-addext",
            "extendedKeyUsage=codeSigning",
            "-keyout",
            tool::path_str(&key_pem)?,
            "-out",
            tool::path_str(&cert_pem)?,
        ],
    )?;
    Ok(TestCertificate { cert_pem, key_pem })
}

/// Writes the certificate in DER form (`.cer`, what Windows' certificate
/// tools import to trust the test signature).
///
/// # Errors
/// If `openssl` fails.
pub fn export_der(cert: &TestCertificate, cer: &Path) -> Result<(), String> {
    tool::run(
        "openssl",
        &[
            "x509",
            "-in",
            tool::path_str(&cert.cert_pem)?,
            "-outform",
            "DER",
            "-out",
            tool::path_str(cer)?,
        ],
    )
    .map(drop)
}

/// Signs `unsigned` into `signed` (SHA-256 Authenticode, no timestamp).
///
/// # Errors
/// If `osslsigncode` fails.
pub fn sign(cert: &TestCertificate, unsigned: &Path, signed: &Path) -> Result<(), String> {
    tool::run(
        "osslsigncode",
        &[
            "sign",
            "-certs",
            tool::path_str(&cert.cert_pem)?,
            "-key",
            tool::path_str(&cert.key_pem)?,
            "-h",
            "sha256",
            "-n",
            "gpup-miniport",
            "-in",
            tool::path_str(unsigned)?,
            "-out",
            tool::path_str(signed)?,
        ],
    )
    .map(drop)
}

/// Verifies the signature of `signed` against `cert_pem` as the only trusted
/// root, returning the lines of `osslsigncode verify` that say what it found.
///
/// # Errors
/// If verification fails (non-zero exit status or no "Signature
/// verification: ok").
pub fn verify(signed: &Path, cert_pem: &Path) -> Result<Vec<String>, String> {
    let output = tool::run(
        "osslsigncode",
        &[
            "verify",
            "-in",
            tool::path_str(signed)?,
            "-CAfile",
            tool::path_str(cert_pem)?,
        ],
    )?;
    let mut summary: Vec<String> = output
        .lines()
        .map(str::trim)
        .filter(|l| {
            [
                "Message digest algorithm  :",
                "Subject:",
                "Signature verification:",
                "Number of verified signatures:",
                "Succeeded",
            ]
            .iter()
            .any(|key| l.starts_with(key))
        })
        .map(str::to_owned)
        .collect();
    summary.dedup();
    if !summary.iter().any(|l| l == "Signature verification: ok") {
        return Err(format!(
            "osslsigncode verify did not report a valid signature:\n{output}"
        ));
    }
    Ok(summary)
}

/// Shows that verification can fail: a copy of `signed` with one byte of
/// `.text` flipped (at file offset `text_offset`) must be rejected.
///
/// # Errors
/// If the tampered copy is accepted, or cannot be written.
pub fn verify_rejects_tampered(
    signed: &Path,
    cert_pem: &Path,
    scratch: &Path,
    text_offset: usize,
) -> Result<(), String> {
    let mut data = std::fs::read(signed).map_err(|e| format!("{}: {e}", signed.display()))?;
    let byte = data
        .get_mut(text_offset)
        .ok_or("the .text offset is outside the file")?;
    *byte ^= 0xFF;
    std::fs::write(scratch, &data).map_err(|e| format!("{}: {e}", scratch.display()))?;
    match verify(scratch, cert_pem) {
        Ok(_) => Err(format!(
            "osslsigncode verify accepted a tampered copy ({})",
            scratch.display()
        )),
        Err(_) => Ok(()),
    }
}
