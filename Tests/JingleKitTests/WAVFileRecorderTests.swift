import Foundation
import Media
import Testing
@testable import JingleKit

/// Recordings: written as they arrive (a crash loses at most a second), created new with mode
/// 0600, never through a symbolic link or over an existing file, named safely from a sid.
@Suite struct WAVFileRecorderTests {
    final class Folder: @unchecked Sendable {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wav-recorder-\(UUID().uuidString)")
        init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: url) }
    }

    static func frame(_ value: Int16) -> [Int16] { [Int16](repeating: value, count: CallAudio.samplesPerFrame) }

    @Test func aSecondOfAudioIsOnDiskBeforeFinishAndTheFileParses() throws {
        let folder = try Folder()
        let url = folder.url.appendingPathComponent("call.wav")
        let recorder = try WAVFileRecorder(url: url)
        for i in 0..<(WAVFileRecorder.framesPerWrite + 10) { recorder.receive(frame: Self.frame(Int16(i))) }
        // No finish: what a crash would leave.
        let early = try WAVFile(parsing: Array(try Data(contentsOf: url)))
        #expect(early.samples.count == WAVFileRecorder.framesPerWrite * CallAudio.samplesPerFrame)
        #expect(early.sampleRate == 48_000 && early.channels == 1)
        try recorder.finish()
        let whole = try WAVFile(parsing: Array(try Data(contentsOf: url)))
        #expect(whole.samples.count == (WAVFileRecorder.framesPerWrite + 10) * CallAudio.samplesPerFrame)
        #expect(whole.samples.last == Int16(WAVFileRecorder.framesPerWrite + 9))
        #expect(recorder.recordedSampleCount == whole.samples.count)
    }

    @Test func theFileIsTheOwnersOnly() throws {
        let folder = try Folder()
        let url = folder.url.appendingPathComponent("private.wav")
        try WAVFileRecorder(url: url).finish()
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int)
        #expect(mode & 0o777 == 0o600)
    }

    @Test func anExistingFileOrASymbolicLinkIsRefused() throws {
        let folder = try Folder()
        let existing = folder.url.appendingPathComponent("existing.wav")
        try Data("keep me".utf8).write(to: existing)
        #expect(throws: CallAudioFileError.self) { try WAVFileRecorder(url: existing) }
        #expect(try String(contentsOf: existing, encoding: .utf8) == "keep me")
        let target = folder.url.appendingPathComponent("target")
        let link = folder.url.appendingPathComponent("link.wav")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        #expect(throws: CallAudioFileError.self) { try WAVFileRecorder(url: link) }
        #expect(!FileManager.default.fileExists(atPath: target.path))
    }

    @Test func aMissingFolderIsAClearError() {
        #expect(throws: CallAudioFileError.unwritable(path: "/nonexistent-folder/x.wav", reason: "No such file or directory")) {
            try WAVFileRecorder(url: URL(fileURLWithPath: "/nonexistent-folder/x.wav"))
        }
    }

    @Test(arguments: [
        ("../escaped-sid", "_._escaped-sid"), ("a/b/c", "a_b_c"), ("..", "_."), ("", "_"),
        ("ZDVwHAc8XBGjOkCQ", "ZDVwHAc8XBGjOkCQ"), ("sid with spaces\n", "sid_with_spaces_"), ("é", "_"),
    ])
    func sidsBecomeSafeFileNames(sid: String, expected: String) {
        #expect(WAVFileRecorder.safeFileName(sid) == expected)
    }

    @Test func longSidsAreBounded() {
        #expect(WAVFileRecorder.safeFileName(String(repeating: "a", count: 1_000)).count == 64)
    }
}
