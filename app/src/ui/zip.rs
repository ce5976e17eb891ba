//! A ZIP archive written while its files stream through, for saving every file of a
//! transfer as one download.
//!
//! Files are stored without compression, since ciphertext-sized media rarely shrinks
//! and the archive must be written at the speed of the download. Each entry sets bit 3
//! (sizes and CRC-32 in a data descriptor after the data) so the CRC-32 can be
//! computed while the data passes, and bit 11 (UTF-8 names). Entries and archives
//! past 4 GiB or 65535 entries use the ZIP64 extensions of PKWARE's APPNOTE 6.3.
//! Every length is known before the first byte, so the archive's total length is too.

use crc32fast::Hasher;

const LOCAL_HEADER_SIGNATURE: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR_SIGNATURE: u32 = 0x0807_4b50;
const CENTRAL_HEADER_SIGNATURE: u32 = 0x0201_4b50;
const ZIP64_END_SIGNATURE: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const END_SIGNATURE: u32 = 0x0605_4b50;
/// Bit 3: CRC-32 and sizes follow the data. Bit 11: the name is UTF-8.
const FLAGS: u16 = 0x0808;
/// Version 2.0 reads stored entries with data descriptors; 4.5 adds ZIP64.
const VERSION_PLAIN: u16 = 20;
const VERSION_ZIP64: u16 = 45;
/// "Made by" Unix (3) with specification version 4.5, so the external attributes
/// carry Unix permissions.
const VERSION_MADE_BY: u16 = (3 << 8) | VERSION_ZIP64;
/// A regular file readable by everyone and writable by its owner (0o100644).
const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;
const ZIP64_EXTRA_TAG: u16 = 0x0001;
/// Field values that mean "see the ZIP64 record".
const U16_MAX: u64 = 0xffff;
const U32_MAX: u64 = 0xffff_ffff;
/// Fixed parts of the records, in bytes.
const LOCAL_HEADER_LEN: u64 = 30;
const CENTRAL_HEADER_LEN: u64 = 46;
const ZIP64_END_LEN: u64 = 56;
const ZIP64_LOCATOR_LEN: u64 = 20;
const END_LEN: u64 = 22;
/// Maximum entry name length in bytes: the name length field is 16 bits.
pub const MAX_PATH_LEN: usize = 0xffff;

/// A file to put in the archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZipEntry {
    /// The path inside the archive, with `/` between folders, already made safe.
    pub path: String,
    pub size: u64,
    /// Modification time, milliseconds since the Unix epoch (UTC).
    pub modified_ms: i64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    #[error("the path {path:?} is {len} bytes long, longer than the 65535 bytes a ZIP entry holds")]
    PathTooLong { path: String, len: usize },
    #[error("{path:?} received {actual} bytes where {expected} were announced")]
    SizeMismatch {
        path: String,
        expected: u64,
        actual: u64,
    },
    #[error("the archive has no file in progress")]
    NoFileOpen,
    #[error("the archive still has {path:?} in progress")]
    FileOpen { path: String },
}

/// One finished entry, kept for the central directory.
struct Written {
    entry: ZipEntry,
    crc: u32,
    offset: u64,
}

/// The entry whose data is passing through.
struct Open {
    entry: ZipEntry,
    offset: u64,
    hasher: Hasher,
    received: u64,
}

/// Writes an archive record by record; the caller sends each returned piece and the
/// file data in order.
#[derive(Default)]
pub struct ZipWriter {
    offset: u64,
    written: Vec<Written>,
    open: Option<Open>,
}

impl ZipWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the total length of an archive of `entries`, byte for byte what
    /// writing them gives.
    pub fn archive_len(entries: &[ZipEntry]) -> Result<u64, ZipError> {
        let mut writer = ZipWriter::new();
        let mut len = 0;
        for entry in entries {
            len += writer.start_file(entry.clone())?.len() as u64;
            let open = writer.open.as_mut().ok_or(ZipError::NoFileOpen)?;
            open.received = entry.size;
            writer.offset += entry.size;
            len += entry.size;
            len += writer.finish_file()?.len() as u64;
        }
        Ok(len + writer.finish()?.len() as u64)
    }

    /// Starts the next entry and returns its local header.
    pub fn start_file(&mut self, entry: ZipEntry) -> Result<Vec<u8>, ZipError> {
        if let Some(open) = &self.open {
            return Err(ZipError::FileOpen {
                path: open.entry.path.clone(),
            });
        }
        if entry.path.len() > MAX_PATH_LEN {
            return Err(ZipError::PathTooLong {
                len: entry.path.len(),
                path: entry.path,
            });
        }
        let zip64 = entry.size >= U32_MAX;
        let (time, date) = dos_time(entry.modified_ms);
        let mut header = Vec::with_capacity(LOCAL_HEADER_LEN as usize + entry.path.len() + 20);
        put_u32(&mut header, LOCAL_HEADER_SIGNATURE);
        put_u16(
            &mut header,
            if zip64 { VERSION_ZIP64 } else { VERSION_PLAIN },
        );
        put_u16(&mut header, FLAGS);
        put_u16(&mut header, 0); // stored
        put_u16(&mut header, time);
        put_u16(&mut header, date);
        put_u32(&mut header, 0); // CRC-32, in the data descriptor
        if zip64 {
            put_u32(&mut header, U32_MAX as u32);
            put_u32(&mut header, U32_MAX as u32);
        } else {
            put_u32(&mut header, 0);
            put_u32(&mut header, 0);
        }
        put_u16(&mut header, entry.path.len() as u16);
        put_u16(&mut header, if zip64 { 20 } else { 0 });
        header.extend_from_slice(entry.path.as_bytes());
        if zip64 {
            put_u16(&mut header, ZIP64_EXTRA_TAG);
            put_u16(&mut header, 16);
            put_u64(&mut header, entry.size);
            put_u64(&mut header, entry.size);
        }
        self.open = Some(Open {
            entry,
            offset: self.offset,
            hasher: Hasher::new(),
            received: 0,
        });
        self.offset += header.len() as u64;
        Ok(header)
    }

    /// Adds `bytes` of the open entry's data to its CRC-32; the caller sends them.
    pub fn update(&mut self, bytes: &[u8]) -> Result<(), ZipError> {
        let open = self.open.as_mut().ok_or(ZipError::NoFileOpen)?;
        open.hasher.update(bytes);
        open.received += bytes.len() as u64;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Ends the open entry and returns its data descriptor. Fails if the data did not
    /// have the announced size.
    pub fn finish_file(&mut self) -> Result<Vec<u8>, ZipError> {
        let open = self.open.take().ok_or(ZipError::NoFileOpen)?;
        if open.received != open.entry.size {
            return Err(ZipError::SizeMismatch {
                path: open.entry.path,
                expected: open.entry.size,
                actual: open.received,
            });
        }
        let crc = open.hasher.finalize();
        let mut descriptor = Vec::with_capacity(24);
        put_u32(&mut descriptor, DATA_DESCRIPTOR_SIGNATURE);
        put_u32(&mut descriptor, crc);
        if open.entry.size >= U32_MAX {
            put_u64(&mut descriptor, open.entry.size);
            put_u64(&mut descriptor, open.entry.size);
        } else {
            put_u32(&mut descriptor, open.entry.size as u32);
            put_u32(&mut descriptor, open.entry.size as u32);
        }
        self.offset += descriptor.len() as u64;
        self.written.push(Written {
            entry: open.entry,
            crc,
            offset: open.offset,
        });
        Ok(descriptor)
    }

    /// Returns the central directory and the end records, which close the archive.
    pub fn finish(self) -> Result<Vec<u8>, ZipError> {
        if let Some(open) = self.open {
            return Err(ZipError::FileOpen {
                path: open.entry.path,
            });
        }
        let mut out = Vec::new();
        for file in &self.written {
            central_header(&mut out, file);
        }
        let directory_offset = self.offset;
        let directory_len = out.len() as u64;
        let count = self.written.len() as u64;
        let zip64 = count >= U16_MAX || directory_offset >= U32_MAX || directory_len >= U32_MAX;
        if zip64 {
            let zip64_end_offset = directory_offset + directory_len;
            put_u32(&mut out, ZIP64_END_SIGNATURE);
            put_u64(&mut out, ZIP64_END_LEN - 12);
            put_u16(&mut out, VERSION_MADE_BY);
            put_u16(&mut out, VERSION_ZIP64);
            put_u32(&mut out, 0); // this disk
            put_u32(&mut out, 0); // disk of the central directory
            put_u64(&mut out, count);
            put_u64(&mut out, count);
            put_u64(&mut out, directory_len);
            put_u64(&mut out, directory_offset);
            put_u32(&mut out, ZIP64_LOCATOR_SIGNATURE);
            put_u32(&mut out, 0);
            put_u64(&mut out, zip64_end_offset);
            put_u32(&mut out, 1); // total disks
        }
        put_u32(&mut out, END_SIGNATURE);
        put_u16(&mut out, 0);
        put_u16(&mut out, 0);
        put_u16(&mut out, count.min(U16_MAX) as u16);
        put_u16(&mut out, count.min(U16_MAX) as u16);
        put_u32(&mut out, directory_len.min(U32_MAX) as u32);
        put_u32(&mut out, directory_offset.min(U32_MAX) as u32);
        put_u16(&mut out, 0); // comment length
        debug_assert!(!zip64 || out.len() as u64 >= ZIP64_END_LEN + ZIP64_LOCATOR_LEN + END_LEN);
        Ok(out)
    }
}

fn central_header(out: &mut Vec<u8>, file: &Written) {
    let size = file.entry.size;
    let large_size = size >= U32_MAX;
    let large_offset = file.offset >= U32_MAX;
    let mut extra = Vec::new();
    if large_size {
        put_u64(&mut extra, size);
        put_u64(&mut extra, size);
    }
    if large_offset {
        put_u64(&mut extra, file.offset);
    }
    let (time, date) = dos_time(file.entry.modified_ms);
    out.reserve(CENTRAL_HEADER_LEN as usize + file.entry.path.len() + 4 + extra.len());
    put_u32(out, CENTRAL_HEADER_SIGNATURE);
    put_u16(out, VERSION_MADE_BY);
    let zip64 = large_size || large_offset;
    put_u16(out, if zip64 { VERSION_ZIP64 } else { VERSION_PLAIN });
    put_u16(out, FLAGS);
    put_u16(out, 0); // stored
    put_u16(out, time);
    put_u16(out, date);
    put_u32(out, file.crc);
    put_u32(out, size.min(U32_MAX) as u32);
    put_u32(out, size.min(U32_MAX) as u32);
    put_u16(out, file.entry.path.len() as u16);
    let extra_len = if extra.is_empty() { 0 } else { extra.len() + 4 };
    put_u16(out, extra_len as u16);
    put_u16(out, 0); // comment length
    put_u16(out, 0); // disk number
    put_u16(out, 0); // internal attributes
    put_u32(out, EXTERNAL_ATTRIBUTES);
    put_u32(out, file.offset.min(U32_MAX) as u32);
    out.extend_from_slice(file.entry.path.as_bytes());
    if !extra.is_empty() {
        put_u16(out, ZIP64_EXTRA_TAG);
        put_u16(out, extra.len() as u16);
        out.extend_from_slice(&extra);
    }
}

/// MS-DOS time and date fields (UTC, two-second steps), clamped to 1980 to 2107.
fn dos_time(modified_ms: i64) -> (u16, u16) {
    let seconds = modified_ms.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if year < 1980 {
        return (0, (1 << 5) | 1);
    }
    if year > 2107 {
        return ((23 << 11) | (59 << 5) | 29, (127 << 9) | (12 << 5) | 31);
    }
    let time = ((of_day / 3600) << 11) | ((of_day / 60 % 60) << 5) | (of_day % 60 / 2);
    let date = ((year - 1980) << 9) | (i64::from(month) << 5) | i64::from(day);
    (time as u16, date as u16)
}

/// Year, month (1 to 12) and day (1 to 31) of a day count since 1970-01-01, in the
/// proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, size: u64) -> ZipEntry {
        ZipEntry {
            path: path.to_owned(),
            size,
            modified_ms: 1_733_000_000_000,
        }
    }

    /// Writes a whole archive of `files` in memory.
    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = ZipWriter::new();
        let mut out = Vec::new();
        for (path, data) in files {
            out.extend(writer.start_file(entry(path, data.len() as u64)).unwrap());
            // Two pieces, as parts arrive.
            let (first, second) = data.split_at(data.len() / 2);
            for piece in [first, second] {
                writer.update(piece).unwrap();
                out.extend_from_slice(piece);
            }
            out.extend(writer.finish_file().unwrap());
        }
        out.extend(writer.finish().unwrap());
        out
    }

    fn u16_at(bytes: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([bytes[at], bytes[at + 1]])
    }

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn archive_len_matches_written_archive() {
        let files: [(&str, &[u8]); 3] = [
            ("Holiday/été/a.txt", b"hello"),
            ("Holiday/empty", b""),
            ("b.bin", &[7u8; 70_000]),
        ];
        let written = archive(&files);
        let entries: Vec<ZipEntry> = files
            .iter()
            .map(|(path, data)| entry(path, data.len() as u64))
            .collect();
        assert_eq!(
            ZipWriter::archive_len(&entries).unwrap(),
            written.len() as u64
        );
    }

    #[test]
    fn central_directory_records_crc_sizes_and_offsets() {
        let written = archive(&[("a.txt", b"hello"), ("dir/b.txt", b"world!")]);
        let end = written.len() - END_LEN as usize;
        assert_eq!(u32_at(&written, end), END_SIGNATURE);
        assert_eq!(u16_at(&written, end + 10), 2);
        let directory = u32_at(&written, end + 16) as usize;
        assert_eq!(u32_at(&written, directory), CENTRAL_HEADER_SIGNATURE);
        // CRC-32 of "hello" is 0x3610a686.
        assert_eq!(u32_at(&written, directory + 16), 0x3610_a686);
        assert_eq!(u32_at(&written, directory + 20), 5);
        assert_eq!(u32_at(&written, directory + 42), 0);
        assert_eq!(&written[directory + 46..directory + 51], b"a.txt");
        // The second local header follows the first entry's header, data and descriptor.
        let second = directory + 51;
        assert_eq!(u32_at(&written, second), CENTRAL_HEADER_SIGNATURE);
        assert_eq!(u32_at(&written, second + 42) as usize, 30 + 5 + 5 + 16);
        assert_eq!(u32_at(&written, 30 + 5 + 5), DATA_DESCRIPTOR_SIGNATURE);
        assert_eq!(u16_at(&written, 6), FLAGS);
    }

    #[test]
    fn large_entry_uses_zip64_fields() {
        let size = (1u64 << 32) + 1;
        let mut writer = ZipWriter::new();
        let header = writer.start_file(entry("big.bin", size)).unwrap();
        assert_eq!(u32_at(&header, 18), u32::MAX);
        assert_eq!(u16_at(&header, 28), 20);
        // The data itself is not needed to check the records that follow it.
        writer.open.as_mut().unwrap().received = size;
        writer.offset += size;
        let descriptor = writer.finish_file().unwrap();
        assert_eq!(descriptor.len(), 24);
        let end = writer.finish().unwrap();
        assert!(
            end.windows(4)
                .any(|window| window == ZIP64_END_SIGNATURE.to_le_bytes())
        );
        assert!(
            end.windows(4)
                .any(|window| window == ZIP64_LOCATOR_SIGNATURE.to_le_bytes())
        );
        let sizes = [entry("big.bin", size)];
        let expected = header.len() as u64 + size + 24 + end.len() as u64;
        assert_eq!(ZipWriter::archive_len(&sizes).unwrap(), expected);
    }

    #[test]
    fn wrong_size_and_order_are_errors() {
        let mut writer = ZipWriter::new();
        writer.start_file(entry("a", 3)).unwrap();
        writer.update(b"ab").unwrap();
        assert!(matches!(
            writer.finish_file(),
            Err(ZipError::SizeMismatch {
                expected: 3,
                actual: 2,
                ..
            })
        ));
        assert_eq!(writer.finish_file(), Err(ZipError::NoFileOpen));
        assert_eq!(writer.update(b"x"), Err(ZipError::NoFileOpen));
        writer.start_file(entry("b", 0)).unwrap();
        assert!(matches!(
            writer.start_file(entry("c", 0)),
            Err(ZipError::FileOpen { .. })
        ));
        let long = "x".repeat(MAX_PATH_LEN + 1);
        let mut fresh = ZipWriter::new();
        assert!(matches!(
            fresh.start_file(entry(&long, 0)),
            Err(ZipError::PathTooLong { len: 65536, .. })
        ));
    }

    #[test]
    fn dos_time_converts_utc_and_clamps() {
        // 2024-02-29 13:45:58 UTC.
        let (time, date) = dos_time(1_709_214_358_000);
        assert_eq!(date, ((2024 - 1980) << 9) | (2 << 5) | 29);
        assert_eq!(time, (13 << 11) | (45 << 5) | 29);
        assert_eq!(dos_time(0), (0, (1 << 5) | 1));
        assert_eq!(dos_time(-5_000), (0, (1 << 5) | 1));
    }

    /// Runs `script` in Python with the archive `written` as its argument and returns
    /// what it prints, or `None` when Python is not installed.
    fn python_reads(written: &[u8], script: &str) -> Option<String> {
        let found = std::process::Command::new("python3")
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success());
        if !found {
            return None;
        }
        let dir =
            std::env::temp_dir().join(format!("dtc-zip-{}-{}", std::process::id(), written.len()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("test.zip");
        std::fs::write(&path, written).unwrap();
        let output = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .output()
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(String::from_utf8(output.stdout).unwrap().trim().to_owned())
    }

    /// Python's `zipfile` reads the archive and checks every CRC-32, when Python is
    /// installed; the structure checks above run everywhere.
    #[test]
    fn python_zipfile_reads_archive() {
        let written = archive(&[
            ("Holiday/été/a.txt", b"hello"),
            ("Holiday/empty", b""),
            ("b.bin", &[7u8; 70_000]),
        ]);
        let script = "import sys, zipfile\n\
            z = zipfile.ZipFile(sys.argv[1])\n\
            assert z.testzip() is None\n\
            print(';'.join(f'{i.filename}={len(z.read(i))}' for i in z.infolist()))";
        if let Some(listing) = python_reads(&written, script) {
            assert_eq!(listing, "Holiday/été/a.txt=5;Holiday/empty=0;b.bin=70000");
        }
    }

    /// More than 65535 entries need the ZIP64 end records, which Python must find.
    #[test]
    fn python_zipfile_reads_zip64_end_records() {
        let names: Vec<String> = (0..65_537).map(|index| format!("f{index}")).collect();
        let files: Vec<(&str, &[u8])> =
            names.iter().map(|name| (name.as_str(), &b""[..])).collect();
        let written = archive(&files);
        let end = &written[written.len() - END_LEN as usize..];
        assert_eq!(u16_at(end, 10), 0xffff);
        let script = "import sys, zipfile\n\
            z = zipfile.ZipFile(sys.argv[1])\n\
            names = z.namelist()\n\
            print(len(names), names[0], names[-1])";
        if let Some(listing) = python_reads(&written, script) {
            assert_eq!(listing, "65537 f0 f65536");
        }
    }
}
