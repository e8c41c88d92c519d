//! Reading whole files, transparently un-gzipping them.
//!
//! Compression is detected from the gzip magic bytes rather than the extension,
//! because downloaded datasets are often renamed (e.g. `train-images-idx3-ubyte`
//! that is in fact gzipped).

use std::io::Read;
use std::path::Path;

use super::error::{DataError, Result, format_error};

/// The first two bytes of every gzip member (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The file's bytes, decompressed if they are gzip.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    decompress_if_gzip(path, bytes)
}

/// `bytes` unchanged, or decompressed when they start with the gzip magic; `path`
/// only names the source in errors (it may be an embedded file's name).
pub(crate) fn decompress_if_gzip(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| format_error(path, format!("corrupt or truncated gzip data: {e}")))?;
    Ok(out)
}

/// The file's text, decompressed if gzip; invalid UTF-8 is a format error.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    bytes_to_text(path, read_bytes(path)?)
}

/// Interprets bytes as UTF-8 text, naming `path` on failure.
pub(crate) fn bytes_to_text(path: &Path, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| format_error(path, format!("not UTF-8 text: {e}")))
}

#[cfg(test)]
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_gzip_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.bin");
        let packed = dir.path().join("a.bin.renamed");
        let data: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        std::fs::write(&plain, &data).unwrap();
        std::fs::write(&packed, gzip(&data)).unwrap();
        assert_eq!(read_bytes(&plain).unwrap(), data);
        assert_eq!(read_bytes(&packed).unwrap(), data);
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_bytes(Path::new("/nonexistent/dir/file.bin")).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/dir/file.bin"), "{err}");
    }

    #[test]
    fn corrupt_gzip_is_a_format_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.gz");
        let mut data = gzip(&[7u8; 1000]);
        data.truncate(data.len() / 2);
        std::fs::write(&path, &data).unwrap();
        let err = read_bytes(&path).unwrap_err();
        assert!(matches!(err, DataError::Format { .. }), "{err}");
        assert!(err.to_string().contains("bad.gz"));
    }
}
