//! Parsing of IDX files (the MNIST container format), gzip-compressed or raw.
//!
//! Everything here works on byte slices: the native CLI reads files, the web app fetches them or
//! takes them from a file picker, and both hand the bytes to the same parser.

use std::io::Read;

use thiserror::Error;

/// IDX magic number of an image file: u8 data, three dimensions.
pub const IMAGE_MAGIC: u32 = 0x0000_0803;
/// IDX magic number of a label file: u8 data, one dimension.
pub const LABEL_MAGIC: u32 = 0x0000_0801;
/// Upper bound on a decompressed IDX file: the 60k training images are 47 MB, so anything far
/// beyond that is a wrong file (or a gzip bomb), not MNIST.
const MAX_DECOMPRESSED: u64 = 256 * 1024 * 1024;

/// What is wrong with an IDX file; every variant names the file.
#[derive(Debug, Error, PartialEq)]
pub enum IdxError {
    #[error("{file}: not a valid gzip stream ({reason})")]
    Gzip { file: String, reason: String },
    #[error("{file}: too short for an IDX header ({len} bytes)")]
    TooShort { file: String, len: usize },
    #[error("{file}: magic number {found:#010x}, expected {expected:#010x} ({what} file)")]
    BadMagic {
        file: String,
        found: u32,
        expected: u32,
        what: &'static str,
    },
    #[error("{file}: images are {rows}x{cols}, expected 28x28")]
    BadImageSize { file: String, rows: u32, cols: u32 },
    #[error(
        "{file}: header announces {count} items ({expected} bytes of data) but the file has {actual}"
    )]
    Truncated {
        file: String,
        count: u32,
        expected: usize,
        actual: usize,
    },
    #[error("{file}: label {label} at index {index} is not a digit class 0-9")]
    BadLabel {
        file: String,
        index: usize,
        label: u8,
    },
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        images: String,
        n_images: usize,
        labels: String,
        n_labels: usize,
    },
}

/// Decompresses `bytes` if they start with the gzip magic, otherwise returns them as they are.
pub fn maybe_gunzip(file: &str, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_DECOMPRESSED)
            .read_to_end(&mut out)
            .map_err(|e| IdxError::Gzip {
                file: file.to_string(),
                reason: e.to_string(),
            })?;
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn check_magic(
    file: &str,
    raw: &[u8],
    header: usize,
    expected: u32,
    what: &'static str,
) -> Result<(), IdxError> {
    if raw.len() < header {
        return Err(IdxError::TooShort {
            file: file.to_string(),
            len: raw.len(),
        });
    }
    let found = be_u32(raw, 0);
    if found != expected {
        return Err(IdxError::BadMagic {
            file: file.to_string(),
            found,
            expected,
            what,
        });
    }
    Ok(())
}

/// Parses an IDX image file of 28x28 u8 images; returns the pixels, row-major, image after image.
pub fn parse_images(file: &str, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    let raw = maybe_gunzip(file, bytes)?;
    check_magic(file, &raw, 16, IMAGE_MAGIC, "image")?;
    let (count, rows, cols) = (be_u32(&raw, 4), be_u32(&raw, 8), be_u32(&raw, 12));
    if rows != 28 || cols != 28 {
        return Err(IdxError::BadImageSize {
            file: file.to_string(),
            rows,
            cols,
        });
    }
    let expected = count as usize * 28 * 28;
    let actual = raw.len() - 16;
    if actual != expected {
        return Err(IdxError::Truncated {
            file: file.to_string(),
            count,
            expected,
            actual,
        });
    }
    Ok(raw[16..].to_vec())
}

/// Parses an IDX label file; every label must be a class 0-9.
pub fn parse_labels(file: &str, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    let raw = maybe_gunzip(file, bytes)?;
    check_magic(file, &raw, 8, LABEL_MAGIC, "label")?;
    let count = be_u32(&raw, 4);
    let actual = raw.len() - 8;
    if actual != count as usize {
        return Err(IdxError::Truncated {
            file: file.to_string(),
            count,
            expected: count as usize,
            actual,
        });
    }
    let labels = raw[8..].to_vec();
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, l)| **l > 9) {
        return Err(IdxError::BadLabel {
            file: file.to_string(),
            index,
            label,
        });
    }
    Ok(labels)
}

/// Encodes images as an (uncompressed) IDX file; used by tests and to hand subsets around.
pub fn encode_images(pixels: &[u8]) -> Vec<u8> {
    let count = (pixels.len() / 784) as u32;
    let mut out = Vec::with_capacity(16 + pixels.len());
    for v in [IMAGE_MAGIC, count, 28, 28] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Encodes labels as an (uncompressed) IDX file.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    for v in [LABEL_MAGIC, labels.len() as u32] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(labels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn round_trip_raw_and_gzip() {
        let pixels: Vec<u8> = (0..3 * 784).map(|i| (i % 256) as u8).collect();
        let file = encode_images(&pixels);
        assert_eq!(parse_images("a", &file).unwrap(), pixels);
        assert_eq!(parse_images("a.gz", &gzip(&file)).unwrap(), pixels);
        let labels = vec![5, 0, 4];
        assert_eq!(
            parse_labels("l", &gzip(&encode_labels(&labels))).unwrap(),
            labels
        );
    }

    #[test]
    fn wrong_magic_names_file_and_kind() {
        let labels = encode_labels(&[1, 2]);
        let err = parse_images("train-images", &labels).unwrap_err();
        // A label file is too short for an image header, so make a long one.
        assert!(matches!(err, IdxError::TooShort { .. }), "{err}");
        let mut long = encode_labels(&[1; 100]);
        long.truncate(50);
        let err = parse_images("train-images", &long).unwrap_err();
        assert!(matches!(
            err,
            IdxError::BadMagic {
                found: LABEL_MAGIC,
                ..
            }
        ));
        assert!(err.to_string().contains("train-images"));
        assert!(err.to_string().contains("image file"));
    }

    #[test]
    fn truncated_file_is_reported() {
        let mut file = encode_images(&vec![0; 2 * 784]);
        file.truncate(file.len() - 10);
        let err = parse_images("x.gz", &gzip(&file)).unwrap_err();
        assert_eq!(
            err,
            IdxError::Truncated {
                file: "x.gz".into(),
                count: 2,
                expected: 1568,
                actual: 1558
            }
        );
        assert!(err.to_string().contains("x.gz"));
    }

    #[test]
    fn corrupt_gzip_is_reported() {
        let mut gz = gzip(&encode_images(&vec![7; 784]));
        let n = gz.len();
        gz.truncate(n / 2);
        assert!(matches!(
            parse_images("c.gz", &gz),
            Err(IdxError::Gzip { .. })
        ));
    }

    #[test]
    fn wrong_image_size_and_bad_labels() {
        let mut file = encode_images(&vec![0; 784]);
        file[11] = 32; // rows = 32
        assert!(matches!(
            parse_images("f", &file),
            Err(IdxError::BadImageSize { rows: 32, .. })
        ));
        let err = parse_labels("l", &encode_labels(&[1, 12])).unwrap_err();
        assert_eq!(
            err,
            IdxError::BadLabel {
                file: "l".into(),
                index: 1,
                label: 12
            }
        );
    }
}
