#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Synchronization

/// Records received audio to a 48 kHz mono 16-bit WAV file (RIFF/WAVE, WAVE_FORMAT_PCM) as it
/// arrives: samples are written at least once a second and the RIFF and data sizes brought up to
/// date each time, so a crash loses at most a second and leaves a file that plays.
///
/// The file is created new (`O_EXCL`: an existing file is never overwritten), never through a
/// symbolic link (`O_NOFOLLOW`), and readable by its owner only (mode 0600). A failed write is
/// remembered and reported by `finish()`; recording stops at the first one.
public final class WAVFileRecorder: CallAudioSink {
    public let url: URL
    /// Frames written to disk together (one second of 20 ms frames).
    public static let framesPerWrite = 50
    static let headerSize = 44

    private struct State {
        var fd: Int32
        var pending: [UInt8] = []
        var dataBytes = 0
        var failure: String?
    }
    private let state: Mutex<State>

    /// Creates the file and writes its header. Throws `.unwritable` (with the system's reason)
    /// when the file exists, the path is a symbolic link, or the folder cannot be written.
    public init(url: URL) throws(CallAudioFileError) {
        self.url = url
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .unwritable(path: url.path, reason: String(cString: strerror(errno))) }
        state = Mutex(State(fd: fd))
        let header = Self.header(dataBytes: 0)
        let failure: String? = state.withLock { s in Self.write(header, to: s.fd, at: 0) }
        if let failure {
            close(fd)
            throw .unwritable(path: url.path, reason: failure)
        }
    }

    deinit {
        state.withLock { s in
            if s.fd >= 0 { close(s.fd) }
        }
    }

    /// A file name made from a peer-chosen value such as a Jingle sid: only letters, digits,
    /// `-`, `_` and `.` are kept (others become `_`), a leading `.` becomes `_`, and at most 64
    /// characters, so the value can name a file but never a folder or a path.
    public static func safeFileName(_ value: String) -> String {
        var out = String(
            value.unicodeScalars.prefix(64).map { c -> Character in
                let ok = (c.isASCII && (CharacterSet.alphanumerics.contains(c))) || c == "-" || c == "_" || c == "."
                return ok ? Character(c) : "_"
            })
        if out.hasPrefix(".") { out = "_" + out.dropFirst() }
        return out.isEmpty ? "_" : out
    }

    public func receive(frame: [Int16]) {
        state.withLock { s in
            guard s.fd >= 0, s.failure == nil else { return }
            s.pending.reserveCapacity(Self.framesPerWrite * CallAudio.samplesPerFrame * 2)
            for sample in frame {
                let v = UInt16(bitPattern: sample)
                s.pending.append(UInt8(v & 0xFF))
                s.pending.append(UInt8(v >> 8))
            }
            if s.pending.count >= Self.framesPerWrite * CallAudio.samplesPerFrame * 2 { Self.flush(&s) }
        }
    }

    /// Samples written or waiting to be written.
    public var recordedSampleCount: Int {
        state.withLock { ($0.dataBytes + $0.pending.count) / 2 }
    }

    /// Writes what is pending, brings the header up to date and closes the file. Throws
    /// `.unwritable` if any write failed during the call.
    public func finish() throws(CallAudioFileError) {
        let failure: String? = state.withLock { s in
            guard s.fd >= 0 else { return s.failure }
            Self.flush(&s)
            if s.failure == nil, fsync(s.fd) != 0 { s.failure = String(cString: strerror(errno)) }
            close(s.fd)
            s.fd = -1
            return s.failure
        }
        if let failure { throw .unwritable(path: url.path, reason: failure) }
    }

    private static func flush(_ s: inout State) {
        guard s.failure == nil, !s.pending.isEmpty else { return }
        guard s.dataBytes + s.pending.count <= Int(UInt32.max) - 36 else {
            s.failure = "the WAV size limit (4 GiB, about 12 hours) was reached"
            return
        }
        if let failure = write(s.pending, to: s.fd, at: headerSize + s.dataBytes) {
            s.failure = failure
            return
        }
        s.dataBytes += s.pending.count
        s.pending.removeAll(keepingCapacity: true)
        s.failure = write(header(dataBytes: s.dataBytes), to: s.fd, at: 0)
    }

    /// `bytes` written at `offset`, all of them; the system's reason when that fails.
    private static func write(_ bytes: [UInt8], to fd: Int32, at offset: Int) -> String? {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            if n == 0 { return "nothing written" }
            done += n
        }
        return nil
    }

    static func header(dataBytes: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerSize)
        func le16(_ v: Int) { out.append(UInt8(v & 0xFF)); out.append(UInt8(v >> 8 & 0xFF)) }
        func le32(_ v: Int) { le16(v & 0xFFFF); le16(v >> 16 & 0xFFFF) }
        let rate = CallAudio.sampleRate
        out += Array("RIFF".utf8); le32(36 + dataBytes)
        out += Array("WAVEfmt ".utf8); le32(16); le16(1); le16(1); le32(rate); le32(rate * 2); le16(2); le16(16)
        out += Array("data".utf8); le32(dataBytes)
        return out
    }
}
