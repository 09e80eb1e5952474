import Foundation
import PackagePlugin

/// Compiles the relay's kernel fast path (`BPF/*.bpf.c` in the target) with clang's BPF target
/// at build time and embeds the object in the target, so no compiled object is kept in the tree
/// and a copied binary carries its program.
@main struct CompileBPF: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let module = target as? SourceModuleTarget else { return [] }
        let source = module.directoryURL.appending(path: "BPF/turn_channel_relay.bpf.c")
        let include = context.package.directoryURL.appending(path: "Sources/CModules/CBPF")
        let output = context.pluginWorkDirectoryURL.appending(path: "ChannelRelayObject.swift")
        return [.buildCommand(displayName: "Compiling the relay's BPF fast path",
                              executable: try context.tool(named: "compile-bpf").url,
                              arguments: [output.path, source.path, include.path],
                              inputFiles: [source, include.appending(path: "channel_relay_maps.h")],
                              outputFiles: [output])]
    }
}
