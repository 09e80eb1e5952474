import Foundation

/// Reads a `.hex` vector file from the test bundle's Vectors folder: whitespace-separated hex
/// bytes, `#` comment lines ignored.
enum VectorLoader {
    static func bytes(_ name: String) throws -> [UInt8] {
        guard let folder = Bundle.module.url(forResource: "Vectors", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile)
        }
        let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
        var out: [UInt8] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                guard let b = UInt8(token, radix: 16) else { throw CocoaError(.fileReadCorruptFile) }
                out.append(b)
            }
        }
        return out
    }
}
