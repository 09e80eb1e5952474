#if canImport(Glibc)
    import Glibc
#endif
import NIOCore
import NIOPosix
import STUN
import Synchronization
import TURNServer

/// Bytes relayed over TCP allocations' connections (RFC 6062), counted on the event loops
/// that move them.
final class TCPRelayCounters: Sendable {
    let toPeer = Atomic<UInt64>(0)
    let toClient = Atomic<UInt64>(0)
}

/// TCP allocations (RFC 6062) on NIO: a listener per relayed address, peer connections made
/// from it or accepted on it, joined to client data connections. The engine decides; these
/// carry out its actions and report back through `post`.
extension RelayCore {
    static let reusePort = ChannelOptions.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT))

    /// Listens on the relayed address; `SO_REUSEPORT` lets Connect's outgoing connections bind
    /// the same address (RFC 6062 §5.2: they come from the relayed address).
    func openTCPRelay(_ relay: TransportAddress) {
        // SO_REUSEPORT would let the listener share a port another socket already listens on
        // (another relay process of the same user): probe without it first.
        guard RelayCore.tcpPortIsFree(relay) else {
            execute(engine.relayAddressInUse(relay, now: engineNow()))
            return
        }
        let core = self
        ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(RelayCore.reusePort, value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { core.addPeerHandler(to: $0, acceptedOn: relay) }
            .bind(to: relay.socketAddress)
            .whenComplete { result in
                core.post {
                    switch result {
                    case .success(let channel):
                        core.tcpRelays[relay] = channel
                        core.execute(core.engine.relayOpened(relay, now: engineNow()))
                    case .failure(let error as IOError) where error.errnoCode == EADDRINUSE:
                        core.execute(core.engine.relayAddressInUse(relay, now: engineNow()))
                    case .failure(let error):
                        core.logger.warning("relay listener bind failed", metadata: ["relay": "\(relay)", "error": "\(error)"])
                        core.execute(core.engine.relayFailed(relay, now: engineNow()))
                    }
                }
            }
    }

    /// Whether a plain TCP socket (`SO_REUSEADDR` only, so connections in TIME_WAIT do not
    /// count) can bind `address`: false when anything listens there.
    static func tcpPortIsFree(_ address: TransportAddress) -> Bool {
        let domain = address.ip.family == .ipv4 ? AF_INET : AF_INET6
        let fd = socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { _ = Glibc.close(fd) }
        var one: CInt = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        var storage = sockaddr_storage()
        let length = SocketAddressBytes.write(address, family: address.ip.family, into: &storage)
        let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        return bound == 0 || errno != EADDRINUSE
    }

    /// A peer connection's pipeline: one `PeerStreamHandler`.
    func addPeerHandler(to channel: Channel, acceptedOn relay: TransportAddress?) -> EventLoopFuture<Void> {
        let core = self
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(PeerStreamHandler(core: core, acceptedOn: relay))
        }
    }

    func closeTCPRelay(_ relay: TransportAddress) {
        tcpRelays.removeValue(forKey: relay)?.close(promise: nil)
    }

    /// Connect (RFC 6062 §5.2): a TCP connection from the relayed address to the peer, given
    /// 30 s to come up.
    func connectToPeer(_ id: PeerConnectionID, from relay: TransportAddress, to peer: TransportAddress) {
        let core = self
        ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(RelayCore.reusePort, value: 1)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connectTimeout(.seconds(Int64(TURNServerEngine.connectionBindTimeout)))
            .bind(to: relay.socketAddress)
            .channelInitializer { core.addPeerHandler(to: $0, acceptedOn: nil) }
            .connect(to: peer.socketAddress)
            .whenComplete { result in
                core.post {
                    switch result {
                    case .success(let channel):
                        core.peerChannels[id] = channel
                        core.peerIDs[ObjectIdentifier(channel)] = id
                        core.execute(core.engine.peerConnectionEstablished(id, now: engineNow()))
                    case .failure:
                        core.execute(core.engine.peerConnectionFailed(id, now: engineNow()))
                    }
                }
            }
    }

    /// A peer connected to a relayed address (RFC 6062 §5.3): kept if the engine announces it
    /// with ConnectionAttempt, closed otherwise.
    func peerAccepted(_ channel: Channel, from peer: TransportAddress, on relay: TransportAddress) {
        let (id, actions) = engine.peerConnectionAccepted(from: peer, on: relay, now: engineNow())
        if let id {
            peerChannels[id] = channel
            peerIDs[ObjectIdentifier(channel)] = id
        } else {
            channel.close(promise: nil)
        }
        execute(actions)
    }

    /// ConnectionBind succeeded (RFC 6062 §5.4): the client connection and the peer connection
    /// become one pipe.
    func joinDataConnection(_ id: PeerConnectionID, _ tuple: FiveTuple) {
        guard let peer = peerChannels[id], let client = connections[tuple], let handler = streamHandlers[tuple] else {
            // One side is already gone: end both (the client's connection is past STUN now).
            connections[tuple]?.close(promise: nil)
            execute(engine.peerConnectionClosed(id, now: engineNow()))
            return
        }
        dataConnections[id] = tuple
        handler.eventLoop.execute { handler.value.join(peer: peer) }
        peer.pipeline.handler(type: PeerStreamHandler.self).whenSuccess { peerHandler in
            peerHandler.join(client: client)
        }
    }

    /// The peer side closed (RFC 6062 §5.5).
    func peerChannelClosed(_ channel: Channel) {
        guard let id = peerIDs[ObjectIdentifier(channel)] else { return }
        execute(engine.peerConnectionClosed(id, now: engineNow()))
    }

    /// Closes a peer connection and its data connection, each after what was already written
    /// to it has gone.
    func closePeerConnection(_ id: PeerConnectionID) {
        if let peer = peerChannels.removeValue(forKey: id) {
            peerIDs[ObjectIdentifier(peer)] = nil
            RelayCore.closeAfterWrites(peer)
        }
        if let tuple = dataConnections.removeValue(forKey: id), let client = connections[tuple] {
            RelayCore.closeAfterWrites(client)
        }
    }

    /// Closes once what was written has gone, or after `closeGrace` if the other end stopped
    /// reading.
    static func closeAfterWrites(_ channel: Channel) {
        channel.writeAndFlush(ByteBuffer()).whenComplete { _ in channel.close(promise: nil) }
        channel.eventLoop.scheduleTask(in: closeGrace) { channel.close(promise: nil) }
    }

    static let closeGrace = TimeAmount.seconds(5)

    /// The other side of a joined pair sent its FIN: pass it on once what was written has gone
    /// (RFC 6062 relays a byte stream, and a half-close is part of it). Where the connection
    /// cannot half-close (TLS), it closes instead.
    static func closeOutput(_ channel: Channel) {
        let done = channel.eventLoop.makePromise(of: Void.self)
        done.futureResult.whenFailure { _ in closeAfterWrites(channel) }
        channel.flush()
        channel.close(mode: .output, promise: done)
    }
}
