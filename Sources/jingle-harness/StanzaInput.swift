import Foundation

/// Reads the input of a harness command: a file, or standard input.
enum StanzaInput {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The text of `file`, or of standard input when no file is given.
    static func read(_ file: String?) throws -> String {
        let data: Data
        if let file {
            guard let d = FileManager.default.contents(atPath: file) else { throw Failure(description: "cannot read '\(file)'") }
            data = d
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        guard let text = String(data: data, encoding: .utf8) else { throw Failure(description: "input is not UTF-8") }
        return text
    }
}
