import Foundation

// embed-scenarios OUTPUT.swift SCENARIO.xml...: writes the `BuiltInScenarios` enum holding each
// file's text byte for byte (the EmbedScenarios build plugin runs it for the Harness target).

let arguments = CommandLine.arguments.dropFirst()
guard let output = arguments.first else {
    FileHandle.standardError.write(Data("usage: embed-scenarios OUTPUT.swift SCENARIO.xml...\n".utf8))
    exit(64)
}
var lines = [
    "// Generated at build time from Samples/harness/*.xml by the EmbedScenarios plugin.",
    "",
    "/// The built-in scenarios, compiled into the binary so a copied `jingle-harness` keeps them.",
    "public enum BuiltInScenarios {",
    "    /// Name (file name without `.xml`) to the file's text, byte for byte.",
    "    public static let texts: [String: String] = [",
]
for path in arguments.dropFirst().sorted() {
    let url = URL(fileURLWithPath: path)
    let name = url.deletingPathExtension().lastPathComponent
    guard let text = try? String(contentsOf: url, encoding: .utf8) else {
        FileHandle.standardError.write(Data("embed-scenarios: cannot read \(path) as UTF-8\n".utf8))
        exit(1)
    }
    // A raw literal delimited by ## holds anything but "\"##" and carriage returns.
    guard !text.contains("\"##"), !text.contains("\r"), !name.contains("\"") else {
        FileHandle.standardError.write(Data("embed-scenarios: \(path) cannot be embedded as a raw string literal\n".utf8))
        exit(1)
    }
    // A multi-line literal drops the newline before its closing delimiter, so the literal holds
    // `text` exactly, with or without a final newline.
    lines.append("        \"\(name)\": ##\"\"\"")
    lines.append(text)
    lines.append("\"\"\"##,")
}
lines += ["    ]", "", "    /// The names, sorted.", "    public static let names: [String] = texts.keys.sorted()", "}", ""]
do {
    try lines.joined(separator: "\n").write(toFile: output, atomically: true, encoding: .utf8)
} catch {
    FileHandle.standardError.write(Data("embed-scenarios: cannot write \(output): \(error)\n".utf8))
    exit(1)
}
