#if canImport(Glibc)
    import Glibc
#endif
import EngineTime
import Logging
import NIOCore
import STUN
import Synchronization
import RelayFastPath
import TURNServer

/// The runtime around the allocation engine: owns the engine, the UDP listeners and relay
/// sockets, carries out the engine's actions and keeps its one timer. It runs its own data-plane
/// thread around one level-triggered epoll instance: per readiness report, one `recvmmsg`
/// (up to 64 datagrams from a listener, 16 from a relay socket) into preallocated slots, the
/// engine's plain-value routing, then client-to-peer datagrams go out with one `sendto` straight
/// from the receive slot and peer-to-client ChannelData is staged per listener and sent with one
/// `sendmmsg` at the end of the loop iteration. No envelope, boxed value, address text or
/// buffer object is made per datagram.
///
/// TCP and TLS clients and the metrics endpoint stay on NIO; their work reaches the engine
/// through `post`, in order. Everything else in this class runs on the data-plane thread.
final class RelayCore: @unchecked Sendable {
    var engine: TURNServerEngine
    let logger: Logger
    let socketBufferBytes: Int
    let poll: EventPoll
    let receiveBatch = ReceiveBatch()
    /// UDP listeners (few: a short array is the fastest lookup).
    var listeners: [DirectUDPSocket] = []
    var relays: [TransportAddress: DirectUDPSocket] = [:]
    /// What each registered descriptor is, indexed by descriptor.
    var endpoints: [Endpoint?] = []
    var connections: [FiveTuple: Channel] = [:]
    /// Each stream connection's handler, reachable on its event loop (RFC 6062 data connections).
    var streamHandlers: [FiveTuple: NIOLoopBound<StreamClientHandler>] = [:]
    /// TCP allocations (RFC 6062): listeners on relayed addresses, peer connections by ID and
    /// back, the data connection each peer connection is joined to, bytes relayed.
    let group: EventLoopGroup
    var tcpRelays: [TransportAddress: Channel] = [:]
    var peerChannels: [PeerConnectionID: Channel] = [:]
    var peerIDs: [ObjectIdentifier: PeerConnectionID] = [:]
    var dataConnections: [PeerConnectionID: FiveTuple] = [:]
    let tcpCounters = TCPRelayCounters()
    var pendingSockets: [DirectUDPSocket] = []
    var receiveErrors: UInt64 = 0
    /// Live allocations' user and start, and what closed relay sockets carried, for the log
    /// line that ends an allocation (user, duration, packets and bytes each way).
    var allocationRecords: [FiveTuple: AllocationRecord] = [:]
    var closedRelayCounts: [TransportAddress: AllocationRecord.Counts] = [:]
    /// Send errors of relay sockets already closed (live sockets keep their own count).
    var closedSendErrors: UInt64 = 0
    let allocator = ByteBufferAllocator()
    /// The kernel fast path's routes for this thread's allocations, when it runs, what the
    /// kernel relayed for them so far, and when the routes are next brought up to date.
    var kernelTable: KernelChannelTable?
    var kernelRelayed = KernelChannelTable.Relayed()
    var nextKernelSync = EngineInstant.zero
    var lastKernelSync = EngineInstant.zero

    enum Endpoint {
        case listener(DirectUDPSocket)
        case relay(DirectUDPSocket, TransportAddress)
    }

    /// Work posted from other threads, and whether the loop was already woken for it.
    private let inbox = Mutex<(work: [@Sendable () -> Void], woken: Bool, stopped: Bool)>(([], false, false))
    private var stopRequested = false
    private var thread: pthread_t?

    init(engine: TURNServerEngine, logger: Logger, socketBufferBytes: Int, group: EventLoopGroup) throws {
        self.group = group
        self.engine = engine
        self.logger = logger
        self.socketBufferBytes = socketBufferBytes
        self.poll = try EventPoll()
    }

    // MARK: - Thread

    /// Starts the data-plane thread.
    func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let created = pthread_create(
            &tid, nil,
            { argument in
                guard let argument else { return nil }
                let core = Unmanaged<RelayCore>.fromOpaque(argument).takeRetainedValue()
                core.run()
                return nil
            }, context)
        if created == 0 {
            thread = tid
        } else {
            Unmanaged<RelayCore>.fromOpaque(context).release()
            logger.critical("cannot start the relay's data-plane thread", metadata: ["errno": "\(created)"])
        }
    }

    /// Runs `work` on the data-plane thread, in posting order. Once the loop has stopped, runs
    /// it at once on the caller's thread (nothing else touches the state then).
    func post(_ work: @escaping @Sendable () -> Void) {
        let wake: Bool? = inbox.withLock { box in
            if box.stopped { return nil }
            box.work.append(work)
            defer { box.woken = true }
            return !box.woken
        }
        switch wake {
        case nil: work()
        case true?: poll.wake()
        case false?: break
        }
    }

    /// Runs `work` on the data-plane thread and returns its result.
    func submit<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            post { continuation.resume(returning: work()) }
        }
    }

    var isRunning: Bool { thread != nil }

    /// Ends the loop after the work already posted, and waits for the thread.
    func stopThread() {
        post { self.stopRequested = true }
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }

    private func run() {
        while !stopRequested {
            poll.wait(timeoutMilliseconds: waitTimeout()) { token in readable(Int(token)) }
            runInbox()
            let now = engineNow()
            if let deadline = engine.nextDeadline, deadline <= now {
                execute(engine.handleTimeout(now: now))
            }
            if kernelTable != nil, now >= nextKernelSync { syncKernelRoutes(now: now) }
            flush()
        }
        runInbox()
        inbox.withLock { $0.stopped = true }
        runInbox()
    }

    private func waitTimeout() -> CInt {
        if inbox.withLock({ !$0.work.isEmpty }) { return 0 }
        guard let deadline = engine.nextDeadline else { return 1000 }
        let remaining = (deadline - engineNow()).components
        let milliseconds = Double(remaining.seconds) * 1000 + Double(remaining.attoseconds) / 1e15
        return CInt(max(0, min(1000, milliseconds.rounded(.up))))
    }

    private func runInbox() {
        let work = inbox.withLock { box -> [@Sendable () -> Void] in
            box.woken = false
            defer { box.work.removeAll() }
            return box.work
        }
        for item in work { item() }
    }

    // MARK: - Sockets

    func addListener(_ socket: DirectUDPSocket) {
        listeners.append(socket)
        track(socket.fd, .listener(socket))
    }

    func track(_ fd: CInt, _ endpoint: Endpoint?) {
        let index = Int(fd)
        if index >= endpoints.count { endpoints += Array(repeating: nil, count: index - endpoints.count + 64) }
        endpoints[index] = endpoint
        if endpoint != nil { poll.register(fd, token: UInt64(index)) } else { poll.unregister(fd) }
    }

    func listener(for address: TransportAddress) -> DirectUDPSocket? {
        for socket in listeners where socket.local == address { return socket }
        return nil
    }

    /// Datagrams the kernel refused to send, over every socket.
    var sendErrors: UInt64 {
        closedSendErrors + listeners.reduce(0) { $0 + $1.sendErrors } + relays.values.reduce(0) { $0 + $1.sendErrors }
    }

    private func readable(_ index: Int) {
        guard index < endpoints.count, let endpoint = endpoints[index] else { return }
        switch endpoint {
        case .listener(let socket):
            // Up to four full batches per report; the rest waits for the next one.
            for _ in 0..<4 {
                let n = receiveBatch.receive(fd: socket.fd, limit: receiveBatch.capacity)
                if n < 0 { receiveErrors += 1; return }
                // One clock read per batch: the datagrams arrived within microseconds.
                let now = engineNow()
                for i in 0..<n {
                    guard let bytes = receiveBatch.bytes(i), let client = receiveBatch.source(i) else { receiveErrors += 1; continue }
                    clientDatagram(bytes, from: client, listener: socket, now: now)
                }
                if n < receiveBatch.capacity { return }
            }
        case .relay(let socket, let relay):
            let n = receiveBatch.receive(fd: socket.fd, limit: 16)
            if n < 0 { receiveErrors += 1; return }
            let now = engineNow()
            for i in 0..<n {
                guard let bytes = receiveBatch.bytes(i), let peer = receiveBatch.source(i) else { receiveErrors += 1; continue }
                if peerDatagram(bytes, from: peer, relay: relay, now: now) { socket.countIn(bytes.count) }
            }
        }
    }

    // MARK: - Hot paths

    /// A UDP datagram from a client on `listener`.
    func clientDatagram(_ bytes: UnsafeRawBufferPointer, from client: TransportAddress, listener: DirectUDPSocket, now: EngineInstant) {
        guard let first = bytes.first else { return }
        let tuple = FiveTuple(client: client, server: listener.local, transport: .udp)
        if ChannelData.isChannelData(first) {
            if case .toPeer(let relay, let peer, let payload) = engine.routeChannelData(bytes, from: tuple, now: now),
                let out = relays[relay]
            {
                out.send(UnsafeRawBufferPointer(rebasing: bytes[payload]), to: peer)
            }
            return
        }
        execute(engine.handleClientDatagram(Array(bytes), from: tuple, now: now, wallClock: unixTime()))
    }

    /// A datagram from a peer on a relayed address; whether it went on to the client.
    @discardableResult
    func peerDatagram(_ bytes: UnsafeRawBufferPointer, from peer: TransportAddress, relay: TransportAddress, now: EngineInstant) -> Bool {
        let length = bytes.count
        switch engine.routePeerData(from: peer, to: relay, length: length, now: now) {
        case .dropped:
            return false
        case .channel(let tuple, let number):
            if tuple.transport == .udp {
                guard let listener = listener(for: tuple.server) else { return false }
                let first = listener.stage(length: ChannelData.headerSize + length, to: tuple.client) { out in
                    ChannelData.writeHeader(channel: number, length: length, into: out)
                    UnsafeMutableRawBufferPointer(rebasing: out[ChannelData.headerSize...]).copyMemory(from: bytes)
                }
                if first { pendingSockets.append(listener) }
                return true
            }
            var out = allocator.buffer(capacity: 4 + length + 3)
            out.writeInteger(number)
            out.writeInteger(UInt16(truncatingIfNeeded: length))
            out.writeBytes(bytes)
            out.writeRepeatingByte(0, count: (4 - length % 4) % 4)
            sendToClient(stream: out, tuple: tuple)
        case .indication(let tuple):
            sendToClient(TURNServerEngine.dataIndication(peer: peer, data: Array(bytes)), tuple: tuple)
        }
        return true
    }

    /// A framed message from a TCP or TLS client.
    func streamMessage(_ bytes: [UInt8], tuple: FiveTuple) {
        let actions = engine.handleClientDatagram(bytes, from: tuple, now: engineNow(), wallClock: unixTime())
        execute(actions)
        // Only a ConnectionBind that decodes held the connection (`StreamClientHandler`); one
        // that does not came with other frames and must not release a later bind's hold.
        if STUNStreamFramer.isConnectionBindRequest(bytes),
            !actions.contains(where: { if case .joinDataConnection = $0 { true } else { false } }),
            let handler = streamHandlers[tuple], (try? STUNMessage.decode(bytes)) != nil
        {
            // Refused or challenged: the connection goes back to framing.
            handler.eventLoop.execute { handler.value.resumeFraming() }
        }
    }

    /// A ChannelData payload from a TCP or TLS client.
    func streamChannelData(channel number: UInt16, payload: [UInt8], tuple: FiveTuple) {
        let bytes = ChannelData.encode(channel: number, data: payload)
        bytes.withUnsafeBytes { raw in
            if case .toPeer(let relay, let peer, let range) = engine.routeChannelData(raw, from: tuple, now: engineNow()),
                let out = relays[relay]
            {
                out.send(UnsafeRawBufferPointer(rebasing: raw[range]), to: peer)
            }
        }
    }

    func streamOpened(_ tuple: FiveTuple, channel: Channel, handler: NIOLoopBound<StreamClientHandler>) {
        connections[tuple] = channel
        streamHandlers[tuple] = handler
    }

    /// The connection moved to another data-plane thread (see `StreamClientHandler`).
    func streamForgotten(_ tuple: FiveTuple) {
        connections[tuple] = nil
        streamHandlers[tuple] = nil
    }

    func streamClosed(_ tuple: FiveTuple) {
        connections[tuple] = nil
        streamHandlers[tuple] = nil
        execute(engine.clientDisconnected(tuple, now: engineNow()))
    }

    // MARK: - Output

    func sendToPeer(_ bytes: [UInt8], from relay: TransportAddress, to peer: TransportAddress) {
        guard let out = relays[relay] else { return }
        bytes.withUnsafeBytes { out.send($0, to: peer) }
    }

    func sendToClient(_ bytes: [UInt8], tuple: FiveTuple) {
        switch tuple.transport {
        case .udp:
            guard let listener = listener(for: tuple.server) else { return }
            let first = listener.stage(length: bytes.count, to: tuple.client) { out in
                bytes.withUnsafeBytes { out.copyMemory(from: $0) }
            }
            if first { pendingSockets.append(listener) }
        case .tcp, .tls:
            sendToClient(stream: allocator.buffer(bytes: bytes), tuple: tuple)
        }
    }

    /// Stream writes hop to the connection's NIO event loop.
    func sendToClient(stream buffer: ByteBuffer, tuple: FiveTuple) {
        connections[tuple]?.writeAndFlush(buffer, promise: nil)
    }

    /// Sends every staged datagram (end of a loop iteration).
    func flush() {
        guard !pendingSockets.isEmpty else { return }
        for socket in pendingSockets { socket.flush() }
        pendingSockets.removeAll(keepingCapacity: true)
    }

    // MARK: - Actions

    func execute(_ actions: [TURNServerAction]) {
        var queue = actions[...]
        while let action = queue.popFirst() {
            switch action {
            case .sendToClient(let tuple, let bytes):
                sendToClient(bytes, tuple: tuple)
            case .sendToPeer(let relay, let peer, let bytes):
                sendToPeer(bytes, from: relay, to: peer)
            case .openRelay(let relay):
                queue.append(contentsOf: openRelay(relay))
            case .closeRelay(let relay):
                closeRelay(relay)
                closeTCPRelay(relay)
            case .openTCPRelay(let relay):
                openTCPRelay(relay)
            case .connectToPeer(let id, let relay, let peer):
                connectToPeer(id, from: relay, to: peer)
            case .joinDataConnection(let id, let tuple):
                joinDataConnection(id, tuple)
            case .closePeerConnection(let id):
                closePeerConnection(id)
            case .event(let event):
                log(event)
            }
        }
        // Counts of relay sockets closed without their allocation's end in this batch: stale.
        if !closedRelayCounts.isEmpty { closedRelayCounts.removeAll() }
    }

    /// Binds and registers the relayed address's socket; the engine hears at once how it went.
    func openRelay(_ relay: TransportAddress) -> [TURNServerAction] {
        do {
            let socket = try DirectUDPSocket(binding: relay, bufferBytes: socketBufferBytes / 4, reuseAddress: false, batched: false)
            relays[relay] = socket
            track(socket.fd, .relay(socket, relay))
            return engine.relayOpened(relay, now: engineNow())
        } catch DirectUDPSocket.SocketError.bind(_, EADDRINUSE) {
            // Another process holds the port (the range may overlap ephemeral ports): move.
            logger.debug("relay port in use, trying another", metadata: ["relay": "\(relay)"])
            return engine.relayAddressInUse(relay, now: engineNow())
        } catch {
            logger.warning("relay socket bind failed", metadata: ["relay": "\(relay)", "error": "\(error)"])
            return engine.relayFailed(relay, now: engineNow())
        }
    }

    func closeRelay(_ relay: TransportAddress) {
        guard let socket = relays.removeValue(forKey: relay) else { return }
        closedSendErrors += socket.sendErrors
        if socket.packetsOut + socket.packetsIn > 0 {
            closedRelayCounts[relay] = .init(
                packetsToPeer: socket.packetsOut, bytesToPeer: socket.bytesOut,
                packetsToClient: socket.packetsIn, bytesToClient: socket.bytesIn)
        }
        track(socket.fd, nil)
        socket.close()
    }

    /// Deletes every allocation and closes every UDP socket (shutdown).
    func closeAll() {
        stopKernelRoutes()
        execute(engine.removeAll())
        flush()
        for relay in Array(relays.keys) { closeRelay(relay) }
        for socket in listeners {
            track(socket.fd, nil)
            socket.close()
        }
        listeners.removeAll()
        for channel in connections.values { channel.close(promise: nil) }
        for channel in tcpRelays.values { channel.close(promise: nil) }
        for channel in peerChannels.values { channel.close(promise: nil) }
        tcpRelays.removeAll()
        peerChannels.removeAll()
        peerIDs.removeAll()
        dataConnections.removeAll()
    }

    // MARK: - Logs

    func log(_ event: TURNServerEvent) {
        switch event {
        case .allocationCreated(let tuple, let username, let relays, let lifetime):
            allocationRecords[tuple] = AllocationRecord(user: username, start: engineNow(), relays: relays)
            logger.info(
                "allocation created",
                metadata: [
                    "client": "\(tuple)", "user": "\(username)",
                    "relays": "\(relays)", "lifetime": "\(lifetime)",
                ])
        case .allocationDeleted(let tuple, let reason):
            // Its relay sockets were closed just before (their counts wait in closedRelayCounts).
            var metadata: Logger.Metadata = ["client": "\(tuple)", "reason": "\(reason.rawValue)"]
            let lastKernel = kernelTable?.remove(tuple: tuple)
            if let lastKernel { noteKernelRelayed(lastKernel) }
            if let record = allocationRecords.removeValue(forKey: tuple) {
                var counts = record.kernel + AllocationRecord.Counts(lastKernel ?? .init())
                for relay in record.relays {
                    if let c = closedRelayCounts.removeValue(forKey: relay) { counts = counts + c }
                }
                metadata["user"] = "\(record.user)"
                metadata["duration"] = "\(AllocationRecord.seconds(engineNow() - record.start))"
                metadata["packets"] = "\(counts.packetsToPeer + counts.packetsToClient)"
                metadata["bytes"] = "\(counts.bytesToPeer + counts.bytesToClient)"
                metadata["to_peer"] = "\(counts.packetsToPeer)/\(counts.bytesToPeer)"
                metadata["to_client"] = "\(counts.packetsToClient)/\(counts.bytesToClient)"
                if kernelTable != nil {
                    let kernel = record.kernel + AllocationRecord.Counts(lastKernel ?? .init())
                    metadata["fast_path"] = "\(kernel.packetsToPeer + kernel.packetsToClient)"
                }
            }
            logger.info("allocation deleted", metadata: metadata)
        case .authenticationFailed(let tuple, let username, let reason):
            logger.notice(
                "authentication failed",
                metadata: [
                    "client": "\(tuple)", "user": "\(username ?? "-")",
                    "reason": "\(reason.rawValue)",
                ])
        case .peerDenied(let tuple, let peer):
            logger.notice("peer denied", metadata: ["client": "\(tuple)", "peer": "\(peer)"])
        case .malformed(let tuple, let error):
            logger.debug("malformed message", metadata: ["client": "\(tuple)", "error": "\(error)"])
        case .requestRejected(let tuple, let method, let code):
            logger.debug("request rejected", metadata: ["client": "\(tuple)", "method": "\(method)", "code": "\(code)"])
        case .peerConnectionOpened(let tuple, let id, let peer, let outgoing):
            logger.debug(
                "peer connection opened",
                metadata: [
                    "client": "\(tuple)", "connection": "\(id)", "peer": "\(peer)",
                    "by": "\(outgoing ? "connect" : "peer")",
                ])
        case .peerConnectionClosed(let tuple, let id, let reason):
            logger.debug("peer connection closed", metadata: ["client": "\(tuple)", "connection": "\(id)", "reason": "\(reason.rawValue)"])
        case .permissionCreated, .channelBound:
            logger.trace("\(event)")
            // A new or refreshed channel reaches the kernel's maps soon, not at the next second.
            if kernelTable != nil { nextKernelSync = min(nextKernelSync, lastKernelSync + Self.kernelSyncSoon) }
        case .allocationRefreshed:
            logger.trace("\(event)")
        }
    }
}

/// An allocation as the driver's log sees it: who made it, when, and its relayed addresses.
struct AllocationRecord {
    var user: String
    var start: EngineInstant
    var relays: [TransportAddress]
    /// What the kernel fast path relayed for it (not through its relay sockets).
    var kernel = Counts()

    /// Datagrams and payload bytes a relay socket carried (UDP relaying; TCP allocations'
    /// data connections are counted in `turn_tcp_bytes_total` instead).
    struct Counts {
        var packetsToPeer: UInt64 = 0
        var bytesToPeer: UInt64 = 0
        var packetsToClient: UInt64 = 0
        var bytesToClient: UInt64 = 0

        init(packetsToPeer: UInt64 = 0, bytesToPeer: UInt64 = 0, packetsToClient: UInt64 = 0, bytesToClient: UInt64 = 0) {
            self.packetsToPeer = packetsToPeer
            self.bytesToPeer = bytesToPeer
            self.packetsToClient = packetsToClient
            self.bytesToClient = bytesToClient
        }

        init(_ kernel: KernelChannelTable.Relayed) {
            self.init(
                packetsToPeer: kernel.packetsToPeer, bytesToPeer: kernel.bytesToPeer,
                packetsToClient: kernel.packetsToClient, bytesToClient: kernel.bytesToClient)
        }

        static func + (a: Counts, b: Counts) -> Counts {
            Counts(
                packetsToPeer: a.packetsToPeer + b.packetsToPeer, bytesToPeer: a.bytesToPeer + b.bytesToPeer,
                packetsToClient: a.packetsToClient + b.packetsToClient, bytesToClient: a.bytesToClient + b.bytesToClient)
        }
    }

    /// Seconds with millisecond precision, e.g. "12.345s".
    static func seconds(_ interval: Duration) -> String {
        let c = interval.components
        let ms = Int((max(Double(c.seconds) + Double(c.attoseconds) * 1e-18, 0) * 1000).rounded())
        let fraction = String(ms % 1000)
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)s"
    }
}
