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

struct Options: Sendable {
    var update = false
    var limit = 0
    var baseURL: String?
}

func parse(_ arguments: ArraySlice<String>) -> Options {
    var options = Options()
    for argument in arguments {
        if argument == "--update" {
            options.update = true
        } else if argument.hasPrefix("http") {
            options.baseURL = argument
        } else if let n = Int(argument) {
            options.limit = n
        } else {
            FileHandle.standardError.write(Data("usage: stream [--update] [N] [BASE_URL]\n".utf8))
            exit(2)
        }
    }
    return options
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

func follow(_ options: Options) async throws {
    let config = options.baseURL.map { PiecesConfig(baseURL: $0) } ?? .discovery
    let client = try PiecesClient(config: config)
    var count = 0
    var updated = false
    for await event in client.userEvents() {
        print(describe(event))
        count += 1
        if options.update, !updated, case .user = event {
            updated = true
            print("-- updating the profile through POST /user/update")
            let profile = UserProfile(
                aesthetics: Aesthetics(font: Font(size: 15), theme: Theme(dark: true)), id: "u-1",
                vanityname: "from-the-demo")
            _ = try await client.update(profile)
        }
        if options.limit > 0, count >= options.limit { break }
    }
    print("stopped      (left the loop after \(count) events)")
}

// Ctrl-C cancels the task, which ends the loop and stops the stream.
signal(SIGINT, SIG_IGN)
let options = parse(CommandLine.arguments.dropFirst())
let task = Task { [options] in
    do {
        try await follow(options)
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
