import Media
import Testing
@testable import Transport
import MediaBenchmarks

@Suite struct BenchmarkTests {
    /// Runs every benchmark briefly: they complete and measure something (no timing assertions).
    @Test func benchmarksRun() throws {
        let encode = try MediaBenchmarks.opusEncode(iterations: 50)
        let decode = try MediaBenchmarks.opusDecode(iterations: 50)
        #expect(encode.wrapper > .zero && encode.raw > .zero && decode.wrapper > .zero && decode.raw > .zero)
        for profile in SRTPProfile.allCases {
            let (protect, unprotect) = try MediaBenchmarks.srtp(profile: profile, iterations: 200)
            #expect(protect.iterations == 200 && unprotect.raw > .zero)
        }
    }
}
