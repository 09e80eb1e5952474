internal import CSndFile

/// Why `SoundFile` could not read a file (libsndfile's own message).
public struct SoundFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// An audio file read whole through libsndfile: WAV (16/24/32-bit PCM, float, mu-law, A-law,
/// IMA/MS ADPCM), FLAC, AIFF, AU, Ogg Vorbis and the other formats it knows, recognised by content.
/// Samples are interleaved floats in -1...1 (integer formats normalised by libsndfile).
public struct SoundFile: Sendable {
    public let sampleRate: Int
    public let channels: Int
    /// Interleaved, `frames * channels` values.
    public let samples: [Float]
    /// libsndfile's name of the container and the encoding, e.g. "WAV (Microsoft)" / "U-Law".
    public let formatName: String

    public var frames: Int { channels > 0 ? samples.count / channels : 0 }

    public init(reading path: String) throws(SoundFileError) {
        let handle = try SoundFileHandle(path: path)
        sampleRate = handle.sampleRate
        channels = handle.channels
        formatName = handle.formatName
        samples = try handle.readAll()
    }
}

/// Owns one libsndfile handle (closed in `deinit`).
final class SoundFileHandle {
    private let file: OpaquePointer
    let sampleRate: Int
    let channels: Int
    let formatName: String
    private let frameCount: Int64

    init(path: String) throws(SoundFileError) {
        var info = SF_INFO()
        guard let file = sf_open(path, jk_sf_mode_read(), &info) else {
            throw SoundFileError(reason: String(cString: sf_strerror(nil)))
        }
        self.file = file
        sampleRate = Int(info.samplerate)
        channels = Int(info.channels)
        frameCount = info.frames
        formatName = Self.name(major: info.format & jk_sf_format_typemask(), minor: info.format & jk_sf_format_submask())
        guard sampleRate > 0, channels > 0 else {
            sf_close(file)
            throw SoundFileError(reason: "no audio (rate \(sampleRate), \(channels) channels)")
        }
    }

    deinit { sf_close(file) }

    func readAll() throws(SoundFileError) -> [Float] {
        var out: [Float] = []
        if frameCount > 0 && frameCount < Int64(Int32.max) { out.reserveCapacity(Int(frameCount) * channels) }
        let chunkFrames = 4096
        var chunk = [Float](repeating: 0, count: chunkFrames * channels)
        while true {
            let got = chunk.withUnsafeMutableBufferPointer { sf_readf_float(file, $0.baseAddress, sf_count_t(chunkFrames)) }
            if got <= 0 { break }
            out += chunk[0..<(Int(got) * channels)]
        }
        if sf_error(file) != 0 { throw SoundFileError(reason: String(cString: sf_strerror(file))) }
        return out
    }

    private static func name(major: Int32, minor: Int32) -> String {
        func describe(_ format: Int32) -> String {
            var f = SF_FORMAT_INFO()
            f.format = format
            guard sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &f, Int32(MemoryLayout<SF_FORMAT_INFO>.size)) == 0,
                let n = f.name
            else { return "format 0x\(String(format, radix: 16))" }
            return String(cString: n)
        }
        return describe(major) + " / " + describe(minor)
    }
}
