import EngineTime
import STUN

/// What a timer entry stands for. An entry may be early (the item was refreshed since): when
/// it comes due it looks at the item's current expiry and goes back in the queue for it.
enum TimerItem: Hashable, Sendable {
    case allocation(FiveTuple)
    case permission(FiveTuple, IPAddress)
    /// A channel's release: its expiry plus the cooldown (RFC 8656 §12).
    case channel(FiveTuple, UInt16)
    case reservation(UInt64)
    case peerConnection(PeerConnectionID)
}

/// The engine's timers in one binary min-heap: scheduling and expiring are O(log n) and a
/// timeout looks only at entries that are due, never at every allocation. Each live item has
/// one entry (a refresh moves no entry; the entry is re-queued when it comes due early).
struct TimerQueue: Sendable {
    struct Entry: Sendable {
        var time: EngineInstant
        var item: TimerItem
    }

    private(set) var heap: [Entry] = []

    var count: Int { heap.count }
    var earliest: EngineInstant? { heap.first?.time }

    mutating func push(_ item: TimerItem, at time: EngineInstant) {
        heap.append(Entry(time: time, item: item))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].time < heap[parent].time else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func popDue(_ now: EngineInstant) -> Entry? {
        guard let first = heap.first, first.time <= now else { return nil }
        let last = heap.removeLast()
        guard !heap.isEmpty else { return first }
        heap[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && heap[l].time < heap[m].time { m = l }
            if r < heap.count && heap[r].time < heap[m].time { m = r }
            guard m != i else { break }
            heap.swapAt(i, m)
            i = m
        }
        return first
    }
}
