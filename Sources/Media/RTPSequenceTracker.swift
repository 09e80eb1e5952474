/// RTP source validation and sequence-number extension (RFC 3550 Appendix A.1): a source is
/// valid after `minimumSequential` in-order packets; jumps beyond `maxDropout` restart it only
/// when confirmed by the packet after; the 16-bit number is extended with a cycle count.
public struct RTPSequenceTracker: Equatable, Sendable {
    public static let maxDropout: UInt16 = 3000
    public static let maxMisorder: UInt16 = 100
    public static let minimumSequential = 2

    /// Result of offering one sequence number.
    public enum Verdict: Equatable, Sendable {
        /// Accepted; the extended sequence number.
        case accepted(extended: UInt64)
        /// Still in probation; the packet should not be counted yet.
        case probation
        /// A very large jump not (yet) confirmed; the packet is dropped.
        case badSequence
        /// Old or duplicate: accepted for playout by a caller that wants it, not counted as new.
        case duplicateOrReordered(extended: UInt64)
    }

    public private(set) var maxSequence: UInt16 = 0
    /// Shifted count of wraparounds (multiples of 65536).
    public private(set) var cycles: UInt64 = 0
    public private(set) var baseSequence: UInt16 = 0
    private var badSequence: UInt32 = 0x1_0000 + 1
    private var probation: Int = minimumSequential
    private var started = false
    public private(set) var received: UInt64 = 0
    public private(set) var isValid = false

    public init() {}

    /// The highest extended sequence number seen.
    public var extendedMax: UInt64 { cycles + UInt64(maxSequence) }

    private mutating func restart(at seq: UInt16) {
        baseSequence = seq
        maxSequence = seq
        badSequence = 0x1_0000 + 1
        cycles = 0
        received = 0
    }

    /// Offers one packet's sequence number.
    public mutating func update(_ seq: UInt16) -> Verdict {
        if !started {
            started = true
            restart(at: seq)
            maxSequence = seq &- 1
            probation = Self.minimumSequential
        }
        let delta = seq &- maxSequence
        if probation > 0 {
            if seq == maxSequence &+ 1 {
                probation -= 1
                maxSequence = seq
                if probation == 0 {
                    restart(at: seq)
                    received += 1
                    isValid = true
                    return .accepted(extended: extendedMax)
                }
            } else {
                probation = Self.minimumSequential - 1
                maxSequence = seq
            }
            return .probation
        }
        if delta < Self.maxDropout {
            if seq < maxSequence { cycles += 0x1_0000 }
            maxSequence = seq
        } else if delta <= UInt16.max - Self.maxMisorder {
            // A very large jump: accept only if the next packet follows it (the sender restarted).
            if UInt32(seq) == badSequence {
                restart(at: seq)
                received += 1
                return .accepted(extended: extendedMax)
            }
            badSequence = (UInt32(seq) + 1) & 0xFFFF
            return .badSequence
        } else {
            // Duplicate or reordered within the misorder window.
            received += 1
            return .duplicateOrReordered(extended: extend(seq))
        }
        received += 1
        return .accepted(extended: extendedMax)
    }

    /// Extends a sequence number near the current maximum into the 64-bit space.
    public func extend(_ seq: UInt16) -> UInt64 {
        let diff = Int64(Int16(bitPattern: seq &- maxSequence))
        let value = Int64(extendedMax) + diff
        return UInt64(max(0, value))
    }

    /// Packets expected so far (RFC 3550 A.3).
    public var expected: UInt64 { isValid ? extendedMax - UInt64(baseSequence) + 1 : 0 }
}
