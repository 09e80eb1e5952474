/// A growable stack of `XMLNode`s in one manually managed buffer: the children of all open
/// elements, concatenated. Closing an element moves its children out into an exactly sized array
/// without copying or re-counting them. The owner calls `deallocate()` once.
struct NodeStack {
    private var base: UnsafeMutablePointer<XMLNode>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 64) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    mutating func push(_ node: XMLNode) {
        if count == capacity { grow() }
        (base + count).initialize(to: node)
        count += 1
    }

    /// Moves `self[start..<count]` out, in order, leaving `start` nodes.
    mutating func popArray(from start: Int) -> [XMLNode] {
        let moved = count - start
        guard moved > 0 else { return [] }
        let source = base + start
        let result = [XMLNode](unsafeUninitializedCapacity: moved) { buffer, initialized in
            buffer.baseAddress?.moveInitialize(from: source, count: moved)
            initialized = moved
        }
        count = start
        return result
    }

    /// Destroys the remaining nodes and frees the buffer.
    func deallocate() {
        base.deinitialize(count: count)
        base.deallocate()
    }

    private mutating func grow() {
        let bigger = UnsafeMutablePointer<XMLNode>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }
}
