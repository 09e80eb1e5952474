/// Why bytes could not be read as STUN or ChannelData (RFC 8489 §5-6, RFC 8656 §12.4).
/// Parsers throw these; they never trap on input.
public enum STUNParseError: Error, Hashable, Sendable {
    /// Fewer bytes than the structure needs: `needed` bytes, `available` present.
    case truncated(needed: Int, available: Int)
    /// The first two bits of a STUN message were not zero.
    case notSTUN
    /// The magic cookie field was not 0x2112A442.
    case badMagicCookie(UInt32)
    /// The header length is not a multiple of 4 or disagrees with the bytes present.
    case badLength(declared: Int, actual: Int)
    /// An attribute's length runs past the end of the message.
    case attributeOverrun(type: UInt16, length: Int)
    /// An attribute's value had the wrong size or contents for its type.
    case malformedAttribute(type: UInt16, reason: String)
    /// An attribute followed FINGERPRINT, which must be last.
    case attributeAfterFingerprint(type: UInt16)
    /// ChannelData with a channel number outside 0x4000-0x7FFF.
    case badChannelNumber(UInt16)
    /// The first two bits were 0b10 or 0b11, neither STUN nor ChannelData.
    case unknownFraming(UInt8)
    /// A stream frame longer than the configured maximum.
    case frameTooLong(Int)
}
