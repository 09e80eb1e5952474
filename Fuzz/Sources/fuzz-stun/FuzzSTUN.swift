import FuzzSupport
import STUN

/// Fuzzes the STUN wire code (RFC 8489 messages, RFC 8656 §12.4 ChannelData and stream framing).
///
/// The input is one datagram. Asserted: no crash or sanitizer report (bad input is a thrown
/// `STUNParseError`); for a decoded message, integrity and fingerprint checks run without
/// crashing and report `.missing`/nil exactly when the attribute is absent; re-encoding keeps
/// type, transaction id and every attribute before the integrity ones; encoding it with a key
/// and FINGERPRINT gives a message that decodes, verifies with that key and not with another,
/// and whose fingerprint matches; a ChannelData parse gives an in-bounds payload that
/// re-encodes to the same channel and data; the stream framer, fed the input in two pieces,
/// cuts frames that lie within it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSTUN(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    if let message = try? STUNMessage.decode(bytes) { checkMessage(message) }
    checkChannelData(bytes)
    checkFramer(bytes)
    return 0
}

private let key: [UInt8] = Array("fuzz-key".utf8)
private let otherKey: [UInt8] = Array("other-key".utf8)

private func checkMessage(_ message: STUNMessage) {
    let integrity = message.verifyIntegrity(key: key)
    let hasIntegrity = message.has(.messageIntegrity) || message.has(.messageIntegritySHA256)
    fuzzCheck((integrity == .missing) == !hasIntegrity, "verifyIntegrity \(integrity) with integrity attribute: \(hasIntegrity)")
    fuzzCheck((message.fingerprintMatches == nil) == !message.has(.fingerprint),
              "fingerprintMatches \(String(describing: message.fingerprintMatches)) vs has FINGERPRINT \(message.has(.fingerprint))")

    let kept = message.attributes.filter {
        switch $0.type {
        case .messageIntegrity, .messageIntegritySHA256, .fingerprint: false
        default: true
        }
    }
    let plain = message.encode()
    do {
        let again = try STUNMessage.decode(plain)
        fuzzCheck(again.type == message.type && again.transactionID == message.transactionID, "header changed in a round trip")
        fuzzCheck(again.attributes == kept, "attributes changed in a round trip\n  before: \(kept)\n  after:  \(again.attributes)")
    } catch {
        fuzzFailure("re-encoded message does not decode: \(error)\n  \(message)")
    }

    for algorithms in [IntegrityAlgorithms.sha1, .sha256, .both] {
        let signed = message.encode(key: key, integrity: algorithms, fingerprint: true)
        do {
            let again = try STUNMessage.decode(signed)
            let expected: IntegrityAlgorithms = algorithms == .sha1 ? .sha1 : .sha256
            fuzzCheck(again.verifyIntegrity(key: key) == .valid(expected), "signed message does not verify (\(algorithms))")
            fuzzCheck(again.verifyIntegrity(key: otherKey) == .invalid, "signed message verifies with the wrong key")
            fuzzCheck(again.fingerprintMatches == true, "fingerprint of an encoded message does not match")
            fuzzCheck(again.attributes.filter { !$0.isIntegrityOrFingerprint } == kept, "signed round trip changed attributes")
        } catch {
            fuzzFailure("signed message does not decode: \(error)")
        }
    }
}

private func checkChannelData(_ bytes: [UInt8]) {
    let parsed = bytes.withUnsafeBytes { raw in try? ChannelData.parse(raw) }
    guard let (channel, payload) = parsed else { return }
    fuzzCheck(payload.lowerBound >= ChannelData.headerSize && payload.upperBound <= bytes.count, "payload \(payload) out of bounds")
    let encoded = ChannelData.encode(channel: channel, data: bytes[payload])
    let again = encoded.withUnsafeBytes { raw in try? ChannelData.parse(raw) }
    fuzzCheck(again?.channel == channel && again.map { Array(encoded[$0.payload]) } == Array(bytes[payload]),
              "ChannelData round trip changed channel or data")
}

private func checkFramer(_ bytes: [UInt8]) {
    var framer = STUNStreamFramer()
    let cut = bytes.isEmpty ? 0 : Int(bytes[0]) * (bytes.count + 1) / 256
    framer.append(bytes[..<cut])
    var total = 0
    var pieces = 0
    func drain() {
        while pieces < 10_000, let frame = try? framer.next() {
            pieces += 1
            switch frame {
            case .stun(let b): total += b.count
            case .channelData(_, let d): total += ChannelData.headerSize + ((d.count + 3) & ~3)
            }
            fuzzCheck(total <= bytes.count, "framer cut \(total) bytes from \(bytes.count)")
        }
    }
    drain()
    framer.append(bytes[cut...])
    drain()
}

extension STUNAttribute {
    fileprivate var isIntegrityOrFingerprint: Bool {
        switch type {
        case .messageIntegrity, .messageIntegritySHA256, .fingerprint: true
        default: false
        }
    }
}
