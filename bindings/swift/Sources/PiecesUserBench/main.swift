// Swift over the C ABI: what the typed forms, the JSON forms and decoding/encoding alone cost beside
// the C calls, for the same documents against the same server in the same run. Not a test: `make
// bench` runs it (benches/bench_swift.sh) against the stand-in, built with -c release.
//
//     PiecesUserBench DOC.json [DOC.json ...] BASE_URL     (ROUNDS and CALLS from the environment)
//
// The variants being compared run interleaved call by call, so a change in the machine's load hits
// all of them alike; a ratio is the median over the rounds of the round's ratio, a time the median
// of the rounds' mean time per call.
import CPiecesUser
import Foundation
@_spi(Benchmark) import PiecesUser

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: PiecesUserBench DOC.json... BASE_URL\n".utf8))
    exit(2)
}
let environment = ProcessInfo.processInfo.environment
let rounds = Int(environment["ROUNDS"] ?? "") ?? 9
let calls = Int(environment["CALLS"] ?? "") ?? 200
let baseURL = arguments.last!

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// Runs the variants interleaved call by call (A B C B C A ...), so that a change in the machine's
/// load hits them all alike, for `rounds` rounds of `calls` calls each. Returns each variant's
/// median round (mean microseconds per call) and its median ratio to the first variant.
func compare(_ variants: [() throws -> Void]) throws -> (times: [Double], ratios: [Double]) {
    var times = Array(repeating: [Double](), count: variants.count)
    for _ in 0..<rounds {
        var spent = Array(repeating: UInt64(0), count: variants.count)
        for call in 0..<calls {
            // Rotated (A B C, B C A, C A B, ...): whichever place in the cycle is dearer, each
            // variant takes it as often.
            for offset in variants.indices {
                let i = (call + offset) % variants.count
                let start = now()
                try variants[i]()
                spent[i] += now() - start
            }
        }
        for i in variants.indices { times[i].append(Double(spent[i]) / 1000 / Double(calls)) }
    }
    let ratios = times.indices.map { i in median(zip(times[i], times[0]).map { $0 / $1 }) }
    return (times.map(median), ratios)
}

func cCall(_ rc: Int32, _ out: UnsafeMutablePointer<CChar>?) {
    guard rc == PIECES_OK else { fatalError("C call failed: \(rc)") }
    pieces_string_free(out)
}

func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}

func row(_ cells: [String], _ widths: [Int]) -> String {
    zip(cells, widths).map { cell, width in
        cell.count >= width ? cell : String(repeating: " ", count: width - cell.count) + cell
    }.joined(separator: " ")
}

func us(_ value: Double) -> String { String(format: "%.1f", value) }
func times(_ value: Double) -> String { String(format: "%.2fx", value) }

let client = try PiecesClient(baseURL: baseURL)
// The bare C calls go through the same C client (the same connection): two clients' connections
// were served unevenly by the stand-in on this loaded machine, by up to 3x either way.
let cClient = client.cHandle

print("Swift over the C ABI, \(baseURL); \(rounds) interleaved rounds x \(calls) calls; load average \(loadAverage())")
print("Round trips, microseconds per call (median round) and ratio to the C ABI (median of the rounds' ratios):")
let tripWidths = [6, 9, 8, 8, 8, 8, 8]
print(row(["doc", "call", "C ABI", "JSON", "typed", "JSON/C", "typed/C"], tripWidths))
var codecRows: [[String]] = []
for path in arguments.dropLast() {
    let doc = try String(contentsOfFile: path, encoding: .utf8)
    let profile = try UserProfile(jsonText: doc)
    let size = "\(doc.utf8.count / 1000) KB"
    _ = try client.update(profile)  // the stored user is this document: snapshot returns it

    let snapshot = try compare([
        { var out: UnsafeMutablePointer<CChar>?; cCall(pieces_user_snapshot(cClient, &out), out) },
        { _ = try client.snapshotJSON() },
        { _ = try client.snapshot() },
    ])
    let update = try compare([
        {
            var out: UnsafeMutablePointer<CChar>?
            cCall(doc.withCString { pieces_user_update(cClient, $0, &out) }, out)
        },
        { _ = try client.updateJSON(doc) },
        { _ = try client.update(profile) },
    ])
    for (name, result) in [("snapshot", snapshot), ("update", update)] {
        print(row([size, name] + result.times.map(us) + result.ratios.dropFirst().map(times), tripWidths))
    }

    // Decoding and encoding alone, the package's reader/writer beside Foundation's coders; and
    // parsing into a JSONValue tree (the floor of a decode-from-tree design: it would add building
    // the model on top).
    let snapshotText = try client.snapshotJSON()
    let value = try client.snapshot()
    let decode = try compare([
        { _ = try ReturnedUserProfile(jsonText: snapshotText) },
        { _ = try JSONDecoder().decode(ReturnedUserProfile.self, from: Data(snapshotText.utf8)) },
        { _ = try JSONValue(jsonText: snapshotText) },
    ])
    let encode = try compare([
        { _ = value.jsonText() },
        { _ = try JSONEncoder().encode(value) },
    ])
    codecRows.append([size] + (decode.times + encode.times).map(us) + [times(decode.ratios[1]), times(encode.ratios[1])])
}
print("")
print("Decode and encode alone (ReturnedUserProfile), microseconds per call:")
let codecWidths = [6, 8, 10, 10, 8, 10, 9, 9]
print(row(["doc", "decode", "Foundation", "tree only", "encode", "Foundation", "dec F/x", "enc F/x"], codecWidths))
for cells in codecRows { print(row(cells, codecWidths)) }
print("(decode/encode: the package's JSONReader/JSONWriter; Foundation: JSONDecoder/JSONEncoder; tree only: JSONValue(jsonText:))")
print("load average at the end: \(loadAverage())")
