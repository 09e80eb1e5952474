import STUN

/// A TCP allocation's peer connections (RFC 6062 §3) by CONNECTION-ID, indexed by the
/// allocation that owns them and by the client data connection each is joined to, so closes
/// and checks never scan every connection.
struct PeerConnectionTable: Sendable {
    private(set) var byID: [PeerConnectionID: PeerConnection] = [:]
    private var byOwner: [FiveTuple: Set<PeerConnectionID>] = [:]
    private var byDataConnection: [FiveTuple: PeerConnectionID] = [:]

    var count: Int { byID.count }
    var isEmpty: Bool { byID.isEmpty }

    subscript(id: PeerConnectionID) -> PeerConnection? { byID[id] }

    mutating func insert(_ connection: PeerConnection, id: PeerConnectionID) {
        byID[id] = connection
        byOwner[connection.owner, default: []].insert(id)
    }

    /// Moves a connection to `state`; a joined one is found by its data connection from then on.
    mutating func update(_ id: PeerConnectionID, to state: PeerConnection.State) {
        guard byID[id] != nil else { return }
        byID[id]?.state = state
        if case .joined(let tuple) = state { byDataConnection[tuple] = id }
    }

    @discardableResult
    mutating func remove(_ id: PeerConnectionID) -> PeerConnection? {
        guard let connection = byID.removeValue(forKey: id) else { return nil }
        byOwner[connection.owner]?.remove(id)
        if byOwner[connection.owner]?.isEmpty == true { byOwner[connection.owner] = nil }
        if case .joined(let tuple) = connection.state { byDataConnection[tuple] = nil }
        return connection
    }

    /// The connections of the allocation on `tuple`.
    func ids(ownedBy tuple: FiveTuple) -> Set<PeerConnectionID> { byOwner[tuple] ?? [] }

    /// The connection whose client data connection is `tuple`.
    func id(joinedTo tuple: FiveTuple) -> PeerConnectionID? { byDataConnection[tuple] }

    /// Whether the allocation on `owner` has a connection (or a Connect under way) to `peer`.
    func contains(owner: FiveTuple, peer: TransportAddress) -> Bool {
        ids(ownedBy: owner).contains { byID[$0]?.peer == peer }
    }
}
