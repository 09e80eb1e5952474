import Foundation

/// Loads a JSON vector file from the test bundle's Vectors folder.
enum VectorLoader {
    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Vectors") else {
            throw CocoaError(.fileNoSuchFile)
        }
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }
}

struct SCRAMVector: Decodable, Sendable, CustomStringConvertible {
    var source: String
    var mechanism: String
    var username: String
    var password: String
    var clientNonce: String
    var clientFirst: String
    var serverFirst: String
    var clientFinal: String
    var serverFinal: String

    var description: String { "\(mechanism) (\(source))" }

    static var all: [SCRAMVector] {
        (try? VectorLoader.load("scram", as: [SCRAMVector].self)) ?? []
    }
}
