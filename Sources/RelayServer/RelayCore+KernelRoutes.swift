import EngineTime
import RelayFastPath
import STUN
import TURNServer

extension RelayCore {
    /// How often the kernel's routes follow the engine: new channels are relayed in user space
    /// until then, refreshed ones have their expiry stamps moved on, ended ones are removed
    /// (each entry also stops by itself at its own expiry).
    static let kernelSyncInterval = Duration.seconds(1)
    /// After a ChannelBind or CreatePermission, at most this long (and no more often).
    static let kernelSyncSoon = Duration.milliseconds(50)

    /// Starts keeping the kernel fast path's maps equal to this thread's channels.
    func useKernelRoutes(_ program: ChannelRelayProgram) {
        kernelTable = KernelChannelTable(program: program)
        nextKernelSync = engineNow()
    }

    /// Brings the maps up to date with the engine and counts what the kernel relayed.
    func syncKernelRoutes(now: EngineInstant) {
        guard var table = kernelTable else { return }
        let relayed = table.sync(engine.kernelChannelRoutes(now: now), now: now)
        kernelTable = table
        absorb(relayed)
        lastKernelSync = now
        nextKernelSync = now + Self.kernelSyncInterval
    }

    /// Adds what the kernel relayed to the totals and to each allocation's record.
    private func absorb(_ relayed: [FiveTuple: KernelChannelTable.Relayed]) {
        for (tuple, counts) in relayed {
            noteKernelRelayed(counts)
            guard var record = allocationRecords[tuple] else { continue }
            record.kernel = record.kernel + AllocationRecord.Counts(counts)
            allocationRecords[tuple] = record
        }
    }

    /// Folds in what the kernel relayed since the last sync (before a metrics snapshot).
    func collectKernelCounts() {
        guard var table = kernelTable else { return }
        let relayed = table.collect()
        kernelTable = table
        absorb(relayed)
    }

    func noteKernelRelayed(_ counts: KernelChannelTable.Relayed) {
        kernelRelayed += counts
    }

    /// Takes every route out of the maps (stopping); the last counts are kept.
    func stopKernelRoutes() {
        guard var table = kernelTable else { return }
        absorb(table.removeAll())
        kernelTable = nil
    }
}
