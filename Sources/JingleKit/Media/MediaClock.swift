import Foundation
import Synchronization
#if canImport(Glibc)
    import Glibc
#endif

/// Something the media clock ticks every 20 ms (one call's media).
protocol MediaClockMember: AnyObject, Sendable {
    /// One tick, scheduled for `scheduled`; runs on a media clock thread. Returns false to leave.
    func tick(scheduled: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Bool
}

/// The process's media clock: a few plain threads (one per core) that wake every 20 ms on an
/// absolute schedule and run each call's tick (encode and send one frame, play one frame out).
/// Plain threads, not tasks: a call's audio must not wait behind whatever else the cooperative
/// pool is running (XMPP parsing, a burst of calls being set up), and one wake-up serves every
/// call on the thread. Calls are spread over the threads round-robin.
final class MediaClock: Sendable {
    static let shared = MediaClock(threads: max(1, ProcessInfo.processInfo.activeProcessorCount))

    private let lanes: [Lane]
    private let next = Atomic<Int>(0)

    init(threads: Int) {
        lanes = (0..<threads).map { Lane(index: $0) }
    }

    /// Starts ticking `member` on one of the threads until its tick returns false.
    func add(_ member: any MediaClockMember) {
        let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
        lanes[i % lanes.count].add(member)
    }

    /// One thread and the members it ticks. It sleeps on a condition while it has none.
    final class Lane: @unchecked Sendable {
        private let condition = NSCondition()
        private var members: [any MediaClockMember] = [] // guarded by `condition`
        private var started = false
        private let index: Int

        init(index: Int) { self.index = index }

        func add(_ member: any MediaClockMember) {
            condition.lock()
            members.append(member)
            if !started {
                started = true
                let thread = Thread { [self] in run() }
                thread.name = "JingleKit media clock \(index)"
                thread.qualityOfService = .userInteractive
                thread.start()
            }
            condition.signal()
            condition.unlock()
        }

        private func run() {
            let clock = ContinuousClock()
            var tick = clock.now
            while true {
                condition.lock()
                while members.isEmpty { condition.wait() }
                let current = members
                condition.unlock()
                if clock.now - tick > .milliseconds(200) { tick = clock.now } // idle, or a long stall

                var leaving: [ObjectIdentifier] = []
                for member in current where !member.tick(scheduled: tick, now: clock.now) {
                    leaving.append(ObjectIdentifier(member))
                }
                if !leaving.isEmpty {
                    condition.lock()
                    members.removeAll { leaving.contains(ObjectIdentifier($0)) }
                    condition.unlock()
                }
                tick += CallAudio.frameDuration
                Self.sleep(until: tick, clock: clock)
            }
        }

        /// Sleeps until `deadline` with clock_nanosleep on the monotonic clock (absolute, so no drift).
        private static func sleep(until deadline: ContinuousClock.Instant, clock: ContinuousClock) {
            let remaining = deadline - clock.now
            guard remaining > .zero else { return }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let (seconds, attoseconds) = remaining.components
            var target = timespec(tv_sec: now.tv_sec + Int(seconds), tv_nsec: now.tv_nsec + Int(attoseconds / 1_000_000_000))
            if target.tv_nsec >= 1_000_000_000 {
                target.tv_sec += 1
                target.tv_nsec -= 1_000_000_000
            }
            while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, nil) == EINTR {}
        }
    }
}
