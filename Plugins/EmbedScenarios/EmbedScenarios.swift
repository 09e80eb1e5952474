import Foundation
import PackagePlugin

/// Compiles `Samples/harness/*.xml`, the built-in jingle-harness scenarios, into the Harness
/// target as string literals at build time, so a copied binary keeps them and the XML files stay
/// the only copy in the tree.
@main struct EmbedScenarios: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let samples = context.package.directoryURL.appending(path: "Samples/harness")
        let files = try FileManager.default.contentsOfDirectory(at: samples, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "xml" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "BuiltInScenarios.swift")
        return [.buildCommand(displayName: "Embedding \(files.count) built-in harness scenarios",
                              executable: try context.tool(named: "embed-scenarios").url,
                              arguments: [output.path] + files.map(\.path),
                              inputFiles: files, outputFiles: [output])]
    }
}
