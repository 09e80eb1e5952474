import Foundation
import Harness
import Testing

/// The HTML report of a real run through Prosody, rendered by headless Chromium
/// (Tools/harness-report-screenshot) to a PNG that must be a valid image of the asked size, not
/// blank, and show the histograms' bars.
@Suite(.serialized) struct HarnessProsodyReportScreenshotTests {
    /// Decodes the PNG (chunks, zlib, scanline filters) with python3's standard library and
    /// prints `width height colour-type distinct-colours bar-pixels`, bar pixels being those of the
    /// histogram fill #4a7ebb (within 3 per channel).
    static let inspect = #"""
        import struct, sys, zlib
        data = open(sys.argv[1], 'rb').read()
        assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG signature'
        pos, idat, ihdr = 8, b'', None
        while pos < len(data):
            length, kind = struct.unpack('>I4s', data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + length]
            crc = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])[0]
            assert zlib.crc32(kind + body) & 0xffffffff == crc, 'bad CRC in ' + kind.decode()
            if kind == b'IHDR': ihdr = struct.unpack('>IIBBBBB', body)
            if kind == b'IDAT': idat += body
            pos += 12 + length
        width, height, depth, ctype, _, _, interlace = ihdr
        assert depth == 8 and ctype in (2, 6) and interlace == 0, 'unexpected PNG format %r' % (ihdr,)
        bpp = 3 if ctype == 2 else 4
        raw, stride = zlib.decompress(idat), width * bpp
        prev, colours, bars, i = bytearray(stride), set(), 0, 0
        for y in range(height):
            f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                if f == 1: line[x] = (line[x] + a) & 255
                elif f == 2: line[x] = (line[x] + b) & 255
                elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
                elif f == 4:
                    p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            for x in range(0, stride, bpp):
                r, g, bl = line[x], line[x + 1], line[x + 2]
                colours.add((r, g, bl))
                if abs(r - 0x4a) <= 3 and abs(g - 0x7e) <= 3 and abs(bl - 0xbb) <= 3: bars += 1
            prev = line
        print(width, height, ctype, len(colours), bars)
        """#

    @Test func theReportOfARealRunRendersWithItsHistograms() async throws {
        // A real run: caller/callee through Prosody.
        let report = try await ProsodyFixture.shared().runHarness(
            ["hshot-a", "hshot-b"], initiator: try ProsodyFixture.sampleScenario("caller"),
            responder: try ProsodyFixture.sampleScenario("callee"),
            options: LoadOptions(rate: 40, maxConcurrent: 20, totalCalls: 30, drainSeconds: 15)
        ).report
        #expect(report.allPassed)

        let base = NSTemporaryDirectory() + "harness-report-\(UUID().uuidString)"
        let html = base + ".html", png = base + ".png"
        defer { try? FileManager.default.removeItem(atPath: html); try? FileManager.default.removeItem(atPath: png) }
        try HTMLReport.render(report).write(toFile: html, atomically: true, encoding: .utf8)

        let shot = try await harnessRunProcess(
            "/bin/bash", ["\(Repository.root)/Tools/harness-report-screenshot", html, png, "1000", "1800"])
        #expect(shot.status == 0, "output:\n\(shot.output)")
        #expect(FileManager.default.fileExists(atPath: png), "no PNG: \(shot.output)")
        if let keep = ProcessInfo.processInfo.environment["JINGLEKIT_KEEP_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: png, toPath: keep)
        }

        let decoded = try await harnessRunProcess("/usr/bin/python3", ["-c", Self.inspect, png])
        #expect(decoded.status == 0, "decoder:\n\(decoded.output)")
        let fields = decoded.output.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        try #require(fields.count == 5, "decoder printed: \(decoded.output)")
        #expect(fields[0] == 1000 && fields[1] == 1800, "size \(fields[0])x\(fields[1])")
        // Not blank: text, table rules and bars give many colours (a blank page has one).
        #expect(fields[3] > 20, "only \(fields[3]) distinct colours")
        // The histograms are drawn: several thousand pixels of the bar colour (each of the
        // caller's steps has at least one bar tens of pixels wide and high).
        #expect(fields[4] > 2000, "only \(fields[4]) pixels of the histogram bar colour")
    }
}
