//! The framed wire: a 16-byte header (magic `GPW1`, kind, flags, reserved,
//! payload length, CRC-32C over kind, length and payload), then the
//! payload. The receiver checks the magic, the kind, bounds the length by
//! the kind's own limit **before** it reads the payload, then checks the
//! checksum. [`Conn`] also counts bytes, paces the sender with a token
//! bucket (`--link-cap`), and gives every wait a deadline; reads poll in
//! short slices so that Ctrl-C is seen within [`POLL`].

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crc::{CRC_32_ISCSI, Crc, Table};

use crate::exit::Exit;

/// Magic of every frame.
pub const MAGIC: [u8; 4] = *b"GPW1";
/// Header bytes.
pub const HEADER: usize = 16;
/// Most bytes of dirty pages one Pages frame carries.
pub const MAX_RUN: usize = 1 << 20;
/// How often a blocked read looks at the Ctrl-C flag and its deadline.
pub const POLL: Duration = Duration::from_millis(100);

/// CRC-32C (Castagnoli), the checksum of every frame.
static CRC32C: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISCSI);

/// Set by the Ctrl-C handler.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Frame kinds (the header's fifth byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Source → target: protocol and driver version, page size, VF sizes.
    Hello = 1,
    /// Target → source: accepted (status 0) or refused with a reason.
    HelloAck = 2,
    /// Source → target: migrate VF `vf` (create it).
    BeginVf = 3,
    /// Source → target: the immutable saved-state blob, verbatim.
    Immutable = 4,
    /// Target → source: the NTSTATUS of the last Restore.
    BlobAck = 5,
    /// Source → target: one run of dirty pages (VF offset, bytes).
    Pages = 6,
    /// Source → target: end of a round (number, phase, pages sent).
    EndRound = 7,
    /// Target → source: every page of the round is applied.
    RoundAck = 8,
    /// Source → target: the mutable saved-state blob, verbatim.
    Mutable = 9,
    /// Source → target: hash the VF's VRAM and read its state.
    ProofRequest = 10,
    /// Target → source: the VF's chunk hashes and state.
    Proof = 11,
    /// Source → target: the proof passed; end the protocol and run the VF.
    Commit = 12,
    /// Target → source: the VF runs on the target (status of End/unpause).
    Resumed = 13,
    /// Source → target: end of the migration (every VF is across).
    EndMigration = 14,
    /// Either side: this side aborts (a reason follows).
    Abort = 15,
    /// Target → source: reply to EndMigration.
    Bye = 16,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Self> {
        use Kind::*;
        [
            Hello,
            HelloAck,
            BeginVf,
            Immutable,
            BlobAck,
            Pages,
            EndRound,
            RoundAck,
            Mutable,
            ProofRequest,
            Proof,
            Commit,
            Resumed,
            EndMigration,
            Abort,
            Bye,
        ]
        .into_iter()
        .find(|k| *k as u8 == b)
    }

    /// The largest payload a frame of this kind may carry.
    #[must_use]
    pub fn max_len(self) -> usize {
        match self {
            Self::Hello => 8 + 64 + 24 + 32 * 8,
            Self::HelloAck | Self::Abort => 4 + 512,
            Self::Immutable | Self::Mutable => 1 << 20,
            Self::Pages => 12 + MAX_RUN,
            Self::Proof => 64 * 1024 + 32 * 16_385,
            Self::BeginVf => 12,
            Self::EndRound => 16,
            _ => 8,
        }
    }
}

/// Why a migration stopped before it completed, on the side that saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Abort {
    /// The peer closed or reset the connection.
    Connection(String),
    /// A step's deadline passed.
    Timeout(String),
    /// The peer refused a blob (step, NTSTATUS).
    Refused(String, i32),
    /// The handshake did not match.
    Handshake(String),
    /// Ctrl-C on this side.
    Interrupted,
    /// A malformed or out-of-order frame.
    Protocol(String),
    /// The peer sent Abort with this reason.
    PeerAborted(String),
    /// A DDI on this side failed.
    Driver(String),
    /// The proof failed: what differs.
    Proof(Vec<String>),
}

impl core::fmt::Display for Abort {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Connection(m) => write!(f, "connection lost: {m}"),
            Self::Timeout(m) => write!(f, "timeout: {m}"),
            Self::Refused(step, s) => {
                write!(f, "the target refused the {step} ({:#010x})", *s as u32)
            }
            Self::Handshake(m) => write!(f, "handshake refused: {m}"),
            Self::Interrupted => f.write_str("interrupted (Ctrl-C)"),
            Self::Protocol(m) => write!(f, "protocol error: {m}"),
            Self::PeerAborted(m) => write!(f, "the peer aborted: {m}"),
            Self::Driver(m) => write!(f, "driver: {m}"),
            Self::Proof(lines) => write!(f, "proof failed: {}", lines.join("; ")),
        }
    }
}

impl Abort {
    /// The exit code for this abort on the source.
    #[must_use]
    pub fn source_exit(&self) -> Exit {
        match self {
            Self::Connection(_) => Exit::SourceConnectionLost,
            Self::Timeout(_) => Exit::SourceTimeout,
            Self::Refused(..) => Exit::SourceTargetRefused,
            Self::Handshake(_) => Exit::SourceHandshakeRefused,
            Self::Interrupted => Exit::SourceInterrupted,
            Self::Protocol(_) => Exit::SourceProtocolError,
            Self::PeerAborted(_) => Exit::SourceTargetAborted,
            Self::Driver(_) | Self::Proof(_) => Exit::CheckFailed,
        }
    }

    /// The exit code for this abort on the target.
    #[must_use]
    pub fn target_exit(&self) -> Exit {
        match self {
            Self::Connection(_) => Exit::TargetConnectionLost,
            Self::Timeout(_) => Exit::TargetTimeout,
            Self::Interrupted => Exit::TargetInterrupted,
            Self::Protocol(_) => Exit::TargetProtocolError,
            Self::Handshake(_) => Exit::TargetHandshakeRefused,
            Self::PeerAborted(_) => Exit::TargetSourceAborted,
            Self::Refused(..) | Self::Driver(_) | Self::Proof(_) => Exit::TargetDriverFailed,
        }
    }

    fn io(what: &str, e: &std::io::Error) -> Self {
        match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => Self::Timeout(format!("{what}: {e}")),
            _ => Self::Connection(format!("{what}: {e}")),
        }
    }
}

/// A token bucket: at most `rate` bytes per second, bursts of [`Bucket::BURST`].
#[derive(Debug)]
struct Bucket {
    rate: f64,
    /// When the bucket is next empty of debt.
    free_at: Instant,
}

impl Bucket {
    const BURST: Duration = Duration::from_millis(2);

    /// Takes `n` bytes' worth of tokens, sleeping while the bucket owes more
    /// than one burst.
    fn take(&mut self, n: usize) {
        let now = Instant::now();
        let start = self
            .free_at
            .max(now.checked_sub(Self::BURST).unwrap_or(now));
        self.free_at = start + Duration::from_secs_f64(n as f64 / self.rate);
        if let Some(ahead) = self.free_at.checked_duration_since(now + Self::BURST) {
            std::thread::sleep(ahead);
        }
    }
}

/// One side of the connection.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    /// Every step's deadline.
    pub timeout: Duration,
    /// Bytes sent (headers included).
    pub sent: u64,
    /// Bytes received (headers included).
    pub received: u64,
    bucket: Option<Bucket>,
}

impl Conn {
    /// Wraps a connected stream; `cap` is the link cap in bits per second.
    ///
    /// # Errors
    /// The socket cannot be configured.
    pub fn new(stream: TcpStream, timeout: Duration, cap: Option<u64>) -> std::io::Result<Self> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(POLL))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Self {
            stream,
            timeout,
            sent: 0,
            received: 0,
            bucket: cap.map(|bits| Bucket {
                rate: bits as f64 / 8.0,
                free_at: Instant::now(),
            }),
        })
    }

    /// Sends one frame whose payload is the concatenation of `parts`.
    ///
    /// # Errors
    /// [`Abort::Connection`] or [`Abort::Timeout`].
    pub fn send(&mut self, kind: Kind, parts: &[&[u8]]) -> Result<(), Abort> {
        if INTERRUPTED.load(Ordering::Relaxed) {
            return Err(Abort::Interrupted);
        }
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let len32 = u32::try_from(len).map_err(|_| Abort::Protocol("frame too long".into()))?;
        let mut digest = CRC32C.digest();
        digest.update(&[kind as u8]);
        digest.update(&len32.to_le_bytes());
        for p in parts {
            digest.update(p);
        }
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&MAGIC);
        header[4] = kind as u8;
        header[8..12].copy_from_slice(&len32.to_le_bytes());
        header[12..16].copy_from_slice(&digest.finalize().to_le_bytes());
        if let Some(bucket) = &mut self.bucket {
            bucket.take(HEADER + len);
        }
        let what = format!("sending {kind:?}");
        self.stream
            .write_all(&header)
            .map_err(|e| Abort::io(&what, &e))?;
        for p in parts {
            self.stream.write_all(p).map_err(|e| Abort::io(&what, &e))?;
        }
        self.sent += (HEADER + len) as u64;
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes by `deadline`, looking at Ctrl-C.
    fn read_exact(&mut self, buf: &mut [u8], deadline: Instant, what: &str) -> Result<(), Abort> {
        let mut at = 0;
        while at < buf.len() {
            if INTERRUPTED.load(Ordering::Relaxed) {
                return Err(Abort::Interrupted);
            }
            match self.stream.read(&mut buf[at..]) {
                Ok(0) => {
                    return Err(Abort::Connection(format!(
                        "{what}: the peer closed the connection"
                    )));
                }
                Ok(n) => at += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) =>
                {
                    if Instant::now() >= deadline {
                        return Err(Abort::Timeout(format!(
                            "{what}: nothing for {:?}",
                            self.timeout
                        )));
                    }
                }
                Err(e) => return Err(Abort::io(what, &e)),
            }
        }
        self.received += buf.len() as u64;
        Ok(())
    }

    /// Receives one frame, validated: magic, kind, bounded length, checksum.
    /// An Abort frame from the peer becomes [`Abort::PeerAborted`].
    ///
    /// # Errors
    /// Any [`Abort`].
    pub fn recv(&mut self, what: &str) -> Result<(Kind, Vec<u8>), Abort> {
        let deadline = Instant::now() + self.timeout;
        let mut header = [0u8; HEADER];
        self.read_exact(&mut header, deadline, what)?;
        let (kind, len) = check_header(&header)?;
        let mut payload = vec![0u8; len];
        self.read_exact(&mut payload, deadline, what)?;
        let mut digest = CRC32C.digest();
        digest.update(&header[4..5]);
        digest.update(&header[8..12]);
        digest.update(&payload);
        let crc = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
        if digest.finalize() != crc {
            return Err(Abort::Protocol(format!(
                "{what}: {kind:?} frame fails its CRC-32C"
            )));
        }
        if kind == Kind::Abort {
            let mut r = Reader::new(&payload);
            let reason = r.string(512).unwrap_or_else(|_| "no reason".into());
            return Err(Abort::PeerAborted(reason));
        }
        Ok((kind, payload))
    }

    /// Receives one frame of kind `want`; any other kind is a protocol error.
    ///
    /// # Errors
    /// Any [`Abort`].
    pub fn expect(&mut self, want: Kind, what: &str) -> Result<Vec<u8>, Abort> {
        let (kind, payload) = self.recv(what)?;
        if kind == want {
            Ok(payload)
        } else {
            Err(Abort::Protocol(format!(
                "{what}: expected {want:?}, got {kind:?}"
            )))
        }
    }

    /// Tells the peer why this side aborts, best effort (a short deadline).
    pub fn send_abort(&mut self, reason: &str) {
        let _ = self
            .stream
            .set_write_timeout(Some(Duration::from_millis(500)));
        let mut w = Vec::new();
        put_string(&mut w, reason);
        let was = INTERRUPTED.swap(false, Ordering::Relaxed);
        let _ = self.send(Kind::Abort, &[&w]);
        INTERRUPTED.store(was, Ordering::Relaxed);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    /// Closes the socket at once (fault injection: a peer that vanishes).
    pub fn close(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Checks a header: magic, known kind, length within the kind's bound.
fn check_header(header: &[u8; HEADER]) -> Result<(Kind, usize), Abort> {
    if header[..4] != MAGIC {
        return Err(Abort::Protocol(format!("bad magic {:02x?}", &header[..4])));
    }
    let kind = Kind::from_u8(header[4])
        .ok_or_else(|| Abort::Protocol(format!("unknown frame kind {}", header[4])))?;
    let len = u32::from_le_bytes([header[8], header[9], header[10], header[11]]) as usize;
    if len > kind.max_len() {
        return Err(Abort::Protocol(format!(
            "{kind:?} frame of {len} bytes exceeds its bound of {}",
            kind.max_len()
        )));
    }
    Ok((kind, len))
}

/// Appends a length-prefixed string (at most 512 bytes kept).
pub fn put_string(w: &mut Vec<u8>, s: &str) {
    let mut end = s.len().min(512);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    w.extend_from_slice(&(end as u32).to_le_bytes());
    w.extend_from_slice(&s.as_bytes()[..end]);
}

/// A bounds-checked reader of a payload: every read fails cleanly past the end.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// Reads `bytes` from the start.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// The next `n` bytes.
    ///
    /// # Errors
    /// [`Abort::Protocol`] past the end.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Abort> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| Abort::Protocol("payload shorter than its fields".into()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    /// A little-endian u32.
    ///
    /// # Errors
    /// [`Abort::Protocol`] past the end.
    pub fn u32(&mut self) -> Result<u32, Abort> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A little-endian u64.
    ///
    /// # Errors
    /// [`Abort::Protocol`] past the end.
    pub fn u64(&mut self) -> Result<u64, Abort> {
        let lo = u64::from(self.u32()?);
        let hi = u64::from(self.u32()?);
        Ok(hi << 32 | lo)
    }

    /// A length-prefixed byte string of at most `max` bytes.
    ///
    /// # Errors
    /// [`Abort::Protocol`] past the end or over `max`.
    pub fn blob(&mut self, max: usize) -> Result<&'a [u8], Abort> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(Abort::Protocol(format!(
                "field of {n} bytes exceeds its bound of {max}"
            )));
        }
        self.bytes(n)
    }

    /// A length-prefixed UTF-8 string of at most `max` bytes.
    ///
    /// # Errors
    /// [`Abort::Protocol`] past the end, over `max`, or not UTF-8.
    pub fn string(&mut self, max: usize) -> Result<String, Abort> {
        let b = self.blob(max)?;
        String::from_utf8(b.to_vec()).map_err(|_| Abort::Protocol("string is not UTF-8".into()))
    }

    /// The bytes not read yet.
    #[must_use]
    pub fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_out_of_bounds_is_refused_before_its_payload_is_read() {
        let mut h = [0u8; HEADER];
        h[..4].copy_from_slice(&MAGIC);
        h[4] = Kind::BeginVf as u8;
        h[8..12].copy_from_slice(&13u32.to_le_bytes());
        assert!(matches!(check_header(&h), Err(Abort::Protocol(_))));
        h[8..12].copy_from_slice(&12u32.to_le_bytes());
        assert_eq!(check_header(&h), Ok((Kind::BeginVf, 12)));
        h[4] = 99;
        assert!(check_header(&h).is_err());
        h[0] = b'X';
        assert!(check_header(&h).is_err());
    }

    #[test]
    fn the_reader_never_reads_past_the_end() {
        let mut r = Reader::new(&[1, 0, 0, 0, 9]);
        assert_eq!(r.u32(), Ok(1));
        assert!(r.u32().is_err());
        let mut r = Reader::new(&[200, 0, 0, 0, 1]);
        assert!(r.blob(100).is_err());
    }

    #[test]
    fn a_corrupted_frame_fails_its_checksum() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut c = Conn::new(s, Duration::from_secs(5), None).unwrap();
            (c.recv("first"), c.recv("second"))
        });
        let mut s = TcpStream::connect(addr).unwrap();
        let mut c = Conn::new(s.try_clone().unwrap(), Duration::from_secs(5), None).unwrap();
        c.send(Kind::Commit, &[&7u32.to_le_bytes()]).unwrap();
        let mut h = [0u8; HEADER];
        h[..4].copy_from_slice(&MAGIC);
        h[4] = Kind::Commit as u8;
        h[8..12].copy_from_slice(&4u32.to_le_bytes());
        s.write_all(&h).unwrap();
        s.write_all(&[7, 0, 0, 0]).unwrap();
        let (first, second) = t.join().unwrap();
        assert_eq!(first, Ok((Kind::Commit, vec![7, 0, 0, 0])));
        assert!(matches!(second, Err(Abort::Protocol(m)) if m.contains("CRC")));
    }
}
