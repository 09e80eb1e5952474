internal import CNice
import Dispatch
import Foundation
import Synchronization

/// Where received datagrams go: as `.datagram` events (the default), held until a receiver is
/// attached, or straight to a receiver on the GLib thread.
enum DatagramRoute {
    case events
    case held([[UInt8]])
    case receiver(@Sendable (UnsafeRawBufferPointer) -> Void)
}

/// Context handed to libnice's C callbacks as `Unmanaged` user data. Callbacks run on whichever
/// thread releases the agent lock (the GLib thread or a caller's), so it holds only Sendable state.
final class ICECallbackContext: Sendable {
    let continuation: AsyncStream<ICEEvent>.Continuation
    let route = Mutex(DatagramRoute.events)
    /// The TURN servers in the order they were given to libnice.
    let turnServers: [ICEServer]
    init(continuation: AsyncStream<ICEEvent>.Continuation, turnServers: [ICEServer]) {
        self.continuation = continuation
        self.turnServers = turnServers
    }

    /// The TURN server a relayed candidate came from. The candidate the signal carries is a copy
    /// without libnice's TURN reference (`nice_candidate_relay_address` would read a null
    /// pointer), but its priority has the server's index: libnice's local preference is
    /// direction << 13 | TURN server index << 6 | address index (3 bits for the index,
    /// NICE_CANDIDATE_MAX_TURN_SERVERS), in the order of `nice_agent_set_relay_info`.
    func relayServer(priority: UInt32) -> ICEServer? {
        let localPreference = (priority >> 8) & 0xFFFF
        let index = Int((localPreference >> 6) & 0x7)
        return index < turnServers.count ? turnServers[index] : nil
    }

    /// One received datagram, on the GLib thread.
    func receive(_ bytes: UnsafeRawBufferPointer) {
        let receiver = route.withLock { route -> (@Sendable (UnsafeRawBufferPointer) -> Void)? in
            switch route {
            case .receiver(let r): return r
            case .held(var list):
                if list.count < ICEAgent.heldDatagramLimit {
                    route = .events // avoids copying the list on append
                    list.append(Array(bytes))
                    route = .held(list)
                }
                return nil
            case .events:
                continuation.yield(.datagram(Array(bytes)))
                return nil
            }
        }
        receiver?(bytes)
    }
}

/// Raw GLib/libnice pointers; only touched on the GLib thread or under the agent lock.
struct GLibHandles: @unchecked Sendable {
    let context: OpaquePointer
    let agent: OpaquePointer
    let stream: guint
}

/// The process's one GLib main context for every libnice agent, run by one plain thread for the
/// life of the process. libnice drives any number of agents from one context, so one thread
/// (and one poll) serves every call instead of a thread per agent.
final class ICEMainLoop: @unchecked Sendable {
    static let shared: ICEMainLoop? = ICEMainLoop()
    let context: OpaquePointer

    private init?() {
        guard let context = g_main_context_new() else { return nil }
        guard let loop = g_main_loop_new(context, 0) else {
            g_main_context_unref(context)
            return nil
        }
        self.context = context
        let ready = DispatchSemaphore(value: 0)
        let handles = LoopHandles(context: context, loop: loop)
        let thread = Thread {
            g_main_context_push_thread_default(handles.context)
            ready.signal()
            g_main_loop_run(handles.loop) // never quits: the context lives as long as the process
        }
        thread.name = "JingleKit ICE GLib"
        thread.qualityOfService = .userInteractive
        thread.start()
        ready.wait()
    }

    private struct LoopHandles: @unchecked Sendable {
        let context: OpaquePointer
        let loop: OpaquePointer
    }

    /// True on the loop's own thread (where teardown must not wait for the loop).
    var isCurrentThread: Bool { g_main_context_is_owner(context) != 0 }
}

/// An ICE agent (RFC 8445, libnice in RFC 5245 compatibility mode) for one stream with one
/// component (RTP and RTCP multiplexed, RFC 5761). Its `NiceAgent` runs on the process's shared
/// GLib main context (`ICEMainLoop`); it is torn down there by `close()` or `deinit`. Events
/// (candidates, gathering done, state, selected pair, datagrams) arrive in order on `events`;
/// a media owner can instead take datagrams straight from the GLib thread
/// (`holdDatagrams()`, then `deliverDatagrams(to:)`).
public final class ICEAgent: @unchecked Sendable {
    /// Datagrams kept while held and no receiver is attached yet; later ones are dropped.
    static let heldDatagramLimit = 512

    public let events: AsyncStream<ICEEvent>
    public let configuration: ICEConfiguration
    private let handles: GLibHandles
    private let callbackContext: ICECallbackContext
    private let closed = Mutex(false)

    public init(configuration: ICEConfiguration) throws(ICEError) {
        self.configuration = configuration
        var continuation: AsyncStream<ICEEvent>.Continuation?
        events = AsyncStream(bufferingPolicy: .unbounded) { continuation = $0 }
        guard let continuation else { throw .agentCreationFailed }
        callbackContext = ICECallbackContext(
            continuation: continuation,
            turnServers: configuration.servers.filter { server in
                if case .stun = server.kind { false } else { true }
            })

        guard let mainLoop = ICEMainLoop.shared else { throw .agentCreationFailed }
        let context = mainLoop.context
        var options = NICE_AGENT_OPTION_NONE.rawValue
        if configuration.trickle { options |= NICE_AGENT_OPTION_ICE_TRICKLE.rawValue }
        guard let agent = nice_agent_new_full(context, NICE_COMPATIBILITY_RFC5245, NiceAgentOption(rawValue: options)) else {
            throw .agentCreationFailed
        }
        let object = UnsafeMutableRawPointer(agent)
        jk_g_object_set_bool(object, "upnp", 0)
        jk_g_object_set_bool(object, "controlling-mode", configuration.controlling ? 1 : 0)
        jk_g_object_set_bool(object, "ice-tcp", configuration.tcpCandidates ? 1 : 0)
        jk_g_object_set_bool(object, "ice-udp", 1)
        jk_g_object_set_bool(object, "force-relay", configuration.relayOnly ? 1 : 0)
        var failure: ICEError?
        for address in configuration.localAddresses {
            var a = NiceAddress()
            nice_address_init(&a)
            if nice_address_set_from_string(&a, address) == 0 { failure = .invalidAddress(address); break }
            _ = nice_agent_add_local_address(agent, &a)
        }
        let stream = nice_agent_add_stream(agent, 1)
        if stream == 0 && failure == nil { failure = .agentCreationFailed }
        for server in configuration.servers where failure == nil {
            var probe = NiceAddress()
            if nice_address_set_from_string(&probe, server.address) == 0 { failure = .invalidAddress(server.address); break }
            switch server.kind {
            case .stun:
                jk_g_object_set_string(object, "stun-server", server.address)
                jk_g_object_set_uint(object, "stun-server-port", guint(server.port))
            case .turnUDP(let u, let p), .turnTCP(let u, let p), .turnTLS(let u, let p):
                let type: NiceRelayType =
                    switch server.kind {
                    case .turnTCP: NICE_RELAY_TYPE_TURN_TCP
                    case .turnTLS: NICE_RELAY_TYPE_TURN_TLS
                    default: NICE_RELAY_TYPE_TURN_UDP
                    }
                if nice_agent_set_relay_info(agent, stream, 1, server.address, guint(server.port), u, p, type) == 0 {
                    failure = .invalidAddress(server.address)
                }
            }
        }
        handles = GLibHandles(context: context, agent: agent, stream: stream)
        if let failure {
            // All stored properties are set, so deinit will run: mark closed so it does nothing.
            closed.withLock { $0 = true }
            g_object_unref(object)
            continuation.finish()
            throw failure
        }
        let user = Unmanaged.passUnretained(callbackContext).toOpaque()
        _ = jk_g_signal_connect(object, "new-candidate-full", unsafeBitCast(iceNewCandidate, to: (@convention(c) () -> Void).self), user)
        _ = jk_g_signal_connect(
            object, "candidate-gathering-done", unsafeBitCast(iceGatheringDone, to: (@convention(c) () -> Void).self), user)
        _ = jk_g_signal_connect(
            object, "component-state-changed", unsafeBitCast(iceStateChanged, to: (@convention(c) () -> Void).self), user)
        _ = jk_g_signal_connect(
            object, "new-selected-pair-full", unsafeBitCast(iceSelectedPair, to: (@convention(c) () -> Void).self), user)
        _ = nice_agent_attach_recv(agent, stream, 1, context, iceReceive, user)

    }

    deinit { close() }

    /// Starts gathering local candidates; they arrive as `.localCandidate`, then `.gatheringDone`.
    public func gather() throws(ICEError) {
        let ok = try withOpenAgent { h in nice_agent_gather_candidates(h.agent, h.stream) != 0 }
        guard ok else { throw .gatheringFailed }
    }

    /// Our username fragment and password for the signalling layer.
    public func localCredentials() throws(ICEError) -> ICECredentials {
        try withOpenAgent { h in
            var ufrag: UnsafeMutablePointer<gchar>?
            var pwd: UnsafeMutablePointer<gchar>?
            _ = nice_agent_get_local_credentials(h.agent, h.stream, &ufrag, &pwd)
            defer { g_free(ufrag); g_free(pwd) }
            return ICECredentials(
                usernameFragment: ufrag.map { String(cString: $0) } ?? "",
                password: pwd.map { String(cString: $0) } ?? "")
        }
    }

    public func setRemoteCredentials(_ credentials: ICECredentials) throws(ICEError) {
        let ok = try withOpenAgent { h in
            nice_agent_set_remote_credentials(h.agent, h.stream, credentials.usernameFragment, credentials.password) != 0
        }
        guard ok else { throw .credentialsRejected }
    }

    /// Adds remote candidates (all at once or trickled); returns how many libnice accepted.
    @discardableResult
    public func addRemoteCandidates(_ candidates: [ICECandidate]) throws(ICEError) -> Int {
        var list: UnsafeMutablePointer<GSList>?
        var made: [UnsafeMutablePointer<NiceCandidate>] = []
        defer {
            for c in made { nice_candidate_free(c) }
            g_slist_free(list)
        }
        for candidate in candidates {
            guard let c = nice_candidate_new(candidate.kind.nice) else { throw .agentCreationFailed }
            made.append(c)
            c.pointee.transport = candidate.transport.nice
            c.pointee.priority = candidate.priority
            c.pointee.stream_id = handles.stream
            c.pointee.component_id = guint(max(1, candidate.component))
            guard nice_address_set_from_string(&c.pointee.addr, candidate.address) != 0 else {
                throw .invalidAddress(candidate.address)
            }
            nice_address_set_port(&c.pointee.addr, guint(candidate.port))
            if let related = candidate.relatedAddress, nice_address_set_from_string(&c.pointee.base_addr, related) != 0 {
                nice_address_set_port(&c.pointee.base_addr, guint(candidate.relatedPort ?? 0))
            }
            withUnsafeMutableBytes(of: &c.pointee.foundation) { raw in
                let bytes = Array(candidate.foundation.utf8.prefix(raw.count - 1))
                for i in raw.indices { raw[i] = i < bytes.count ? bytes[i] : 0 }
            }
            list = g_slist_append(list, UnsafeMutableRawPointer(c))
        }
        guard !candidates.isEmpty else { return 0 }
        let added = try withOpenAgent { h in
            Int(nice_agent_set_remote_candidates(h.agent, h.stream, 1, list))
        }
        guard added >= 0 else { throw .candidatesRejected }
        return added
    }

    /// The peer has sent all its candidates (trickle end-of-candidates, RFC 8838 §4.4).
    public func remoteGatheringDone() throws(ICEError) {
        _ = try withOpenAgent { h in nice_agent_peer_candidate_gathering_done(h.agent, h.stream) }
    }

    /// Sends one datagram over the selected pair.
    public func send(_ datagram: [UInt8]) throws(ICEError) {
        let sent = try withOpenAgent { h in
            datagram.withUnsafeBytes { raw in
                nice_agent_send(h.agent, h.stream, 1, guint(raw.count), raw.baseAddress?.assumingMemoryBound(to: gchar.self))
            }
        }
        guard sent == datagram.count else { throw .sendFailed }
    }

    /// ICE restart (RFC 8445 §9): new local credentials, candidates gathered again.
    public func restart() throws(ICEError) {
        let ok = try withOpenAgent { h in nice_agent_restart_stream(h.agent, h.stream) != 0 }
        guard ok else { throw .restartFailed }
    }

    /// From now on received datagrams are kept (up to `heldDatagramLimit`) instead of becoming
    /// `.datagram` events, until `deliverDatagrams(to:)` attaches their receiver.
    public func holdDatagrams() {
        callbackContext.route.withLock { route in
            if case .events = route { route = .held([]) }
        }
    }

    /// Hands every received datagram straight to `receiver`, on the GLib thread that read it
    /// (no event stream, no task hop): first any held ones in arrival order, then each as it
    /// arrives. The buffer is valid only during the call. `receiver` must not block for long:
    /// the thread serves every agent in the process. `close()` detaches it.
    public func deliverDatagrams(to receiver: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) {
        while true {
            // Drain what was held (more may arrive meanwhile) until the list is empty, then attach.
            let batch = callbackContext.route.withLock { route -> [[UInt8]] in
                if case .held(let list) = route, !list.isEmpty {
                    route = .held([])
                    return list
                }
                route = .receiver(receiver)
                return []
            }
            if batch.isEmpty { return }
            for datagram in batch { datagram.withUnsafeBytes { receiver($0) } }
        }
    }

    /// Tears the agent down on the shared GLib thread (releasing any TURN allocations) and ends
    /// `events`. Waits for libnice to finish unless called on that thread itself. Idempotent.
    public func close() {
        let first = closed.withLock { isClosed -> Bool in
            if isClosed { return false }
            isClosed = true
            return true
        }
        guard first else { return }
        callbackContext.route.withLock { $0 = .events }
        let teardown = TeardownBox(handles, callbackContext)
        let onLoopThread = ICEMainLoop.shared?.isCurrentThread ?? false
        g_main_context_invoke(handles.context, iceTeardown, Unmanaged.passRetained(teardown).toOpaque())
        if !onLoopThread {
            // Bounded: libnice gives up on an unanswered TURN refresh well within this.
            _ = teardown.done.wait(timeout: .now() + .seconds(10))
        }
        callbackContext.continuation.finish()
    }

    /// The GLib main context this agent runs on (tests check that agents share one).
    var contextForTesting: OpaquePointer { handles.context }

    private func withOpenAgent<T>(_ body: (GLibHandles) -> T) throws(ICEError) -> T {
        // The lock keeps close() from freeing the agent while a call is using it.
        let result: T? = closed.withLock { isClosed in isClosed ? nil : body(handles) }
        guard let result else { throw .closed }
        return result
    }
}

/// What teardown needs on the GLib thread; it keeps the callback context alive until libnice
/// can no longer call back.
final class TeardownBox: @unchecked Sendable {
    let handles: GLibHandles
    let callbackContext: ICECallbackContext
    let done = DispatchSemaphore(value: 0)
    init(_ h: GLibHandles, _ c: ICECallbackContext) {
        handles = h
        callbackContext = c
    }
}

// MARK: - C callbacks (nonisolated: GLib calls them from its own or a caller's thread).

private func context(_ user: gpointer?) -> ICECallbackContext? {
    guard let user else { return nil }
    return Unmanaged<ICECallbackContext>.fromOpaque(user).takeUnretainedValue()
}

private let iceTeardown: @convention(c) (gpointer?) -> gboolean = { user in
    guard let user else { return 0 }
    let h = Unmanaged<TeardownBox>.fromOpaque(user).takeUnretainedValue().handles
    _ = nice_agent_attach_recv(h.agent, h.stream, 1, h.context, nil, nil)
    // Releases TURN allocations (refresh with lifetime 0) before the agent goes; completes on this
    // thread's main loop, then the agent is freed.
    nice_agent_close_async(h.agent, iceClosed, user)
    return 0 // G_SOURCE_REMOVE
}

private let iceClosed: @convention(c) (OpaquePointer?, OpaquePointer?, gpointer?) -> Void = { _, _, user in
    guard let user else { return }
    let box = Unmanaged<TeardownBox>.fromOpaque(user).takeRetainedValue()
    let h = box.handles
    nice_agent_remove_stream(h.agent, h.stream)
    g_object_unref(UnsafeMutableRawPointer(h.agent))
    box.done.signal()
}

private let iceReceive: @convention(c) (OpaquePointer?, guint, guint, guint, UnsafeMutablePointer<gchar>?, gpointer?) -> Void = {
    _, _, _, length, buffer, user in
    guard let ctx = context(user), let buffer else { return }
    ctx.receive(UnsafeRawBufferPointer(start: buffer, count: Int(length)))
}

private let iceNewCandidate: @convention(c) (OpaquePointer?, UnsafeMutablePointer<NiceCandidate>?, gpointer?) -> Void = {
    _, candidate, user in
    guard let ctx = context(user), let candidate, var model = ICECandidate(nice: candidate.pointee) else { return }
    if model.kind == .relayed, let server = ctx.relayServer(priority: model.priority) {
        model.relayServer = server.address.contains(":") ? "[\(server.address)]:\(server.port)" : "\(server.address):\(server.port)"
    }
    ctx.continuation.yield(.localCandidate(model))
}

private let iceGatheringDone: @convention(c) (OpaquePointer?, guint, gpointer?) -> Void = { _, _, user in
    context(user)?.continuation.yield(.gatheringDone)
}

private let iceStateChanged: @convention(c) (OpaquePointer?, guint, guint, guint, gpointer?) -> Void = {
    _, _, _, state, user in
    let s: ICEComponentState
    switch NiceComponentState(rawValue: state) {
    case NICE_COMPONENT_STATE_GATHERING: s = .gathering
    case NICE_COMPONENT_STATE_CONNECTING: s = .connecting
    case NICE_COMPONENT_STATE_CONNECTED: s = .connected
    case NICE_COMPONENT_STATE_READY: s = .ready
    case NICE_COMPONENT_STATE_FAILED: s = .failed
    default: s = .disconnected
    }
    context(user)?.continuation.yield(.stateChanged(s))
}

private let iceSelectedPair:
    @convention(c) (
        OpaquePointer?, guint, guint, UnsafeMutablePointer<NiceCandidate>?,
        UnsafeMutablePointer<NiceCandidate>?, gpointer?
    ) -> Void = {
        _, _, _, local, remote, user in
        guard let ctx = context(user), let local, let remote,
            let l = ICECandidate(nice: local.pointee), let r = ICECandidate(nice: remote.pointee)
        else { return }
        ctx.continuation.yield(.selectedPair(local: l, remote: r))
    }

// MARK: - Model <-> libnice.

extension ICECandidate {
    init?(nice c: NiceCandidate) {
        var c = c
        guard let address = Self.string(&c.addr) else { return nil }
        let kind: Kind =
            switch c.type {
            case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: .serverReflexive
            case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: .peerReflexive
            case NICE_CANDIDATE_TYPE_RELAYED: .relayed
            default: .host
            }
        let transport: TransportProtocol =
            switch c.transport {
            case NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE: .tcpActive
            case NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE: .tcpPassive
            case NICE_CANDIDATE_TRANSPORT_TCP_SO: .tcpSimultaneousOpen
            default: .udp
            }
        let foundation = withUnsafeBytes(of: c.foundation) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        var related: String?
        var relatedPort: UInt16?
        if kind != .host, let base = Self.string(&c.base_addr) {
            related = base
            relatedPort = UInt16(truncatingIfNeeded: nice_address_get_port(&c.base_addr))
        }
        self.init(
            foundation: foundation, component: Int(c.component_id), transport: transport, priority: c.priority,
            address: address, port: UInt16(truncatingIfNeeded: nice_address_get_port(&c.addr)), kind: kind,
            relatedAddress: related, relatedPort: relatedPort)
    }

    static func string(_ a: inout NiceAddress) -> String? {
        guard nice_address_is_valid(&a) != 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: 64)
        buffer.withUnsafeMutableBufferPointer { nice_address_to_string(&a, $0.baseAddress) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension ICECandidate.Kind {
    var nice: NiceCandidateType {
        switch self {
        case .host: NICE_CANDIDATE_TYPE_HOST
        case .serverReflexive: NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE
        case .peerReflexive: NICE_CANDIDATE_TYPE_PEER_REFLEXIVE
        case .relayed: NICE_CANDIDATE_TYPE_RELAYED
        }
    }
}

extension ICECandidate.TransportProtocol {
    var nice: NiceCandidateTransport {
        switch self {
        case .udp: NICE_CANDIDATE_TRANSPORT_UDP
        case .tcpActive: NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE
        case .tcpPassive: NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE
        case .tcpSimultaneousOpen: NICE_CANDIDATE_TRANSPORT_TCP_SO
        }
    }
}
