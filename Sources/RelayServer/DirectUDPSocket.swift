#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
internal import CLinuxCalls
import STUN

/// A non-blocking UDP socket the relay's data plane binds, reads (`recvmmsg`, see
/// `ReceiveBatch`) and writes (`sendto`, and `sendmmsg` for staged batches) itself, with no
/// envelope, boxed value, address text or buffer object per datagram. Owns its descriptor.
/// Confined to the data-plane thread once registered.
final class DirectUDPSocket: @unchecked Sendable {
    let fd: CInt
    let family: AddressFamily
    /// The address actually bound (port resolved when 0 was asked for).
    let local: TransportAddress
    /// Datagrams `sendto`/`sendmmsg` refused (full buffers, unreachable peers).
    var sendErrors: UInt64 = 0
    /// What this socket carried: sent with `send` (a relay socket: to peers) and counted in by
    /// `countIn` (a relay socket: peer datagrams relayed to the client). For the log line that
    /// ends an allocation.
    var packetsOut: UInt64 = 0
    var bytesOut: UInt64 = 0
    var packetsIn: UInt64 = 0
    var bytesIn: UInt64 = 0
    /// Outgoing datagrams staged for one `sendmmsg` at the end of the loop iteration.
    private var batch: SendBatch?
    private var closed = false

    enum SocketError: Error, CustomStringConvertible {
        case socket(Int32), bind(TransportAddress, Int32)
        var description: String {
            switch self {
            case .socket(let e): "socket(): \(String(cString: strerror(e)))"
            case .bind(let a, let e): "bind(\(a)): \(String(cString: strerror(e)))"
            }
        }
    }

    /// Opens a non-blocking UDP socket bound to `address`. `batched` sockets stage writes.
    init(binding address: TransportAddress, bufferBytes: Int, reuseAddress: Bool, reusePort: Bool = false, batched: Bool) throws {
        family = address.ip.family
        let domain = family == .ipv4 ? AF_INET : AF_INET6
        #if canImport(Glibc)
            let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
            let type = SOCK_DGRAM
        #endif
        let fd = socket(domain, type, 0)
        guard fd >= 0 else { throw SocketError.socket(errno) }
        var one: CInt = 1
        if reuseAddress { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size)) }
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<CInt>.size)) }
        if bufferBytes > 0 {
            var size = CInt(bufferBytes)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        var storage = sockaddr_storage()
        let length = SocketAddressBytes.write(address, family: family, into: &storage)
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            let e = errno
            _ = Glibc.close(fd)
            throw SocketError.bind(address, e)
        }
        var actual = sockaddr_storage()
        var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) }
        }
        self.fd = fd
        self.local = SocketAddressBytes.read(&actual) ?? address
        if batched { batch = SendBatch() }
    }

    func close() {
        guard !closed else { return }
        closed = true
        _ = Glibc.close(fd)
    }

    deinit { close() }

    /// Sends one datagram now.
    func send(_ bytes: UnsafeRawBufferPointer, to destination: TransportAddress) {
        var storage = sockaddr_storage()
        let length = SocketAddressBytes.write(destination, family: family, into: &storage)
        guard length > 0 else { sendErrors += 1; return }
        let sent = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes.baseAddress, bytes.count, 0, $0, length) }
        }
        if sent < 0 {
            sendErrors += 1
        } else {
            packetsOut &+= 1
            bytesOut &+= UInt64(bytes.count)
        }
    }

    /// Counts a datagram received on this socket and passed on.
    @inline(__always)
    func countIn(_ length: Int) {
        packetsIn &+= 1
        bytesIn &+= UInt64(length)
    }

    /// Stages a datagram of `length` bytes written by `fill` for the next `flush`; sends at
    /// once when the socket is not batched or the datagram does not fit a batch slot. Returns
    /// true when the caller must schedule a flush.
    func stage(length: Int, to destination: TransportAddress, _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        guard let batch, length <= SendBatch.slotSize else {
            withUnsafeTemporaryAllocation(byteCount: max(length, 1), alignment: 8) { raw in
                fill(UnsafeMutableRawBufferPointer(rebasing: raw[0..<length]))
                send(UnsafeRawBufferPointer(rebasing: raw[0..<length]), to: destination)
            }
            return false
        }
        guard let slot = batch.reserve(length: length, destination: destination, family: family) else {
            sendErrors += 1
            return false
        }
        fill(slot)
        if batch.isFull { flush() }
        return batch.count == 1
    }

    /// Sends every staged datagram with `sendmmsg`.
    func flush() {
        guard let batch, batch.count > 0 else { return }
        sendErrors += UInt64(batch.send(fd: fd))
    }
}

/// `struct mmsghdr` from <sys/socket.h> (a GNU extension Glibc's Swift module leaves out):
/// the message header and the byte count the kernel fills in; 64 bytes on LP64 like C's
/// (x86-64 and arm64; `LinuxCalls.messageVectorLayoutMatches` checks it against C).
struct MessageVectorEntry {
    var msg_hdr = msghdr()
    var msg_len: CUnsignedInt = 0
}

/// Preallocated `mmsghdr`/`iovec`/address/data slots for one `sendmmsg`.
final class SendBatch {
    static let capacity = 64
    static let slotSize = 2048
    private let headers: UnsafeMutablePointer<MessageVectorEntry>
    private let vectors: UnsafeMutablePointer<iovec>
    private let addresses: UnsafeMutablePointer<sockaddr_storage>
    private let data: UnsafeMutableRawPointer
    private(set) var count = 0

    init() {
        headers = .allocate(capacity: SendBatch.capacity)
        headers.initialize(repeating: MessageVectorEntry(), count: SendBatch.capacity)
        vectors = .allocate(capacity: SendBatch.capacity)
        vectors.initialize(repeating: iovec(), count: SendBatch.capacity)
        addresses = .allocate(capacity: SendBatch.capacity)
        addresses.initialize(repeating: sockaddr_storage(), count: SendBatch.capacity)
        data = .allocate(byteCount: SendBatch.capacity * SendBatch.slotSize, alignment: 16)
    }

    deinit {
        headers.deallocate()
        vectors.deallocate()
        addresses.deallocate()
        data.deallocate()
    }

    var isFull: Bool { count == SendBatch.capacity }

    /// The next slot's data area, with its destination written; nil if the address cannot be
    /// expressed on this socket's family.
    func reserve(length: Int, destination: TransportAddress, family: AddressFamily) -> UnsafeMutableRawBufferPointer? {
        let i = count
        let addressLength = SocketAddressBytes.write(destination, family: family, into: &addresses[i])
        guard addressLength > 0 else { return nil }
        let base = data + i * SendBatch.slotSize
        vectors[i] = iovec(iov_base: base, iov_len: length)
        headers[i] = MessageVectorEntry()
        headers[i].msg_hdr.msg_name = UnsafeMutableRawPointer(addresses + i)
        headers[i].msg_hdr.msg_namelen = addressLength
        headers[i].msg_hdr.msg_iov = vectors + i
        headers[i].msg_hdr.msg_iovlen = 1
        count += 1
        return UnsafeMutableRawBufferPointer(start: base, count: length)
    }

    /// Sends the staged datagrams; returns how many could not be sent.
    func send(fd: CInt) -> Int {
        var offset = 0
        var failed = 0
        while offset < count {
            let sent: CInt
            if LinuxCalls.available {
                sent = jk_sendmmsg(fd, UnsafeMutableRawPointer(headers + offset), CUnsignedInt(count - offset), 0)
            } else {
                sent = sendmsg(fd, &headers[offset].msg_hdr, 0) >= 0 ? 1 : -1
            }
            if sent > 0 {
                offset += Int(sent)
            } else if sent < 0 && errno == EINTR {
                continue
            } else {
                // This datagram cannot go (full buffer, unreachable): skip it, keep the rest.
                failed += 1
                offset += 1
            }
        }
        count = 0
        return failed
    }
}

/// Reads and writes `sockaddr_in`/`sockaddr_in6` for transport addresses without text.
enum SocketAddressBytes {
    /// Writes `address` as a socket address usable on a socket of `family` (IPv4 destinations
    /// on an IPv6 socket become IPv4-mapped); returns its length, or 0 if it cannot be expressed.
    static func write(_ address: TransportAddress, family: AddressFamily, into storage: UnsafeMutablePointer<sockaddr_storage>) -> socklen_t
    {
        switch (address.ip, family) {
        case (.v4(let v), .ipv4):
            return storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                sin.pointee = sockaddr_in()
                sin.pointee.sin_family = sa_family_t(AF_INET)
                sin.pointee.sin_port = address.port.bigEndian
                sin.pointee.sin_addr.s_addr = v.bigEndian
                return socklen_t(MemoryLayout<sockaddr_in>.size)
            }
        case (.v6, .ipv4):
            return 0
        case (.v4(let v), .ipv6):
            return writeV6(hi: 0, lo: 0x0000_FFFF_0000_0000 | UInt64(v), port: address.port, into: storage)
        case (.v6(let hi, let lo), .ipv6):
            return writeV6(hi: hi, lo: lo, port: address.port, into: storage)
        }
    }

    private static func writeV6(hi: UInt64, lo: UInt64, port: UInt16, into storage: UnsafeMutablePointer<sockaddr_storage>) -> socklen_t {
        storage.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
            sin6.pointee = sockaddr_in6()
            sin6.pointee.sin6_family = sa_family_t(AF_INET6)
            sin6.pointee.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.pointee.sin6_addr) { raw in
                raw.storeBytes(of: hi.bigEndian, toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: lo.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            return socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
    }

    static func read(_ storage: UnsafeMutablePointer<sockaddr_storage>) -> TransportAddress? {
        switch CInt(storage.pointee.ss_family) {
        case AF_INET:
            return storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                TransportAddress(ip: .v4(UInt32(bigEndian: $0.pointee.sin_addr.s_addr)), port: UInt16(bigEndian: $0.pointee.sin_port))
            }
        case AF_INET6:
            return storage.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                var raw = sin6.pointee.sin6_addr
                let (hi, lo) = withUnsafeBytes(of: &raw) {
                    (
                        UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                        UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                    )
                }
                let port = UInt16(bigEndian: sin6.pointee.sin6_port)
                // An IPv4-mapped source on a dual-stack socket is the IPv4 address.
                if hi == 0 && lo >> 32 == 0xFFFF { return TransportAddress(ip: .v4(UInt32(truncatingIfNeeded: lo)), port: port) }
                return TransportAddress(ip: .v6(hi, lo), port: port)
            }
        default:
            return nil
        }
    }
}
