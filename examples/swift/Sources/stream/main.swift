// Follows the signed-in user of a Pieces OS: prints every stream event until N events have arrived
// or Ctrl-C is pressed.
//
//     swift run stream [--update] [N] [BASE_URL]     (no BASE_URL: discover Pieces OS)
//
// --update: after the first user event, change the vanity name through the REST API, to show the
// change arriving on the stream. N defaults to 0 (no limit).
//
// The events arrive as an AsyncSequence; leaving the loop stops and frees the C stream.
import Foundation
import PiecesUser

var update = false
var limit = 0
var baseURL: String?
for argument in CommandLine.arguments.dropFirst() {
    if argument == "--update" {
        update = true
    } else if argument.hasPrefix("http") {
        baseURL = argument
    } else if let n = Int(argument) {
        limit = n
    } else {
        FileHandle.standardError.write(Data("usage: stream [--update] [N] [BASE_URL]\n".utf8))
        exit(2)
    }
}

func describe(_ event: UserEvent) -> String {
    switch event {
    case .connected(let url): return "connected    \(url)"
    case .user(let profile): return "user         id=\(profile.id) vanity=\(profile.vanityname ?? "-")"
    case .signedOut: return "signed_out"
    case .error(let error): return "error        \(error.category.rawValue): \(error.message)"
    case .disconnected(let reason): return "disconnected \(reason)"
    case .reconnecting(let attempt, let delay): return "reconnecting attempt \(attempt) in \(delay)"
    case .overflow(let dropped): return "overflow     \(dropped) dropped"
    case .stopped(let reason): return "stopped      \(reason)"
    }
}

func follow() async throws {
    let config = baseURL.map { PiecesConfig(baseURL: $0) } ?? .discovery
    let client = try PiecesClient(config: config)
    var count = 0
    var updated = false
    for await event in client.userEvents() {
        print(describe(event))
        count += 1
        if update, !updated, case .user = event {
            updated = true
            print("-- updating the profile through POST /user/update")
            let profile = UserProfile(
                aesthetics: Aesthetics(font: Font(size: 15), theme: Theme(dark: true)), id: "u-1",
                vanityname: "from-the-demo")
            _ = try await client.update(profile)
        }
        if limit > 0, count >= limit { break }
    }
    print("stopped      (left the loop after \(count) events)")
}

// Ctrl-C cancels the task, which ends the loop and stops the stream.
signal(SIGINT, SIG_IGN)
let task = Task {
    do {
        try await follow()
    } catch {
        FileHandle.standardError.write(Data("stream: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
let sigint = DispatchSource.makeSignalSource(signal: SIGINT, queue: .main)
sigint.setEventHandler { task.cancel() }
sigint.resume()
dispatchMain()
