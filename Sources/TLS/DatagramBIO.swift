import COpenSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The datagrams an OpenSSL DTLS connection reads and writes through `DatagramBIO`: one `write`
/// is one datagram out, one `read` is one datagram in (a memory BIO would merge datagrams).
final class DatagramQueue {
    var inbound: [[UInt8]] = []
    var outbound: [[UInt8]] = []
    /// Where OpenSSL keeps its retransmission deadline, as announced through
    /// BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT (see `DTLSConnection.handleTimeout`).
    var retransmissionDeadline: UnsafeMutablePointer<timeval>?

    func takeOutbound() -> [[UInt8]] {
        defer { outbound = [] }
        return outbound
    }
}

/// A custom BIO_METHOD over a `DatagramQueue`, passed as the BIO's data pointer (unretained: the
/// `DTLSConnection` owns both the queue and, through its SSL, the BIO, and frees the SSL first).
enum DatagramBIO {
    /// Creates a BIO reading from and writing to `queue`.
    static func make(_ queue: DatagramQueue) -> OpaquePointer? {
        guard let method = datagramBIOMethod, let bio = BIO_new(method) else { return nil }
        BIO_set_data(bio, Unmanaged.passUnretained(queue).toOpaque())
        return bio
    }
}

private func queue(of bio: OpaquePointer?) -> DatagramQueue? {
    guard let bio, let data = BIO_get_data(bio) else { return nil }
    return Unmanaged<DatagramQueue>.fromOpaque(data).takeUnretainedValue()
}

/// Built once; OpenSSL only reads a BIO_METHOD after it is set up.
nonisolated(unsafe) private let datagramBIOMethod: OpaquePointer? = {
    guard let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "jinglekit datagram") else { return nil }
    _ = BIO_meth_set_create(method) { bio in
        BIO_set_init(bio, 1)
        return 1
    }
    _ = BIO_meth_set_destroy(method) { bio in
        BIO_set_data(bio, nil)
        return 1
    }
    _ = BIO_meth_set_write(method) { bio, data, length in
        guard let bio, let queue = queue(of: bio), let data, length >= 0 else { return -1 }
        jk_BIO_clear_retry_flags(bio)
        queue.outbound.append(Array(UnsafeRawBufferPointer(start: data, count: Int(length))))
        return length
    }
    _ = BIO_meth_set_read(method) { bio, buffer, capacity in
        guard let bio, let queue = queue(of: bio), let buffer, capacity > 0 else { return -1 }
        jk_BIO_clear_retry_flags(bio)
        guard !queue.inbound.isEmpty else {
            jk_BIO_set_retry_read(bio)
            return -1
        }
        let datagram = queue.inbound.removeFirst()
        let count = min(datagram.count, Int(capacity))  // a datagram larger than the buffer is truncated, as on a socket
        datagram.withUnsafeBytes { UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress!, byteCount: count) }
        return Int32(count)
    }
    _ = BIO_meth_set_ctrl(method) { bio, command, _, pointer in
        switch command {
        case BIO_CTRL_FLUSH:
            return 1
        case BIO_CTRL_PENDING:
            return Int(queue(of: bio)?.inbound.first?.count ?? 0)
        case BIO_CTRL_WPENDING:
            return 0
        case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
            queue(of: bio)?.retransmissionDeadline = pointer?.assumingMemoryBound(to: timeval.self)
            return 0
        default:
            return 0
        }
    }
    return method
}()
