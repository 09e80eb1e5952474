import Media

/// One direction of an emulated network, in virtual time and without I/O (in the manner of
/// str0m's netem): packets given to `send(_:at:)` come out of `receive(at:)` after a base delay
/// and jitter, or not at all (random or bursty loss), sometimes twice (duplication) or behind
/// later ones (reordering). Every random choice comes from one seeded generator, so a run
/// repeats exactly.
///
/// Jitter keeps order, as a queue does (a packet never overtakes the one before it); only
/// packets picked for reordering are held back by `reorderDelay` and may be overtaken.
public struct NetworkPath<Packet: Sendable>: Sendable {
    /// How packets are lost.
    public enum Loss: Sendable, Equatable {
        case none
        /// Each packet lost with this probability (0...1).
        case random(Double)
        /// Gilbert-Elliott: this average loss in bursts of this mean length (in packets).
        case bursty(average: Double, meanBurst: Double)
    }

    public struct Configuration: Sendable {
        public var loss: Loss
        /// One-way delay every packet takes.
        public var delay: Duration
        /// Extra delay per packet, uniform in 0...jitter (order kept).
        public var jitter: Duration
        /// Share of packets held back by `reorderDelay`, so later ones overtake them.
        public var reorderRate: Double
        public var reorderDelay: Duration
        /// Share of packets delivered twice (the copy `duplicateDelay` later).
        public var duplicateRate: Double
        public var duplicateDelay: Duration
        public var seed: UInt64

        public init(
            loss: Loss = .none, delay: Duration = .milliseconds(20), jitter: Duration = .zero,
            reorderRate: Double = 0, reorderDelay: Duration = .milliseconds(30),
            duplicateRate: Double = 0, duplicateDelay: Duration = .milliseconds(5), seed: UInt64 = 1
        ) {
            self.loss = loss
            self.delay = delay
            self.jitter = jitter
            self.reorderRate = reorderRate
            self.reorderDelay = reorderDelay
            self.duplicateRate = duplicateRate
            self.duplicateDelay = duplicateDelay
            self.seed = seed
        }
    }

    /// What the path did to the packets so far.
    public struct Statistics: Sendable, Equatable {
        public var sent = 0
        public var lost = 0
        public var duplicated = 0
        public var reordered = 0
        public var delivered = 0
    }

    public let configuration: Configuration
    public private(set) var statistics = Statistics()
    private var lossModel: any PacketLossModel
    private var random: SplitMix64
    /// In flight, by arrival time then sending order.
    private var inFlight: [(arrival: Duration, order: Int, packet: Packet)] = []
    private var lastInOrderArrival: Duration = .zero
    private var order = 0

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        random = SplitMix64(seed: configuration.seed)
        let lossSeed = configuration.seed &* 0x2545_F491_4F6C_DD1D &+ 1
        lossModel =
            switch configuration.loss {
            case .none: BernoulliLoss(lossRate: 0, seed: lossSeed)
            case .random(let rate): BernoulliLoss(lossRate: rate, seed: lossSeed)
            case .bursty(let average, let burst): GilbertElliottLoss(averageLoss: average, meanBurstLength: burst, seed: lossSeed)
            }
    }

    /// Puts `packet` on the path at virtual time `now`.
    public mutating func send(_ packet: Packet, at now: Duration) {
        statistics.sent += 1
        if lossModel.nextPacketLost() {
            statistics.lost += 1
            return
        }
        let jitter = configuration.jitter * random.nextUnit()
        var arrival = now + configuration.delay + jitter
        if random.nextUnit() < configuration.reorderRate {
            statistics.reordered += 1
            arrival += configuration.reorderDelay
        } else {
            arrival = max(arrival, lastInOrderArrival)
            lastInOrderArrival = arrival
        }
        enqueue(packet, arrival: arrival)
        if random.nextUnit() < configuration.duplicateRate {
            statistics.duplicated += 1
            enqueue(packet, arrival: arrival + configuration.duplicateDelay)
        }
    }

    /// When the next packet comes out, if any is in flight.
    public var nextArrival: Duration? { inFlight.first?.arrival }

    /// Every packet whose arrival time is at or before `now`, in arrival order, with that time.
    public mutating func receive(at now: Duration) -> [(packet: Packet, arrival: Duration)] {
        var count = 0
        while count < inFlight.count, inFlight[count].arrival <= now { count += 1 }
        let out = inFlight.prefix(count).map { ($0.packet, $0.arrival) }
        inFlight.removeFirst(count)
        statistics.delivered += out.count
        return out
    }

    private mutating func enqueue(_ packet: Packet, arrival: Duration) {
        order += 1
        let entry = (arrival: arrival, order: order, packet: packet)
        // Most packets arrive after everything in flight: append; otherwise a binary search.
        if let last = inFlight.last, last.arrival > arrival {
            var low = 0, high = inFlight.count
            while low < high {
                let mid = (low + high) / 2
                if inFlight[mid].arrival <= arrival { low = mid + 1 } else { high = mid }
            }
            inFlight.insert(entry, at: low)
        } else {
            inFlight.append(entry)
        }
    }
}
