#if canImport(Glibc)
    import Glibc
#endif
import Foundation
internal import CBPF
import STUN
import Synchronization

/// Why the kernel fast path is not running; the relay logs it and relays in user space.
public struct ChannelRelayProgramError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}

/// jingle-relay's kernel fast path for TURN channels (RFC 8656 §12): the TC program built from
/// `BPF/turn_channel_relay.bpf.c`, loaded through libbpf and attached (tcx link, or clsact
/// filter) at the ingress of the interfaces that carry the relay's listening and relayed
/// addresses. It owns the
/// program, its maps and its attachments; `KernelChannelTable` says what goes into the maps.
/// Map updates are system calls on file descriptors fixed at load, so data-plane threads may
/// share one program; counter slots come from one lock-protected pool.
public final class ChannelRelayProgram: @unchecked Sendable {
    /// An interface the program is attached to, and how.
    public struct Attachment: Sendable, Hashable {
        public var name: String
        public var index: Int32
        public var hook: Hook
    }

    /// Where the program hangs on an interface's ingress.
    public enum Hook: Sendable, Hashable {
        /// A tcx link (Linux 6.6+): programs of several relays chain, and the link goes with
        /// the process, so a relay that dies (even by SIGKILL) leaves nothing behind. `id` is
        /// the link's number (`bpftool link show`, `bpftool link detach id N`).
        case link(id: UInt32, descriptor: Int32)
        /// A cls_bpf filter on a clsact qdisc (older kernels, or `JINGLE_RELAY_TC_HOOK=clsact`):
        /// its handle is the relay's own, so a restart replaces the filter a killed relay left
        /// and other relays' filters stay.
        case classifier(handle: UInt32)
    }

    /// Which hook `attach` uses: tcx where the kernel has it, clsact otherwise; or clsact only.
    public enum HookChoice: String, Sendable {
        case automatic = "auto"
        case clsact
    }

    /// The kernel's BPF_TCX_INGRESS attach type (uapi `enum bpf_attach_type`, Linux 6.6);
    /// Debian 12's headers predate it, and libbpf 1.1 passes it through unchanged.
    static let tcxIngress = bpf_attach_type(rawValue: 46)
    /// Priority of our cls_bpf filters ("JK"); each relay has its own handle.
    static let filterPriority: UInt32 = 0x4A4B

    private let object: OpaquePointer
    private let programFD: Int32
    let channelsFD: Int32
    let peersFD: Int32
    let countersFD: Int32
    let possibleCPUs: Int
    public private(set) var attachments: [Attachment] = []
    private let slots = Mutex<(free: [UInt32], next: UInt32)>(([], 0))
    public static let maximumRoutes = Int(CHANNEL_RELAY_MAX_ENTRIES)

    /// Loads the program and creates its maps. Throws with the reason when this build has no
    /// program or the kernel refuses it (no CAP_BPF, no BPF, a verifier rejection).
    public init() throws(ChannelRelayProgramError) {
        guard let base64 = ChannelRelayObject.base64, let bytes = Data(base64Encoded: base64) else {
            throw ChannelRelayProgramError(description: ChannelRelayObject.unavailable)
        }
        // libbpf's own messages (the verifier's log among them) only when asked for.
        if ProcessInfo.processInfo.environment["JINGLE_RELAY_LIBBPF_LOG"] == nil {
            _ = libbpf_set_print { _, _, _ in 0 }
        } else {
            _ = libbpf_set_print { _, format, arguments in arguments.map { vdprintf(2, format, $0) } ?? 0 }
        }
        let opened: OpaquePointer? = bytes.withUnsafeBytes { raw in
            bpf_object__open_mem(raw.baseAddress, raw.count, nil)
        }
        guard let object = opened else {
            throw ChannelRelayProgramError(description: "libbpf cannot open the BPF object: \(Self.errnoText(errno))")
        }
        let loaded = bpf_object__load(object)
        guard loaded == 0 else {
            bpf_object__close(object)
            throw ChannelRelayProgramError(
                description: "the kernel refused the BPF program: \(Self.errnoText(-loaded))"
                    + (-loaded == EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN)" : ""))
        }
        guard let program = bpf_object__find_program_by_name(object, "turn_channel_relay") else {
            bpf_object__close(object)
            throw ChannelRelayProgramError(description: "the BPF object has no turn_channel_relay program")
        }
        self.object = object
        programFD = bpf_program__fd(program)
        channelsFD = bpf_object__find_map_fd_by_name(object, "channels")
        peersFD = bpf_object__find_map_fd_by_name(object, "peers")
        countersFD = bpf_object__find_map_fd_by_name(object, "counters")
        possibleCPUs = max(1, Int(libbpf_num_possible_cpus()))
        guard programFD >= 0, channelsFD >= 0, peersFD >= 0, countersFD >= 0 else {
            bpf_object__close(object)
            throw ChannelRelayProgramError(description: "the BPF object lacks its maps")
        }
    }

    deinit {
        detachAll()
        bpf_object__close(object)
    }

    static func errnoText(_ code: Int32) -> String { "\(String(cString: strerror(code))) (errno \(code))" }

    /// Attaches the program at the ingress of interface `name`: as a tcx link where the kernel
    /// has tcx (unless `hook` is `.clsact`), else as a cls_bpf filter with handle
    /// `classifierHandle` (a clsact qdisc is made if there is none; a filter of that handle
    /// left by an earlier run is replaced).
    public func attach(
        interface name: String, hook choice: HookChoice = .automatic,
        classifierHandle: UInt32
    ) throws(ChannelRelayProgramError) {
        let index = Int32(bitPattern: if_nametoindex(name))
        guard index > 0 else { throw ChannelRelayProgramError(description: "no interface \(name)") }
        guard !attachments.contains(where: { $0.index == index }) else { return }
        if choice == .automatic {
            let link = bpf_link_create(programFD, index, Self.tcxIngress, nil)
            if link >= 0 {
                var info = bpf_link_info()
                var length = UInt32(MemoryLayout<bpf_link_info>.size)
                let id = bpf_obj_get_info_by_fd(link, &info, &length) == 0 ? info.id : 0
                attachments.append(Attachment(name: name, index: index, hook: .link(id: id, descriptor: link)))
                return
            }
            // EINVAL: a kernel before tcx; anything else, the classifier says it better.
        }
        var hook = Self.hook(index)
        let created = bpf_tc_hook_create(&hook)
        guard created == 0 || created == -EEXIST else {
            throw ChannelRelayProgramError(description: "cannot add a clsact qdisc to \(name): \(Self.errnoText(-created))")
        }
        var options = Self.options(programFD: programFD, handle: classifierHandle)
        options.flags = UInt32(BPF_TC_F_REPLACE.rawValue)
        let attached = bpf_tc_attach(&hook, &options)
        guard attached == 0 else {
            throw ChannelRelayProgramError(description: "cannot attach the BPF program to \(name): \(Self.errnoText(-attached))")
        }
        attachments.append(Attachment(name: name, index: index, hook: .classifier(handle: classifierHandle)))
    }

    /// Detaches from every interface; packets go to user space again from the next one. A
    /// clsact qdisc stays (other relays' filters may hang on it; empty, it costs nothing).
    public func detachAll() {
        for attachment in attachments {
            switch attachment.hook {
            case .link(_, let descriptor):
                _ = bpf_link_detach(descriptor)
                close(descriptor)
            case .classifier(let handle):
                var hook = Self.hook(attachment.index)
                var options = Self.options(programFD: 0, handle: handle)
                _ = bpf_tc_detach(&hook, &options)
            }
        }
        attachments.removeAll()
    }

    /// A cls_bpf handle for one relay: from its listening addresses, so the same configuration
    /// gets the same handle after a restart and two relays on one host get different ones.
    public static func classifierHandle(listening: [String]) -> UInt32 {
        var hash: UInt32 = 2_166_136_261 // FNV-1a
        for byte in listening.sorted().joined(separator: ",").utf8 {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        return hash == 0 ? 1 : hash
    }

    private static func hook(_ index: Int32) -> bpf_tc_hook {
        var hook = bpf_tc_hook()
        hook.sz = MemoryLayout<bpf_tc_hook>.offset(of: \.parent)! + 4 // the fields we know: no padding for libbpf to find non-zero
        hook.ifindex = index
        hook.attach_point = BPF_TC_INGRESS
        return hook
    }

    private static func options(programFD: Int32, handle: UInt32) -> bpf_tc_opts {
        var options = bpf_tc_opts()
        options.sz = MemoryLayout<bpf_tc_opts>.offset(of: \.priority)! + 4
        options.handle = handle
        options.priority = filterPriority
        options.prog_fd = programFD
        return options
    }

    /// Runs the program once, in the kernel, on `frame` (an Ethernet frame, as if it arrived on
    /// the loopback interface: BPF_PROG_TEST_RUN): its verdict and the frame as it left. For
    /// tests of the program itself; nothing is sent.
    public func testRun(frame: [UInt8]) throws(ChannelRelayProgramError) -> (verdict: UInt32, frame: [UInt8]) {
        var output = [UInt8](repeating: 0, count: frame.count + 256)
        var verdict: UInt32 = 0
        var length: UInt32 = 0
        let result = frame.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                var options = bpf_test_run_opts()
                options.sz = MemoryLayout<bpf_test_run_opts>.offset(of: \.batch_size)! + 4
                options.data_in = input.baseAddress
                options.data_size_in = UInt32(input.count)
                options.data_out = out.baseAddress
                options.data_size_out = UInt32(out.count)
                options.repeat = 1
                let r = bpf_prog_test_run_opts(programFD, &options)
                verdict = options.retval
                length = options.data_size_out
                return r
            }
        }
        guard result == 0 else {
            throw ChannelRelayProgramError(description: "BPF_PROG_TEST_RUN: \(Self.errnoText(-result))")
        }
        return (verdict, Array(output.prefix(Int(length))))
    }

    // MARK: - Counter slots

    /// A free route number (its counters are slots 2n and 2n + 1), zeroed; nil when full.
    func takeSlot() -> UInt32? {
        let slot: UInt32? = slots.withLock { pool in
            if let free = pool.free.popLast() { return free }
            guard pool.next < UInt32(Self.maximumRoutes) else { return nil }
            defer { pool.next += 1 }
            return pool.next
        }
        if let slot {
            zeroCounter(slot * 2)
            zeroCounter(slot * 2 + 1)
        }
        return slot
    }

    func returnSlot(_ slot: UInt32) {
        slots.withLock { $0.free.append(slot) }
    }

    private func zeroCounter(_ index: UInt32) {
        var key = index
        var values = [channel_relay_counter](repeating: channel_relay_counter(), count: possibleCPUs)
        _ = bpf_map_update_elem(countersFD, &key, &values, UInt64(BPF_ANY))
    }

    /// Packets and bytes counted in a slot, summed over CPUs.
    func counter(_ index: UInt32) -> (packets: UInt64, bytes: UInt64) {
        var key = index
        var values = [channel_relay_counter](repeating: channel_relay_counter(), count: possibleCPUs)
        guard bpf_map_lookup_elem(countersFD, &key, &values) == 0 else { return (0, 0) }
        return values.reduce((0, 0)) { ($0.0 &+ $1.packets, $0.1 &+ $1.bytes) }
    }
}
