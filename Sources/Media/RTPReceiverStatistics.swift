import EngineTime

/// Per-source reception statistics (RFC 3550 §6.4.1 and Appendix A.1, A.3, A.8): validation,
/// extended highest sequence, cumulative and interval loss, interarrival jitter, LSR/DLSR;
/// produces report blocks. Sans-IO: arrival times are arguments.
public struct RTPReceiverStatistics: Sendable {
    public let ssrc: UInt32
    public let clockRate: Int
    public private(set) var sequence = RTPSequenceTracker()
    /// Interarrival jitter estimate in timestamp units (A.8), unrounded.
    public private(set) var jitter: Double = 0
    private var lastTransit: Int64?
    private var origin: EngineInstant?
    private var expectedPrior: UInt64 = 0
    private var receivedPrior: UInt64 = 0
    private var lastSenderReport: (compact: UInt32, arrival: EngineInstant)?

    public init(ssrc: UInt32, clockRate: Int) {
        self.ssrc = ssrc
        self.clockRate = max(1, clockRate)
    }

    /// Records one RTP packet arriving at `now`; returns the validation verdict.
    @discardableResult
    public mutating func receive(
        sequenceNumber: UInt16, timestamp: UInt32,
        at now: EngineInstant
    ) -> RTPSequenceTracker.Verdict {
        let verdict = sequence.update(sequenceNumber)
        switch verdict {
        case .accepted, .duplicateOrReordered:
            updateJitter(timestamp: timestamp, at: now)
        case .probation, .badSequence:
            break
        }
        return verdict
    }

    private mutating func updateJitter(timestamp: UInt32, at now: EngineInstant) {
        let base = origin ?? now
        origin = base
        let arrivalUnits = Self.units(now - base, clockRate: clockRate)
        // Transit is only used as a difference, so the 32-bit timestamp is taken modulo 2^32.
        let transit = Int64(Int32(truncatingIfNeeded: arrivalUnits &- Int64(timestamp)))
        if let last = lastTransit {
            let d = Double(abs(Int64(Int32(truncatingIfNeeded: transit &- last))))
            jitter += (d - jitter) / 16
        }
        lastTransit = transit
    }

    static func units(_ d: Duration, clockRate: Int) -> Int64 {
        let (s, atto) = d.components
        return s * Int64(clockRate) + (atto / 1_000_000_000) * Int64(clockRate) / 1_000_000_000
    }

    /// Records a sender report from this source (for LSR/DLSR).
    public mutating func receiveSenderReport(_ ntp: NTPTimestamp, at now: EngineInstant) {
        lastSenderReport = (ntp.compact, now)
    }

    /// Cumulative packets lost (A.3), clamped to the signed 24-bit field.
    public var cumulativeLost: Int32 {
        let lost = Int64(sequence.expected) - Int64(sequence.received)
        return Int32(min(max(lost, -0x80_0000), 0x7F_FFFF))
    }

    /// Builds the report block for this source and starts a new interval for the fraction lost.
    public mutating func makeReportBlock(at now: EngineInstant) -> RTCPReportBlock {
        let expected = sequence.expected
        let received = sequence.received
        let expectedInterval = Int64(expected) - Int64(expectedPrior)
        let receivedInterval = Int64(received) - Int64(receivedPrior)
        expectedPrior = expected
        receivedPrior = received
        let lostInterval = expectedInterval - receivedInterval
        let fraction: UInt8 =
            (expectedInterval == 0 || lostInterval <= 0)
            ? 0 : UInt8(clamping: (lostInterval << 8) / expectedInterval)
        var lsr: UInt32 = 0
        var dlsr: UInt32 = 0
        if let sr = lastSenderReport {
            lsr = sr.compact
            dlsr = durationToCompactNTP(now - sr.arrival)
        }
        return RTCPReportBlock(
            ssrc: ssrc, fractionLost: fraction, cumulativeLost: cumulativeLost,
            extendedHighestSequence: UInt32(truncatingIfNeeded: sequence.extendedMax),
            jitter: UInt32(jitter), lastSenderReport: lsr,
            delaySinceLastSenderReport: dlsr)
    }
}
