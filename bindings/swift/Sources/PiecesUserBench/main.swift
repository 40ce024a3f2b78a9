// Swift over the C ABI: what the typed forms, the JSON forms and decoding alone cost beside the C
// calls, for the same documents against the same server in the same run. Not a test: `make bench`
// runs it (benches/bench_swift.sh) against the stand-in, built with -c release.
//
//     PiecesUserBench DOC.json [DOC.json ...] BASE_URL     (ROUNDS and CALLS from the environment)
import CPiecesUser
import Foundation
import PiecesUser

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: PiecesUserBench DOC.json... BASE_URL\n".utf8))
    exit(2)
}
let environment = ProcessInfo.processInfo.environment
let rounds = Int(environment["ROUNDS"] ?? "") ?? 5
let calls = Int(environment["CALLS"] ?? "") ?? 300
let baseURL = arguments.last!

/// The best round's mean time per call, in microseconds: the least disturbed by the shared machine.
func measure(_ body: () throws -> Void) rethrows -> Double {
    var best = Double.infinity
    for _ in 0..<rounds {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<calls { try body() }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000 / Double(calls)
        best = min(best, elapsed)
    }
    return best
}

func cCall(_ rc: Int32, _ out: UnsafeMutablePointer<CChar>?) {
    guard rc == PIECES_OK else { fatalError("C call failed: \(rc)") }
    pieces_string_free(out)
}

let client = try PiecesClient(baseURL: baseURL)
var cClient: OpaquePointer?
guard pieces_client_new("{\"base_url\":\"\(baseURL)\"}", &cClient) == PIECES_OK else { fatalError("pieces_client_new") }

print("Swift over the C ABI, \(baseURL); best of \(rounds) rounds x \(calls) calls, microseconds per call")
print("doc        call       C ABI   Swift JSON   Swift typed   JSON/C  typed/C   decode   encode")
for path in arguments.dropLast() {
    let doc = try String(contentsOfFile: path, encoding: .utf8)
    let profile = try JSONDecoder().decode(UserProfile.self, from: Data(doc.utf8))
    let size = "\(doc.utf8.count / 1000) KB".padding(toLength: 10, withPad: " ", startingAt: 0)
    _ = try client.update(profile)  // the stored user is this document: snapshot returns it

    let cSnapshot = measure { var out: UnsafeMutablePointer<CChar>?; cCall(pieces_user_snapshot(cClient, &out), out) }
    let jsonSnapshot = try measure { _ = try client.snapshotJSON() }
    let typedSnapshot = try measure { _ = try client.snapshot() }
    let snapshotText = try client.snapshotJSON()
    let decodeSnapshot = try measure { _ = try JSONDecoder().decode(ReturnedUserProfile.self, from: Data(snapshotText.utf8)) }
    let snapshotValue = try client.snapshot()
    let encodeSnapshot = try measure { _ = try JSONEncoder().encode(snapshotValue) }

    let cUpdate = measure {
        var out: UnsafeMutablePointer<CChar>?
        cCall(doc.withCString { pieces_user_update(cClient, $0, &out) }, out)
    }
    let jsonUpdate = try measure { _ = try client.updateJSON(doc) }
    let typedUpdate = try measure { _ = try client.update(profile) }
    let decodeUpdate = try measure { _ = try JSONDecoder().decode(UserProfile.self, from: Data(doc.utf8)) }
    let encodeUpdate = try measure { _ = try JSONEncoder().encode(profile) }

    for (name, c, json, typed, decode, encode) in [
        ("snapshot", cSnapshot, jsonSnapshot, typedSnapshot, decodeSnapshot, encodeSnapshot),
        ("update", cUpdate, jsonUpdate, typedUpdate, decodeUpdate, encodeUpdate),
    ] {
        print(
            size + name.padding(toLength: 9, withPad: " ", startingAt: 0)
                + String(format: "%8.1f %12.1f %13.1f %8.2f %8.2f %8.1f %8.1f", c, json, typed, json / c, typed / c, decode, encode))
    }
}
pieces_client_free(cClient)
