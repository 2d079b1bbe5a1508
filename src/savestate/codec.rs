//! The container of the saved-state format: a fixed header and typed,
//! length-prefixed records, checksummed with CRC32C. Encoding writes into a
//! caller buffer (or only counts, for the sizing call); decoding borrows the
//! input and never panics, whatever the bytes.
//!
//! ```text
//! offset size  header (little-endian)
//!      0    8  magic "GPUPMIG\0"
//!      8    2  format major (2): a different major is rejected (2: the
//!              MSI-X record carries indices only, see `state`)
//!     10    2  format minor (0): a higher minor is accepted; its new
//!              records are marked optional and skipped
//!     12    2  kind: 1 = immutable data, 2 = mutable data
//!     14    2  header length (32)
//!     16    4  total length in bytes, header included: must equal the input
//!     20    4  record count
//!     24    4  CRC32C (Castagnoli) of the whole blob with these 4 bytes zero
//!     28    4  reserved, 0
//!     32    .  records: type u16, flags u16 (bit 0: optional), length u32,
//!              then `length` payload bytes
//! ```

use crate::foundation::status::Status;

/// First 8 bytes of every blob.
pub(crate) const MAGIC: [u8; 8] = *b"GPUPMIG\0";
/// The format major version this driver reads and writes.
///
/// 2 since the MSI-X record stopped carrying the source host's interrupt
/// addresses (a format-1 target would apply them): the two are not
/// compatible either way, so a format-1 blob is rejected as
/// `UnsupportedVersion` rather than misread.
///
/// 3 since segments are named by what they are, not by driver segment id
/// (issue 16 moved VRAM from id 1 to id 2 behind the paging aperture): the
/// segments record lists the tracked VRAM segments only, and the reserve and
/// basis records name a segment by its ordinal among them (0: the first
/// tracked VRAM segment). A format-2 blob, whose numbers are raw ids, is
/// rejected as `UnsupportedVersion` rather than misread.
pub(crate) const FORMAT_MAJOR: u16 = 3;
/// The format minor version this driver writes.
pub(crate) const FORMAT_MINOR: u16 = 0;
/// Header bytes.
pub(crate) const HEADER_LEN: usize = 32;
/// Record flag: a reader that does not know the type may skip the record.
pub(crate) const RECORD_OPTIONAL: u16 = 1;
/// Largest blob accepted or produced: far above any real VF's state, and it
/// keeps every length in `u32`.
pub(crate) const MAX_BLOB_LEN: usize = 16 << 20;

const CHECKSUM_AT: usize = 24;
const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// Which of the two blobs of a migration this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `DxgkDdiSaveImmutableMigrationData`: what cannot change while the VF runs.
    Immutable,
    /// `DxgkDdiSaveMutableMigrationData`: the VF's state at the pause.
    Mutable,
}

impl Kind {
    fn code(self) -> u16 {
        match self {
            Self::Immutable => 1,
            Self::Mutable => 2,
        }
    }
}

/// Why a blob was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than its header or its own total length, or a record runs past the end.
    Truncated,
    /// Longer than its stated total length.
    TrailingBytes,
    /// Not a gpup-miniport migration blob.
    BadMagic,
    /// A format major version this driver does not read.
    UnsupportedVersion,
    /// Immutable data where mutable was expected, or the reverse.
    WrongKind,
    /// The CRC32C does not match: the bytes changed after saving.
    BadChecksum,
    /// A header field with an impossible value.
    BadHeader,
    /// A record whose payload does not parse, or has values out of range.
    BadRecord,
    /// A required record is missing, or appears twice.
    MissingOrDuplicate,
    /// A required record of a type this driver does not know.
    UnknownRecord,
    /// Decoding needed memory that could not be allocated.
    NoMemory,
}

impl DecodeError {
    /// The `Detail` value of a [`super::triage`] event for this error (1-based,
    /// in declaration order).
    #[must_use]
    pub fn code(self) -> u32 {
        match self {
            Self::Truncated => 1,
            Self::TrailingBytes => 2,
            Self::BadMagic => 3,
            Self::UnsupportedVersion => 4,
            Self::WrongKind => 5,
            Self::BadChecksum => 6,
            Self::BadHeader => 7,
            Self::BadRecord => 8,
            Self::MissingOrDuplicate => 9,
            Self::UnknownRecord => 10,
            Self::NoMemory => 11,
        }
    }
}

impl From<DecodeError> for Status {
    /// On Restore, any rejected blob is data from something this adapter
    /// cannot take: `STATUS_OBJECT_TYPE_MISMATCH` (allocation failure aside).
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::NoMemory => Status::NoMemory,
            _ => Status::ObjectTypeMismatch,
        }
    }
}

/// A cursor over the input, every read bounds-checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        self.bytes(N)?
            .try_into()
            .map_err(|_| DecodeError::Truncated)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(u8::from_le_bytes(self.array()?))
    }
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads a `u32` count of entries of `entry_len` bytes each, and checks
    /// they fit in what is left and in `max`, before anything is allocated.
    pub(crate) fn count(&mut self, entry_len: usize, max: usize) -> Result<usize, DecodeError> {
        let n = usize::try_from(self.u32()?).map_err(|_| DecodeError::BadRecord)?;
        let bytes = n.checked_mul(entry_len).ok_or(DecodeError::BadRecord)?;
        if n > max || bytes > self.buf.len() {
            return Err(DecodeError::BadRecord);
        }
        Ok(n)
    }

    /// Fails unless the payload was consumed exactly.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::BadRecord)
        }
    }
}

/// A writer into a caller buffer, or a counter when there is none (the
/// sizing call of the two-call protocol).
pub(crate) struct Writer<'a> {
    out: Option<&'a mut [u8]>,
    len: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn counting() -> Self {
        Self { out: None, len: 0 }
    }

    pub(crate) fn into(out: &'a mut [u8]) -> Self {
        Self {
            out: Some(out),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> Result<(), Status> {
        let end = self
            .len
            .checked_add(b.len())
            .filter(|e| *e <= MAX_BLOB_LEN)
            .ok_or(Status::InvalidParameter)?;
        if let Some(out) = self.out.as_deref_mut() {
            out.get_mut(self.len..end)
                .ok_or(Status::BufferTooSmall)?
                .copy_from_slice(b);
        }
        self.len = end;
        Ok(())
    }

    pub(crate) fn u8(&mut self, v: u8) -> Result<(), Status> {
        self.bytes(&[v])
    }
    pub(crate) fn u16(&mut self, v: u16) -> Result<(), Status> {
        self.bytes(&v.to_le_bytes())
    }
    pub(crate) fn u32(&mut self, v: u32) -> Result<(), Status> {
        self.bytes(&v.to_le_bytes())
    }
    pub(crate) fn u64(&mut self, v: u64) -> Result<(), Status> {
        self.bytes(&v.to_le_bytes())
    }

    /// Overwrites 4 bytes already written at `at`.
    pub(crate) fn patch_u32(&mut self, at: usize, v: u32) -> Result<(), Status> {
        if let Some(out) = self.out.as_deref_mut() {
            let end = at.checked_add(4).ok_or(Status::InvalidParameter)?;
            out.get_mut(at..end)
                .ok_or(Status::BufferTooSmall)?
                .copy_from_slice(&v.to_le_bytes());
        }
        Ok(())
    }
}

/// Something that serialises into records.
pub(crate) trait Records {
    /// Writes every record (through [`record`]) and returns how many.
    fn write_records(&self, w: &mut Writer<'_>) -> Result<u32, Status>;
}

/// Writes one record: its header, then what `payload` writes.
pub(crate) fn record(
    w: &mut Writer<'_>,
    ty: u16,
    payload: impl FnOnce(&mut Writer<'_>) -> Result<(), Status>,
) -> Result<(), Status> {
    w.u16(ty)?;
    w.u16(0)?;
    let len_at = w.len();
    w.u32(0)?;
    let start = w.len();
    payload(w)?;
    let len = u32::try_from(w.len().saturating_sub(start)).map_err(|_| Status::InvalidParameter)?;
    w.patch_u32(len_at, len)
}

/// Encodes a blob of `kind` into `out`, or only measures it when `out` is
/// `None`. Returns its length.
///
/// # Errors
/// `BufferTooSmall` if `out` is shorter than the blob; `InvalidParameter` if
/// the state cannot be represented (over [`MAX_BLOB_LEN`]).
pub(crate) fn encode(
    kind: Kind,
    state: &impl Records,
    out: Option<&mut [u8]>,
) -> Result<usize, Status> {
    let mut w = match out {
        Some(out) => Writer::into(out),
        None => Writer::counting(),
    };
    w.bytes(&MAGIC)?;
    w.u16(FORMAT_MAJOR)?;
    w.u16(FORMAT_MINOR)?;
    w.u16(kind.code())?;
    w.u16(u16::try_from(HEADER_LEN).map_err(|_| Status::InvalidParameter)?)?;
    w.u32(0)?; // total length, patched below
    w.u32(0)?; // record count, patched below
    w.u32(0)?; // checksum, patched below
    w.u32(0)?;
    let count = state.write_records(&mut w)?;
    let total = w.len();
    w.patch_u32(
        16,
        u32::try_from(total).map_err(|_| Status::InvalidParameter)?,
    )?;
    w.patch_u32(20, count)?;
    if let Some(out) = w.out.as_deref_mut() {
        let blob = out.get(..total).ok_or(Status::BufferTooSmall)?;
        let crc = CRC32C.checksum(blob);
        w.patch_u32(CHECKSUM_AT, crc)?;
    }
    Ok(total)
}

/// One record of a decoded blob.
pub(crate) struct RawRecord<'a> {
    /// Record type.
    pub(crate) ty: u16,
    /// The payload, for a [`Reader`].
    pub(crate) payload: &'a [u8],
}

/// Checks a blob's header and checksum and splits it into records. Records
/// of unknown types marked optional are dropped here; `known` says which
/// types the caller understands.
///
/// # Errors
/// Every [`DecodeError`] but the record-level ones.
pub(crate) fn split<'a>(
    kind: Kind,
    blob: &'a [u8],
    known: impl Fn(u16) -> bool,
    mut each: impl FnMut(RawRecord<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut r = Reader::new(blob);
    if r.bytes(MAGIC.len())? != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if r.u16()? != FORMAT_MAJOR {
        return Err(DecodeError::UnsupportedVersion);
    }
    let _minor = r.u16()?;
    if r.u16()? != kind.code() {
        return Err(DecodeError::WrongKind);
    }
    if usize::from(r.u16()?) != HEADER_LEN {
        return Err(DecodeError::BadHeader);
    }
    let total = usize::try_from(r.u32()?).map_err(|_| DecodeError::BadHeader)?;
    let count = r.u32()?;
    let crc = r.u32()?;
    if r.u32()? != 0 {
        return Err(DecodeError::BadHeader);
    }
    if !(HEADER_LEN..=MAX_BLOB_LEN).contains(&total) {
        return Err(DecodeError::BadHeader);
    }
    if blob.len() < total {
        return Err(DecodeError::Truncated);
    }
    if blob.len() > total {
        return Err(DecodeError::TrailingBytes);
    }
    let mut digest = CRC32C.digest();
    digest.update(blob.get(..CHECKSUM_AT).ok_or(DecodeError::Truncated)?);
    digest.update(&[0; 4]);
    digest.update(
        blob.get(CHECKSUM_AT.saturating_add(4)..)
            .ok_or(DecodeError::Truncated)?,
    );
    if digest.finalize() != crc {
        return Err(DecodeError::BadChecksum);
    }
    for _ in 0..count {
        let ty = r.u16()?;
        let flags = r.u16()?;
        let len = usize::try_from(r.u32()?).map_err(|_| DecodeError::Truncated)?;
        let payload = r.bytes(len)?;
        if known(ty) {
            each(RawRecord { ty, payload })?;
        } else if flags & RECORD_OPTIONAL == 0 {
            return Err(DecodeError::UnknownRecord);
        }
    }
    if r.remaining() != 0 {
        // Bytes past the last record but inside the stated length.
        return Err(DecodeError::TrailingBytes);
    }
    Ok(())
}
