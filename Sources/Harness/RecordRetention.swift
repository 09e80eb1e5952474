/// Which finished calls a `LoadRunner` keeps in its report's `records`, so that memory does not
/// grow with the run: the statistics of every call go into `RunTotals` (bounded), per-call
/// output is streamed as calls finish (`LoadRunner.setRecordSink`, `CallRecordStream`), and only
/// the first `passed` passed calls (without their transcripts: a passed call's transcript is
/// dropped as soon as its verdict is known) and the first `failed` failed calls (the first
/// `failedTranscripts` of them with their transcripts) are kept.
public struct RecordRetention: Sendable, Hashable {
    public var passed: Int
    public var failed: Int
    public var failedTranscripts: Int
    /// Keep the transcripts of the passed calls kept (the conformance rules read them).
    public var passedTranscripts: Bool

    public init(passed: Int = 1000, failed: Int = 1000, failedTranscripts: Int = 100, passedTranscripts: Bool = false) {
        self.passedTranscripts = passedTranscripts
        self.passed = passed
        self.failed = failed
        self.failedTranscripts = failedTranscripts
    }

    /// Keep every record, with its transcript (what a report held before records were bounded).
    public static let all = RecordRetention(passed: .max, failed: .max, failedTranscripts: .max, passedTranscripts: true)

    /// Counts what was kept so far and decides about the next record.
    public struct State: Sendable, Hashable {
        public private(set) var keptPassed = 0
        public private(set) var keptFailed = 0
        /// Records not kept (their statistics are in the totals all the same).
        public private(set) var dropped = 0

        public init() {}

        /// The record to keep (its transcript removed when over the limit), or nil.
        public mutating func admit(_ record: CallRecord, under retention: RecordRetention) -> CallRecord? {
            var record = record
            if record.verdict.passed {
                guard keptPassed < retention.passed else { dropped += 1; return nil }
                keptPassed += 1
                if !retention.passedTranscripts { record.transcript = [] }
            } else {
                guard keptFailed < retention.failed else { dropped += 1; return nil }
                if keptFailed >= retention.failedTranscripts { record.transcript = [] }
                keptFailed += 1
            }
            return record
        }
    }
}
