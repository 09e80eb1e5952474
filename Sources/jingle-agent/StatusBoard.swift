import JingleKit
import Synchronization

/// The live status line on a terminal: each call's state and elapsed time (plus loss, jitter,
/// RTT and level once media flows), redrawn in place once a second. Nothing is drawn when stdout
/// is not a terminal or with `--quiet`.
final class StatusBoard: Sendable {
    private struct Entry {
        var call: Call
        var state: String
        var startedAt: ContinuousClock.Instant
        var activeSince: ContinuousClock.Instant?
    }

    private let entries = Mutex<[(String, Entry)]>([])
    private let media: MediaWiring
    private let connection: ConnectionNote?

    init(media: MediaWiring, connection: ConnectionNote? = nil) {
        self.media = media
        self.connection = connection
    }

    func add(_ call: Call, state: String) {
        entries.withLock { $0.append((call.sid, Entry(call: call, state: state, startedAt: .now))) }
    }

    func update(_ call: Call, state: String, active: Bool = false) {
        entries.withLock { list in
            guard let i = list.firstIndex(where: { $0.0 == call.sid }) else { return }
            list[i].1.state = state
            if active, list[i].1.activeSince == nil { list[i].1.activeSince = .now }
        }
    }

    func remove(_ call: Call) {
        entries.withLock { $0.removeAll { $0.0 == call.sid } }
    }

    /// Redraws once a second until cancelled (returns at once when no status line is shown).
    func run(idle: String) async {
        guard Console.shared.showsStatusLine else { return }
        while !Task.isCancelled {
            await draw(idle: idle)
            try? await Task.sleep(for: .seconds(1))
        }
    }

    private func draw(idle: String) async {
        let snapshot = entries.withLock { $0.map(\.1) }
        let offline = connection?.offline
        guard !snapshot.isEmpty else {
            Console.shared.status(offline ?? idle)
            return
        }
        var parts: [String] = offline.map { [$0] } ?? []
        let now = ContinuousClock.now
        for entry in snapshot.prefix(4) {
            var text = "\(entry.call.peer) \(entry.state) \(Self.clock(now - (entry.activeSince ?? entry.startedAt)))"
            if media.carriesMedia, entry.activeSince != nil, let stats = await entry.call.mediaStatistics {
                text += " " + MediaWiring.statusFigures(stats)
            }
            parts.append(text)
        }
        if snapshot.count > 4 { parts.append("+\(snapshot.count - 4) more") }
        Console.shared.status(parts.joined(separator: " | "))
    }

    static func clock(_ d: Duration) -> String {
        let total = Int(d.components.seconds)
        let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return h > 0 ? "\(h):\(two(m)):\(two(s))" : "\(two(m)):\(two(s))"
    }
}
